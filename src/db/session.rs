//! One read-only transaction on one connection, and more connections that see the same instant.

use futures_util::StreamExt as _;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection as _, Postgres};
use tokio::sync::mpsc;

use super::{DatabaseUrl, DbError, Timeouts};

/// COPY data is handed on in blocks of whole rows of about this size, so that the work on them
/// can be spread over threads without a hand-off per row.
const COPY_BLOCK_BYTES: usize = 1 << 20;

/// A connection inside one `READ ONLY`, `REPEATABLE READ` transaction, rolled back when closed
/// (or when the connection drops).
pub struct ReadOnlySession {
    connection: PgConnection,
    url: DatabaseUrl,
    timeouts: Timeouts,
    savepoints: u64,
}

impl ReadOnlySession {
    /// Connects and opens the transaction.
    pub async fn open(url: &DatabaseUrl, timeouts: Timeouts) -> Result<ReadOnlySession, DbError> {
        ReadOnlySession::open_with(url, timeouts, None).await
    }

    /// A second session that sees exactly what the session that exported `snapshot` sees, so
    /// several connections can read one instant in parallel.
    pub async fn open_at_snapshot(
        url: &DatabaseUrl,
        timeouts: Timeouts,
        snapshot: &str,
    ) -> Result<ReadOnlySession, DbError> {
        ReadOnlySession::open_with(url, timeouts, Some(snapshot)).await
    }

    async fn open_with(
        url: &DatabaseUrl,
        timeouts: Timeouts,
        snapshot: Option<&str>,
    ) -> Result<ReadOnlySession, DbError> {
        let connection = connect(url, timeouts).await?;
        let mut session = ReadOnlySession {
            connection,
            url: url.clone(),
            timeouts,
            savepoints: 0,
        };
        session
            .execute(
                "start a read-only transaction",
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            )
            .await?;
        if let Some(snapshot) = snapshot {
            // The snapshot id comes from pg_export_snapshot(): hex digits and dashes only.
            if !snapshot
                .chars()
                .all(|character| character.is_ascii_hexdigit() || character == '-')
            {
                return Err(DbError::Query {
                    what: "import the snapshot".into(),
                    reason: format!("{snapshot:?} is not a snapshot id"),
                });
            }
            session
                .execute(
                    "import the snapshot",
                    &format!("SET TRANSACTION SNAPSHOT '{snapshot}'"),
                )
                .await?;
        }
        session
            .execute(
                // Values are read as text: the same on every server whatever its settings.
                "set the session timeouts and output formats",
                &format!(
                    "SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; \
                     SET LOCAL idle_in_transaction_session_timeout = {}; \
                     SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; \
                     SET LOCAL IntervalStyle = 'postgres'; SET LOCAL bytea_output = 'hex'; \
                     SET LOCAL extra_float_digits = 3;",
                    timeouts.statement.as_millis(),
                    timeouts.lock.as_millis(),
                    (timeouts.statement * 2).as_millis()
                ),
            )
            .await?;
        Ok(session)
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// As [`ReadOnlySession::open`], and exports the transaction's snapshot for
    /// [`ReadOnlySession::open_at_snapshot`], before anything is read. `None` when the server
    /// will not export one; the session is then a plain one.
    pub async fn open_exporting(
        url: &DatabaseUrl,
        timeouts: Timeouts,
    ) -> Result<(ReadOnlySession, Option<String>), DbError> {
        let mut session = ReadOnlySession::open(url, timeouts).await?;
        // Not in a savepoint: PostgreSQL exports no snapshot from a subtransaction. A failure
        // aborts the transaction, which has read nothing yet, so it starts again without one.
        let exported = sqlx::query("SELECT pg_export_snapshot()")
            .fetch_one(&mut session.connection)
            .await;
        match exported {
            Ok(row) => Ok((session, Some(sqlx::Row::get(&row, 0)))),
            Err(_) => {
                session.close().await;
                Ok((ReadOnlySession::open(url, timeouts).await?, None))
            }
        }
    }

    async fn execute(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.connection)
            .await
            .map(|_| ())
            .map_err(|error| DbError::query(what, &error))
    }

    async fn savepoint(&mut self, what: &str) -> Result<String, DbError> {
        self.savepoints += 1;
        let name = format!("redash_upgrade_{}", self.savepoints);
        self.execute(what, &format!("SAVEPOINT {name}")).await?;
        Ok(name)
    }

    /// Ends the statement's savepoint: released when it succeeded, rolled back to when it
    /// failed, so that the transaction stays usable after a timeout.
    async fn end_savepoint<T>(
        &mut self,
        what: &str,
        name: String,
        result: Result<T, sqlx::Error>,
    ) -> Result<T, DbError> {
        match result {
            Ok(value) => {
                self.execute(what, &format!("RELEASE SAVEPOINT {name}"))
                    .await?;
                Ok(value)
            }
            Err(error) => {
                let _ = self
                    .execute(what, &format!("ROLLBACK TO SAVEPOINT {name}"))
                    .await;
                Err(DbError::query(what, &error))
            }
        }
    }

    /// Runs one read-only statement in its own savepoint.
    pub async fn fetch_all(
        &mut self,
        what: &str,
        query: Query<'_, Postgres, PgArguments>,
    ) -> Result<Vec<PgRow>, DbError> {
        let name = self.savepoint(what).await?;
        let result = query.fetch_all(&mut self.connection).await;
        self.end_savepoint(what, name, result).await
    }

    /// As [`ReadOnlySession::fetch_all`], for a statement that returns exactly one row.
    pub async fn fetch_one(
        &mut self,
        what: &str,
        query: Query<'_, Postgres, PgArguments>,
    ) -> Result<PgRow, DbError> {
        let name = self.savepoint(what).await?;
        let result = query.fetch_one(&mut self.connection).await;
        self.end_savepoint(what, name, result).await
    }

    /// Streams `COPY (select) TO STDOUT` (text format) in its own savepoint, sending blocks of
    /// whole rows to `blocks` and counting rows on `progress`. Returns the number of rows.
    pub async fn copy_out(
        &mut self,
        what: &str,
        select: &str,
        blocks: mpsc::Sender<Vec<u8>>,
        progress: &indicatif::ProgressBar,
    ) -> Result<u64, DbError> {
        let name = self.savepoint(what).await?;
        let statement = format!("COPY ({select}) TO STDOUT");
        let result = async {
            let mut stream = self.connection.copy_out_raw(&statement).await?;
            let mut rows = 0u64;
            let mut block: Vec<u8> = Vec::with_capacity(COPY_BLOCK_BYTES + (1 << 16));
            while let Some(chunk) = stream.next().await {
                block.extend_from_slice(&chunk?);
                if block.len() < COPY_BLOCK_BYTES {
                    continue;
                }
                let Some(end) = block.iter().rposition(|&byte| byte == b'\n') else {
                    continue;
                };
                let rest = block.split_off(end + 1);
                let count = row_count(&block);
                rows += count;
                progress.inc(count);
                if blocks
                    .send(std::mem::replace(&mut block, rest))
                    .await
                    .is_err()
                {
                    // Whoever reads the blocks has stopped: nothing more to do.
                    return Ok(rows);
                }
            }
            if !block.is_empty() {
                let count = row_count(&block);
                rows += count;
                progress.inc(count);
                let _ = blocks.send(block).await;
            }
            Ok(rows)
        }
        .await;
        self.end_savepoint(what, name, result).await
    }

    /// Ends the transaction (it never wrote anything) and the connection.
    pub async fn close(mut self) {
        let _ = self.execute("end the transaction", "ROLLBACK").await;
        let _ = self.connection.close().await;
    }
}

fn row_count(block: &[u8]) -> u64 {
    block.iter().filter(|&&byte| byte == b'\n').count() as u64
}

/// Calls `each_row` with every row of a block of COPY text data, without its newline. An empty
/// line is a row too (one column holding the empty string).
pub fn for_each_row(block: &[u8], mut each_row: impl FnMut(&[u8])) {
    let mut rows = block.split(|&byte| byte == b'\n');
    let mut current = rows.next();
    while let Some(row) = current {
        let next = rows.next();
        // The piece after the block's final newline is no row.
        if next.is_some() || !row.is_empty() {
            each_row(row);
        }
        current = next;
    }
}

/// A connection to `url`, given up after `timeouts.connect`; errors name the URL with its
/// password masked.
pub(crate) async fn connect(
    url: &DatabaseUrl,
    timeouts: Timeouts,
) -> Result<PgConnection, DbError> {
    let connect_failed = |reason: String| DbError::Connect {
        url: url.redacted(),
        reason,
    };
    tokio::time::timeout(
        timeouts.connect,
        PgConnection::connect_with(&url.connect_options()),
    )
    .await
    .map_err(|_| {
        connect_failed(format!(
            "no answer within {} s",
            timeouts.connect.as_secs_f64()
        ))
    })?
    .map_err(|error| connect_failed(super::describe(&error)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_is_a_row_even_an_empty_one() {
        let mut rows = Vec::new();
        super::for_each_row(b"1\ta\n\n3\tc\n", |row| rows.push(row.to_vec()));
        assert_eq!(rows, vec![b"1\ta".to_vec(), Vec::new(), b"3\tc".to_vec()]);
        rows.clear();
        super::for_each_row(b"", |row| rows.push(row.to_vec()));
        assert!(rows.is_empty());
    }
}
