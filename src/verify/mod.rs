//! `verify`: the live database against a snapshot's manifest, allowing exactly the changes the
//! migrations in between declare (`data_effects` in `upgrade-paths/releases/`).
//!
//! It reports: alembic at the expected release's head; the schema equal to that release's plus
//! the drift the snapshot already had; every row of the tables that hold users' work still there
//! and unchanged but for the declared effects, by key; the references Redash follows intact; and
//! data the hops transformed valid in the new release. After a restore (no hop in between) every
//! table must be identical.

mod compare;
mod diff;
mod neutralized;
mod references;

use std::path::PathBuf;

use semver::Version;
use serde::Serialize;

pub use compare::{TableVerdict, ValueNote};
pub use references::BrokenReference;

use crate::checks::db::SecretKey;
use crate::checks::LiveDatabase;
use crate::db::{DatabaseUrl, ReadOnlySession, Timeouts};
use crate::detect::{self, Drift};
use crate::knowledge::model::Revision;
use crate::knowledge::KnowledgeBase;
use crate::report::Progress;
use crate::snapshot::{manifest, Manifest, SnapshotError};

/// What `verify` needs.
pub struct VerifyRequest {
    pub baseline: PathBuf,
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    /// The release the database should be at now (`--expect`); default: the one it is
    /// detected at.
    pub expect: Option<Version>,
    /// The secret encrypted columns are decrypted with (never printed).
    pub secret_key: Option<SecretKey>,
    pub progress: Progress,
}

/// How strict the comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// After a restore: every table identical.
    Restore,
    /// After hops: users' work unchanged but for the declared effects; other tables (logs,
    /// caches) are listed when they changed, not counted.
    Hop,
}

/// Everything `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: Mode,
    /// The snapshot directory compared with, and its instant.
    pub baseline: String,
    pub baseline_taken_at: String,
    pub baseline_release: Vec<Version>,
    /// The database verified (password masked).
    pub database: String,
    /// The releases the database is at now.
    pub release_now: Vec<Version>,
    /// `--expect`, when given.
    pub expected_release: Option<Version>,
    /// Migrations between the snapshot's release and now, oldest first.
    pub migrations_between: Vec<String>,
    /// `None` when alembic is at the expected head; else what is wrong.
    pub alembic_problem: Option<String>,
    /// Schema differences beyond the release's schema and the snapshot's own drift.
    pub schema_differences: Vec<String>,
    pub tables: Vec<TableVerdict>,
    pub broken_references: Vec<BrokenReference>,
    /// Data the hops transformed that the new release cannot use.
    pub invalid_values: Vec<ValueNote>,
    /// What could not be compared, and why (a column no key decrypts, a recomputed hash).
    pub not_compared: Vec<String>,
}

impl VerifyReport {
    /// Differences that count: the database is not what the snapshot plus the hops make.
    pub fn difference_count(&self) -> usize {
        usize::from(self.alembic_problem.is_some())
            + self.schema_differences.len()
            + self
                .tables
                .iter()
                .filter(|table| table.counts(self.mode))
                .count()
            + self.broken_references.len()
            + self.invalid_values.len()
    }

    pub fn verified(&self) -> bool {
        self.difference_count() == 0
    }
}

/// `verify`: reads the snapshot's manifest (checking its files), then the live database in one
/// read-only transaction, and compares.
pub async fn verify(
    knowledge: &KnowledgeBase,
    request: VerifyRequest,
) -> Result<VerifyReport, SnapshotError> {
    let (baseline, problems) = manifest::open(&request.baseline)?;
    if !problems.is_empty() {
        return Err(SnapshotError::SnapshotDamaged(
            request.baseline.display().to_string(),
        ));
    }
    compare_live(
        knowledge,
        &baseline,
        &request.baseline,
        &request.url,
        request.timeouts,
        request.expect.as_ref(),
        request.secret_key,
        Mode::Hop,
        request.progress,
    )
    .await
}

/// Compares the database at `url` with `baseline` (read from `directory`).
#[allow(clippy::too_many_arguments)]
pub async fn compare_live(
    knowledge: &KnowledgeBase,
    baseline: &Manifest,
    directory: &std::path::Path,
    url: &DatabaseUrl,
    timeouts: Timeouts,
    expect: Option<&Version>,
    secret_key: Option<SecretKey>,
    mode: Mode,
    progress: Progress,
) -> Result<VerifyReport, SnapshotError> {
    let (mut session, exported) = ReadOnlySession::open_exporting(url, timeouts).await?;
    let mut detection = detect::detect(knowledge, &mut session).await?;
    detection.accept(&baseline.release.drift);
    let release_now = detection.candidates.clone();
    let expected = expect.cloned();
    // Without --expect: the release the schema says it is (releases it cannot tell apart share
    // their head and their migrations).
    let target = expected.clone().or_else(|| release_now.last().cloned());
    let between = migrations_between(knowledge, baseline, target.as_ref());
    let alembic_problem = alembic_problem(knowledge, &detection, target.as_ref(), mode, baseline);
    let schema_differences: Vec<String> = describe_drift(&detection.drift)
        .into_iter()
        .filter(|line| !baseline.release.other_drift.contains(line))
        .collect();
    let catalog = detection.catalog.clone();
    let database = LiveDatabase::new(
        session,
        exported,
        detection,
        secret_key.clone(),
        false,
        progress,
    );
    let key = secret_key
        .map(|secret| std::sync::Arc::new(crate::fernet::FernetKey::from_secret(&secret.value)));
    let neutralizations = neutralized::read(&database).await;
    let outcome = match neutralizations {
        Ok(neutralizations) => {
            compare::compare_tables(
                knowledge,
                baseline,
                directory,
                &catalog,
                &database,
                &between,
                key,
                mode,
                &neutralizations,
            )
            .await
        }
        Err(error) => Err(error),
    };
    let references = if outcome.is_ok() {
        references::check(&database, &catalog).await
    } else {
        Ok(Vec::new())
    };
    let mut outcome = outcome;
    if let Ok((tables, _, not_compared)) = &mut outcome {
        if let Some(note) = diff::add_diffs(&database, baseline, directory, tables).await {
            not_compared.push(note);
        }
    }
    database.close().await;
    let (tables, invalid_values, mut not_compared) = outcome?;
    for table in tables.iter().filter(|table| table.neutralized > 0) {
        not_compared.push(format!(
            "{}: {} row(s) neutralized by a rehearsal, their originals kept in redash_upgrade.neutralized (`rehearse --restore-neutralized` puts them back): set apart, not counted",
            table.table, table.neutralized
        ));
    }
    Ok(VerifyReport {
        kind: "verify",
        mode,
        baseline: directory.display().to_string(),
        baseline_taken_at: baseline.taken_at.clone(),
        baseline_release: baseline.release.candidates.clone(),
        database: url.redacted(),
        release_now,
        expected_release: expected,
        migrations_between: between
            .iter()
            .map(|revision| revision.revision.clone())
            .collect(),
        alembic_problem,
        schema_differences,
        tables,
        broken_references: references?,
        invalid_values,
        not_compared,
    })
}

/// What `alembic upgrade` applies from the snapshot's stamp (the release's heads when the stamp
/// was unusable) to `to`'s heads, each revision after its parents.
fn migrations_between<'k>(
    knowledge: &'k KnowledgeBase,
    baseline: &Manifest,
    to: Option<&Version>,
) -> Vec<&'k Revision> {
    let Some(to) = to else {
        return Vec::new();
    };
    let stamped: Vec<String> = if baseline.alembic.revisions.is_empty() {
        baseline
            .release
            .candidates
            .last()
            .and_then(|release| knowledge.release(release))
            .map(|release| release.alembic_heads.clone())
            .unwrap_or_default()
    } else {
        baseline.alembic.revisions.clone()
    };
    let graph = knowledge.graph_at(to);
    // A snapshot newer than `to` (or stamped with what no release ships): no hop in between.
    if stamped.is_empty() || stamped.iter().any(|revision| graph.get(revision).is_none()) {
        return Vec::new();
    }
    graph.revisions_to_apply(stamped.iter().map(String::as_str))
}

fn alembic_problem(
    knowledge: &KnowledgeBase,
    detection: &detect::Detection,
    expected: Option<&Version>,
    mode: Mode,
    baseline: &Manifest,
) -> Option<String> {
    let mut found = detection.stamp_revisions.clone();
    found.sort();
    if mode == Mode::Restore {
        let mut recorded = baseline.alembic.revisions.clone();
        recorded.sort();
        return (found != recorded).then(|| {
            format!(
                "alembic_version holds {}, the snapshot recorded {}",
                list_or_nothing(&found),
                list_or_nothing(&recorded)
            )
        });
    }
    let Some(expected) = expected else {
        return Some("the database matches no known release".into());
    };
    let release = knowledge.release(expected)?;
    let mut heads = release.alembic_heads.clone();
    heads.sort();
    (found != heads).then(|| {
        format!(
            "alembic_version holds {}, but {expected}'s head is {}",
            list_or_nothing(&found),
            list_or_nothing(&heads)
        )
    })
}

fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

/// One line per difference from the release's schema.
pub fn describe_drift(drift: &Drift) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(
        drift
            .extra_tables
            .iter()
            .map(|table| format!("extra table {table}")),
    );
    lines.extend(
        drift
            .missing_tables
            .iter()
            .map(|table| format!("missing table {table}")),
    );
    lines.extend(
        drift
            .extra_columns
            .iter()
            .map(|column| format!("extra column {}.{}", column.table, column.column)),
    );
    lines.extend(
        drift
            .missing_columns
            .iter()
            .map(|column| format!("missing column {}.{}", column.table, column.column)),
    );
    lines.extend(drift.changed_columns.iter().map(|column| {
        format!(
            "column {}.{} is {}, the release has {}",
            column.table, column.column, column.found.sql_type, column.expected.sql_type
        )
    }));
    for (what, objects) in drift.labelled_objects() {
        lines.extend(
            objects
                .iter()
                .map(|object| format!("{what} {} on {}", object.name, object.table)),
        );
    }
    lines.extend(
        drift
            .missing_functions
            .iter()
            .map(|name| format!("missing function {name}")),
    );
    lines.extend(
        drift
            .missing_types
            .iter()
            .map(|name| format!("missing type {name}")),
    );
    lines
}
