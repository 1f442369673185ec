//! Command-line interface: the argument model and the dispatch to the library.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::checks::{self, Levels, Severity, UnknownCode};
use crate::db::{parse_duration, DatabaseUrl, DbError, ReadOnlySession, Timeouts, UrlError};
use crate::detect::{self, DetectError};
use crate::inputs::{self, Deployment, InputError};
use crate::knowledge::{KnowledgeBase, KnowledgeError, Origin};
use crate::plan::{self, render, PlanError};
use crate::report::{exit, ColorChoice};

#[derive(Debug, Parser)]
#[command(
    name = "redash-upgrade",
    version,
    about = "Plan, check and rehearse upgrades of a self-hosted Redash, one release at a time",
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
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The release running now: 7, v7, 7.0.0, ... (with --database-url: what detect finds, unless
    /// the database alone cannot tell)
    #[arg(long, value_name = "VERSION", required_unless_present = "database_url")]
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
    /// Memory of the host all roles share, where no per-role limit is in the files (4GiB, 4096)
    #[arg(long, value_name = "SIZE", value_parser = parse_host_memory)]
    pub host_memory: Option<u64>,
    /// Treat a check's findings as errors (repeatable)
    #[arg(long, value_name = "CODE")]
    pub deny: Vec<String>,
    /// Treat a check's findings as warnings (repeatable)
    #[arg(long, value_name = "CODE")]
    pub warn: Vec<String>,
    /// Drop a check's findings (repeatable)
    #[arg(long, value_name = "CODE")]
    pub allow: Vec<String>,
    /// Also check the live metadata database (read-only), e.g. postgresql://user:password@host/db
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The environment variable of this shell holding the deployment's REDASH_SECRET_KEY, to test
    /// that stored credentials decrypt (default: the secret in --env-file)
    #[arg(long, value_name = "NAME", requires = "database_url")]
    pub secret_key_env: Option<String>,
    /// Sample big tables instead of reading them in full (the report says so)
    #[arg(long, requires = "database_url")]
    pub quick: bool,
    /// Cancel any statement running longer than this (500ms, 30s, 2min)
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = parse_duration)]
    pub statement_timeout: Duration,
    /// Give up on a lock held by someone else after this long, rather than queue behind it
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
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

fn parse_host_memory(text: &str) -> Result<u64, String> {
    crate::inputs::deployment::parse_memory_mib(text)
        .ok_or_else(|| format!("{text:?} is not a size like 4GiB, 2g or 4096 (MiB)"))
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// The metadata database, as in REDASH_DATABASE_URL (postgresql://user:password@host:port/db)
    #[arg(
        long,
        value_name = "URL",
        env = "REDASH_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// Cancel any statement running longer than this (500ms, 30s, 2min)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub statement_timeout: Duration,
    /// Give up on a lock held by someone else after this long, rather than queue behind it
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The release running now: 7, v7, 7.0, 7.0.0, 9-beta, 10.1 (a bare major means its newest release)
    #[arg(long, value_name = "VERSION")]
    pub from: String,
    /// The release to reach: as --from, or latest
    #[arg(long, value_name = "VERSION", default_value = "latest")]
    pub to: String,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
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
    Db(#[from] DbError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Level(#[from] UnknownCode),
    #[error("explain {0}: no such check (list them with `redash-upgrade checks`)")]
    UnknownCheck(String),
    #[error("--ecs-desired-count {0}: no ECS container of that name")]
    UnknownContainer(String),
    #[error("--secret-key-env {0}: no such variable in this environment")]
    SecretVariableUnset(String),
    #[error("give --from: {0}")]
    FromNeeded(String),
    #[error("--from {given} is {resolved}, but the database is at {found} (see `redash-upgrade detect`)")]
    FromDisagrees {
        given: String,
        resolved: String,
        found: String,
    },
    #[error("failed to write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the command and writes its result to `out`. The result is rendered in full before any
/// of it is written, so a failure never leaves half a plan behind. Returns the exit code.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<i32, CliError> {
    let origin = match &cli.upgrade_paths {
        Some(dir) => Origin::Directory(dir.clone()),
        None => Origin::Embedded,
    };
    let knowledge = KnowledgeBase::load(&origin)?;
    let mut rendered = Vec::new();
    let mut code = exit::SUCCESS;
    match &cli.command {
        Command::Plan(args) => {
            let plan = plan::plan(&knowledge, &args.from, &args.to)?;
            match args.format {
                PlanFormat::Text => render::plan_text(&mut rendered, &plan)?,
                PlanFormat::Markdown => render::plan_markdown(&mut rendered, &plan)?,
                PlanFormat::Json => json_line(&mut rendered, &render::plan_json(&plan))?,
            }
        }
        Command::Releases(args) => match args.format {
            ListFormat::Text => render::releases_text(&mut rendered, &knowledge)?,
            ListFormat::Json => json_line(&mut rendered, &render::releases_json(&knowledge))?,
        },
        Command::Detect(args) => {
            let url: DatabaseUrl = args.database_url.parse()?;
            let timeouts = Timeouts {
                statement: args.statement_timeout,
                lock: args.lock_timeout,
                ..Timeouts::default()
            };
            let mut session = ReadOnlySession::connect(&url, timeouts)?;
            let detection = detect::detect(&knowledge, &mut session, url.redacted())?;
            match args.format {
                ListFormat::Text => detect::detection_text(&mut rendered, &detection)?,
                ListFormat::Json => json_line(&mut rendered, &detect::detection_json(&detection))?,
            }
            if detection.needs_attention() {
                code = exit::BLOCKING_FINDINGS;
            }
        }
        Command::Check(args) => {
            code = run_check(&knowledge, args, &mut rendered)?;
        }
        Command::Explain(args) => {
            let check = checks::find(&args.code)
                .ok_or_else(|| CliError::UnknownCheck(args.code.clone()))?;
            checks::render::explain_text(&mut rendered, check)?;
        }
        Command::Checks => checks::render::checks_text(&mut rendered)?,
    }
    out.write_all(&rendered)?;
    out.flush()?;
    Ok(code)
}

fn run_check(
    knowledge: &KnowledgeBase,
    args: &CheckArgs,
    rendered: &mut Vec<u8>,
) -> Result<i32, CliError> {
    let mut levels = Levels::default();
    for code in &args.deny {
        levels.set("--deny", code, Some(Severity::Error))?;
    }
    for code in &args.warn {
        levels.set("--warn", code, Some(Severity::Warning))?;
    }
    for code in &args.allow {
        levels.set("--allow", code, None)?;
    }
    let deployment = read_deployment(args)?;
    let mut inputs = deployment.files.clone();
    let (hops, findings) = match &args.database_url {
        None => {
            let from = args
                .from
                .as_deref()
                .expect("clap requires --from without --database-url");
            let stops = stops_of(knowledge, from, &args.to)?;
            let findings = checks::run_checks(knowledge, &stops, &deployment, None, &levels);
            (hop_names(&stops), findings)
        }
        Some(url) => {
            let url: DatabaseUrl = url.parse()?;
            let secret = match &args.secret_key_env {
                Some(name) => Some(
                    std::env::var(name).map_err(|_| CliError::SecretVariableUnset(name.clone()))?,
                ),
                None => secret_from_files(&deployment),
            };
            let timeouts = Timeouts {
                statement: args.statement_timeout,
                lock: args.lock_timeout,
                ..Timeouts::default()
            };
            let mut session = ReadOnlySession::connect(&url, timeouts)?;
            inputs.push(url.redacted());
            session.read(|transaction| -> Result<_, CliError> {
                let detection = detect::detect_in(knowledge, transaction, url.redacted())?;
                let from = from_of_database(knowledge, args.from.as_deref(), &detection)?;
                let stops = stops_of(knowledge, &from, &args.to)?;
                let database =
                    checks::database::LiveDatabase::new(transaction, detection, secret, args.quick);
                let findings =
                    checks::run_checks(knowledge, &stops, &deployment, Some(&database), &levels);
                Ok((hop_names(&stops), findings))
            })?
        }
    };
    if inputs.is_empty() {
        inputs.push(
            "no files (give --compose, --ecs-task-def, --env-file, --nginx or --database-url)"
                .to_owned(),
        );
    }
    match args.format {
        PlanFormat::Text => checks::render::findings_text(rendered, &hops, &inputs, &findings)?,
        PlanFormat::Markdown => checks::render::findings_markdown(rendered, &hops, &findings)?,
        PlanFormat::Json => json_line(rendered, &checks::render::findings_json(&hops, &findings))?,
    }
    Ok(
        if findings
            .iter()
            .any(|finding| finding.severity == Severity::Error)
        {
            exit::BLOCKING_FINDINGS
        } else {
            exit::SUCCESS
        },
    )
}

/// The releases the plan stops at, the starting one first.
fn stops_of<'k>(
    knowledge: &'k KnowledgeBase,
    from: &str,
    to: &str,
) -> Result<Vec<&'k crate::knowledge::model::Release>, CliError> {
    let plan = plan::plan(knowledge, from, to)?;
    Ok(plan
        .path()
        .iter()
        .filter_map(|version| {
            knowledge
                .releases
                .iter()
                .find(|release| &release.version.to_string() == version)
        })
        .collect())
}

fn hop_names(stops: &[&crate::knowledge::model::Release]) -> Vec<String> {
    stops
        .windows(2)
        .map(|pair| format!("{}->{}", pair[0].version, pair[1].version))
        .collect()
}

/// The release to plan from: `--from` when given (it must agree with the database), else the
/// one release the database is at.
fn from_of_database(
    knowledge: &KnowledgeBase,
    given: Option<&str>,
    detection: &detect::Detection,
) -> Result<String, CliError> {
    let found: Vec<String> = detection
        .candidates
        .iter()
        .map(ToString::to_string)
        .collect();
    let found_text = match found.as_slice() {
        [] => "no known release".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    match given {
        Some(given) => {
            let resolved = plan::resolve(knowledge, given, "--from")?;
            if !detection.candidates.is_empty() && !detection.candidates.contains(&resolved.version)
            {
                return Err(CliError::FromDisagrees {
                    given: given.to_owned(),
                    resolved: resolved.version.to_string(),
                    found: found_text,
                });
            }
            Ok(resolved.version.to_string())
        }
        None => match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(CliError::FromNeeded(
                "the database matches no known release".into(),
            )),
            _ => Err(CliError::FromNeeded(format!(
                "the database is at {found_text}, which it cannot tell apart"
            ))),
        },
    }
}

/// The secret the deployment encrypts with, as its env files give it.
fn secret_from_files(deployment: &Deployment) -> Option<String> {
    ["REDASH_SECRET_KEY", "REDASH_COOKIE_SECRET"]
        .iter()
        .find_map(|name| {
            deployment
                .running_roles()
                .find_map(|role| role.var(name)?.value.clone())
                .filter(|value| !value.is_empty())
        })
}

fn read_deployment(args: &CheckArgs) -> Result<Deployment, CliError> {
    let mut deployment = Deployment {
        host_memory_mib: args.host_memory,
        ..Deployment::default()
    };
    if let Some(path) = &args.compose {
        deployment
            .roles
            .extend(inputs::compose::read_compose(path)?);
        deployment.files.push(path.display().to_string());
    }
    for path in &args.ecs_task_def {
        deployment
            .roles
            .extend(inputs::ecs::read_task_definition(path)?);
        deployment.files.push(path.display().to_string());
    }
    for (name, count) in &args.ecs_desired_count {
        let role = deployment
            .roles
            .iter_mut()
            .find(|role| role.ecs && &role.name == name)
            .ok_or_else(|| CliError::UnknownContainer(name.clone()))?;
        role.replicas = Some(inputs::deployment::Located {
            value: *count,
            location: role.location.clone(),
        });
    }
    let mut shared = Vec::new();
    for path in &args.env_file {
        shared.extend(inputs::env_file::read_env_file(path)?);
        deployment.files.push(path.display().to_string());
    }
    if deployment.roles.is_empty() && !shared.is_empty() {
        // Only env files: one role stands for every container that reads them.
        deployment.roles.push(inputs::Role {
            name: "every role (env files)".into(),
            kind: inputs::RoleKind::Server,
            location: shared[0].location.clone(),
            command: None,
            image: None,
            env: Default::default(),
            replicas: None,
            memory_limit_mib: None,
            health_check: None,
            ecs: false,
        });
    }
    deployment.apply_shared_env(&shared);
    if let Some(path) = &args.nginx {
        deployment.nginx = Some(inputs::nginx::read_nginx(path)?);
        deployment.files.push(path.display().to_string());
    }
    Ok(deployment)
}

fn json_line(out: &mut Vec<u8>, value: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}
