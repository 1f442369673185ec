//! The typed shape of the files in `upgrade-paths/`.
//!
//! Every fact carries a [`Source`]: where upstream says so. The loader checks the form of each
//! source; the invariant tests check that none is missing.

use semver::Version;
use serde::{Deserialize, Serialize};

/// Where a fact comes from: `TAG:path[:line]` in getredash/redash, `setup@SHA:path` in
/// getredash/setup, or an `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Source(pub String);

impl Source {
    /// Whether the text has one of the accepted forms.
    pub fn is_well_formed(&self) -> bool {
        let text = self.0.as_str();
        if text.contains(char::is_whitespace) || text.is_empty() {
            return false;
        }
        if let Some(rest) = text.strip_prefix("https://") {
            return rest.contains('/') || rest.contains('.');
        }
        let Some((reference, path)) = text.split_once(':') else {
            return false;
        };
        if path.is_empty() {
            return false;
        }
        if let Some(sha) = reference.strip_prefix("setup@") {
            return sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit());
        }
        reference.starts_with('v') && reference[1..].starts_with(|c: char| c.is_ascii_digit())
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A sentence of knowledge and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
    pub source: Source,
}

/// One file per release: `upgrade-paths/releases/<version>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub version: Version,
    pub git_tag: String,
    pub released_on: String,
    pub prerelease: bool,
    /// Set when upstream tells operators not to stop at this release on the way up.
    pub skip: Option<Note>,
    pub image: ImageFact,
    pub python: VersionFact,
    pub postgresql_minimum: VersionFact,
    pub redis_minimum: VersionFact,
    pub job_system: JobSystem,
    pub roles: Vec<Role>,
    pub migrate_command: CommandFact,
    pub health: Vec<Note>,
    pub queues: Queues,
    pub memory: Option<MemoryFigures>,
    /// Revisions first shipped by this release, in an order alembic applies them.
    pub migrations: Vec<Revision>,
    /// The heads of the migration graph as this release ships it.
    pub alembic_heads: Vec<String>,
    pub env: Vec<EnvVar>,
    /// The query-runner and destination modules the release ships, as settings name them.
    pub modules: ModuleList,
}

/// Modules of `redash/query_runner/` and `redash/destinations/` at the release's tag, written
/// the way REDASH_ADDITIONAL_QUERY_RUNNERS and friends name them (`redash.query_runner.python`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleList {
    pub query_runners: Vec<String>,
    pub destinations: Vec<String>,
    pub source: Source,
    /// The data-source types each query-runner module registers (`redash.query_runner.pg` ->
    /// `pg`; a module may register several, or none).
    pub runner_types: Vec<RunnerTypes>,
    /// The runner modules enabled when REDASH_ENABLED_QUERY_RUNNERS is unset.
    pub default_enabled_runners: Vec<String>,
    pub default_enabled_source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerTypes {
    pub module: String,
    pub types: Vec<String>,
}

impl ModuleList {
    /// The data-source types the given runner modules register in this release.
    pub fn types_of<'a>(&'a self, modules: &'a [String]) -> impl Iterator<Item = &'a str> + 'a {
        self.runner_types
            .iter()
            .filter(move |runner| modules.contains(&runner.module))
            .flat_map(|runner| runner.types.iter().map(String::as_str))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFact {
    /// `None` when no official image of this exact release could be confirmed.
    pub tag: Option<String>,
    pub note: Option<String>,
    /// Where the tag is published; absent only when the tag is.
    pub source: Option<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionFact {
    pub version: String,
    pub note: Option<String>,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobSystem {
    Celery,
    Rq,
}

impl JobSystem {
    pub fn name(self) -> &'static str {
        match self {
            JobSystem::Celery => "Celery",
            JobSystem::Rq => "RQ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    pub command: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandFact {
    pub command: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    pub receiving_jobs: Vec<QueueFact>,
    pub worker_default: QueueList,
    pub scheduler_default: QueueList,
    pub queues_syntax: Note,
    pub workers_count: Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFact {
    pub name: String,
    /// What renames this queue, where anything does: an environment variable, or a column of
    /// `data_sources` set per data source.
    pub configurable_by: Option<String>,
    pub what: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueList {
    pub queues: Vec<String>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryFigures {
    pub server_mib: Option<u32>,
    pub worker_process_mib: Option<u32>,
    pub scheduler_mib: Option<u32>,
    pub host_minimum_mib: Option<u32>,
    pub note: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    pub revision: String,
    /// Two parents for a merge revision, none for the root.
    pub parents: Vec<String>,
    pub description: String,
    pub source: Source,
    pub downgrade: Downgrade,
    pub downgrade_note: Option<String>,
    pub rewrites_tables: Vec<String>,
    /// Tables the migration walks in Python, one UPDATE per row: its time grows with the rows,
    /// not the bytes, and dominates a hop's window on big tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_by_row: Vec<RowByRow>,
    pub data_risks: Vec<Note>,
    pub changed_in: Vec<RevisionChange>,
}

/// A table a migration walks one row at a time, and the loop that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowByRow {
    pub table: String,
    pub source: Source,
}

/// What `manage db downgrade` does for a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Downgrade {
    /// The downgrade undoes the upgrade.
    Reverses,
    /// The upgrade changed data or schema and the downgrade does nothing.
    NoOp,
    /// The downgrade undoes part of the upgrade or loses data.
    Partial,
    /// The upgrade changes nothing (a merge or an empty revision).
    NoneNeeded,
}

impl Downgrade {
    /// Whether going back past this revision needs the snapshot taken before it.
    pub fn is_irreversible(self) -> bool {
        matches!(self, Downgrade::NoOp | Downgrade::Partial)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionChange {
    pub release: Version,
    pub note: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub default: Option<String>,
    pub source: Source,
    /// Set when the release reads the variable but does not do what it says (a bug): the plan
    /// then gives this instead of any action that tells the operator to set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<Note>,
}

/// One file per pair of consecutive releases: `upgrade-paths/hops/<from>-<to>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub from: Version,
    pub to: Version,
    pub breaking_changes: Vec<Note>,
    /// In the order the operator does them.
    pub required_actions: Vec<RequiredAction>,
    pub env_renamed: Vec<EnvRename>,
    pub process_changes: Vec<Note>,
    pub memory: Vec<Note>,
    pub multi_org: Vec<Note>,
    pub user_notes: Vec<Note>,
    pub verify: Vec<Note>,
    /// The checks that apply to hops crossing this transition, and why: a check's trigger
    /// release lives here, not in its code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckTrigger>,
}

/// A check that a transition's changes call for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTrigger {
    /// A check code, as `redash-upgrade checks` lists them.
    pub code: String,
    /// What in this transition the check guards against, as a finding may quote it.
    pub text: String,
    pub source: Source,
}

/// Something the operator must do for one transition, and when in the hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredAction {
    pub text: String,
    pub when: ActionTiming,
    pub source: Source,
    /// The variable this action tells the operator to set. The plan keeps the action only for
    /// hops whose target reads the variable and honours it (its `env` entry has no `ignored`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sets_env: Option<String>,
    /// The kind of deployment the action is written for; absent when it applies to every kind.
    /// A plan fitted to a deployment keeps only the actions of its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// How a deployment runs its containers, as far as the wording of a step depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// docker compose (the official setup's layout).
    Compose,
    /// Amazon ECS task definitions and services.
    Ecs,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Compose => "compose",
            Platform::Ecs => "ECS",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionTiming {
    /// Before the maintenance window: configuration and data to prepare.
    PreFlight,
    /// With every role stopped, before `manage db upgrade` runs.
    BeforeMigrate,
    /// After the migration, before or while the roles start again.
    AfterMigrate,
    /// Once Redash runs on the new release.
    Verify,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRename {
    pub from: String,
    pub to: String,
    pub old_name_still_read: bool,
    pub source: Source,
}

/// `upgrade-paths/known-bugs.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownBugs {
    pub bugs: Vec<KnownBug>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownBug {
    pub id: String,
    pub title: String,
    pub url: String,
    pub introduced_in: Version,
    pub fixed_in: Option<Version>,
    pub effect: String,
    pub workaround: String,
    pub sources: Vec<Source>,
}

impl KnownBug {
    pub fn affects(&self, version: &Version) -> bool {
        &self.introduced_in <= version && self.fixed_in.as_ref().is_none_or(|fixed| version < fixed)
    }
}

/// `upgrade-paths/env-vars.json`: what each variable means, across releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvCatalog {
    pub vars: Vec<EnvVarDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVarDoc {
    pub name: String,
    pub secret: bool,
    pub meaning: String,
    pub source: Source,
    /// Set when the releases before the variable lack what it turns on, so that an operator
    /// upgrading from one of them most likely wants to set it: what those releases lack, and
    /// where upstream says so. The plan flags the variable on the hop that adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted: Option<Note>,
}

/// `upgrade-paths/policy.json`: how the planner chooses where to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathPolicy {
    /// Why the path stops at the newest release of every major line.
    pub one_major_line_at_a_time: Note,
    /// Why a patch or minor release is passed over when a newer one of its line exists.
    pub newest_of_line: Note,
    /// How to take the snapshot that is each hop's rollback point.
    pub snapshot: Note,
    /// How to migrate the metadata DB with the new image.
    pub migrate: Note,
    /// Why an install made with the official setup script is not upgraded by running it again.
    pub setup_script: Note,
}
