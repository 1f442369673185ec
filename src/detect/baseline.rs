//! A drift baseline: the extra objects an operator has accepted (a fork's own tables, columns,
//! indexes, constraints and triggers), written by `detect --write-baseline` and read by
//! `detect --baseline` and `check --baseline`. Accepted objects are no longer drift; new drift
//! still is, and what a hop's migrations would do to an accepted object is still checked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::drift::{ColumnRef, Drift, ObjectRef};

/// The `"type"` of a baseline file.
const KIND: &str = "drift-baseline";

/// The file: documented in README.md ("Drift baselines"); fields may be added, none renamed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftBaseline {
    #[serde(rename = "type")]
    pub kind: String,
    /// The database it was written from (password masked), for the reader.
    pub database: String,
    pub extra_tables: Vec<String>,
    pub extra_columns: Vec<ColumnRef>,
    pub extra_indexes: Vec<ObjectRef>,
    pub extra_constraints: Vec<ObjectRef>,
    pub extra_triggers: Vec<ObjectRef>,
}

/// Why a baseline could not be read or written; names the file.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not a drift baseline: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: already exists; remove it or write the baseline elsewhere", path.display())]
    Exists { path: PathBuf },
}

impl DriftBaseline {
    /// Every extra object of `drift`: what the operator accepts by writing it.
    pub fn accepting(drift: &Drift, database: &str) -> DriftBaseline {
        DriftBaseline {
            kind: KIND.to_owned(),
            database: database.to_owned(),
            extra_tables: drift.extra_tables.clone(),
            extra_columns: drift.extra_columns.clone(),
            extra_indexes: drift.extra_indexes.clone(),
            extra_constraints: drift.extra_constraints.clone(),
            extra_triggers: drift.extra_triggers.clone(),
        }
    }

    pub fn read(path: &Path) -> Result<DriftBaseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let malformed = |line: usize, message: String| BaselineError::Malformed {
            path: path.to_owned(),
            line,
            message,
        };
        let baseline: DriftBaseline = serde_json::from_str(&text)
            .map_err(|error| malformed(error.line(), error.to_string()))?;
        if baseline.kind != KIND {
            return Err(malformed(1, format!("\"type\" is not \"{KIND}\"")));
        }
        Ok(baseline)
    }

    /// Writes the file under a temporary name beside it, then renames it into place; an existing
    /// file is never replaced.
    pub fn write_new(&self, path: &Path) -> Result<(), BaselineError> {
        let io = |source| BaselineError::Io {
            path: path.to_owned(),
            source,
        };
        if path.exists() {
            return Err(BaselineError::Exists {
                path: path.to_owned(),
            });
        }
        let directory = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut text = serde_json::to_string_pretty(self)
            .map_err(std::io::Error::from)
            .map_err(io)?;
        text.push('\n');
        let temporary = directory.join(format!(
            ".{}.tmp-{}",
            path.file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("baseline"),
            std::process::id()
        ));
        std::fs::write(&temporary, text).map_err(io)?;
        let persisted = std::fs::File::open(&temporary)
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        persisted.map_err(|error| {
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                BaselineError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(error)
            }
        })
    }

    /// Splits `drift` into what this baseline does not accept and what it does.
    pub fn split(&self, drift: Drift) -> (Drift, Drift) {
        let mut rest = drift;
        let accepted = Drift {
            extra_tables: take(&mut rest.extra_tables, &self.extra_tables),
            extra_columns: take(&mut rest.extra_columns, &self.extra_columns),
            extra_indexes: take(&mut rest.extra_indexes, &self.extra_indexes),
            extra_constraints: take(&mut rest.extra_constraints, &self.extra_constraints),
            extra_triggers: take(&mut rest.extra_triggers, &self.extra_triggers),
            ..Drift::default()
        };
        (rest, accepted)
    }
}

/// Moves the items of `list` that `known` holds out of it, and returns them.
fn take<T: PartialEq>(list: &mut Vec<T>, known: &[T]) -> Vec<T> {
    let (accepted, rest): (Vec<T>, Vec<T>) = std::mem::take(list)
        .into_iter()
        .partition(|item| known.contains(item));
    *list = rest;
    accepted
}
