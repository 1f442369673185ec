//! A stand-in for `manage db upgrade` of a Redash image, for the tests of `rehearse --runner
//! exec` (no Docker and no Redash can run on the test machines). Test-bed tooling: not part of
//! `redash-upgrade`.
//!
//! It does what alembic does on a hop, in our own SQL (the test bed's `simulate_upgrade`,
//! written from upstream's migrations): it connects to `REDASH_DATABASE_URL` (from the
//! environment, as the real image reads it), refuses a stamp that is not `--from`'s head the
//! way alembic cannot locate a revision, applies the schema and data changes of every release
//! after `--from` up to `--to` in one transaction (a failure or a kill leaves nothing), and
//! stamps `--to`'s head.
//!
//!     REDASH_DATABASE_URL=postgresql://... redash-fixture-migrate --from 7.0.0 --to 8.0.0

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use redash_upgrade::db::DatabaseUrl;
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed;
use semver::Version;
use sqlx::Row as _;

#[derive(Debug, Parser)]
#[command(about = "Stand-in for a Redash image's `manage db upgrade`, for tests")]
struct Args {
    /// The release the database is at
    #[arg(long)]
    from: Version,
    /// The release to migrate to
    #[arg(long)]
    to: Version,
    /// Wait this many seconds with every change made and not committed (for tests that stop
    /// a migration half way)
    #[arg(long, default_value_t = 0)]
    hold: u64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "ERROR [migrate] {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let knowledge = KnowledgeBase::embedded()?;
    let from = knowledge
        .release(&args.from)
        .with_context(|| format!("--from {}: no such release", args.from))?;
    let to = knowledge
        .release(&args.to)
        .with_context(|| format!("--to {}: no such release", args.to))?;
    let url: DatabaseUrl = std::env::var("REDASH_DATABASE_URL")
        .context("REDASH_DATABASE_URL is not set")?
        .parse()
        .context("REDASH_DATABASE_URL")?;
    let mut client = testbed::Client::connect(&url.connect_options(), "connect")?;
    let stamp: Vec<String> = client
        .fetch_all(sqlx::query("SELECT version_num::text FROM alembic_version"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if stamp.is_empty() {
        bail!("alembic_version is empty: nothing to upgrade from");
    }
    if stamp
        .iter()
        .any(|revision| !from.alembic_heads.contains(revision))
    {
        bail!(
            "Can't locate revision identified by '{}' as {}'s head",
            stamp.join(","),
            from.version
        );
    }
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "INFO  [migrate] Running upgrade {} -> {}",
        from.alembic_heads.join(","),
        to.alembic_heads.join(",")
    )?;
    let hold = Duration::from_secs(args.hold);
    testbed::simulate_upgrade_with(&mut client, &knowledge, &from.version, &to.version, &|| {
        if !hold.is_zero() {
            let mut stdout = std::io::stdout();
            let _ = writeln!(
                stdout,
                "INFO  [migrate] holding the transaction for {} s",
                hold.as_secs()
            );
            let _ = stdout.flush();
            std::thread::sleep(hold);
        }
    })?;
    writeln!(stdout, "INFO  [migrate] done")?;
    Ok(())
}
