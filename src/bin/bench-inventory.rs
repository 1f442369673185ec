//! Benchmark: the clean-up before the hop on the v4 fork's large data set (4.0.2 with the fork's
//! in-house columns; about 15,000 queries, 200,000 query results, 1,000,000 events) with eight
//! weeks of office-hours usage added. Starts its own throwaway PostgreSQL, then times:
//!
//! 1. a plain `COPY ... TO STDOUT` of every table `inventory` reads, as the floor;
//! 2. `inventory` (the checks of the plan to `--to` included) and its CSV;
//! 3. `archive --apply` of every row the inventory classes `archive`, and `archive --undo`;
//! 4. `window` with its SVG.
//!
//!     cargo run --release --features testbed --bin bench-inventory [-- --to 10.1.0] [--hold]
//!
//! `--hold` keeps the server and its database after the figures, printing the URL, until
//! Ctrl-C: run the commands of the README against it by hand.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use redash_upgrade::archive::{self, ArchiveRequest, UndoRequest};
use redash_upgrade::db::{DatabaseUrl, Timeouts};
use redash_upgrade::engine::DatabaseTarget;
use redash_upgrade::inventory::{self, csv_out, InventoryRequest, Rules};
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::report::Progress;
use redash_upgrade::testbed::{self, PgServer, Scale, UsageHistory};
use redash_upgrade::window::{self, WindowRequest};
use semver::Version;

/// The tables `inventory` reads.
const TABLES: [&str; 10] = [
    "queries",
    "organizations",
    "users",
    "data_sources",
    "query_results",
    "dashboards",
    "widgets",
    "visualizations",
    "alerts",
    "events",
];

const AS_OF: &str = "2026-11-30T00:00:00Z";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let to = args
        .iter()
        .position(|arg| arg == "--to")
        .and_then(|index| args.get(index + 1))
        .cloned()
        .unwrap_or_else(|| "10.1.0".to_owned());
    let hold = args.iter().any(|arg| arg == "--hold");
    let knowledge = KnowledgeBase::embedded()?;
    let mut out = std::io::stdout();
    let server = PgServer::start()?;
    server.create_database("fork", None)?;
    let started = Instant::now();
    let mut client = server.connect("fork")?;
    testbed::load_release(
        &mut client,
        &knowledge,
        &Version::new(4, 0, 2),
        Scale::Large,
    )?;
    testbed::apply_fork(&mut client)?;
    let usage =
        testbed::add_usage_history(&mut client, &UsageHistory::new(8, AS_OF, "Asia/Tokyo"))?;
    client.batch_execute("VACUUM ANALYZE")?;
    client.batch_execute("CHECKPOINT")?;
    let queries: i64 = client.scalar("SELECT count(*)::bigint FROM queries")?;
    let events: i64 = client.scalar("SELECT count(*)::bigint FROM events")?;
    writeln!(
        out,
        "fork 4.0.2 large fixture with 8 weeks of usage ({} events added) loaded in {:.1} s: {queries} queries, {events} events",
        usage.orgs.iter().map(|org| org.events.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    )?;

    let started = Instant::now();
    let mut bytes = 0;
    for table in TABLES {
        bytes += client.copy_out_bytes(&format!("COPY {table} TO STDOUT"))?;
    }
    let copy = started.elapsed();
    writeln!(
        out,
        "plain COPY of the {} tables inventory reads: {:.2} s ({:.0} MiB)",
        TABLES.len(),
        copy.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64
    )?;

    let url: DatabaseUrl = server.tcp_url("fork").parse()?;
    let timeouts = Timeouts {
        statement: Duration::from_secs(30 * 60),
        lock: Duration::from_secs(10),
        connect: Duration::from_secs(10),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let inventory = runtime.block_on(inventory::inventory(
        &knowledge,
        InventoryRequest {
            database: DatabaseTarget {
                url: url.clone(),
                timeouts,
            },
            from: None,
            to: to.clone(),
            as_of: redash_upgrade::plan::parse_instant(AS_OF).context("AS_OF")?,
            rules: Rules::default(),
            progress: Progress::hidden(),
        },
    ))?;
    let took = started.elapsed();
    let csv = csv_out::to_csv(&inventory.queries);
    let counts = inventory.counts();
    writeln!(
        out,
        "inventory to {to}: {:.2} s ({:.1}x the plain COPY) for {} queries: {:?}; CSV {} KiB; {:.0} scheduled runs a day removed",
        took.as_secs_f64(),
        took.as_secs_f64() / copy.as_secs_f64(),
        inventory.queries.len(),
        counts,
        csv.len() / 1024,
        inventory.effect.scheduled_runs_per_day_removed
    )?;

    let work = tempfile::tempdir()?;
    let csv_path = work.path().join("inventory.csv");
    std::fs::write(&csv_path, &csv)?;
    let journal = work.path().join("archive.journal.json");
    let yes = |_: &str| true;
    let started = Instant::now();
    let outcome = runtime.block_on(archive::archive(
        ArchiveRequest {
            url: url.clone(),
            timeouts,
            inventory: csv_path.clone(),
            journal: journal.clone(),
            apply: true,
            tag_keepers: None,
            progress: Progress::hidden(),
        },
        &yes,
    ))?;
    writeln!(
        out,
        "archive --apply: {:.2} s, {} rows changed, {} refused; journal {} KiB",
        started.elapsed().as_secs_f64(),
        outcome.changed(),
        outcome.refused(),
        std::fs::metadata(&journal)
            .map(|meta| meta.len() / 1024)
            .unwrap_or(0)
    )?;
    let started = Instant::now();
    let undone = runtime.block_on(archive::undo(
        UndoRequest {
            url: url.clone(),
            timeouts,
            journal: journal.clone(),
            apply: true,
            progress: Progress::hidden(),
        },
        &yes,
    ))?;
    writeln!(
        out,
        "archive --undo: {:.2} s, {} rows put back, {} refused",
        started.elapsed().as_secs_f64(),
        undone.changed(),
        undone.refused()
    )?;

    let started = Instant::now();
    let report = runtime.block_on(window::window(&WindowRequest {
        url: url.clone(),
        timeouts,
        timezone: "Asia/Tokyo".to_owned(),
        hours: 2,
        weeks: 8,
        as_of: Some(AS_OF.to_owned()),
        rehearsal: None,
        progress: Progress::hidden(),
    }))?;
    let svg = work.path().join("window.svg");
    window::write_files(&report, Some(&svg), None)?;
    writeln!(
        out,
        "window --tz Asia/Tokyo --hours 2 --weeks 8 --svg: {:.2} s, SVG {} KiB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&svg)
            .map(|meta| meta.len() / 1024)
            .unwrap_or(0)
    )?;

    if hold {
        writeln!(
            out,
            "holding the database: {} (Ctrl-C to stop)",
            url.redacted()
        )?;
        writeln!(out, "password: {}", server.password())?;
        out.flush()?;
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(())
}
