//! The typed shape of the files in `upgrade-paths/`.
//!
//! Every fact carries a [`Source`]: where upstream says so. The loader checks the form of each
//! source; the invariant tests check that none is missing.

use semver::Version;
use serde::{Deserialize, Serialize};

/// Where a fact comes from: `TAG:path[:line]` in getredash/redash, `setup@SHA:path` in
/// getredash/setup, `helm@TAG:path[:line]` in getredash/contrib-helm-chart, or an `https://` URL.
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
        if let Some(tag) = reference.strip_prefix("helm@") {
            return !tag.is_empty();
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
    /// The job and Redis libraries the release pins (rq, rq-scheduler, or celery and kombu; the
    /// redis client): what the keys in Redis look like and how workers and the scheduler
    /// register there.
    pub job_libraries: Vec<Library>,
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
    /// Data-source types the image of one platform cannot serve, though the release has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_gaps: Vec<PlatformGap>,
}

/// Data-source types that do not work on one platform's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformGap {
    pub platform: String,
    pub types: Vec<String>,
    /// Whether the runner still registers (its Python module imports, a native driver is
    /// missing: queries fail when they run) or not (the type is unknown on that platform).
    pub registered: bool,
    pub text: String,
    pub source: Source,
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
    /// The platforms the official image is built for, when the release's build says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<ImagePlatforms>,
}

/// The platforms an image is built for (`linux/amd64`, `linux/arm64`), and the build that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePlatforms {
    pub platforms: Vec<String>,
    pub source: Source,
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

/// A Python library at the version a release pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    pub name: String,
    pub version: String,
    pub source: Source,
}

impl Release {
    /// The version of a pinned library (`rq-scheduler`), parsed where it is plain semver.
    pub fn library(&self, name: &str) -> Option<&Library> {
        self.job_libraries
            .iter()
            .find(|library| library.name == name)
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

/// Idle memory of a release's containers, from one field report, and upstream's recommended host.
/// Each role's figures are the measured containers with the process count they ran, so that a
/// role's need can follow the processes a deployment runs ([`RoleMemory::model`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryFigures {
    pub server: Option<RoleMemory>,
    pub worker: Option<RoleMemory>,
    pub scheduler: Option<RoleMemory>,
    pub host_minimum_mib: Option<u32>,
    pub note: String,
    pub source: Source,
}

impl MemoryFigures {
    /// Whether any role was measured (25.x releases only have a host minimum).
    pub fn has_role_figures(&self) -> bool {
        self.roles().next().is_some()
    }

    /// The measured roles, by the name the release's `roles` give them.
    pub fn roles(&self) -> impl Iterator<Item = (&'static str, &RoleMemory)> {
        [
            ("server", &self.server),
            ("worker", &self.worker),
            ("scheduler", &self.scheduler),
        ]
        .into_iter()
        .filter_map(|(name, memory)| Some((name, memory.as_ref()?)))
    }
}

/// One role's container as measured at idle, and what sets how many processes it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMemory {
    /// The variable that sets the container's process count; `None` when the role runs a fixed
    /// set of processes (the RQ scheduler).
    pub processes: Option<ProcessCount>,
    /// Idle measurements of one container, one or two, each at the process count it ran
    /// (`None` when the count is fixed).
    pub measured: Vec<Measurement>,
}

/// The variable that sets how many processes a role's container runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessCount {
    pub variable: String,
    /// One of what it counts: `gunicorn web worker`, `RQ worker process`.
    pub unit: String,
    /// The entrypoint's default for this role; the release's `env` entry for the variable gives
    /// its source.
    pub default: u32,
}

impl ProcessCount {
    /// `4 gunicorn web workers`, `1 RQ worker process`.
    pub fn of(&self, count: u32) -> String {
        if count == 1 {
            format!("1 {}", self.unit)
        } else if self.unit.ends_with('s') {
            format!("{count} {}es", self.unit)
        } else {
            format!("{count} {}s", self.unit)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub processes: Option<u32>,
    pub mib: u32,
}

/// How a role's idle need follows its process count, as far as its measurements support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MemoryModel {
    /// A fixed set of processes, one measurement, or two that do not grow with the count: one
    /// figure per container, the larger measured.
    Flat { mib: u32 },
    /// Two measurements that grow with the count: a base plus an increment per process, the line
    /// through them.
    PerProcess { base_mib: i64, per_process_mib: u32 },
}

/// Where a process count falls against the counts a role was measured at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasuredRange {
    /// Measured at this count, between two measured counts, or a fixed set of processes.
    Within,
    /// More processes than any measurement ran.
    Above,
    /// Fewer processes than any measurement ran.
    Below,
}

impl RoleMemory {
    /// The measured process counts, lowest first (empty when the count is fixed).
    pub fn measured_counts(&self) -> Vec<u32> {
        let mut counts: Vec<u32> = self.measured.iter().filter_map(|m| m.processes).collect();
        counts.sort_unstable();
        counts
    }

    pub fn model(&self) -> MemoryModel {
        let mut points: Vec<(u32, u32)> = self
            .measured
            .iter()
            .filter_map(|m| Some((m.processes?, m.mib)))
            .collect();
        points.sort_unstable();
        if let [(low_count, low_mib), .., (high_count, high_mib)] = points[..] {
            if high_count > low_count && high_mib > low_mib {
                let span = high_count - low_count;
                let per_process_mib = (high_mib - low_mib + span / 2) / span;
                return MemoryModel::PerProcess {
                    base_mib: i64::from(low_mib)
                        - i64::from(per_process_mib) * i64::from(low_count),
                    per_process_mib,
                };
            }
        }
        MemoryModel::Flat {
            mib: self.measured.iter().map(|m| m.mib).max().unwrap_or(0),
        }
    }

    /// The idle need of one container running `count` processes (ignored when the count is
    /// fixed).
    pub fn need(&self, count: u32) -> u64 {
        match self.model() {
            MemoryModel::Flat { mib } => u64::from(mib),
            MemoryModel::PerProcess {
                base_mib,
                per_process_mib,
            } => {
                u64::try_from(base_mib + i64::from(per_process_mib) * i64::from(count)).unwrap_or(0)
            }
        }
    }

    /// Where `count` falls against the measured counts.
    pub fn range(&self, count: u32) -> MeasuredRange {
        let counts = self.measured_counts();
        match (counts.first(), counts.last()) {
            (Some(&low), _) if count < low => MeasuredRange::Below,
            (_, Some(&high)) if count > high => MeasuredRange::Above,
            _ => MeasuredRange::Within,
        }
    }

    /// The model in words, with the measurements it rests on: `about 88 MiB plus 102 MiB per
    /// Celery worker process (the line through 190 MiB measured at WORKERS_COUNT=1 and 292 MiB at
    /// 2), extrapolated beyond 2`.
    pub fn describe(&self) -> String {
        let Some(processes) = &self.processes else {
            return format!("about {} MiB", self.need(1));
        };
        let mut points: Vec<(u32, u32)> = self
            .measured
            .iter()
            .filter_map(|m| Some((m.processes?, m.mib)))
            .collect();
        points.sort_unstable();
        let measured = points
            .iter()
            .enumerate()
            .map(|(index, (count, mib))| {
                if index == 0 {
                    format!("{mib} MiB measured at {}={count}", processes.variable)
                } else {
                    format!("{mib} MiB at {count}")
                }
            })
            .collect::<Vec<_>>()
            .join(" and ");
        let (Some(&(low, _)), Some(&(high, _))) = (points.first(), points.last()) else {
            return format!("about {} MiB", self.need(processes.default));
        };
        let default = if low == processes.default {
            ", the default"
        } else {
            ""
        };
        match self.model() {
            MemoryModel::PerProcess {
                base_mib,
                per_process_mib,
            } => format!(
                "about {base_mib} MiB plus {per_process_mib} MiB per {}, the line through {measured}, extrapolated {}",
                processes.unit,
                if low > 1 {
                    format!("outside {low} to {high}")
                } else {
                    format!("beyond {high}")
                }
            ),
            MemoryModel::Flat { mib } if low == high => format!(
                "about {mib} MiB, measured only with {} ({}={low}{default})",
                processes.of(low),
                processes.variable,
            ),
            MemoryModel::Flat { mib } => format!(
                "about {mib} MiB per container whether it runs {low} or {}{}, {measured}, {} not measured",
                if high > low + 1 { "up to " } else { "" },
                processes.of(high),
                if low > 1 { "other counts" } else { "more" }
            ),
        }
    }
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
    /// What the migration does to stored data, as `verify` allows it: every change a faithful
    /// run makes to a table's columns or values. A change a known bug makes is not here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_effects: Vec<DataEffect>,
}

/// One change a migration makes to stored data, with where upstream makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataEffect {
    /// A new table, empty or filled from others.
    TableAdded { table: String, source: Source },
    /// A new column; its values have nothing to be compared with.
    ColumnAdded {
        table: String,
        column: String,
        source: Source,
    },
    /// A column removed with its values (and not moved anywhere else).
    ColumnDropped {
        table: String,
        column: String,
        source: Source,
    },
    /// A new type for the same values (`text` holding JSON to `jsonb`): they must compare equal.
    Retyped {
        table: String,
        column: String,
        to: String,
        source: Source,
    },
    /// Values rewritten in place, as `rule` says; `verify` maps them back where it can.
    Rewritten {
        table: String,
        column: String,
        rule: RewriteRule,
        source: Source,
    },
    /// The JSON of column `from` encrypted with the secret key into column `to`; `from` dropped.
    Encrypted {
        table: String,
        from: String,
        to: String,
        source: Source,
    },
    /// The values of column `from` moved under `key` of the JSON column `to`; `from` dropped.
    MovedIntoJsonKey {
        table: String,
        from: String,
        to: String,
        key: String,
        source: Source,
    },
}

/// How a [`DataEffect::Rewritten`] column's values change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RewriteRule {
    /// 7.0.0: a legacy schedule string (seconds, or `HH:MM` daily) becomes a JSON object with
    /// `interval`, `until`, `day_of_week` and `time`; NULL becomes the object of nulls.
    ScheduleToJson,
    /// 7.0.0: a schedule object whose four fields are all null becomes NULL.
    EmptyScheduleToNull,
    /// 25.8.0: `options.position.col` and `options.position.sizeX` doubled (12 to 6 column grid).
    WidgetGridDoubled,
    /// 25.8.0: `options.selector` set to `"first"` where it is missing.
    SelectorFirstWhereMissing,
    /// Recomputed from other columns (query hashes, search vectors): may change, nothing to map.
    Recomputed,
}

impl DataEffect {
    /// The table whose data the effect changes.
    pub fn table(&self) -> &str {
        match self {
            DataEffect::TableAdded { table, .. }
            | DataEffect::ColumnAdded { table, .. }
            | DataEffect::ColumnDropped { table, .. }
            | DataEffect::Retyped { table, .. }
            | DataEffect::Rewritten { table, .. }
            | DataEffect::Encrypted { table, .. }
            | DataEffect::MovedIntoJsonKey { table, .. } => table,
        }
    }

    /// The columns whose stored values the effect changes, adds or removes.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            DataEffect::TableAdded { .. } => Vec::new(),
            DataEffect::ColumnAdded { column, .. }
            | DataEffect::ColumnDropped { column, .. }
            | DataEffect::Retyped { column, .. }
            | DataEffect::Rewritten { column, .. } => vec![column],
            DataEffect::Encrypted { from, to, .. }
            | DataEffect::MovedIntoJsonKey { from, to, .. } => vec![from, to],
        }
    }

    pub fn source(&self) -> &Source {
        match self {
            DataEffect::TableAdded { source, .. }
            | DataEffect::ColumnAdded { source, .. }
            | DataEffect::ColumnDropped { source, .. }
            | DataEffect::Retyped { source, .. }
            | DataEffect::Rewritten { source, .. }
            | DataEffect::Encrypted { source, .. }
            | DataEffect::MovedIntoJsonKey { source, .. } => source,
        }
    }
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
    /// The roles in which the variable takes effect in this release, when they must agree on
    /// it: a value set on some of them and not the others (or different) is a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takes_effect: Option<TakesEffect>,
}

/// Where a variable takes effect: the roles (`server`, `worker`, `scheduler`) whose processes
/// act on it, what it does there, and the upstream code that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakesEffect {
    pub roles: Vec<String>,
    pub text: String,
    pub source: Source,
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
