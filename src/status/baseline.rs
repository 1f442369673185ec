//! `status --write-baseline FILE` records the failed jobs per queue; a later
//! `status --baseline FILE` reports the queues whose failed jobs grew since (a hop that starts
//! failing jobs shows there first).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Observation;

/// The format's version, written into the file and checked when read.
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBaseline {
    pub format: u32,
    /// The Redis it was read from (password masked).
    pub redis: String,
    /// The release that was running.
    pub release: String,
    /// Seconds since the Unix epoch.
    pub taken_at: u64,
    pub failed: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("--baseline {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--baseline {path}:{line}: not a status baseline: {why}")]
    Parse {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("--baseline {path}: format {found}, this redash-upgrade reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("--write-baseline {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StatusBaseline {
    pub fn of(observation: &Observation, release: &str, taken_at: u64) -> StatusBaseline {
        StatusBaseline {
            format: FORMAT,
            redis: observation.redis.clone(),
            release: release.to_owned(),
            taken_at,
            failed: observation.failed_by_queue(),
        }
    }

    pub fn read(path: &Path) -> Result<StatusBaseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_owned(),
            source,
        })?;
        let baseline: StatusBaseline =
            serde_json::from_str(&text).map_err(|error| BaselineError::Parse {
                path: path.to_owned(),
                line: error.line(),
                why: error.to_string(),
            })?;
        if baseline.format != FORMAT {
            return Err(BaselineError::Format {
                path: path.to_owned(),
                found: baseline.format,
            });
        }
        Ok(baseline)
    }

    /// Written to a temp file beside `path`, then renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a baseline serializes");
        bytes.push(b'\n');
        crate::rehearse::journal::write_atomically(path, &bytes).map_err(|source| {
            BaselineError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }
}
