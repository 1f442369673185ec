//! Which release a metadata database is at: its alembic stamp, checked against the schema it
//! actually has.

mod baseline;
mod drift;

use semver::Version;
use serde::Serialize;

use crate::db::introspect::{read_catalog, read_server_facts, Catalog, ServerFacts};
use sqlx::Row as _;

use crate::db::{DbError, ReadOnlySession};
use crate::knowledge::schema::ReleaseSchema;
use crate::knowledge::KnowledgeBase;

pub use baseline::{BaselineError, DriftBaseline};
pub use drift::{compare, ChangedColumn, ColumnRef, Drift, ObjectRef, Variance};

/// What `alembic_version` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StampState {
    /// One row, a revision some release ships.
    Ok,
    /// No `alembic_version` table.
    Missing,
    /// The table has no row.
    Empty,
    /// More than one row.
    Multiple,
    /// One row with a revision no known release ships.
    Unknown,
}

/// Where the candidate releases come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The stamp is a release head and the schema agrees.
    Stamp,
    /// The stamp could not be used, or the schema contradicts it; the schema decided.
    Schema,
}

/// When the schema matches other releases better than the stamped ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StampDisagreement {
    /// The releases whose schema the database matches best.
    pub schema_matches: Vec<Version>,
    /// `ahead` when the schema is newer than the stamp, `behind` when older.
    pub direction: &'static str,
    pub differences_from_stamped: usize,
    pub differences_from_match: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub database: String,
    pub stamp_revisions: Vec<String>,
    pub stamp_state: StampState,
    /// For a known revision that is no release's head: the release that ships it.
    pub revision_shipped_in: Option<Version>,
    pub candidates: Vec<Version>,
    pub basis: Basis,
    pub disagreement: Option<StampDisagreement>,
    /// The release whose schema the database was compared with.
    pub compared_with: Option<Version>,
    /// Every release that shares the schema compared with (a fresh install of any of them has it).
    pub compared_schema_of: Vec<Version>,
    /// Drift no baseline accepts.
    pub drift: Drift,
    /// Drift the operator's baseline accepts (empty without one).
    pub accepted_drift: Drift,
    pub variance: Vec<Variance>,
    pub server: ServerFacts,
    pub orgs: Option<i64>,
    /// What the database holds, for the checks that depend on a column's type.
    pub catalog: Catalog,
}

impl Detection {
    /// Moves the drift `baseline` accepts out of [`Detection::drift`].
    pub fn accept(&mut self, baseline: &DriftBaseline) {
        let (rest, accepted) = baseline.split(std::mem::take(&mut self.drift));
        self.drift = rest;
        self.accepted_drift = accepted;
    }

    /// Whether a script should stop: the stamp is unusable or contradicted, or there is drift.
    pub fn needs_attention(&self) -> bool {
        self.stamp_state != StampState::Ok
            || self.basis != Basis::Stamp
            || self.disagreement.is_some()
            || !self.drift.is_empty()
    }

    /// Several releases share the head and the schema: the database cannot tell them apart.
    pub fn indistinguishable(&self) -> bool {
        self.candidates.len() > 1
    }
}

struct Observed {
    revisions: Option<Vec<String>>,
    catalog: Catalog,
    server: ServerFacts,
    orgs: Option<i64>,
}

/// Why detection could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{database} is not a Redash metadata database: it has no alembic_version table and {found} of Redash's {expected} tables")]
    NotRedash {
        database: String,
        found: usize,
        expected: usize,
    },
}

/// Reads the database through `session` (read-only; the database checks run in the same
/// transaction afterwards, so they see the same instant) and works out its release.
pub async fn detect(
    knowledge: &KnowledgeBase,
    session: &mut ReadOnlySession,
) -> Result<Detection, DetectError> {
    let database = session.url().redacted();
    let observed = observe(session).await?;
    // Half of the oldest schema's tables, or a stamp, before calling it Redash at all.
    let oldest = &knowledge.schemas[0];
    let found = oldest
        .tables
        .iter()
        .filter(|table| observed.catalog.table(&table.name).is_some())
        .count();
    if observed.revisions.is_none() && found * 2 < oldest.tables.len() {
        return Err(DetectError::NotRedash {
            database,
            found,
            expected: oldest.tables.len(),
        });
    }
    Ok(judge(knowledge, observed, database))
}

async fn observe(session: &mut ReadOnlySession) -> Result<Observed, DbError> {
    let catalog = read_catalog(session).await?;
    let server = read_server_facts(session).await?;
    let revisions = match catalog.table("alembic_version") {
        None => None,
        Some(_) => Some(
            session
                .fetch_all(
                    "read alembic_version",
                    sqlx::query("SELECT version_num::text FROM alembic_version ORDER BY 1"),
                )
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect(),
        ),
    };
    let orgs = match catalog.table("organizations") {
        None => None,
        Some(_) => Some(
            session
                .fetch_one(
                    "count the organizations",
                    sqlx::query("SELECT count(*) FROM organizations"),
                )
                .await?
                .get(0),
        ),
    };
    Ok(Observed {
        revisions,
        catalog,
        server,
        orgs,
    })
}

fn judge(knowledge: &KnowledgeBase, observed: Observed, database: String) -> Detection {
    let revisions = observed.revisions.clone().unwrap_or_default();
    let catalog = observed.catalog.clone();
    let shipped_in = |revision: &str| {
        knowledge
            .releases
            .iter()
            .find(|release| release.migrations.iter().any(|m| m.revision == revision))
            .map(|release| release.version.clone())
    };
    let stamp_state = match (&observed.revisions, revisions.as_slice()) {
        (None, _) => StampState::Missing,
        (Some(_), []) => StampState::Empty,
        (Some(_), [one]) if shipped_in(one).is_some() => StampState::Ok,
        (Some(_), [_]) => StampState::Unknown,
        (Some(_), _) => StampState::Multiple,
    };
    let stamped: Vec<Version> = match (stamp_state, revisions.as_slice()) {
        (StampState::Ok, [one]) => knowledge
            .releases_with_head(one)
            .into_iter()
            .map(|release| release.version.clone())
            .collect(),
        _ => Vec::new(),
    };
    let revision_shipped_in = match (stamp_state, revisions.as_slice()) {
        (StampState::Ok, [one]) if stamped.is_empty() => shipped_in(one),
        _ => None,
    };

    // Every schema group, scored by how far the database is from it.
    let scored: Vec<(&ReleaseSchema, Drift, Vec<Variance>)> = knowledge
        .schemas
        .iter()
        .map(|schema| {
            let (drift, variance) = compare(schema, &observed.catalog);
            (schema, drift, variance)
        })
        .collect();
    let best = scored
        .iter()
        .min_by_key(|(schema, drift, _)| {
            (drift.count(), std::cmp::Reverse(schema.releases[0].clone()))
        })
        .expect("validated: at least one schema");
    let stamped_group = stamped
        .first()
        .and_then(|version| scored.iter().find(|(schema, _, _)| schema.covers(version)));

    let (candidates, basis, chosen, disagreement) = match stamped_group {
        Some(group) if group.1.count() <= best.1.count() || std::ptr::eq(group.0, best.0) => {
            (stamped.clone(), Basis::Stamp, group, None)
        }
        Some(group) => {
            let stamped_version = &stamped[0];
            let matched = &best.0.releases[0];
            let disagreement = StampDisagreement {
                schema_matches: best.0.releases.clone(),
                direction: if matched > stamped_version {
                    "ahead"
                } else {
                    "behind"
                },
                differences_from_stamped: group.1.count(),
                differences_from_match: best.1.count(),
            };
            (
                best.0.releases.clone(),
                Basis::Schema,
                best,
                Some(disagreement),
            )
        }
        None => (best.0.releases.clone(), Basis::Schema, best, None),
    };
    let (schema, drift, variance) = chosen;
    Detection {
        database,
        stamp_revisions: revisions,
        stamp_state,
        revision_shipped_in,
        candidates,
        basis,
        disagreement,
        compared_with: schema.releases.last().cloned(),
        compared_schema_of: schema.releases.clone(),
        drift: drift.clone(),
        accepted_drift: Drift::default(),
        variance: variance.clone(),
        server: observed.server,
        orgs: observed.orgs,
        catalog,
    }
}
