//! Readers for what an operator has: `.env` files, docker-compose files, ECS task definitions and
//! nginx configs. Each returns values with the file and line they came from; [`deployment`]
//! combines them into one model of the roles that run.

pub mod compose;
pub mod deployment;
pub mod ecs;
pub mod env_file;
pub mod nginx;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

pub use deployment::{Deployment, EnvValue, Role, RoleKind};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl Location {
    pub fn new(file: &Path, line: usize) -> Location {
        Location {
            file: file.display().to_string(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.file, self.line)
    }
}

/// Why an input could not be read: always one line naming the file (and line when there is one).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
}

pub(crate) fn read(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })
}
