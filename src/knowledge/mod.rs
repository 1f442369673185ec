//! The knowledge base of every Redash release: typed model, loading and validation.

pub mod citation;
mod graph;
pub mod helm_chart;
mod load;
pub mod model;
pub mod schema;
mod validate;

use std::path::PathBuf;

use semver::Version;

pub use graph::MigrationGraph;
pub use load::{canonical_form, DataFile, FileKind, Origin};
use model::{EnvCatalog, EnvVarDoc, KnownBug, KnownBugs, PathPolicy, Release, Transition};
use schema::ReleaseSchema;
pub use validate::Violation;

/// Why the knowledge base could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--upgrade-paths {}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: not a knowledge-base file (expected releases/*.json, hops/*.json, schemas/*.json, known-bugs.json, env-vars.json or policy.json)", path.display())]
    UnexpectedFile { path: PathBuf },
    #[error("the knowledge base has no {name}")]
    MissingFile { name: &'static str },
    #[error("the knowledge base is inconsistent: {}{}", violations[0], more(violations.len()))]
    Invalid { violations: Vec<Violation> },
}

fn more(count: usize) -> String {
    if count > 1 {
        format!(" (and {} more)", count - 1)
    } else {
        String::new()
    }
}

/// Everything the tool knows about Redash releases.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    /// Sorted oldest first.
    pub releases: Vec<Release>,
    /// One per pair of consecutive releases, sorted oldest first.
    pub transitions: Vec<Transition>,
    /// Expected catalogs of fresh installs, oldest first; each release is in exactly one.
    pub schemas: Vec<ReleaseSchema>,
    pub known_bugs: KnownBugs,
    pub env_catalog: EnvCatalog,
    pub policy: PathPolicy,
    /// The community Helm chart's generations (`helm-chart.json`).
    pub helm_chart: helm_chart::HelmChart,
}

impl KnowledgeBase {
    /// Loads and validates the knowledge base.
    pub fn load(origin: &Origin) -> Result<KnowledgeBase, KnowledgeError> {
        let files = origin.files()?;
        let knowledge = load::assemble(&files)?;
        let violations = knowledge.violations();
        if violations.is_empty() {
            Ok(knowledge)
        } else {
            Err(KnowledgeError::Invalid { violations })
        }
    }

    /// The copy compiled into the binary.
    pub fn embedded() -> Result<KnowledgeBase, KnowledgeError> {
        KnowledgeBase::load(&Origin::Embedded)
    }

    /// Every broken invariant; empty when the data is consistent.
    pub fn violations(&self) -> Vec<Violation> {
        validate::violations(self)
    }

    pub fn release(&self, version: &Version) -> Option<&Release> {
        self.releases
            .iter()
            .find(|release| &release.version == version)
    }

    pub fn latest(&self) -> &Release {
        self.releases
            .last()
            .expect("validated: at least one release")
    }

    /// The migration graph as `version` ships it: every revision of it and of older releases.
    pub fn graph_at(&self, version: &Version) -> MigrationGraph<'_> {
        MigrationGraph::new(
            self.releases
                .iter()
                .filter(|release| &release.version <= version)
                .flat_map(|release| release.migrations.iter()),
        )
    }

    /// The transitions crossed going from `from` to `to`, oldest first.
    pub fn transitions_between(&self, from: &Version, to: &Version) -> Vec<&Transition> {
        self.transitions
            .iter()
            .filter(|transition| &transition.from >= from && &transition.to <= to)
            .collect()
    }

    pub fn known_bugs_of(&self, version: &Version) -> Vec<&KnownBug> {
        self.known_bugs
            .bugs
            .iter()
            .filter(|bug| bug.affects(version))
            .collect()
    }

    /// The expected schema of a fresh install of `version`.
    pub fn schema_of(&self, version: &Version) -> Option<&ReleaseSchema> {
        self.schemas.iter().find(|schema| schema.covers(version))
    }

    /// The releases whose alembic head is `revision`, oldest first.
    pub fn releases_with_head(&self, revision: &str) -> Vec<&Release> {
        self.releases
            .iter()
            .filter(|release| release.alembic_heads.iter().any(|head| head == revision))
            .collect()
    }

    pub fn env_doc(&self, name: &str) -> Option<&EnvVarDoc> {
        self.env_catalog.vars.iter().find(|doc| doc.name == name)
    }

    /// Whether the value of `name` must never be printed.
    pub fn is_secret(&self, name: &str) -> bool {
        self.env_doc(name).is_none_or(|doc| doc.secret)
    }
}
