//! The rehearsal's journal: every step's state, written (temp file, fsync, rename, directory
//! fsync) as the step starts and as it ends, so that a run killed at any point is resumed from
//! what is known to be done, and a step found started is redone or rolled back.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};

pub const JOURNAL_FILE: &str = "journal.json";
pub const JOURNAL_TYPE: &str = "redash-upgrade-rehearsal-journal";
pub const FORMAT_VERSION: u32 = 1;

/// Writes `bytes` to `path` through a temporary file beside it, fsynced, then renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Ok(directory) = std::fs::File::open(directory) {
        let _ = directory.sync_all();
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Restore,
    Neutralize,
    Check,
    Snapshot,
    Migrate,
    Verify,
    Rollback,
    PauseSchedules,
}

impl StepKind {
    pub fn title(self) -> &'static str {
        match self {
            StepKind::Restore => "restore the snapshot",
            StepKind::Neutralize => "neutralize the copy",
            StepKind::Check => "database pre-flight checks",
            StepKind::Snapshot => "snapshot (rollback point)",
            StepKind::Migrate => "migrations",
            StepKind::Verify => "verify",
            StepKind::Rollback => "roll back to the pre-hop snapshot",
            StepKind::PauseSchedules => "pause schedules",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Begun and not known to have ended: on resume it is redone or rolled back.
    Started,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `restore`, `neutralize`, `hop-2/migrate`, ...
    pub id: String,
    /// 1-based, for the steps of a hop.
    pub hop: Option<usize>,
    pub kind: StepKind,
    pub state: StepState,
    /// How many times the step was begun (more than one after a resume or a retry).
    pub attempts: u32,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub seconds: Option<f64>,
    /// What the step found, as the report shows it.
    #[serde(default)]
    pub detail: serde_json::Value,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHop {
    pub from: Version,
    pub to: Version,
    pub image: Option<String>,
    pub from_head: String,
    pub to_head: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    #[serde(rename = "type")]
    pub kind: String,
    pub format_version: u32,
    /// The production snapshot rehearsed, and the SHA-256 of its manifest.
    pub snapshot: String,
    pub snapshot_manifest_sha256: String,
    /// The staging database (password masked) and its name.
    pub staging: String,
    pub staging_database: String,
    pub from: Version,
    pub to: Version,
    /// What was assumed where the snapshot left a choice (the release it is at).
    pub assumption: Option<String>,
    pub runner: String,
    pub hops: Vec<JournalHop>,
    pub steps: Vec<StepRecord>,
    /// The hop whose migration began and was neither verified nor rolled back: before it is
    /// run again, the copy goes back to that hop's snapshot.
    pub dirty_hop: Option<usize>,
    /// The process group of a migration running now (cleared when it ends).
    pub runner_process_group: Option<u32>,
    /// `succeeded`, `failed` or absent while running.
    pub outcome: Option<String>,
    /// How many times the rehearsal was started (1, plus one per `--resume`).
    pub runs: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a rehearsal journal: {why}", path.display())]
    Malformed { path: PathBuf, why: String },
}

impl Journal {
    pub fn path(work: &Path) -> PathBuf {
        work.join(JOURNAL_FILE)
    }

    pub fn read(work: &Path) -> Result<Option<Journal>, JournalError> {
        let path = Journal::path(work);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(JournalError::Io { path, source }),
        };
        let journal: Journal =
            serde_json::from_str(&text).map_err(|error| JournalError::Malformed {
                path: path.clone(),
                why: format!("line {}: {error}", error.line()),
            })?;
        if journal.kind != JOURNAL_TYPE || journal.format_version > FORMAT_VERSION {
            return Err(JournalError::Malformed {
                path,
                why: format!(
                    "type {:?}, format {} (this tool reads {JOURNAL_TYPE} format {FORMAT_VERSION})",
                    journal.kind, journal.format_version
                ),
            });
        }
        Ok(Some(journal))
    }

    pub fn write(&self, work: &Path) -> Result<(), JournalError> {
        let path = Journal::path(work);
        let mut bytes = serde_json::to_vec_pretty(self).expect("a journal serializes");
        bytes.push(b'\n');
        write_atomically(&path, &bytes).map_err(|source| JournalError::Io { path, source })
    }

    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|step| step.id == id)
    }

    pub fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|step| step.id == id)
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.step(id)
            .is_some_and(|step| step.state == StepState::Done)
    }
}
