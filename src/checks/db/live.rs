//! What the database checks may do with the live metadata database: read, inside the one
//! read-only transaction of the run, each statement in a savepoint so that a timeout or a lock
//! wait that gives up makes only that check unable to run. Big tables are scanned by more
//! connections that import the run's snapshot, so they read the same instant in parallel.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::Postgres;
use tokio::sync::{mpsc, Mutex, Notify, Semaphore};

use super::super::CannotRun;
use crate::db::{for_each_row, DatabaseUrl, DbError, ReadOnlySession, Timeouts};
use crate::detect::Detection;
use crate::report::Progress;

impl From<DbError> for CannotRun {
    fn from(error: DbError) -> CannotRun {
        CannotRun(match error {
            DbError::Query { what, reason } => format!("{what}: {reason}"),
            other => other.to_string(),
        })
    }
}

/// Blocks of COPY data (about 1 MiB each) read but not yet inspected, per scan.
const BLOCKS_IN_FLIGHT: usize = 8;

/// One pass over the rows a query selects.
#[derive(Debug, Clone)]
pub struct Scan {
    /// What the pass reads, as progress and errors name it (`read events`).
    pub what: String,
    /// A `SELECT`, streamed with COPY.
    pub select: String,
    /// The planner's row estimate, for the progress bar.
    pub estimate: Option<u64>,
}

/// The secret stored credentials are encrypted with, and where the operator gave it. The value
/// is never printed; `origin` is (`--secret-key-env OLD_KEY`, `REDASH_SECRET_KEY in prod.env:3`).
#[derive(Clone)]
pub struct SecretKey {
    pub value: String,
    pub origin: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SecretKey(from {}, value hidden)", self.origin)
    }
}

/// What a [`Scan`] found.
pub struct Scanned<T> {
    pub rows: u64,
    pub found: Vec<T>,
}

/// Rows a check named, kept for the commands that report per row (`inventory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRows {
    pub code: &'static str,
    pub table: &'static str,
    pub ids: Vec<i64>,
}

/// The live database, through the run's transaction.
pub struct LiveDatabase {
    named: std::sync::Mutex<Vec<NamedRows>>,
    session: Mutex<ReadOnlySession>,
    url: DatabaseUrl,
    timeouts: Timeouts,
    /// The transaction's exported snapshot, for parallel scans; `None` when the server would not
    /// export one (scans then run one after another on the main connection).
    snapshot: Option<String>,
    detection: Detection,
    secret_key: Option<SecretKey>,
    quick: bool,
    progress: Progress,
}

impl LiveDatabase {
    /// The checks' view of `session`; `snapshot` is what it exported when it was opened
    /// ([`ReadOnlySession::open_exporting`]), for the parallel scans.
    pub fn new(
        session: ReadOnlySession,
        snapshot: Option<String>,
        detection: Detection,
        secret_key: Option<SecretKey>,
        quick: bool,
        progress: Progress,
    ) -> LiveDatabase {
        LiveDatabase {
            named: std::sync::Mutex::new(Vec::new()),
            url: session.url().clone(),
            timeouts: session.timeouts(),
            session: Mutex::new(session),
            snapshot,
            detection,
            secret_key,
            quick,
            progress,
        }
    }

    /// Records the rows of `table` a check (`code`) names, for [`LiveDatabase::named_rows`].
    pub fn note_rows(&self, code: &'static str, table: &'static str, ids: &[i64]) {
        self.named
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(NamedRows {
                code,
                table,
                ids: ids.to_vec(),
            });
    }

    /// Every row the checks of this run named, in the order they named them.
    pub fn named_rows(&self) -> Vec<NamedRows> {
        self.named
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether scans read on several connections at once (the server exported a snapshot).
    pub fn reads_in_parallel(&self) -> bool {
        self.snapshot.is_some()
    }

    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    /// The secret data sources are encrypted with, when the operator gave it (never printed).
    pub fn secret_key(&self) -> Option<&SecretKey> {
        self.secret_key.as_ref()
    }

    /// Whether big tables are sampled instead of read in full.
    pub fn quick(&self) -> bool {
        self.quick
    }

    /// Whether the live database has `table.column`.
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.column_type(table, column).is_some()
    }

    /// The live type of `table.column` (`text`, `jsonb`, ...).
    pub fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        self.detection
            .catalog
            .table(table)?
            .column(column)
            .map(|column| column.sql_type.as_str())
    }

    /// The planner's row estimate of `table`, when it is among the largest.
    pub fn row_estimate(&self, table: &str) -> Option<u64> {
        self.detection
            .server
            .largest_tables
            .iter()
            .find(|size| size.table == table)
            .map(|size| size.rows_estimate.max(0) as u64)
    }

    /// Runs one read-only statement.
    pub async fn fetch_all(
        &self,
        what: &str,
        query: Query<'_, Postgres, PgArguments>,
    ) -> Result<Vec<PgRow>, CannotRun> {
        Ok(self.session.lock().await.fetch_all(what, query).await?)
    }

    /// Streams every scan's rows and hands them to `inspect` (a row of COPY text data, and where
    /// to put what it finds) on every core, reading several scans at once where the snapshot
    /// allows. Results are in the order of `scans`; the order of `found` within one is not fixed.
    pub async fn scan<T, F>(&self, scans: &[Scan], inspect: F) -> Result<Vec<Scanned<T>>, CannotRun>
    where
        T: Send + 'static,
        F: Fn(&[u8], &mut Vec<T>) + Send + Sync + 'static,
    {
        let inspect = Arc::new(inspect);
        self.scan_each(scans, move |_| inspect.clone()).await
    }

    /// As [`LiveDatabase::scan`], with each scan's rows handed to the inspector `inspector_for`
    /// makes for it (given the scan's `what`).
    pub async fn scan_each<T, F, M>(
        &self,
        scans: &[Scan],
        inspector_for: M,
    ) -> Result<Vec<Scanned<T>>, CannotRun>
    where
        T: Send + 'static,
        F: Fn(&[u8], &mut Vec<T>) + Send + Sync + 'static,
        M: Fn(&str) -> Arc<F>,
    {
        let connections = if self.snapshot.is_some() {
            std::thread::available_parallelism().map_or(2, |count| count.get().min(4))
        } else {
            1
        };
        let passes: Vec<_> = scans
            .iter()
            .map(|scan| self.scan_one(scan, inspector_for(&scan.what)))
            .collect();
        let finished = Notify::new();
        let scanning = async {
            let passes = futures_util::stream::iter(passes)
                .buffered(connections)
                .collect::<Vec<_>>()
                .await;
            finished.notify_one();
            passes
        };
        let (passes, ()) = tokio::join!(scanning, self.keep_alive_until(&finished));
        passes.into_iter().collect()
    }

    /// While other connections scan, the run's own transaction sits idle; a statement now and
    /// then keeps `idle_in_transaction_session_timeout` from ending it (and with it the exported
    /// snapshot later scans import). A ping is never cut off half-way: it ends before this does.
    async fn keep_alive_until(&self, finished: &Notify) {
        if self.snapshot.is_none() {
            return;
        }
        let interval = (self.timeouts.statement / 2).min(Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = finished.notified() => return,
                _ = tokio::time::sleep(interval) => {
                    let _ = self
                        .session
                        .lock()
                        .await
                        .fetch_one("keep the transaction open", sqlx::query("SELECT 1"))
                        .await;
                }
            }
        }
    }

    /// Streams `SELECT id, text FROM ...` (`select`, read as [`LiveDatabase::scan`] does) and
    /// returns, sorted, the ids of the rows whose non-NULL text `offending` says yes to.
    pub async fn ids_where<F>(
        &self,
        what: &str,
        select: &str,
        table: &str,
        offending: F,
    ) -> Result<Vec<i64>, CannotRun>
    where
        F: Fn(&[u8]) -> bool + Send + Sync + 'static,
    {
        let scan = Scan {
            what: what.to_owned(),
            select: select.to_owned(),
            estimate: self.row_estimate(table),
        };
        let inspect = move |row: &[u8], found: &mut Vec<i64>| {
            let fields = copy_fields(row);
            let (Some(id), Some(text)) = (
                copy_id(&fields),
                fields.get(1).and_then(|raw| copy_field(raw)),
            ) else {
                return;
            };
            if offending(&text) {
                found.push(id);
            }
        };
        let mut passes = self.scan(&[scan], inspect).await?;
        let mut ids = passes.pop().map(|pass| pass.found).unwrap_or_default();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn scan_one<T, F>(&self, scan: &Scan, inspect: Arc<F>) -> Result<Scanned<T>, CannotRun>
    where
        T: Send + 'static,
        F: Fn(&[u8], &mut Vec<T>) + Send + Sync + 'static,
    {
        let bar = self.progress.rows(&scan.what, scan.estimate);
        let found = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (blocks, mut received) = mpsc::channel::<Vec<u8>>(2);
        // Each block is inspected on the rayon pool as it arrives; the permits bound the blocks
        // in memory, and no pool thread ever waits for the network.
        let in_flight = Arc::new(Semaphore::new(BLOCKS_IN_FLIGHT));
        let dispatch = async {
            while let Some(block) = received.recv().await {
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let (found, inspect) = (found.clone(), inspect.clone());
                rayon::spawn(move || {
                    let mut local = Vec::new();
                    for_each_row(&block, |row| inspect(row, &mut local));
                    found
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend(local);
                    drop(permit);
                });
            }
            // Every permit back: every block handed out has been inspected.
            let _all = in_flight.acquire_many(BLOCKS_IN_FLIGHT as u32).await;
        };
        let (rows, ()) = tokio::join!(self.read_scan(scan, blocks, &bar), dispatch);
        bar.finish_and_clear();
        let rows = rows?;
        let found = std::mem::take(&mut *found.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(Scanned { rows, found })
    }

    /// Streams the scan's rows to `blocks`, on a connection of its own at the run's snapshot
    /// when there is one. `blocks` is dropped when this returns, which ends the inspection.
    async fn read_scan(
        &self,
        scan: &Scan,
        blocks: mpsc::Sender<Vec<u8>>,
        bar: &indicatif::ProgressBar,
    ) -> Result<u64, DbError> {
        match &self.snapshot {
            Some(snapshot) => {
                let mut reader =
                    ReadOnlySession::open_at_snapshot(&self.url, self.timeouts, snapshot).await?;
                let rows = reader.copy_out(&scan.what, &scan.select, blocks, bar).await;
                reader.close().await;
                rows
            }
            None => {
                self.session
                    .lock()
                    .await
                    .copy_out(&scan.what, &scan.select, blocks, bar)
                    .await
            }
        }
    }

    /// Ends the run's transaction.
    pub async fn close(self) {
        self.session.into_inner().close().await;
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

/// The row id in the first field of a COPY text row.
pub fn copy_id(fields: &[&[u8]]) -> Option<i64> {
    let raw = copy_field(fields.first()?)?;
    std::str::from_utf8(&raw).ok()?.parse().ok()
}
