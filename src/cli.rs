//! Command-line interface: the argument model and the dispatch to the library.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::checks::db::SecretKey;
use crate::checks::{self, Levels, Severity, UnknownCode};
use crate::db::{parse_duration, DatabaseUrl, Timeouts, UrlError};
use crate::detect::{BaselineError, DriftBaseline};
use crate::engine::{self, CheckRequest, DatabaseTarget, EngineError, FleetRequest};
use crate::inputs::DeploymentFiles;
use crate::knowledge::{KnowledgeBase, KnowledgeError, Origin};
use crate::plan::{self, PlanError};
use crate::rehearse::{self, RehearseRequest, Runner};
use crate::report::snapshot::SnapshotCheck;
use crate::report::{self, exit, ColorChoice, Document, Format, Progress, ReportError};
use crate::smoke::{self, SmokeError, SmokeRequest};
use crate::snapshot::{self, RestoreRequest, SnapshotRequest};
use crate::verify::{self, VerifyRequest};

#[derive(Debug, Parser)]
#[command(
    name = "redash-upgrade",
    version,
    about = "Plan and check upgrades of a self-hosted Redash, one release at a time",
    after_help = exit::TABLE
)]
pub struct Cli {
    /// Read the knowledge base from this directory instead of the copy built into the binary
    #[arg(long, global = true, value_name = "DIR")]
    pub upgrade_paths: Option<PathBuf>,

    /// When to colour the output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the hop-by-hop upgrade path between two releases
    #[command(after_help = exit::TABLE)]
    Plan(PlanArgs),
    /// List the known releases with image, Python and alembic head
    #[command(after_help = exit::TABLE)]
    Releases(ReleasesArgs),
    /// Work out which release a metadata database is at, read-only, and report schema drift
    #[command(after_help = exit::DETECT_TABLE)]
    Detect(DetectArgs),
    /// Check a deployment's configuration against every hop of the plan
    #[command(after_help = exit::CHECK_TABLE)]
    Check(Box<CheckArgs>),
    /// Print what a check looks at, why it matters and how to fix it
    #[command(after_help = exit::TABLE)]
    Explain(ExplainArgs),
    /// List every check code with its default severity
    #[command(after_help = exit::TABLE)]
    Checks,
    /// Dump the metadata database with pg_dump, with a manifest of what it holds taken at the
    /// same instant; `snapshot verify DIR` re-checks a snapshot's files
    #[command(after_help = exit::SNAPSHOT_TABLE, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Snapshot(SnapshotArgs),
    /// Restore a snapshot into an empty staging database with pg_restore, and prove the copy
    /// matches the snapshot's manifest
    #[command(after_help = exit::RESTORE_TABLE)]
    Restore(RestoreArgs),
    /// Compare the database with a snapshot taken before a hop: nothing lost or changed beyond
    /// what the migrations in between declare
    #[command(after_help = exit::VERIFY_TABLE)]
    Verify(VerifyArgs),
    /// Rehearse the upgrade on a staging copy: restore a snapshot, neutralize it, then every hop
    /// (pre-flight checks, rollback point, migration through a runner, verify), timed and
    /// journaled; `--resume` continues a run that was stopped
    #[command(after_help = exit::REHEARSE_TABLE)]
    Rehearse(Box<RehearseArgs>),
    /// After a hop, probe the new release over HTTP: /ping, the status endpoint (version,
    /// database, Redis, workers), the API with a key, and optionally a query and a dashboard
    #[command(after_help = exit::SMOKE_TABLE)]
    Smoke(SmokeArgs),
    /// Before and after a hop, read the running system without writing: Redis (queues, running
    /// and failed jobs, workers, the scheduler, query locks, Celery's keys, the server's
    /// settings) and the other sessions on the metadata database; `--wait-drained` waits until
    /// every queue is empty
    #[command(after_help = exit::STATUS_TABLE)]
    Status(Box<StatusArgs>),
    /// Every query (and dashboard, alert, data source) with its owner, use and schedule, classed
    /// keep, review or archive with the reason, read-only; CSV for reviewers, JSON, or a Markdown
    /// summary with the effect of archiving
    #[command(after_help = exit::INVENTORY_TABLE)]
    Inventory(Box<InventoryArgs>),
    /// Find the quietest hours of the week for the downtime, read-only: activity (events,
    /// query results) by weekday and hour in a time zone, per org, and what each window
    /// would interrupt (active users, scheduled queries, alerts)
    #[command(after_help = exit::WINDOW_TABLE)]
    Window(Box<WindowArgs>),
    /// Archive the queries a reviewed inventory CSV classes `archive`, as Redash's own Archive
    /// does (queries on dashboards or edited since are refused), journaled; a dry run unless
    /// --apply; `--undo JOURNAL` puts the rows back
    #[command(after_help = exit::ARCHIVE_TABLE)]
    Archive(Box<ArchiveArgs>),
}

/// `inventory --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    /// One row per query, the form reviewers edit (the `class` column) and `archive` reads
    Csv,
    /// Every row of every kind, with the rules and the effect
    Json,
    /// Counts per org, class and reason, and the effect of archiving
    Markdown,
}

/// `inventory --split`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventorySplit {
    /// One CSV per owner
    Owner,
    /// One CSV per tag (a query with several tags is in each)
    Tag,
}

#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The release running now (detected from the database when not given)
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// The release you are going to: which data-source types it runs, which migrations it
    /// fails on
    #[arg(long, value_name = "VERSION", default_value = "latest")]
    pub to: String,
    /// What "now" is for staleness: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (default: now; set it
    /// when reading a restored copy of an older database)
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// A query nobody viewed, ran or edited for this long is stale (90d, 26w, 180d)
    #[arg(long, value_name = "DAYS", default_value = "180d", value_parser = parse_days)]
    pub stale_after: u32,
    /// A scheduled query that failed this many times in a row is broken
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub failing_after: i64,
    /// Output format
    #[arg(long, value_enum, default_value_t = InventoryFormat::Markdown)]
    pub format: InventoryFormat,
    /// Write the output to FILE (through a temp file and a rename) instead of stdout
    #[arg(long, value_name = "FILE", conflicts_with = "split")]
    pub out: Option<PathBuf>,
    /// With --format csv: one file per owner or per tag, into --out-dir
    #[arg(long, value_enum, requires = "out_dir")]
    pub split: Option<InventorySplit>,
    /// Where --split writes its files
    #[arg(long, value_name = "DIR", requires = "split")]
    pub out_dir: Option<PathBuf>,
}

/// `180d`, `26w` or a bare number of days.
fn parse_days(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix('w') {
        Some(weeks) => (weeks, 7),
        None => (text.strip_suffix('d').unwrap_or(text), 1),
    };
    number
        .parse::<u32>()
        .ok()
        .and_then(|number| number.checked_mul(unit))
        .filter(|days| *days > 0)
        .ok_or_else(|| format!("{text:?} is not a number of days (180d) or weeks (26w)"))
}

#[derive(Debug, clap::Args)]
pub struct WindowArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The time zone the grid and the windows are in (an IANA name: Asia/Tokyo, Europe/Berlin)
    #[arg(long = "tz", value_name = "ZONE", default_value = "UTC")]
    pub timezone: String,
    /// The length of the window in whole hours
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=167))]
    pub hours: u32,
    /// How many weeks of history to read, before --as-of
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
    /// The end of the history read (2026-11-30T00:00:00Z) [default: now]
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// A rehearsal's report.json: the hop's duration is the sum of the hop windows it measured
    /// (without it, a fixed 30 min estimate)
    #[arg(long, value_name = "FILE")]
    pub rehearsal: Option<PathBuf>,
    /// Write the heatmaps as a self-contained SVG file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write an HTML page with the heatmaps and the windows
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// The reviewed inventory CSV (columns id, class, org_id, updated_at, version, is_archived)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "undo",
        conflicts_with = "undo"
    )]
    pub from: Option<PathBuf>,
    /// Where --apply writes its journal, before it commits (the file must not exist)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "undo",
        conflicts_with = "undo"
    )]
    pub journal: Option<PathBuf>,
    /// Put back the rows this journal (of an earlier --apply) records, where they are still as
    /// the archive left them
    #[arg(long, value_name = "JOURNAL")]
    pub undo: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Add TAG to the tags of the queries classed `keep` (Redash 5.0.0 on)
    #[arg(long, value_name = "TAG", conflicts_with = "undo")]
    pub tag_keepers: Option<String>,
    /// Write to the database (without it: print what would be done, write nothing)
    #[arg(long)]
    pub apply: bool,
    /// Do not ask for confirmation (needed for --apply without a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

/// `--deny`, `--warn`, `--allow`: the severity of a check's findings, for `check` and `status`.
#[derive(Debug, clap::Args)]
pub struct LevelArgs {
    /// Treat a check's findings as errors (repeatable)
    #[arg(long, value_name = "CODE")]
    pub deny: Vec<String>,
    /// Treat a check's findings as warnings (repeatable)
    #[arg(long, value_name = "CODE")]
    pub warn: Vec<String>,
    /// Drop a check's findings (repeatable)
    #[arg(long, value_name = "CODE")]
    pub allow: Vec<String>,
}

impl LevelArgs {
    fn levels(&self) -> Result<Levels, CliError> {
        let mut levels = Levels::default();
        for code in &self.deny {
            levels.set("--deny", code, Some(Severity::Error))?;
        }
        for code in &self.warn {
            levels.set("--warn", code, Some(Severity::Warning))?;
        }
        for code in &self.allow {
            levels.set("--allow", code, None)?;
        }
        Ok(levels)
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The Redis Redash uses, as in REDASH_REDIS_URL (redis://[[user]:password@]host[:port][/db],
    /// rediss:// for TLS). Prefer the variable: a command line is visible to every user of the
    /// host
    #[arg(
        long,
        value_name = "URL",
        env = "REDASH_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: String,
    /// Trust the certificate authorities in this PEM file for rediss:// (besides the Mozilla
    /// roots built in): a private CA, a self-signed Redis
    #[arg(long, value_name = "FILE")]
    pub redis_ca_cert: Option<PathBuf>,
    /// The release running now: 8.0.0, 10.1, 25.8.0
    #[arg(long, value_name = "VERSION")]
    pub from: String,
    /// The release you are about to hop to: findings then say what the next hop needs
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Wait until no job is queued or running in any queue (exit 1 if --timeout passes first)
    #[arg(long)]
    pub wait_drained: bool,
    /// How long --wait-drained waits
    #[arg(long, value_name = "DURATION", default_value = "10min", value_parser = parse_duration, requires = "wait_drained")]
    pub timeout: Duration,
    /// How often --wait-drained reads Redis
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration, requires = "wait_drained")]
    pub interval: Duration,
    /// Compare failed jobs with this file (written by an earlier --write-baseline)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record the failed jobs per queue in FILE, for a later --baseline
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Exit 1 when a check could not run (no --database-url, no --baseline, the Celery era's
    /// unregistered workers)
    #[arg(long)]
    pub require_all: bool,
    #[command(flatten)]
    pub levels: LevelArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    /// The new release's address, as users reach it (http:// or https://)
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The environment variable holding a super admin's API key (sent in the Authorization
    /// header, never printed)
    #[arg(long, value_name = "NAME")]
    pub api_key_env: String,
    /// The release that must be running: 10.1, 25.8.0, latest
    #[arg(long, value_name = "RELEASE")]
    pub expect: String,
    /// Run this saved query end to end (max_age 0) and fetch its result
    #[arg(long, value_name = "N")]
    pub query_id: Option<u64>,
    /// Load this dashboard (slug, or id from 10.0.0) and fetch each widget's result
    #[arg(long, value_name = "SLUG")]
    pub dashboard: Option<String>,
    /// How long a query or a request may take
    #[arg(long, value_name = "DURATION", default_value = "2min", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

/// How `rehearse` runs a hop's migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunnerKind {
    /// docker run --rm of the hop's image
    Docker,
    /// docker compose run of --compose-service with the hop's image
    Compose,
    /// Any command (--exec), e.g. an ECS run-task or a Kubernetes job
    Exec,
}

#[derive(Debug, clap::Args)]
pub struct RehearseArgs {
    /// The production snapshot to rehearse (made by `redash-upgrade snapshot`)
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "restore_neutralized"
    )]
    pub snapshot: Option<PathBuf>,
    /// The staging database the snapshot is restored into and migrated
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The release the snapshot is at, when its schema fits several (default: the newest)
    #[arg(long)]
    pub from: Option<String>,
    /// The release to rehearse up to
    #[arg(long, default_value = "latest")]
    pub to: String,
    /// How each hop's migration runs
    #[arg(long, value_enum, default_value_t = RunnerKind::Docker)]
    pub runner: RunnerKind,
    /// With --runner exec: the command, run by sh, with {from} {to} {image} {from_head}
    /// {to_head}; it gets the staging URL as REDASH_DATABASE_URL in its environment
    #[arg(long, value_name = "TEMPLATE", required_if_eq("runner", "exec"))]
    pub exec: Option<String>,
    /// With --runner docker: the network the container joins (to reach the staging database)
    #[arg(long, value_name = "NAME")]
    pub docker_network: Option<String>,
    /// With --runner compose: the compose file(s) of the staging project
    #[arg(long, value_name = "PATH", required_if_eq("runner", "compose"))]
    pub compose_file: Vec<PathBuf>,
    /// With --runner compose: the project name
    #[arg(long, value_name = "NAME")]
    pub compose_project: Option<String>,
    /// With --runner compose: the service that runs Redash's image
    #[arg(long, value_name = "NAME", default_value = "server")]
    pub compose_service: String,
    /// A variable of this environment the migration gets too (repeatable); REDASH_SECRET_KEY
    /// and REDASH_COOKIE_SECRET are passed when set
    #[arg(long, value_name = "NAME")]
    pub pass_env: Vec<String>,
    /// Where the journal, the rollback points, the runner's logs and the reports are written
    #[arg(long, value_name = "DIR", default_value = "redash-rehearsal")]
    pub work_dir: PathBuf,
    /// SQL of your own run on the copy after the built-in neutralization (in-house features),
    /// every change it makes recorded so that --restore-neutralized undoes it
    #[arg(long, value_name = "FILE")]
    pub neutralize_sql: Option<PathBuf>,
    /// The variable holding the secret key encrypted options are compared with
    #[arg(long, value_name = "NAME")]
    pub secret_key_env: Option<String>,
    /// Leave a failed hop's copy as the migration left it, for inspection
    #[arg(long)]
    pub keep_failed: bool,
    /// Continue the rehearsal journaled in --work-dir
    #[arg(long)]
    pub resume: bool,
    /// Drop whatever the staging database holds before restoring
    #[arg(long)]
    pub clean: bool,
    /// Connections for pg_dump and pg_restore
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// The directory holding pg_dump and pg_restore
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
    /// Put back every original value the neutralization kept in the staging database
    #[arg(long, conflicts_with_all = ["snapshot", "resume", "exec", "neutralize_sql", "keep_failed"])]
    pub restore_neutralized: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Print every step and the command each hop would run, secrets masked, and do nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format (the work directory always gets report.md, report.json and report.html)
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The snapshot directory to create (it must not exist)
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// Dump with this many connections (directory format); 1 writes one custom-format file
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// The directory holding pg_dump, when it is not on PATH or in the usual places
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Re-check a snapshot: its manifest, and every file's size and SHA-256
    Verify(SnapshotVerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct SnapshotVerifyArgs {
    /// The snapshot directory
    pub directory: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The snapshot directory
    pub directory: PathBuf,
    /// The staging database to restore into (must be empty unless --clean)
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Drop everything the staging database holds before restoring
    #[arg(long)]
    pub clean: bool,
    /// Restore with this many connections
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// Restore even into the very database the snapshot was taken from
    #[arg(long = "i-know-this-is-production")]
    pub production_ok: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Check everything and print the pg_restore command, without restoring
    #[arg(long)]
    pub dry_run: bool,
    /// The directory holding pg_restore, when it is not on PATH or in the usual places
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The snapshot taken before the hop (or the one restored)
    #[arg(long, value_name = "DIR")]
    pub baseline: PathBuf,
    /// The release the database should be at now [default: the one it is detected at]
    #[arg(long, value_name = "VERSION")]
    pub expect: Option<String>,
    /// The environment variable of this shell holding REDASH_SECRET_KEY, to compare encrypted
    /// data-source and destination options with the plain ones of the snapshot
    #[arg(long, value_name = "NAME")]
    pub secret_key_env: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TicketFormat::Text)]
    pub format: TicketFormat,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The release running now: 7, v7, 7.0.0, ... (with a database: what detect finds, unless the
    /// database alone cannot tell)
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// The release to reach, or latest
    #[arg(long, value_name = "VERSION", default_value = "latest")]
    pub to: String,
    /// An .env file applied to every role (repeatable)
    #[arg(long, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,
    /// A docker-compose file (its env_file entries are read relative to it)
    #[arg(long, value_name = "PATH")]
    pub compose: Option<PathBuf>,
    /// An ECS task definition, or `aws ecs describe-task-definition` output (repeatable)
    #[arg(long, value_name = "PATH")]
    pub ecs_task_def: Vec<PathBuf>,
    /// Desired count of an ECS service's container, NAME=N (repeatable)
    #[arg(long, value_name = "NAME=N", value_parser = parse_desired_count)]
    pub ecs_desired_count: Vec<(String, u32)>,
    /// The nginx config in front of Redash (includes are read relative to it)
    #[arg(long, value_name = "PATH")]
    pub nginx: Option<PathBuf>,
    /// Rendered Kubernetes manifests: a multi-document YAML file (`helm template`, `kubectl get
    /// -o yaml`) or a directory of them (repeatable)
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub k8s: Vec<PathBuf>,
    /// A values file of the community Helm chart (getredash/contrib-helm-chart)
    #[arg(long, value_name = "FILE")]
    pub helm_values: Option<PathBuf>,
    /// The version of the Helm chart the values are for, when known
    #[arg(long, value_name = "VERSION", requires = "helm_values")]
    pub helm_chart_version: Option<String>,
    /// An ECS service definition (`aws ecs describe-services` output or the service JSON), for
    /// its deployment configuration (repeatable)
    #[arg(long, value_name = "PATH")]
    pub ecs_service: Vec<PathBuf>,
    /// Memory of the host all roles share, where no per-role limit is in the files (4GiB, 4096)
    #[arg(long, value_name = "SIZE", value_parser = parse_host_memory)]
    pub host_memory: Option<u64>,
    /// The host's CPU architecture (amd64 or arm64), where the files do not say (compose
    /// `platform`, ECS `runtimePlatform`)
    #[arg(long, value_name = "ARCH", value_parser = parse_host_arch)]
    pub host_arch: Option<String>,
    /// A fleet file (TOML or YAML) listing several Redash apps, each with its files, releases
    /// and the variable holding its database URL: every app is checked in one run (the database
    /// comes from each app's variable, not --database-url)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "from", "env_file", "compose", "ecs_task_def", "ecs_desired_count", "nginx", "k8s",
            "helm_values", "ecs_service", "secret_key_env", "baseline",
        ]
    )]
    pub fleet: Option<PathBuf>,
    #[command(flatten)]
    pub levels: LevelArgs,
    /// The environment variable of this shell holding the deployment's REDASH_SECRET_KEY, to test
    /// that stored credentials decrypt (default: the secret in --env-file)
    #[arg(long, value_name = "NAME")]
    pub secret_key_env: Option<String>,
    /// Sample big tables instead of reading them in full (the report says so)
    #[arg(long)]
    pub quick: bool,
    /// Fail (exit 1) when a check could not run for want of input, as a CI gate should
    #[arg(long)]
    pub require_all: bool,
    /// Accept the drift this baseline file lists (written by `detect --write-baseline`)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A check code, as `redash-upgrade checks` lists them
    pub code: String,
}

fn parse_desired_count(text: &str) -> Result<(String, u32), String> {
    let (name, count) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=N"))?;
    let count = count
        .parse()
        .map_err(|_| format!("{text:?}: {count:?} is not a whole number"))?;
    Ok((name.to_owned(), count))
}

fn parse_host_arch(text: &str) -> Result<String, String> {
    crate::inputs::deployment::normalize_platform(text)
        .map(str::to_owned)
        .ok_or_else(|| format!("{text:?} is not amd64 or arm64"))
}

fn parse_host_memory(text: &str) -> Result<u64, String> {
    crate::inputs::deployment::parse_memory_mib(text)
        .ok_or_else(|| format!("{text:?} is not a size like 4GiB, 2g or 4096 (MiB)"))
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Accept the drift this baseline file lists (written by --write-baseline)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every extra table, column, index, constraint and trigger found to FILE as a drift
    /// baseline, to accept them from now on (FILE must not exist yet)
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// How to reach the metadata database: the same options on every command that reads it.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// The metadata database, as in REDASH_DATABASE_URL (postgresql://user:password@host:port/db;
    /// sslmode and sslrootcert as libpq reads them). Prefer the variable: a command line is
    /// visible to every user of the host
    #[arg(
        long,
        value_name = "URL",
        env = "REDASH_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Cancel any statement running longer than this (500ms, 30s, 2min) [default: 30s for
    /// detect, 5min for check, 30min for snapshot, restore, verify and rehearse]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub statement_timeout: Option<Duration>,
    /// Give up on a lock held by someone else after this long, rather than queue behind it
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Give up connecting after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

impl ConnectArgs {
    /// The database to read, when one was given; `statement` is the command's default timeout.
    fn target(&self, statement: Duration) -> Result<Option<DatabaseTarget>, CliError> {
        let Some(url) = &self.database_url else {
            return Ok(None);
        };
        Ok(Some(DatabaseTarget {
            url: url.parse::<DatabaseUrl>()?,
            timeouts: Timeouts {
                statement: self.statement_timeout.unwrap_or(statement),
                lock: self.lock_timeout,
                connect: self.connect_timeout,
            },
        }))
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The release running now: 7, v7, 7.0, 7.0.0, 9-beta, 10.1 (a bare major means its newest release)
    #[arg(long, value_name = "VERSION", required_unless_present = "fleet")]
    pub from: Option<String>,
    /// The release to reach: as --from, or latest
    #[arg(long, value_name = "VERSION", default_value = "latest")]
    pub to: String,
    /// The deployment's docker-compose file: the steps are written for compose
    #[arg(long, value_name = "PATH")]
    pub compose: Option<PathBuf>,
    /// An ECS task definition of the deployment (repeatable): the steps are written for ECS
    #[arg(long, value_name = "PATH")]
    pub ecs_task_def: Vec<PathBuf>,
    /// An .env file applied to every role (repeatable): the environment step names what it sets
    #[arg(long, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,
    /// A fleet file (TOML or YAML, as `check --fleet` reads it): one plan per app, each from
    /// its own `from` to its `to` (or --to), fitted to its files
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "compose", "ecs_task_def", "env_file"])]
    pub fleet: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Readable on an 80-column terminal
    Text,
    /// An on-call checklist, one section per hop
    Markdown,
    /// The documented JSON contract
    Json,
}

/// `restore` and `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TicketFormat {
    /// Readable on an 80-column terminal
    Text,
    /// The evidence for the change ticket
    Markdown,
    /// The documented JSON contract
    Json,
}

impl From<TicketFormat> for Format {
    fn from(format: TicketFormat) -> Format {
        match format {
            TicketFormat::Text => Format::Text,
            TicketFormat::Markdown => Format::Markdown,
            TicketFormat::Json => Format::Json,
        }
    }
}

/// `releases` and `detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Readable on an 80-column terminal
    Text,
    /// The documented JSON contract
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Findings grouped by hop, readable on an 80-column terminal
    Text,
    /// A checklist of fixes per hop, for the change ticket
    Markdown,
    /// The documented JSON contract
    Json,
    /// SARIF 2.1.0, for code-scanning UIs
    Sarif,
}

impl From<PlanFormat> for Format {
    fn from(format: PlanFormat) -> Format {
        match format {
            PlanFormat::Text => Format::Text,
            PlanFormat::Markdown => Format::Markdown,
            PlanFormat::Json => Format::Json,
        }
    }
}

impl From<ListFormat> for Format {
    fn from(format: ListFormat) -> Format {
        match format {
            ListFormat::Text => Format::Text,
            ListFormat::Json => Format::Json,
        }
    }
}

impl From<CheckFormat> for Format {
    fn from(format: CheckFormat) -> Format {
        match format {
            CheckFormat::Text => Format::Text,
            CheckFormat::Markdown => Format::Markdown,
            CheckFormat::Json => Format::Json,
            CheckFormat::Sarif => Format::Sarif,
        }
    }
}

/// Why a command could not do its job; all map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("--database-url")]
    Url(#[from] UrlError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Level(#[from] UnknownCode),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("explain {0}: no such check (list them with `redash-upgrade checks`)")]
    UnknownCheck(String),
    #[error("--secret-key-env {0}: no such variable in this environment")]
    SecretVariableUnset(String),
    #[error("{0} needs a database: give --database-url or set REDASH_DATABASE_URL")]
    DatabaseNeeded(&'static str),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Smoke(#[from] SmokeError),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
    #[error("--as-of {0:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z")]
    AsOf(String),
    #[error("--split writes CSV files: give --format csv")]
    SplitNeedsCsv,
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Window(#[from] crate::window::WindowError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error("failed to write the output")]
    Output(#[from] std::io::Error),
}

/// Runs the command and writes its result to `out`. The result is rendered in full before any
/// of it is written, so a failure never leaves half a report behind. Returns the exit code.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<i32, CliError> {
    let origin = match &cli.upgrade_paths {
        Some(dir) => Origin::Directory(dir.clone()),
        None => Origin::Embedded,
    };
    let knowledge = KnowledgeBase::load(&origin)?;
    let (rendered, code) = match &cli.command {
        Command::Plan(args) if args.fleet.is_some() => fleet_plans(&knowledge, args)?,
        Command::Plan(args) => {
            let files = DeploymentFiles {
                env_files: args.env_file.clone(),
                compose: args.compose.clone(),
                ecs_task_definitions: args.ecs_task_def.clone(),
                ..DeploymentFiles::default()
            };
            let given = files.compose.is_some()
                || !files.ecs_task_definitions.is_empty()
                || !files.env_files.is_empty();
            let deployment = if given {
                Some(files.read().map_err(EngineError::from)?)
            } else {
                None
            };
            let from = args.from.as_deref().unwrap_or_default();
            let mut plan = plan::plan_for(&knowledge, from, &args.to, deployment.as_ref())?;
            if args.format == PlanFormat::Markdown {
                plan.date = Some(plan::plan_date()?);
            }
            let rendered = report::render(args.format.into(), &Document::Plan(&plan))?;
            (rendered, exit::SUCCESS)
        }
        Command::Releases(args) => (
            report::render(args.format.into(), &Document::Releases(&knowledge))?,
            exit::SUCCESS,
        ),
        Command::Detect(args) => {
            let target = args
                .connect
                .target(Timeouts::default().statement)?
                .ok_or(CliError::DatabaseNeeded("detect"))?;
            let baseline = args
                .baseline
                .as_deref()
                .map(DriftBaseline::read)
                .transpose()?;
            let mut detection =
                engine::block_on(engine::detect(&knowledge, &target, baseline.as_ref()))?;
            if let Some(path) = &args.write_baseline {
                let mut extras = detection.accepted_drift.clone();
                extras
                    .extra_tables
                    .extend(detection.drift.extra_tables.iter().cloned());
                extras
                    .extra_columns
                    .extend(detection.drift.extra_columns.iter().cloned());
                extras
                    .extra_indexes
                    .extend(detection.drift.extra_indexes.iter().cloned());
                extras
                    .extra_constraints
                    .extend(detection.drift.extra_constraints.iter().cloned());
                extras
                    .extra_triggers
                    .extend(detection.drift.extra_triggers.iter().cloned());
                let written = DriftBaseline::accepting(&extras, &detection.database);
                written.write_new(path)?;
                detection.accept(&written);
                let mut stderr = std::io::stderr();
                let _ = writeln!(
                    stderr,
                    "wrote {} accepting {} object(s)",
                    path.display(),
                    detection.accepted_drift.count()
                );
            }
            let code = if detection.needs_attention() {
                exit::BLOCKING_FINDINGS
            } else {
                exit::SUCCESS
            };
            (
                report::render(args.format.into(), &Document::Detection(&detection))?,
                code,
            )
        }
        Command::Check(args) => {
            let mut report = match &args.fleet {
                Some(path) => {
                    let request = fleet_request(args, path)?;
                    engine::block_on(engine::check_fleet(&knowledge, request))?
                }
                None => {
                    let request = check_request(args)?;
                    engine::block_on(engine::check(&knowledge, request))?
                }
            };
            if args.format == CheckFormat::Markdown {
                report.date = Some(plan::plan_date()?);
            }
            let code = if report.has_errors() || (args.require_all && report.not_run() > 0) {
                exit::BLOCKING_FINDINGS
            } else {
                exit::SUCCESS
            };
            (
                report::render(args.format.into(), &Document::Check(&report))?,
                code,
            )
        }
        Command::Explain(args) => {
            let meta = checks::find(&args.code)
                .map(|check| check.meta())
                .or_else(|| smoke::find_code(&args.code))
                .ok_or_else(|| CliError::UnknownCheck(args.code.clone()))?;
            (
                report::render(Format::Text, &Document::Explain(meta))?,
                exit::SUCCESS,
            )
        }
        Command::Checks => (
            report::render(Format::Text, &Document::CheckList)?,
            exit::SUCCESS,
        ),
        Command::Snapshot(args) => snapshot_command(&knowledge, args)?,
        Command::Restore(args) => {
            let target = args
                .connect
                .target(WHOLE_TABLE_STATEMENT_TIMEOUT)?
                .ok_or(CliError::DatabaseNeeded("restore"))?;
            let request = RestoreRequest {
                directory: args.directory.clone(),
                url: target.url,
                timeouts: target.timeouts,
                clean: args.clean,
                jobs: args.jobs,
                production_ok: args.production_ok,
                dry_run: args.dry_run,
                pg_bindir: args.pg_bindir.clone(),
                progress: Progress::for_this_process(),
            };
            let yes = args.yes;
            let confirm = move |question: &str| yes || ask(question);
            let outcome = engine::block_on(async {
                Ok(snapshot::restore(&knowledge, request, &confirm).await?)
            })?;
            let code = if outcome.dry_run || outcome.restore_tested() {
                exit::SUCCESS
            } else {
                exit::BLOCKING_FINDINGS
            };
            (
                report::render(args.format.into(), &Document::Restore(&outcome))?,
                code,
            )
        }
        Command::Verify(args) => {
            let target = args
                .connect
                .target(WHOLE_TABLE_STATEMENT_TIMEOUT)?
                .ok_or(CliError::DatabaseNeeded("verify"))?;
            let secret_key = secret_key_from(args.secret_key_env.as_deref())?;
            let request = VerifyRequest {
                baseline: args.baseline.clone(),
                url: target.url,
                timeouts: target.timeouts,
                expect: args
                    .expect
                    .as_deref()
                    .map(|text| plan::resolve(&knowledge, text, "--expect"))
                    .transpose()?
                    .map(|release| release.version.clone()),
                secret_key,
                progress: Progress::for_this_process(),
            };
            let report =
                engine::block_on(async { Ok(verify::verify(&knowledge, request).await?) })?;
            let code = if report.verified() {
                exit::SUCCESS
            } else {
                exit::BLOCKING_FINDINGS
            };
            (
                report::render(args.format.into(), &Document::Verify(&report))?,
                code,
            )
        }
        Command::Rehearse(args) => rehearse_command(&knowledge, args)?,
        Command::Smoke(args) => {
            let url = smoke::base_url(&args.url)?;
            let api_key = std::env::var(&args.api_key_env)
                .ok()
                .filter(|key| !key.trim().is_empty())
                .ok_or_else(|| SmokeError::KeyVariableUnset(args.api_key_env.clone()))?;
            let expect = plan::resolve(&knowledge, &args.expect, "--expect")?.version;
            let request = SmokeRequest {
                url,
                api_key: api_key.trim().to_owned(),
                expect,
                query_id: args.query_id,
                dashboard: args.dashboard.clone(),
                timeout: args.timeout,
            };
            let report = smoke::smoke(&request);
            let code = if report.passed() {
                exit::SUCCESS
            } else {
                exit::BLOCKING_FINDINGS
            };
            (report::smoke::render(args.format.into(), &report), code)
        }
        Command::Status(args) => status_command(&knowledge, args)?,
        Command::Inventory(args) => inventory_command(&knowledge, args)?,
        Command::Window(args) => window_command(args)?,
        Command::Archive(args) => archive_command(args)?,
    };
    out.write_all(&rendered)?;
    out.flush()?;
    Ok(code)
}

/// How long `inventory` lets a statement run: it reads whole tables, events among them.
const INVENTORY_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn inventory_command(
    knowledge: &KnowledgeBase,
    args: &InventoryArgs,
) -> Result<(Vec<u8>, i32), CliError> {
    use crate::inventory::csv_out::{self, Split};
    let as_of = match &args.as_of {
        Some(text) => plan::parse_instant(text).ok_or_else(|| CliError::AsOf(text.clone()))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0),
    };
    let database = args
        .connect
        .target(INVENTORY_STATEMENT_TIMEOUT)?
        .ok_or(CliError::DatabaseNeeded("inventory"))?;
    if args.split.is_some() && args.format != InventoryFormat::Csv {
        return Err(CliError::SplitNeedsCsv);
    }
    let request = crate::inventory::InventoryRequest {
        database,
        from: args.from.clone(),
        to: args.to.clone(),
        as_of,
        rules: crate::inventory::Rules {
            stale_after_days: args.stale_after,
            failing_after: args.failing_after,
        },
        progress: Progress::for_this_process(),
    };
    let inventory = engine::block_on(crate::inventory::inventory(knowledge, request))?;
    if let (Some(split), Some(dir)) = (args.split, &args.out_dir) {
        let by = match split {
            InventorySplit::Owner => Split::Owner,
            InventorySplit::Tag => Split::Tag,
        };
        let files = csv_out::split(&inventory, by);
        let written = csv_out::write_files(dir, &files).map_err(|source| CliError::Write {
            path: dir.clone(),
            source,
        })?;
        let mut listing = String::new();
        for path in written {
            listing.push_str(&format!("{}\n", path.display()));
        }
        return Ok((listing.into_bytes(), exit::SUCCESS));
    }
    let rendered = match args.format {
        InventoryFormat::Csv => csv_out::to_csv(&inventory.queries),
        InventoryFormat::Json => report::inventory::json(&inventory),
        InventoryFormat::Markdown => report::inventory::markdown(&inventory),
    };
    if let Some(path) = &args.out {
        crate::rehearse::journal::write_atomically(path, &rendered).map_err(|source| {
            CliError::Write {
                path: path.clone(),
                source,
            }
        })?;
        let counts = inventory.counts();
        let summary = format!(
            "{}: {} queries ({} keep, {} review, {} archive)\n",
            path.display(),
            inventory.queries.len(),
            counts.get(&crate::inventory::Class::Keep).unwrap_or(&0),
            counts.get(&crate::inventory::Class::Review).unwrap_or(&0),
            counts.get(&crate::inventory::Class::Archive).unwrap_or(&0)
        );
        return Ok((summary.into_bytes(), exit::SUCCESS));
    }
    Ok((rendered, exit::SUCCESS))
}

/// The statement timeout of `window` when none is given: it reads the weeks' events.
const WINDOW_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn window_command(args: &WindowArgs) -> Result<(Vec<u8>, i32), CliError> {
    use crate::window::{self, WindowRequest};
    let target = args
        .connect
        .target(WINDOW_STATEMENT_TIMEOUT)?
        .ok_or(CliError::DatabaseNeeded("window"))?;
    let request = WindowRequest {
        url: target.url,
        timeouts: target.timeouts,
        timezone: args.timezone.clone(),
        hours: args.hours,
        weeks: args.weeks,
        as_of: args.as_of.clone(),
        rehearsal: args.rehearsal.clone(),
        progress: Progress::for_this_process(),
    };
    let report = engine::block_on(async {
        window::window(&request)
            .await
            .map_err(|error| EngineError::Window(Box::new(error)))
    })?;
    window::write_files(&report, args.svg.as_deref(), args.html.as_deref())?;
    Ok((
        window::render::render(args.format.into(), &report),
        exit::SUCCESS,
    ))
}

/// `archive` and `archive --undo`.
fn archive_command(args: &ArchiveArgs) -> Result<(Vec<u8>, i32), CliError> {
    use crate::archive::{self, ArchiveError, ArchiveRequest, UndoRequest};
    use std::io::IsTerminal as _;
    let target = args
        .connect
        .target(Timeouts::default().statement)?
        .ok_or(CliError::DatabaseNeeded("archive"))?;
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if args.apply && !args.yes && !terminal {
        return Err(ArchiveError::NotConfirmed("--apply".into()).into());
    }
    let yes = args.yes;
    let confirm = move |question: &str| yes || ask(question);
    let outcome = match &args.undo {
        Some(journal) => {
            let request = UndoRequest {
                url: target.url,
                timeouts: target.timeouts,
                journal: journal.clone(),
                apply: args.apply,
                progress: Progress::for_this_process(),
            };
            engine::block_on(async { Ok(archive::undo(request, &confirm).await) })??
        }
        None => {
            let request = ArchiveRequest {
                url: target.url,
                timeouts: target.timeouts,
                inventory: args.from.clone().unwrap_or_default(),
                journal: args.journal.clone().unwrap_or_default(),
                apply: args.apply,
                tag_keepers: args.tag_keepers.clone(),
                progress: Progress::for_this_process(),
            };
            engine::block_on(async { Ok(archive::archive(request, &confirm).await) })??
        }
    };
    // A dry run exits 0 whatever it would refuse: it did what was asked.
    let code = if outcome.applied && outcome.refused() > 0 {
        exit::BLOCKING_FINDINGS
    } else {
        exit::SUCCESS
    };
    Ok((report::archive::render(args.format.into(), &outcome), code))
}

/// How long `status` lets a statement on `pg_stat_activity` run.
const STATUS_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

fn status_command(
    knowledge: &KnowledgeBase,
    args: &StatusArgs,
) -> Result<(Vec<u8>, i32), CliError> {
    use crate::status::{self, RedisUrl, StatusBaseline, StatusError};
    let redis: RedisUrl = args
        .redis_url
        .parse()
        .map_err(|error| CliError::Status(StatusError::Redis(error)))?;
    let baseline = args
        .baseline
        .as_deref()
        .map(StatusBaseline::read)
        .transpose()
        .map_err(|error| CliError::Status(error.into()))?;
    let request = status::StatusRequest {
        redis,
        redis_ca_certificates: args.redis_ca_cert.clone(),
        database: args.connect.target(STATUS_STATEMENT_TIMEOUT)?,
        from: args.from.clone(),
        to: args.to.clone(),
        baseline,
        levels: args.levels.levels()?,
        progress: Progress::for_this_process(),
    };
    let report = if args.wait_drained {
        status::wait_drained(knowledge, &request, args.timeout, args.interval)?
    } else {
        status::status(knowledge, &request)?
    };
    if let Some(path) = &args.write_baseline {
        let taken_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let release = report
            .report
            .hops
            .first()
            .map(|hop| hop.from.to_string())
            .unwrap_or_default();
        StatusBaseline::of(&report.observation, &release, taken_at)
            .write(path)
            .map_err(|error| CliError::Status(error.into()))?;
    }
    let code = if report.blocks() || (args.require_all && report.report.not_run() > 0) {
        exit::BLOCKING_FINDINGS
    } else {
        exit::SUCCESS
    };
    Ok((report::status::render(args.format.into(), &report), code))
}

fn rehearse_command(
    knowledge: &KnowledgeBase,
    args: &RehearseArgs,
) -> Result<(Vec<u8>, i32), CliError> {
    let url: DatabaseUrl = args
        .connect
        .database_url
        .as_deref()
        .ok_or(CliError::DatabaseNeeded("rehearse"))?
        .parse()?;
    let timeouts = Timeouts {
        statement: args
            .connect
            .statement_timeout
            .unwrap_or(WHOLE_TABLE_STATEMENT_TIMEOUT),
        lock: args.connect.lock_timeout,
        connect: args.connect.connect_timeout,
    };
    let yes = args.yes;
    let confirm = move |question: &str| yes || ask(question);
    if args.restore_neutralized {
        let put_back = engine::block_on(async {
            Ok(
                rehearse::restore_neutralized(knowledge, &url, timeouts, args.dry_run, &confirm)
                    .await?,
            )
        })?;
        let code = if put_back.refused.is_empty() {
            exit::SUCCESS
        } else {
            exit::BLOCKING_FINDINGS
        };
        return Ok((
            report::rehearsal::render_put_back(args.format.into(), &put_back),
            code,
        ));
    }
    let runner = match args.runner {
        RunnerKind::Docker => Runner::Docker {
            network: args.docker_network.clone(),
        },
        RunnerKind::Compose => Runner::Compose {
            files: args.compose_file.clone(),
            project: args.compose_project.clone(),
            service: args.compose_service.clone(),
        },
        RunnerKind::Exec => Runner::Exec {
            template: args.exec.clone().unwrap_or_default(),
        },
    };
    let request = RehearseRequest {
        snapshot: args.snapshot.clone().unwrap_or_default(),
        url,
        timeouts,
        from: args.from.clone(),
        to: args.to.clone(),
        runner,
        passed_env: args.pass_env.clone(),
        work: args.work_dir.clone(),
        neutralize_sql: args.neutralize_sql.clone(),
        secret_key: secret_key_from(args.secret_key_env.as_deref())?,
        keep_failed: args.keep_failed,
        resume: args.resume,
        clean: args.clean,
        jobs: args.jobs,
        pg_bindir: args.pg_bindir.clone(),
        progress: Progress::for_this_process(),
    };
    if args.dry_run {
        let rehearsal = rehearse::dry_run(knowledge, &request).map_err(EngineError::from)?;
        return Ok((
            report::rehearsal::render(args.format.into(), &rehearsal),
            exit::SUCCESS,
        ));
    }
    let rehearsal =
        engine::block_on(async { Ok(rehearse::rehearse(knowledge, request, &confirm).await?) })?;
    let code = if rehearsal.succeeded() {
        exit::SUCCESS
    } else {
        exit::BLOCKING_FINDINGS
    };
    Ok((
        report::rehearsal::render(args.format.into(), &rehearsal),
        code,
    ))
}

/// The statement timeout of `check` when none is given: its scans read whole tables.
const CHECK_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The statement timeout of `snapshot`, `restore` and `verify` when none is given: they read
/// every table whole, `query_results` included.
const WHOLE_TABLE_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn snapshot_command(
    knowledge: &KnowledgeBase,
    args: &SnapshotArgs,
) -> Result<(Vec<u8>, i32), CliError> {
    if let Some(SnapshotAction::Verify(verify_args)) = &args.action {
        let (manifest, problems) =
            snapshot::manifest::open(&verify_args.directory).map_err(EngineError::from)?;
        let check = SnapshotCheck {
            directory: verify_args.directory.clone(),
            manifest,
            problems,
        };
        let code = if check.complete() {
            exit::SUCCESS
        } else {
            exit::BLOCKING_FINDINGS
        };
        return Ok((
            report::render(verify_args.format.into(), &Document::SnapshotCheck(&check))?,
            code,
        ));
    }
    let target = args
        .connect
        .target(WHOLE_TABLE_STATEMENT_TIMEOUT)?
        .ok_or(CliError::DatabaseNeeded("snapshot"))?;
    let out = args
        .out
        .clone()
        .ok_or(CliError::DatabaseNeeded("snapshot --out"))?;
    let request = SnapshotRequest {
        url: target.url,
        timeouts: target.timeouts,
        out,
        jobs: args.jobs,
        pg_bindir: args.pg_bindir.clone(),
        progress: Progress::for_this_process(),
    };
    let summary = engine::block_on(async { Ok(snapshot::take(knowledge, request).await?) })?;
    Ok((
        report::render(args.format.into(), &Document::Snapshot(&summary))?,
        exit::SUCCESS,
    ))
}

/// Asks `question` on the terminal; anything but yes is no, and without a terminal it is no.
fn ask(question: &str) -> bool {
    use std::io::IsTerminal as _;
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn secret_key_from(variable: Option<&str>) -> Result<Option<SecretKey>, CliError> {
    variable
        .map(|name| {
            Ok(SecretKey {
                value: std::env::var(name)
                    .map_err(|_| CliError::SecretVariableUnset(name.to_owned()))?,
                origin: format!("--secret-key-env {name}"),
            })
        })
        .transpose()
}

/// `plan --fleet FILE`: every app's plan, one after the other (JSON: one document holding them).
fn fleet_plans(knowledge: &KnowledgeBase, args: &PlanArgs) -> Result<(Vec<u8>, i32), CliError> {
    let path = args.fleet.as_deref().unwrap_or(std::path::Path::new(""));
    let fleet = crate::fleet::read_fleet(path).map_err(EngineError::from)?;
    let date = match args.format {
        PlanFormat::Markdown => Some(plan::plan_date()?),
        _ => None,
    };
    let mut rendered = Vec::new();
    let mut documents = Vec::new();
    for app in &fleet.apps {
        let from = app.from.as_deref().ok_or_else(|| {
            EngineError::FromNeeded(format!(
                "app {} of {} has no `from`",
                app.name,
                path.display()
            ))
        })?;
        let to = app.to.as_deref().unwrap_or(&args.to);
        let files = &app.files;
        let given = files.compose.is_some()
            || !files.ecs_task_definitions.is_empty()
            || !files.env_files.is_empty()
            || !files.k8s.is_empty()
            || files.helm_values.is_some();
        let deployment = if given {
            Some(files.read().map_err(EngineError::from)?)
        } else {
            None
        };
        let mut plan = plan::plan_for(knowledge, from, to, deployment.as_ref())?;
        plan.date = date.clone();
        let document = report::render(args.format.into(), &Document::Plan(&plan))?;
        match args.format {
            PlanFormat::Json => {
                let value: serde_json::Value = serde_json::from_slice(&document)
                    .map_err(|error| CliError::Output(std::io::Error::other(error.to_string())))?;
                documents.push(serde_json::json!({ "app": app.name, "plan": value }));
            }
            PlanFormat::Markdown => {
                rendered.extend_from_slice(format!("# App {}\n\n", app.name).as_bytes());
                rendered.extend_from_slice(&document);
                rendered.push(b'\n');
            }
            PlanFormat::Text => {
                let title = format!("App {}", app.name);
                rendered.extend_from_slice(
                    format!("{title}\n{}\n\n", "=".repeat(title.len())).as_bytes(),
                );
                rendered.extend_from_slice(&document);
                rendered.push(b'\n');
            }
        }
    }
    if args.format == PlanFormat::Json {
        let mut bytes = serde_json::to_vec_pretty(&serde_json::json!({
            "type": "fleet-plan",
            "fleet": path.display().to_string(),
            "apps": documents,
        }))
        .map_err(|error| CliError::Output(std::io::Error::other(error.to_string())))?;
        bytes.push(b'\n');
        rendered = bytes;
    }
    Ok((rendered, exit::SUCCESS))
}

/// `check --fleet FILE`: the apps of the file, with what the command line gives them all.
fn fleet_request(args: &CheckArgs, path: &std::path::Path) -> Result<FleetRequest, CliError> {
    let fleet = crate::fleet::read_fleet(path).map_err(EngineError::from)?;
    Ok(FleetRequest {
        fleet,
        to: args.to.clone(),
        host_memory_mib: args.host_memory,
        host_platform: args.host_arch.clone(),
        timeouts: Timeouts {
            statement: args
                .connect
                .statement_timeout
                .unwrap_or(CHECK_STATEMENT_TIMEOUT),
            lock: args.connect.lock_timeout,
            connect: args.connect.connect_timeout,
        },
        quick: args.quick,
        levels: levels_of(args)?,
        progress: Progress::for_this_process(),
    })
}

fn levels_of(args: &CheckArgs) -> Result<Levels, CliError> {
    args.levels.levels()
}

fn check_request(args: &CheckArgs) -> Result<CheckRequest, CliError> {
    let levels = levels_of(args)?;
    let database = args.connect.target(CHECK_STATEMENT_TIMEOUT)?;
    if database.is_none() {
        if args.secret_key_env.is_some() {
            return Err(CliError::DatabaseNeeded("--secret-key-env"));
        }
        if args.quick {
            return Err(CliError::DatabaseNeeded("--quick"));
        }
    }
    let secret_key = secret_key_from(args.secret_key_env.as_deref())?;
    Ok(CheckRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        files: DeploymentFiles {
            env_files: args.env_file.clone(),
            compose: args.compose.clone(),
            ecs_task_definitions: args.ecs_task_def.clone(),
            ecs_desired_counts: args.ecs_desired_count.clone(),
            nginx: args.nginx.clone(),
            host_memory_mib: args.host_memory,
            host_platform: args.host_arch.clone(),
            k8s: args.k8s.clone(),
            helm_values: args.helm_values.clone(),
            helm_chart_version: args.helm_chart_version.clone(),
            ecs_services: args.ecs_service.clone(),
        },
        database,
        secret_key,
        quick: args.quick,
        baseline: args
            .baseline
            .as_deref()
            .map(DriftBaseline::read)
            .transpose()?,
        levels,
        progress: Progress::for_this_process(),
    })
}
