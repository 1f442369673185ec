//! What the database checks may do with the live metadata database: read, inside the one
//! read-only transaction of the run, each statement in a savepoint so that a timeout or a lock
//! wait that gives up makes only that check unable to run.

use std::cell::{Cell, RefCell};

use postgres::types::ToSql;
use postgres::Row;

use super::CannotRun;
use crate::detect::Detection;

/// The database as the checks see it.
pub trait Database {
    fn detection(&self) -> &Detection;
    /// Runs one read-only statement.
    fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, CannotRun>;
    /// Streams `COPY (query) TO STDOUT` rows (text format, one line per row) to `each_row`.
    fn copy_out(
        &self,
        what: &str,
        query: &str,
        each_row: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, CannotRun>;
    /// The secret data sources are encrypted with, when the operator gave it (never printed).
    fn secret_key(&self) -> Option<&str>;
    /// Whether big tables are sampled instead of read in full.
    fn quick(&self) -> bool;
}

/// The live database, through the run's transaction.
pub struct LiveDatabase<'a, 't> {
    transaction: RefCell<&'a mut postgres::Transaction<'t>>,
    detection: Detection,
    secret_key: Option<String>,
    quick: bool,
    savepoints: Cell<u64>,
}

impl<'a, 't> LiveDatabase<'a, 't> {
    pub fn new(
        transaction: &'a mut postgres::Transaction<'t>,
        detection: Detection,
        secret_key: Option<String>,
        quick: bool,
    ) -> LiveDatabase<'a, 't> {
        LiveDatabase {
            transaction: RefCell::new(transaction),
            detection,
            secret_key,
            quick,
            savepoints: Cell::new(0),
        }
    }

    fn guarded<T>(
        &self,
        what: &str,
        work: impl FnOnce(&mut postgres::Transaction<'t>) -> Result<T, String>,
    ) -> Result<T, CannotRun> {
        let mut transaction = self.transaction.borrow_mut();
        let number = self.savepoints.get() + 1;
        self.savepoints.set(number);
        let savepoint = format!("redash_upgrade_check_{number}");
        let failed = |reason: String| CannotRun(crate::db::redact(&format!("{what}: {reason}")));
        transaction
            .batch_execute(&format!("SAVEPOINT {savepoint}"))
            .map_err(|error| failed(message(&error)))?;
        match work(&mut transaction) {
            Ok(value) => {
                transaction
                    .batch_execute(&format!("RELEASE SAVEPOINT {savepoint}"))
                    .map_err(|error| failed(message(&error)))?;
                Ok(value)
            }
            Err(error) => {
                let _ = transaction.batch_execute(&format!("ROLLBACK TO SAVEPOINT {savepoint}"));
                Err(failed(error))
            }
        }
    }
}

impl Database for LiveDatabase<'_, '_> {
    fn detection(&self) -> &Detection {
        &self.detection
    }

    fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, CannotRun> {
        self.guarded(what, |transaction| {
            transaction
                .query(sql, params)
                .map_err(|error| message(&error))
        })
    }

    fn copy_out(
        &self,
        what: &str,
        query: &str,
        each_row: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, CannotRun> {
        self.guarded(what, |transaction| {
            let mut reader = transaction
                .copy_out(&format!("COPY ({query}) TO STDOUT"))
                .map_err(|error| message(&error))?;
            let mut rows = 0;
            let mut pending: Vec<u8> = Vec::new();
            let mut buffer = vec![0u8; 1 << 16];
            loop {
                let read = match std::io::Read::read(&mut reader, &mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    // The driver reports server errors inside io::Error; its text names them.
                    Err(error) => return Err(error.to_string()),
                };
                pending.extend_from_slice(&buffer[..read]);
                let mut start = 0;
                while let Some(offset) = pending[start..].iter().position(|&byte| byte == b'\n') {
                    each_row(&pending[start..start + offset]);
                    rows += 1;
                    start += offset + 1;
                }
                pending.drain(..start);
            }
            Ok(rows)
        })
    }

    fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    fn quick(&self) -> bool {
        self.quick
    }
}

/// The server's own message when there is one (`canceling statement due to lock timeout`).
fn message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => db_error.message().to_owned(),
        None => error.to_string(),
    }
}

/// Offending rows as a finding names them: the first 20 ids and how many in all.
pub fn name_rows(ids: &[i64], total: usize) -> String {
    let shown: Vec<String> = ids.iter().take(20).map(i64::to_string).collect();
    if total > shown.len() {
        format!(
            "ids {} and {} more ({total} in all)",
            shown.join(", "),
            total - shown.len()
        )
    } else if total == 1 {
        format!("id {}", shown.join(", "))
    } else {
        format!("ids {} ({total} in all)", shown.join(", "))
    }
}

/// Decodes one field of a COPY text row (`\N` is NULL; backslash escapes undone).
pub fn copy_field(raw: &[u8]) -> Option<Vec<u8>> {
    if raw == b"\\N" {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(8),
            Some(b'f') => out.push(12),
            Some(b'v') => out.push(11),
            Some(&other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

/// Splits a COPY text row into its raw fields.
pub fn copy_fields(row: &[u8]) -> Vec<&[u8]> {
    row.split(|&byte| byte == b'\t').collect()
}
