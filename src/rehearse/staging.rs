//! The staging database: the one database the rehearsal writes to. Its own connection holds
//! the advisory lock that keeps a second rehearsal out for the whole run.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};

use crate::db::{DatabaseUrl, DbError, Timeouts};

/// The advisory lock's two keys: "REDA" and "REHR" in ASCII, so that `pg_locks` shows whose it
/// is to anyone who knows.
const LOCK_KEYS: (i32, i32) = (0x5245_4441, 0x5245_4852);

/// A connection that may write (only ever to the staging database).
pub struct Staging {
    connection: PgConnection,
    url: DatabaseUrl,
}

impl Staging {
    /// Connects with the statement and lock timeouts given, which apply to every statement.
    pub async fn connect(url: &DatabaseUrl, timeouts: Timeouts) -> Result<Staging, DbError> {
        let connection = crate::db::connect(url, timeouts).await?;
        let mut staging = Staging {
            connection,
            url: url.clone(),
        };
        staging
            .execute(
                "set the session timeouts",
                &format!(
                    "SET statement_timeout = {}; SET lock_timeout = {}; \
                     SET application_name = 'redash-upgrade rehearse'",
                    timeouts.statement.as_millis(),
                    timeouts.lock.as_millis()
                ),
            )
            .await?;
        Ok(staging)
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Takes the rehearsal lock of this database for as long as the connection lives; false
    /// when another session holds it.
    pub async fn try_lock(&mut self) -> Result<bool, DbError> {
        let row = sqlx::query("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_KEYS.0)
            .bind(LOCK_KEYS.1)
            .fetch_one(&mut self.connection)
            .await
            .map_err(|error| DbError::query("take the rehearsal's advisory lock", &error))?;
        Ok(row.get::<bool, _>(0))
    }

    /// Runs statements (no parameters) as one simple query.
    pub async fn execute(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.connection)
            .await
            .map(drop)
            .map_err(|error| DbError::query(what, &error))
    }

    /// The first column of every row, as text.
    pub async fn texts(&mut self, what: &str, sql: &str) -> Result<Vec<Option<String>>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut self.connection)
            .await
            .map_err(|error| DbError::query(what, &error))?;
        Ok(rows
            .iter()
            .map(|row| row.get::<Option<String>, _>(0))
            .collect())
    }

    /// The revisions `alembic_version` holds, sorted; empty when the table is missing or empty.
    pub async fn alembic(&mut self) -> Result<Vec<String>, DbError> {
        let exists = self
            .texts(
                "look for alembic_version",
                "SELECT to_regclass('alembic_version')::text",
            )
            .await?;
        if exists.first().cloned().flatten().is_none() {
            return Ok(Vec::new());
        }
        let mut revisions: Vec<String> = self
            .texts(
                "read alembic_version",
                "SELECT version_num::text FROM alembic_version",
            )
            .await?
            .into_iter()
            .flatten()
            .collect();
        revisions.sort();
        Ok(revisions)
    }

    /// Empties the database for a restore: the schema of Redash's tables and ours are dropped
    /// and `public` made again, so that nothing a half-run migration created survives (a
    /// `pg_restore --clean` drops only what the dump holds).
    pub async fn empty(&mut self) -> Result<(), DbError> {
        self.execute(
            "empty the staging database (DROP SCHEMA public CASCADE: the staging user must own \
             the schema)",
            &format!(
                "BEGIN; DROP SCHEMA IF EXISTS {} CASCADE; DROP SCHEMA IF EXISTS public CASCADE; \
                 CREATE SCHEMA public; COMMIT;",
                super::neutralize::SCHEMA
            ),
        )
        .await
    }

    pub async fn close(self) {
        let _ = self.connection.close().await;
    }
}

/// The timeouts of the rehearsal's own writes: `reads`', but a lock is waited for up to five
/// minutes, since a migration stopped a moment ago may hold locks while the server rolls it back.
pub fn write_timeouts(reads: Timeouts) -> Timeouts {
    Timeouts {
        lock: reads.lock.max(Duration::from_secs(5 * 60)),
        ..reads
    }
}
