//! Snapshots of the metadata database that prove what they hold: a dump made by the real
//! `pg_dump` and, taken at the same instant, a manifest of every table's rows and content; the
//! restore of such a snapshot into a staging database, checked against its manifest; and the
//! comparison `verify` makes after a hop.

pub mod canonical;
pub mod content;
pub mod manifest;
mod restore;
pub(crate) mod stream;
mod take;
pub mod tools;

use std::path::PathBuf;

pub use manifest::{FileProblem, Manifest};
pub use restore::{restore, RestoreOutcome, RestoreRequest};
pub use take::{take, SnapshotRequest, SnapshotSummary, DUMP_NAME};

use crate::db::DbError;
use crate::detect::DetectError;

/// Why a snapshot, a restore or a check of one could not be done. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: already exists; a snapshot is never overwritten (choose another --out)", .0.display())]
    Exists(PathBuf),
    #[error("{}: no such directory to write the snapshot in", .0.display())]
    ParentMissing(PathBuf),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {why}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}: not a snapshot: {why}", path.display())]
    NotASnapshot { path: PathBuf, why: String },
    #[error("{}: an unfinished snapshot (its writer stopped before it was complete); remove it and take the snapshot again", .0.display())]
    Unfinished(PathBuf),
    #[error("{}: its SHA-256 differs from the one recorded beside it: the manifest changed", .0.display())]
    ManifestChanged(PathBuf),
    #[error("no {tool} found: {hint}")]
    ToolMissing { tool: String, hint: String },
    #[error("{tool} is version {version}, older than {needed}: {hint}")]
    ToolTooOld {
        tool: String,
        version: String,
        needed: String,
        hint: String,
    },
    #[error("{tool} failed ({status}): {output}")]
    ToolFailed {
        tool: String,
        status: String,
        output: String,
    },
    #[error("the server would not export a snapshot (pg_export_snapshot), so the dump and the manifest could not be taken at one instant: {0}")]
    NoExportedSnapshot(String),
    #[error("could not read the database: {0}")]
    Read(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("{database} is not empty ({found}); restore only into an empty database, or give --clean to drop what it holds first")]
    TargetNotEmpty { database: String, found: String },
    #[error("{database} is the database the snapshot was taken from (same system identifier and database name): restoring would overwrite production; give --i-know-this-is-production if that is really what you want")]
    TargetIsSource { database: String },
    #[error("not confirmed: nothing was restored (give --yes to restore without asking)")]
    NotConfirmed,
    #[error(
        "{0} has problems (run `redash-upgrade snapshot verify` on it): refusing to restore it"
    )]
    SnapshotDamaged(String),
}

impl From<crate::checks::CannotRun> for SnapshotError {
    fn from(error: crate::checks::CannotRun) -> SnapshotError {
        SnapshotError::Read(error.0)
    }
}

/// Flushes a directory's entries (a rename or a new file in it) to disk.
pub(crate) fn sync_directory(path: &std::path::Path) -> Result<(), SnapshotError> {
    std::fs::File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        })
}
