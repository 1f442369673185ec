//! Read-only access to a live Redash metadata database, on sqlx.
//!
//! Every session is one `READ ONLY`, `REPEATABLE READ` transaction with `statement_timeout`,
//! `lock_timeout` and `idle_in_transaction_session_timeout` set, under
//! `application_name=redash-upgrade`, so a DBA can see and kill it and it can neither write nor
//! queue behind a migration's lock. Each statement runs in a savepoint, so one that times out
//! leaves the transaction usable for the next.

pub mod introspect;
mod session;
mod url;

use std::time::Duration;

use sqlx::postgres::PgSeverity;

pub(crate) use session::connect;
pub use session::{for_each_row, ReadOnlySession};
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
    pub fn query(what: impl Into<String>, error: &sqlx::Error) -> DbError {
        DbError::Query {
            what: what.into(),
            reason: describe(error),
        }
    }

    /// The server's or the driver's reason alone, without what was being done.
    pub fn reason(&self) -> &str {
        match self {
            DbError::Connect { reason, .. } | DbError::Query { reason, .. } => reason,
        }
    }
}

/// The server's own message when there is one (`FATAL: password authentication failed ...`),
/// which says more than the driver's wrapper; passwords are masked in case a server echoes a URL.
pub fn describe(error: &sqlx::Error) -> String {
    let text = match error {
        sqlx::Error::Database(database_error) => {
            match database_error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // FATAL and PANIC say the connection is gone; ERROR adds nothing to the message.
                Some(postgres) if matches!(postgres.severity(), PgSeverity::Fatal) => {
                    format!("FATAL: {}", postgres.message())
                }
                Some(postgres) if matches!(postgres.severity(), PgSeverity::Panic) => {
                    format!("PANIC: {}", postgres.message())
                }
                Some(postgres) => postgres.message().to_owned(),
                None => database_error.message().to_owned(),
            }
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                // sqlx often repeats its cause in its own message: say each reason once.
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    };
    redact(&text)
}

/// A table or column name, double-quoted for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Timeouts of a read-only session.
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
