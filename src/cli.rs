//! Command-line interface: the argument model and the dispatch to the library.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::db::{parse_duration, DatabaseUrl, DbError, ReadOnlySession, Timeouts, UrlError};
use crate::detect::{self, DetectError};
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
    #[error("--database-url: {0}")]
    Url(#[from] UrlError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Detect(#[from] DetectError),
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
    }
    out.write_all(&rendered)?;
    out.flush()?;
    Ok(code)
}

fn json_line(out: &mut Vec<u8>, value: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}
