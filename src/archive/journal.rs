//! The archive journal: what one `archive --apply` changed, written (temp file, fsync, rename,
//! directory fsync) before its transaction commits, and again after, so that `archive --undo`
//! can put every row back whatever moment the run was stopped at.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub const JOURNAL_TYPE: &str = "redash-upgrade-archive-journal";
pub const FORMAT_VERSION: u32 = 1;

/// The columns `archive` may change, and so the only ones `--undo` writes.
pub const CHANGEABLE_COLUMNS: [&str; 4] = ["is_archived", "schedule", "updated_at", "tags"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalState {
    /// Written before COMMIT: the transaction may or may not have committed.
    Prepared,
    /// Rewritten after COMMIT returned.
    Committed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalAction {
    Archive,
    Tag,
}

/// One column changed: its value before and after, as PostgreSQL's text output (NULL is
/// `null`), which casts back to the column's type exactly (a jsonb `null` stays distinct from
/// SQL NULL, unlike in `row_to_json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnChange {
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalRow {
    pub id: i64,
    pub name: String,
    pub action: JournalAction,
    /// `row_to_json` of the queries row before the change.
    pub before: serde_json::Value,
    pub changes: Vec<ColumnChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveJournal {
    #[serde(rename = "type")]
    pub kind: String,
    pub format_version: u32,
    pub state: JournalState,
    /// The database URL, password masked, and the database's name.
    pub database: String,
    pub database_name: String,
    /// What `alembic_version` held.
    pub alembic: Vec<String>,
    pub inventory: String,
    pub inventory_sha256: String,
    pub tag_keepers: Option<String>,
    /// The transaction's `now()`: the `updated_at` archived rows got.
    pub started_at: String,
    /// Ordered by id.
    pub rows: Vec<JournalRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("--journal {}: the file exists; archive never overwrites a journal (choose another name)", .0.display())]
    Exists(std::path::PathBuf),
    #[error("failed to write the journal {}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("failed to read the journal {}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an archive journal: {reason}", path.display())]
    Malformed {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl ArchiveJournal {
    pub fn write(&self, path: &Path) -> Result<(), JournalError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("serializes");
        bytes.push(b'\n');
        crate::rehearse::journal::write_atomically(path, &bytes).map_err(|source| {
            JournalError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    pub fn read(path: &Path) -> Result<ArchiveJournal, JournalError> {
        let bytes = std::fs::read(path).map_err(|source| JournalError::Read {
            path: path.to_owned(),
            source,
        })?;
        let malformed = |reason: String| JournalError::Malformed {
            path: path.to_owned(),
            reason,
        };
        let journal: ArchiveJournal =
            serde_json::from_slice(&bytes).map_err(|error| malformed(error.to_string()))?;
        if journal.kind != JOURNAL_TYPE || journal.format_version != FORMAT_VERSION {
            return Err(malformed(format!(
                "type {:?} version {}",
                journal.kind, journal.format_version
            )));
        }
        for row in &journal.rows {
            if let Some(change) = row
                .changes
                .iter()
                .find(|change| !CHANGEABLE_COLUMNS.contains(&change.column.as_str()))
            {
                return Err(malformed(format!(
                    "query {}: column {:?} is not one archive changes",
                    row.id, change.column
                )));
            }
        }
        Ok(journal)
    }
}
