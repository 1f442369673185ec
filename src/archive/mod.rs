//! `archive`: the one command that writes to a production metadata database. It archives the
//! queries a reviewed inventory CSV classes `archive`, the way Redash's own "Archive" does, and
//! nothing else; `--undo JOURNAL` puts the rows back.
//!
//! What Redash does (`Query.archive`, the same in every release we know:
//! `v4.0.2:redash/models.py:924-938`, `v10.1.0:redash/models/__init__.py:518-532`,
//! `v25.8.0:redash/models/__init__.py:489-502`), and what we do:
//!
//! - `is_archived = True`: the same.
//! - `schedule = None`: before 7.0.0 the column is `character varying(10)`
//!   (`v4.0.2:redash/models.py:863`), so SQL NULL; from 7.0.0 to 10.x it is `text` through
//!   `PseudoJSON`, whose `process_bind_param` passes None through (`v10.1.0:
//!   redash/models/types.py:41-43`), so SQL NULL again; from 25.x it is SQLAlchemy's `JSONB`
//!   (`v25.8.0:redash/models/__init__.py:9,465`), whose `none_as_null` is false by default, so
//!   JSON `null`. We write what the column's type says: `'null'::jsonb` on jsonb, NULL otherwise.
//! - `updated_at`: `TimestampMixin` sets it to `now()` on every update (`onupdate=db.func.now()`
//!   at `v4.0.2:redash/models.py:190`, a `before_update` listener at `v10.1.0:
//!   redash/models/mixins.py:11-17`). The same: `now()`.
//! - `version`: NOT bumped. `version_id_col` is declared with `version_id_generator: False`
//!   (`v4.0.2:redash/models.py:876-879`, `v10.1.0:redash/models/__init__.py:513`), so SQLAlchemy
//!   only checks it; nothing in `archive` sets it. We leave it as it is.
//! - the query's widgets and alerts are deleted (`for vis in self.visualizations: for w in
//!   vis.widgets: db.session.delete(w)`, `for a in self.alerts: db.session.delete(a)`). We never
//!   delete: a query on a dashboard or with alerts is refused, for a person to review.
//! - `record_changes(user)` writes a `changes` row. We write neither `changes` nor `events`: the
//!   journal is the record.
//!
//! Safety: one transaction with `lock_timeout` and `statement_timeout`; the rows are locked
//! (`SELECT ... FOR UPDATE`) before they are compared with the CSV, and a row edited since the
//! inventory (`updated_at`, `version` or `is_archived` differ) is refused. The journal (every
//! touched row's `row_to_json` before, and the changed columns before and after) is fsynced
//! before COMMIT as `prepared`, and rewritten `committed` after.

pub mod csv;
pub mod journal;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};

use crate::db::{DatabaseUrl, DbError, Timeouts};
use crate::report::Progress;

use self::csv::{Class, InventoryError, InventoryRow};
use self::journal::{
    ArchiveJournal, ColumnChange, JournalAction, JournalError, JournalRow, JournalState,
};

/// What `archive` was asked to do.
pub struct ArchiveRequest {
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    pub inventory: PathBuf,
    pub journal: PathBuf,
    pub apply: bool,
    pub tag_keepers: Option<String>,
    pub progress: Progress,
}

/// What `archive --undo` was asked to do.
pub struct UndoRequest {
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    pub journal: PathBuf,
    pub apply: bool,
    pub progress: Progress,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("--tag-keepers: this database's queries have no tags column (Redash before 5.0.0)")]
    NoTags,
    #[error("--tag-keepers {0:?}: a tag must be non-empty text")]
    BadTag(String),
    #[error("--undo {journal}: it was written on the database {recorded}, not {given}: an undo applies to the database it archived")]
    OtherDatabase {
        journal: String,
        recorded: String,
        given: String,
    },
    #[error("{0}: not confirmed, nothing written (give --yes when there is no terminal)")]
    NotConfirmed(String),
}

/// What happened (or, in a dry run, would happen) to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Archive,
    Tag,
    AlreadyArchived,
    AlreadyTagged,
    /// Edited since the inventory (or since the archive, for `--undo`).
    RefusedEditedSince,
    RefusedOnDashboards,
    RefusedMissing,
    Restore,
    /// `--undo`: the row is as it was before the archive (its transaction never committed, or
    /// it was already undone).
    NothingToUndo,
}

impl Action {
    pub fn refused(self) -> bool {
        matches!(
            self,
            Action::RefusedEditedSince | Action::RefusedOnDashboards | Action::RefusedMissing
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Archive => "archive",
            Action::Tag => "tag",
            Action::AlreadyArchived => "already archived",
            Action::AlreadyTagged => "already tagged",
            Action::RefusedEditedSince => "refused: edited since",
            Action::RefusedOnDashboards => "refused: on dashboards",
            Action::RefusedMissing => "refused: not found",
            Action::Restore => "restore",
            Action::NothingToUndo => "nothing to undo",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RowOutcome {
    pub id: i64,
    pub name: String,
    pub action: Action,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Archive,
    Undo,
}

/// The result of `archive` or `archive --undo`, for the reporters.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveOutcome {
    pub mode: Mode,
    /// False for a dry run: nothing was written.
    pub applied: bool,
    pub database: String,
    pub inventory: Option<String>,
    pub journal: Option<String>,
    /// Whether a journal was written (false in a dry run, or when nothing changed).
    pub journal_written: bool,
    pub rows: Vec<RowOutcome>,
    pub note: Option<String>,
}

impl ArchiveOutcome {
    pub fn refused(&self) -> usize {
        self.rows.iter().filter(|row| row.action.refused()).count()
    }

    pub fn changed(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| matches!(row.action, Action::Archive | Action::Tag | Action::Restore))
            .count()
    }
}

/// A connection in one transaction, with the timeouts and text formats set.
struct Transaction {
    connection: PgConnection,
}

impl Transaction {
    async fn begin(url: &DatabaseUrl, timeouts: Timeouts, write: bool) -> Result<Self, DbError> {
        let connection = crate::db::connect(url, timeouts).await?;
        let mut transaction = Transaction { connection };
        transaction
            .execute(
                "start the transaction",
                &format!(
                    "BEGIN {}; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; \
                     SET LOCAL idle_in_transaction_session_timeout = {}; \
                     SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; \
                     SET LOCAL extra_float_digits = 3; \
                     SET LOCAL application_name = 'redash-upgrade archive'",
                    if write { "READ WRITE" } else { "READ ONLY" },
                    timeouts.statement.as_millis(),
                    timeouts.lock.as_millis(),
                    (timeouts.statement * 2).as_millis()
                ),
            )
            .await?;
        Ok(transaction)
    }

    async fn execute(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.connection)
            .await
            .map(drop)
            .map_err(|error| DbError::query(what, &error))
    }

    async fn commit(mut self) -> Result<(), DbError> {
        self.execute("commit", "COMMIT").await?;
        let _ = self.connection.close().await;
        Ok(())
    }

    async fn rollback(mut self) {
        let _ = self.execute("roll back", "ROLLBACK").await;
        let _ = self.connection.close().await;
    }

    /// The type of every column of `queries`, as `format_type` writes it.
    async fn query_columns(&mut self) -> Result<Vec<(String, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
              WHERE a.attrelid = to_regclass('queries') AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .fetch_all(&mut self.connection)
        .await
        .map_err(|error| DbError::query("read the columns of queries", &error))?;
        if rows.is_empty() {
            return Err(DbError::Query {
                what: "read the columns of queries".into(),
                reason: "no queries table: not a Redash metadata database".into(),
            });
        }
        Ok(rows
            .iter()
            .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
            .collect())
    }

    async fn alembic(&mut self) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT version_num::text FROM alembic_version \
              WHERE to_regclass('alembic_version') IS NOT NULL ORDER BY 1",
        )
        .fetch_all(&mut self.connection)
        .await;
        // A database without alembic_version: the journal says so with an empty list.
        Ok(rows
            .map(|rows| rows.iter().map(|row| row.get::<String, _>(0)).collect())
            .unwrap_or_default())
    }
}

/// A queries row as archive compares it.
struct Current {
    id: i64,
    name: String,
    org_id: i64,
    updated_at_csv: String,
    version: i64,
    is_archived: bool,
    before: String,
    /// The changeable columns as text, in [`journal::CHANGEABLE_COLUMNS`] order (tags None
    /// when the column does not exist).
    texts: Vec<Option<String>>,
    widgets: i64,
    alerts: i64,
    tagged: bool,
}

fn text_of(column: &str, has_tags: bool) -> String {
    if column == "tags" && !has_tags {
        "NULL::text".into()
    } else {
        format!("q.{column}::text")
    }
}

async fn read_rows(
    transaction: &mut Transaction,
    ids: &[i64],
    has_tags: bool,
    tag: &str,
    lock: bool,
) -> Result<Vec<Current>, DbError> {
    let texts: Vec<String> = journal::CHANGEABLE_COLUMNS
        .iter()
        .map(|column| text_of(column, has_tags))
        .collect();
    let tagged = if has_tags {
        "coalesce($2::text = ANY(q.tags::text[]), false)"
    } else {
        "($2::text IS NULL)"
    };
    let sql = format!(
        "SELECT q.id::bigint, q.name::text, q.org_id::bigint, {}, q.version::bigint, \
                q.is_archived, row_to_json(q)::text, {}, \
                coalesce(shown.widgets, 0), coalesce(watched.alerts, 0), {tagged} \
           FROM queries q \
           LEFT JOIN (SELECT v.query_id, count(*) AS widgets FROM widgets w \
                        JOIN visualizations v ON v.id = w.visualization_id \
                       GROUP BY v.query_id) shown ON shown.query_id = q.id \
           LEFT JOIN (SELECT query_id, count(*) AS alerts FROM alerts GROUP BY query_id) watched \
                  ON watched.query_id = q.id \
          WHERE q.id = ANY($1::bigint[]) ORDER BY q.id{}",
        csv::UPDATED_AT_SQL.replace("updated_at", "q.updated_at"),
        texts.join(", "),
        if lock { " FOR UPDATE OF q" } else { "" }
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(tag)
        .fetch_all(&mut transaction.connection)
        .await
        .map_err(|error| {
            DbError::query(
                if lock {
                    "lock the queries of the inventory"
                } else {
                    "read the queries of the inventory"
                },
                &error,
            )
        })?;
    let count = journal::CHANGEABLE_COLUMNS.len();
    Ok(rows
        .iter()
        .map(|row| Current {
            id: row.get(0),
            name: row.get(1),
            org_id: row.get(2),
            updated_at_csv: row.get(3),
            version: row.get(4),
            is_archived: row.get(5),
            before: row.get(6),
            texts: (0..count).map(|index| row.get(7 + index)).collect(),
            widgets: row.get(7 + count),
            alerts: row.get(8 + count),
            tagged: row.get(9 + count),
        })
        .collect())
}

/// What the CSV says and the database holds disagree on, or None.
fn edited_since(row: &InventoryRow, current: &Current) -> Option<String> {
    let mut differences = Vec::new();
    if row.updated_at != current.updated_at_csv {
        differences.push(format!(
            "updated_at {} now {}",
            row.updated_at, current.updated_at_csv
        ));
    }
    if row.version != current.version {
        differences.push(format!("version {} now {}", row.version, current.version));
    }
    if row.is_archived != current.is_archived {
        differences.push(format!(
            "is_archived {} now {}",
            row.is_archived, current.is_archived
        ));
    }
    if row.org_id != current.org_id {
        differences.push(format!("org_id {} now {}", row.org_id, current.org_id));
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// The decision for every inventory row that asks for something (`review` rows, and `keep`
/// rows without `--tag-keepers`, are left out).
fn decide(
    inventory: &[InventoryRow],
    current: &[Current],
    tag: Option<&str>,
    schedule_is_jsonb: bool,
) -> Vec<(RowOutcome, Option<usize>)> {
    let cleared = if schedule_is_jsonb {
        "JSON null"
    } else {
        "NULL"
    };
    let mut decisions = Vec::new();
    for row in inventory {
        let wanted = match row.class {
            Class::Archive => Action::Archive,
            Class::Keep if tag.is_some() => Action::Tag,
            _ => continue,
        };
        let Some(index) = current.iter().position(|found| found.id == row.id) else {
            decisions.push((
                RowOutcome {
                    id: row.id,
                    name: String::new(),
                    action: Action::RefusedMissing,
                    detail: format!("line {}: no query {} in this database", row.line, row.id),
                },
                None,
            ));
            continue;
        };
        let found = &current[index];
        let outcome = |action: Action, detail: String| RowOutcome {
            id: found.id,
            name: found.name.clone(),
            action,
            detail,
        };
        let decision = if wanted == Action::Archive && found.is_archived {
            outcome(Action::AlreadyArchived, "nothing to do".into())
        } else if wanted == Action::Tag && found.tagged {
            outcome(
                Action::AlreadyTagged,
                format!("already tagged {}", tag.unwrap_or_default()),
            )
        } else if let Some(differences) = edited_since(row, found) {
            outcome(
                Action::RefusedEditedSince,
                format!("edited since the inventory: {differences}; review it again"),
            )
        } else if wanted == Action::Archive && (found.widgets > 0 || found.alerts > 0) {
            outcome(
                Action::RefusedOnDashboards,
                format!(
                    "on dashboards: review it ({} widget(s), {} alert(s); Redash would delete them)",
                    found.widgets, found.alerts
                ),
            )
        } else if wanted == Action::Archive {
            let schedule = found.texts[1].as_deref().unwrap_or("NULL");
            outcome(
                Action::Archive,
                format!(
                    "is_archived false -> true, schedule {schedule} -> {cleared}, updated_at -> now"
                ),
            )
        } else {
            outcome(
                Action::Tag,
                format!(
                    "tags {} -> + {}",
                    found.texts[3].as_deref().unwrap_or("NULL"),
                    tag.unwrap_or_default()
                ),
            )
        };
        let touched = matches!(decision.action, Action::Archive | Action::Tag);
        decisions.push((decision, touched.then_some(index)));
    }
    decisions
}

fn refuse_existing_journal(path: &Path) -> Result<(), ArchiveError> {
    if path.exists() {
        return Err(JournalError::Exists(path.to_owned()).into());
    }
    // Found now rather than after the UPDATE: a journal that cannot be written stops the run.
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !directory.is_dir() {
        return Err(JournalError::Write {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        }
        .into());
    }
    Ok(())
}

/// `archive`: a dry run unless `request.apply`; `confirm` is asked before anything is written.
pub async fn archive(
    request: ArchiveRequest,
    confirm: &(dyn Fn(&str) -> bool + Sync),
) -> Result<ArchiveOutcome, ArchiveError> {
    if let Some(tag) = &request.tag_keepers {
        if tag.trim().is_empty() {
            return Err(ArchiveError::BadTag(tag.clone()));
        }
    }
    refuse_existing_journal(&request.journal)?;
    let (inventory, bytes) = csv::read(&request.inventory)?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let ids: Vec<i64> = inventory.iter().map(|row| row.id).collect();
    let tag = request.tag_keepers.as_deref();
    let progress = &request.progress;

    let mut outcome = ArchiveOutcome {
        mode: Mode::Archive,
        applied: false,
        database: request.url.redacted(),
        inventory: Some(request.inventory.display().to_string()),
        journal: Some(request.journal.display().to_string()),
        journal_written: false,
        rows: Vec::new(),
        note: None,
    };

    // The plan, read without locking anything: the dry run's answer, and what is confirmed.
    let mut reading = Transaction::begin(&request.url, request.timeouts, false).await?;
    let columns = reading.query_columns().await?;
    let has_tags = columns.iter().any(|(name, _)| name == "tags");
    let schedule_is_jsonb = columns
        .iter()
        .any(|(name, kind)| name == "schedule" && kind == "jsonb");
    if tag.is_some() && !has_tags {
        reading.rollback().await;
        return Err(ArchiveError::NoTags);
    }
    let current = read_rows(&mut reading, &ids, has_tags, tag.unwrap_or_default(), false).await?;
    reading.rollback().await;
    progress.log(&format!(
        "{}: {} row(s) ({} archive, {} keep, {} review)",
        request.inventory.display(),
        inventory.len(),
        inventory
            .iter()
            .filter(|row| row.class == Class::Archive)
            .count(),
        inventory
            .iter()
            .filter(|row| row.class == Class::Keep)
            .count(),
        inventory
            .iter()
            .filter(|row| row.class == Class::Review)
            .count(),
    ));
    let planned: Vec<RowOutcome> = decide(&inventory, &current, tag, schedule_is_jsonb)
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    if !request.apply {
        outcome.rows = planned;
        outcome.note = Some("dry run: nothing written, no journal (give --apply)".into());
        return Ok(outcome);
    }
    let to_archive = planned
        .iter()
        .filter(|row| row.action == Action::Archive)
        .count();
    let to_tag = planned
        .iter()
        .filter(|row| row.action == Action::Tag)
        .count();
    if to_archive + to_tag == 0 {
        outcome.applied = true;
        outcome.rows = planned;
        outcome.note = Some("nothing to change: no journal written".into());
        return Ok(outcome);
    }
    let question = format!(
        "archive {to_archive} quer{} and tag {to_tag} in {}?",
        if to_archive == 1 { "y" } else { "ies" },
        request.url.redacted()
    );
    if !confirm(&question) {
        return Err(ArchiveError::NotConfirmed("--apply".into()));
    }

    // The writing transaction: lock, compare again, change, journal, commit.
    let mut writing = Transaction::begin(&request.url, request.timeouts, true).await?;
    let columns = writing.query_columns().await?;
    let schedule_is_jsonb = columns
        .iter()
        .any(|(name, kind)| name == "schedule" && kind == "jsonb");
    let alembic = writing.alembic().await?;
    let started_at: String = sqlx::query("SELECT now()::text")
        .fetch_one(&mut writing.connection)
        .await
        .map_err(|error| DbError::query("read now()", &error))?
        .get(0);
    progress.log("locking the inventory's queries (SELECT ... FOR UPDATE)");
    let current = read_rows(&mut writing, &ids, has_tags, tag.unwrap_or_default(), true).await?;
    let decisions = decide(&inventory, &current, tag, schedule_is_jsonb);
    let archive_ids: Vec<i64> = decisions
        .iter()
        .filter(|(row, _)| row.action == Action::Archive)
        .map(|(row, _)| row.id)
        .collect();
    let tag_ids: Vec<i64> = decisions
        .iter()
        .filter(|(row, _)| row.action == Action::Tag)
        .map(|(row, _)| row.id)
        .collect();
    if archive_ids.is_empty() && tag_ids.is_empty() {
        // Everything changed between the plan and the lock: nothing to write, no journal.
        writing.rollback().await;
        outcome.applied = true;
        outcome.rows = decisions.into_iter().map(|(row, _)| row).collect();
        outcome.note = Some("nothing to change: no journal written".into());
        return Ok(outcome);
    }
    let mut after: std::collections::HashMap<i64, Vec<Option<String>>> = Default::default();
    let returning: Vec<String> = journal::CHANGEABLE_COLUMNS
        .iter()
        .map(|column| text_of(column, has_tags))
        .collect();
    if !archive_ids.is_empty() {
        let sql = format!(
            "UPDATE queries q SET is_archived = true, schedule = {}, updated_at = now() \
              WHERE q.id = ANY($1::bigint[]) RETURNING q.id::bigint, {}",
            if schedule_is_jsonb {
                "'null'::jsonb"
            } else {
                "NULL"
            },
            returning.join(", ")
        );
        collect_after(&mut writing, &sql, &archive_ids, None, &mut after).await?;
    }
    if !tag_ids.is_empty() {
        let sql = format!(
            "UPDATE queries q SET tags = array_append(coalesce(q.tags, '{{}}'), CAST($2 AS varchar)) \
              WHERE q.id = ANY($1::bigint[]) RETURNING q.id::bigint, {}",
            returning.join(", ")
        );
        collect_after(&mut writing, &sql, &tag_ids, tag, &mut after).await?;
    }
    let mut rows = Vec::new();
    for (decision, index) in &decisions {
        let Some(index) = index else { continue };
        let found = &current[*index];
        let now = &after[&found.id];
        let (action, columns): (JournalAction, &[usize]) = match decision.action {
            Action::Archive => (JournalAction::Archive, &[0, 1, 2]),
            _ => (JournalAction::Tag, &[3]),
        };
        rows.push(JournalRow {
            id: found.id,
            name: found.name.clone(),
            action,
            before: before_image(&found.before),
            changes: columns
                .iter()
                .map(|&column| ColumnChange {
                    column: journal::CHANGEABLE_COLUMNS[column].to_owned(),
                    before: found.texts[column].clone(),
                    after: now[column].clone(),
                })
                .collect(),
        });
    }
    rows.sort_by_key(|row| row.id);
    let mut record = ArchiveJournal {
        kind: journal::JOURNAL_TYPE.into(),
        format_version: journal::FORMAT_VERSION,
        state: JournalState::Prepared,
        database: request.url.redacted(),
        database_name: request.url.database_name(),
        alembic,
        inventory: request.inventory.display().to_string(),
        inventory_sha256: sha256,
        tag_keepers: request.tag_keepers.clone(),
        started_at,
        rows,
    };
    // Checked again right before writing: never overwrite a journal another run wrote.
    refuse_existing_journal(&request.journal)?;
    record.write(&request.journal)?;
    progress.log(&format!(
        "journal {} written (prepared); committing",
        request.journal.display()
    ));
    writing.commit().await?;
    record.state = JournalState::Committed;
    record.write(&request.journal)?;
    progress.log(&format!(
        "committed; journal {} rewritten (committed)",
        request.journal.display()
    ));
    outcome.applied = true;
    outcome.journal_written = true;
    outcome.rows = decisions.into_iter().map(|(row, _)| row).collect();
    Ok(outcome)
}

/// The row as the journal keeps it: every column but the query's `api_key`, which lets anyone
/// holding it read the query's results and is not needed to undo anything.
fn before_image(row: &str) -> serde_json::Value {
    let mut image: serde_json::Value = serde_json::from_str(row).unwrap_or(serde_json::Value::Null);
    if let Some(columns) = image.as_object_mut() {
        columns.remove("api_key");
    }
    image
}

async fn collect_after(
    transaction: &mut Transaction,
    sql: &str,
    ids: &[i64],
    tag: Option<&str>,
    into: &mut std::collections::HashMap<i64, Vec<Option<String>>>,
) -> Result<(), DbError> {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_owned())).bind(ids);
    if let Some(tag) = tag {
        query = query.bind(tag);
    }
    let rows = query
        .fetch_all(&mut transaction.connection)
        .await
        .map_err(|error| DbError::query("update the queries", &error))?;
    for row in rows {
        let texts = (0..journal::CHANGEABLE_COLUMNS.len())
            .map(|index| row.get::<Option<String>, _>(1 + index))
            .collect();
        into.insert(row.get(0), texts);
    }
    Ok(())
}

/// `archive --undo JOURNAL`: every journaled row whose columns are still as the archive left
/// them gets its values from before back; a row changed since is refused.
pub async fn undo(
    request: UndoRequest,
    confirm: &(dyn Fn(&str) -> bool + Sync),
) -> Result<ArchiveOutcome, ArchiveError> {
    let record = ArchiveJournal::read(&request.journal)?;
    if record.database_name != request.url.database_name() {
        return Err(ArchiveError::OtherDatabase {
            journal: request.journal.display().to_string(),
            recorded: record.database_name.clone(),
            given: request.url.database_name(),
        });
    }
    let progress = &request.progress;
    progress.log(&format!(
        "{}: {} row(s), {}, of {} ({})",
        request.journal.display(),
        record.rows.len(),
        match record.state {
            JournalState::Prepared => "prepared (its transaction may not have committed)",
            JournalState::Committed => "committed",
        },
        record.database,
        record.database_name
    ));
    let mut outcome = ArchiveOutcome {
        mode: Mode::Undo,
        applied: false,
        database: request.url.redacted(),
        inventory: Some(record.inventory.clone()),
        journal: Some(request.journal.display().to_string()),
        journal_written: false,
        rows: Vec::new(),
        note: None,
    };
    let planned = undo_pass(&request, &record, false).await?;
    let to_restore = planned
        .iter()
        .filter(|row| row.action == Action::Restore)
        .count();
    if !request.apply || to_restore == 0 {
        outcome.applied = request.apply;
        outcome.note = Some(if to_restore == 0 {
            if record.state == JournalState::Prepared
                && planned
                    .iter()
                    .all(|row| row.action == Action::NothingToUndo)
            {
                "nothing to undo: every row is as it was before (the archive's transaction \
                 never committed, or it was undone already)"
                    .into()
            } else {
                "nothing to undo".into()
            }
        } else {
            "dry run: nothing written (give --apply)".into()
        });
        outcome.rows = planned;
        return Ok(outcome);
    }
    let question = format!(
        "restore {to_restore} quer{} in {}?",
        if to_restore == 1 { "y" } else { "ies" },
        request.url.redacted()
    );
    if !confirm(&question) {
        return Err(ArchiveError::NotConfirmed("--undo --apply".into()));
    }
    outcome.rows = undo_pass(&request, &record, true).await?;
    outcome.applied = true;
    Ok(outcome)
}

async fn undo_pass(
    request: &UndoRequest,
    record: &ArchiveJournal,
    write: bool,
) -> Result<Vec<RowOutcome>, ArchiveError> {
    let mut transaction = Transaction::begin(&request.url, request.timeouts, write).await?;
    let columns = transaction.query_columns().await?;
    let has_tags = columns.iter().any(|(name, _)| name == "tags");
    let type_of = |column: &str| {
        columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, kind)| kind.clone())
    };
    let ids: Vec<i64> = record.rows.iter().map(|row| row.id).collect();
    let current = read_rows(&mut transaction, &ids, has_tags, "", write).await?;
    let mut outcomes = Vec::new();
    for row in &record.rows {
        let outcome = |action: Action, detail: String| RowOutcome {
            id: row.id,
            name: row.name.clone(),
            action,
            detail,
        };
        let Some(found) = current.iter().find(|found| found.id == row.id) else {
            outcomes.push(outcome(
                Action::RefusedMissing,
                "no such query any more".into(),
            ));
            continue;
        };
        let now = |column: &str| {
            journal::CHANGEABLE_COLUMNS
                .iter()
                .position(|name| *name == column)
                .and_then(|index| found.texts[index].clone())
        };
        let differing: Vec<&ColumnChange> = row
            .changes
            .iter()
            .filter(|change| now(&change.column) != change.after)
            .collect();
        if differing.is_empty() {
            let mut assignments = Vec::new();
            for (index, change) in row.changes.iter().enumerate() {
                let kind = type_of(&change.column).ok_or_else(|| DbError::Query {
                    what: "restore the queries".into(),
                    reason: format!("queries has no column {}", change.column),
                })?;
                assignments.push(format!(
                    "{} = CAST(CAST(${} AS text) AS {kind})",
                    change.column,
                    index + 2
                ));
            }
            if write {
                let sql = format!(
                    "UPDATE queries SET {} WHERE id = $1::bigint",
                    assignments.join(", ")
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(row.id);
                for change in &row.changes {
                    query = query.bind(change.before.clone());
                }
                query
                    .execute(&mut transaction.connection)
                    .await
                    .map_err(|error| DbError::query("restore the queries", &error))?;
            }
            outcomes.push(outcome(
                Action::Restore,
                row.changes
                    .iter()
                    .map(|change| {
                        format!(
                            "{} -> {}",
                            change.column,
                            change.before.as_deref().unwrap_or("NULL")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        } else if row
            .changes
            .iter()
            .all(|change| now(&change.column) == change.before)
        {
            outcomes.push(outcome(
                Action::NothingToUndo,
                "as it was before the archive".into(),
            ));
        } else {
            outcomes.push(outcome(
                Action::RefusedEditedSince,
                format!(
                    "changed since the archive: {}",
                    differing
                        .iter()
                        .map(|change| format!(
                            "{} is {} (archive left {})",
                            change.column,
                            now(&change.column).as_deref().unwrap_or("NULL"),
                            change.after.as_deref().unwrap_or("NULL")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if write {
        transaction.commit().await?;
    } else {
        transaction.rollback().await;
    }
    Ok(outcomes)
}
