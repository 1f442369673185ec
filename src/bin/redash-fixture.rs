//! Writes a generated Redash metadata database of one release, small or large, as a psql script
//! or straight into an empty database. Test-bed tooling: not part of `redash-upgrade`.
//!
//!     cargo run --release --features testbed --bin redash-fixture -- --release 10.1.0 --scale large --out large-10.1.0.sql
//!     psql "$URL" -v ON_ERROR_STOP=1 -f large-10.1.0.sql
//!
//! The demo database of `redash-upgrade window`, with eight weeks of office-hours usage:
//!
//!     cargo run --features testbed --bin redash-fixture -- --release 10.1.0 --database-url "$URL" \
//!         --usage-history 8 --as-of 2026-11-30T00:00:00Z --tz Asia/Tokyo

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use redash_upgrade::db::DatabaseUrl;
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, Scale};
use semver::Version;

#[derive(Debug, Parser)]
#[command(about = "Generate a realistic Redash metadata database of one release")]
struct Args {
    /// The release whose schema and data formats to use (4.0.2, 10.1.0, 26.3.0, ...)
    #[arg(long)]
    release: Version,
    /// small (tests) or large (benchmarks: ~15,000 queries, 200,000 results, 1,000,000 events)
    #[arg(long, default_value = "small")]
    scale: Scale,
    /// Apply the fork fixture's in-house changes (4.0.2 only)
    #[arg(long)]
    fork: bool,
    /// Start from the 4.0.2 data set and bring it forward through every release to --release, as
    /// production databases are (with --database-url only)
    #[arg(long, requires = "database_url", conflicts_with = "fork")]
    upgraded: bool,
    /// Write a psql script here (written to a temporary file, then renamed)
    #[arg(
        long,
        conflicts_with = "database_url",
        required_unless_present = "database_url"
    )]
    out: Option<PathBuf>,
    /// Load into this empty database instead
    #[arg(long)]
    database_url: Option<String>,
    /// Add WEEKS weeks of office-hours usage (events with a weekly rhythm, a quiet Sunday
    /// 01:00-05:00 local, scheduled results in the last week) before --as-of (with
    /// --database-url only)
    #[arg(long, value_name = "WEEKS", requires = "database_url")]
    usage_history: Option<u32>,
    /// The end of the usage history
    #[arg(long, value_name = "TIMESTAMP", default_value = "2026-11-30T00:00:00Z")]
    as_of: String,
    /// The time zone of the orgs' office hours
    #[arg(long = "tz", value_name = "ZONE", default_value = "UTC")]
    timezone: String,
    /// An org in another time zone, SLUG=ZONE (repeatable) [default: acme-eu=America/New_York]
    #[arg(long, value_name = "SLUG=ZONE")]
    org_tz: Vec<String>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let knowledge = KnowledgeBase::embedded()?;
    knowledge
        .release(&args.release)
        .with_context(|| format!("--release {}: no such release", args.release))?;
    if args.fork && args.release != Version::new(4, 0, 2) {
        bail!("--fork: the fork fixture is a 4.0.2 database");
    }
    if let Some(url) = &args.database_url {
        let url: DatabaseUrl = url.parse().context("--database-url")?;
        let mut client = testbed::Client::connect(&url.connect_options(), "connect")
            .with_context(|| format!("connecting to {url}"))?;
        if args.upgraded {
            let oldest = Version::new(4, 0, 2);
            testbed::load_release(&mut client, &knowledge, &oldest, args.scale)?;
            testbed::simulate_upgrade(&mut client, &knowledge, &oldest, &args.release)?;
        } else {
            testbed::load_release(&mut client, &knowledge, &args.release, args.scale)?;
        }
        if args.fork {
            testbed::apply_fork(&mut client)?;
        }
        if let Some(weeks) = args.usage_history {
            let mut spec = testbed::UsageHistory::new(weeks, &args.as_of, &args.timezone);
            if !args.org_tz.is_empty() {
                spec.org_timezones = args
                    .org_tz
                    .iter()
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(slug, zone)| (slug.to_owned(), zone.to_owned()))
                            .with_context(|| format!("--org-tz {pair}: expected SLUG=ZONE"))
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            let summary = testbed::add_usage_history(&mut client, &spec)?;
            let events: usize = summary.orgs.iter().map(|org| org.events.len()).sum();
            let _ = writeln!(
                std::io::stderr(),
                "added {events} events over {weeks} weeks and {} scheduled query results before {}",
                summary.query_results,
                args.as_of
            );
        }
        return Ok(());
    }
    let path = args.out.expect("clap requires --out or --database-url");
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let temporary = tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("creating a temporary file in {}", directory.display()))?;
    {
        let mut out = BufWriter::new(temporary.as_file());
        writeln!(
            out,
            "-- Generated by redash-fixture: release {}, {:?} scale.",
            args.release, args.scale
        )?;
        writeln!(out, "SET client_min_messages = warning;")?;
        testbed::ReleaseFixture::new(&knowledge, &args.release, args.scale)?
            .write_script(&mut out)?;
        if args.fork {
            out.write_all(testbed::FORK_SQL.as_bytes())?;
        }
        out.flush()?;
    }
    // Readable by whoever runs psql, like any file written with the default umask.
    std::fs::set_permissions(
        temporary.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    temporary
        .persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
    Ok(())
}
