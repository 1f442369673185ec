//! Read-only access to a live Redash metadata database.
//!
//! Every session is one `READ ONLY`, `REPEATABLE READ` transaction with `statement_timeout` and
//! `lock_timeout` set, under `application_name=redash-upgrade`, so a DBA can see and kill it and
//! it can neither write nor queue behind a migration's lock.

pub mod introspect;
mod tls;
mod url;

use std::time::Duration;

pub use url::{redact, DatabaseUrl, UrlError};

/// The name a DBA sees in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "redash-upgrade";

/// Why the database could not be read. Messages never contain the password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("could not {what}: {reason}")]
    Query { what: String, reason: String },
}

impl DbError {
    pub fn query(what: impl Into<String>, error: &postgres::Error) -> DbError {
        DbError::Query {
            what: what.into(),
            reason: describe(error),
        }
    }
}

/// The server's own message when there is one (`password authentication failed ...`), which
/// says more than the driver's wrapper; passwords are masked in case a server echoes a URL.
fn describe(error: &postgres::Error) -> String {
    let text = match error.as_db_error() {
        Some(db_error) => format!("{}: {}", db_error.severity(), db_error.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    };
    redact(&text)
}

/// Statement and lock timeouts of a read-only session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub statement: Duration,
    pub lock: Duration,
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            statement: Duration::from_secs(30),
            lock: Duration::from_secs(2),
            connect: Duration::from_secs(10),
        }
    }
}

/// Parses `500ms`, `30s`, `2min` (what a DBA writes in postgresql.conf).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s or 2min"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" | "" => Duration::from_secs(value),
        "min" => Duration::from_secs(value * 60),
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 500ms, 30s or 2min"
            ))
        }
    };
    if duration.is_zero() {
        return Err(format!("{text:?}: a timeout of zero would mean no timeout"));
    }
    Ok(duration)
}

/// A connection that only ever reads.
pub struct ReadOnlySession {
    client: postgres::Client,
    timeouts: Timeouts,
}

impl ReadOnlySession {
    pub fn connect(url: &DatabaseUrl, timeouts: Timeouts) -> Result<ReadOnlySession, DbError> {
        let mut config = url.config();
        config
            .application_name(APPLICATION_NAME)
            .connect_timeout(timeouts.connect);
        let client = config
            .connect(tls::connector())
            .map_err(|error| DbError::Connect {
                url: url.redacted(),
                reason: describe(&error),
            })?;
        Ok(ReadOnlySession { client, timeouts })
    }

    /// Runs `work` inside one read-only repeatable-read transaction, which is rolled back after.
    pub fn read<T, E: From<DbError>>(
        &mut self,
        work: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut transaction = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|error| DbError::query("start a read-only transaction", &error))?;
        transaction
            .batch_execute(&format!(
                "SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; \
                 SET LOCAL idle_in_transaction_session_timeout = {};",
                self.timeouts.statement.as_millis(),
                self.timeouts.lock.as_millis(),
                (self.timeouts.statement * 2).as_millis()
            ))
            .map_err(|error| DbError::query("set the session timeouts", &error))?;
        let result = work(&mut transaction);
        let _ = transaction.rollback();
        result
    }
}
