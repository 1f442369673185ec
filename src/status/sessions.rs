//! The other sessions on the metadata database (`pg_stat_activity`), read in a read-only
//! transaction. A Redash process still connected while `manage db upgrade` runs keeps writing
//! with the old release's idea of the schema, or holds the locks the migration waits for.
//!
//! A role without `pg_read_all_stats` sees other roles' sessions with their details hidden
//! (NULL state and address): they are listed all the same, as hidden.

use serde::Serialize;
use sqlx::Row;

use crate::db::{DatabaseUrl, DbError, ReadOnlySession, Timeouts};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub pid: i32,
    /// `application_name`; empty when the client set none (Redash's SQLAlchemy sets none).
    pub application_name: String,
    pub user: Option<String>,
    /// The client's address; `None` for a unix socket or a session this role may not see.
    pub client_addr: Option<String>,
    /// `active`, `idle`, `idle in transaction`...; `None` when hidden from this role.
    pub state: Option<String>,
    /// Seconds since the session connected.
    pub connected_seconds: Option<i64>,
    /// Seconds in its current state.
    pub state_seconds: Option<i64>,
    /// Seconds its open transaction has lasted, when it has one.
    pub transaction_seconds: Option<i64>,
}

impl Session {
    /// How reports name it: `"redash-worker" from 10.0.3.7` or `(no application name) from ...`.
    pub fn label(&self) -> String {
        let name = if self.application_name.is_empty() {
            "(no application name)".to_owned()
        } else {
            format!("{:?}", self.application_name)
        };
        let from = self
            .client_addr
            .as_deref()
            .map(|address| format!(" from {address}"))
            .unwrap_or_else(|| " over a local socket".to_owned());
        let user = self
            .user
            .as_deref()
            .map(|user| format!(" as {user}"))
            .unwrap_or_default();
        format!("{name}{user}{from}")
    }
}

/// Sessions of client backends on the same database as `url`, other than this one.
pub async fn other_sessions(
    url: &DatabaseUrl,
    timeouts: Timeouts,
) -> Result<Vec<Session>, DbError> {
    let mut session = ReadOnlySession::open(url, timeouts).await?;
    // backend_type exists from PostgreSQL 10 (read through the row's JSON so that the statement
    // also runs on 9.x, where the view lists client backends only).
    let query = sqlx::query(
        "SELECT pid, coalesce(application_name, ''), usename::text, host(client_addr), state, \
                extract(epoch FROM now() - backend_start)::bigint, \
                extract(epoch FROM now() - state_change)::bigint, \
                extract(epoch FROM now() - xact_start)::bigint \
           FROM pg_stat_activity AS activity \
          WHERE datname = current_database() AND pid <> pg_backend_pid() \
            AND coalesce(row_to_json(activity)->>'backend_type', 'client backend') \
                = 'client backend' \
          ORDER BY backend_start, pid",
    );
    let rows = session.fetch_all("read pg_stat_activity", query).await;
    session.close().await;
    let read = |error: sqlx::Error| DbError::query("read pg_stat_activity", &error);
    rows?
        .iter()
        .map(|row| {
            Ok(Session {
                pid: row.try_get(0).map_err(read)?,
                application_name: row.try_get(1).map_err(read)?,
                user: row.try_get(2).map_err(read)?,
                client_addr: row.try_get(3).map_err(read)?,
                state: row.try_get(4).map_err(read)?,
                connected_seconds: row.try_get(5).map_err(read)?,
                state_seconds: row.try_get(6).map_err(read)?,
                transaction_seconds: row.try_get(7).map_err(read)?,
            })
        })
        .collect()
}
