//! Benchmark: the full set of database checks on the large fixture, next to a plain COPY of the
//! same tables. Starts its own throwaway PostgreSQL (like the tests) and prints figures.
//!
//!     cargo run --release --features testbed --bin bench-db-checks [-- --runs 5]

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use redash_upgrade::checks::db::SecretKey;
use redash_upgrade::checks::Levels;
use redash_upgrade::db::{DatabaseUrl, Timeouts};
use redash_upgrade::engine::{self, CheckRequest, DatabaseTarget};
use redash_upgrade::inputs::DeploymentFiles;
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::report::Progress;
use redash_upgrade::testbed::{self, PgServer, FIXTURE_SECRET_KEY};

/// The tables the 25.1 hop's checks read in full.
const TABLES: [&str; 9] = [
    "queries",
    "events",
    "organizations",
    "alerts",
    "dashboards",
    "changes",
    "visualizations",
    "widgets",
    "users",
];

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip_while(|arg| arg != "--runs")
        .nth(1)
        .map(|value| value.parse())
        .transpose()
        .context("--runs takes a number")?
        .unwrap_or(3);
    let mut err = std::io::stderr();
    let knowledge = KnowledgeBase::embedded()?;
    let server = PgServer::start()?;
    let loading = testbed::load_benchmark_database(&server, &knowledge, "large")?;
    writeln!(
        err,
        "loaded the large 10.1.0 fixture in {:.1} s",
        loading.as_secs_f64()
    )?;

    let target = DatabaseTarget {
        url: server.tcp_url("large").parse::<DatabaseUrl>()?,
        timeouts: Timeouts::default(),
    };
    let mut check_times = Vec::new();
    let mut findings = 0;
    for _ in 0..runs {
        let request = CheckRequest {
            from: Some("10.1.0".into()),
            to: "26.3.0".into(),
            files: DeploymentFiles::default(),
            database: Some(target.clone()),
            secret_key: Some(SecretKey {
                value: FIXTURE_SECRET_KEY.into(),
                origin: "the fixture's key".into(),
            }),
            quick: false,
            baseline: None,
            levels: Levels::default(),
            progress: Progress::hidden(),
        };
        let started = Instant::now();
        let report = engine::block_on(engine::check(&knowledge, request))?;
        check_times.push(started.elapsed());
        findings = report.findings.len();
    }

    let mut copy_times = Vec::new();
    let mut copied_bytes = 0u64;
    for _ in 0..runs {
        let started = Instant::now();
        let mut client = server.connect("large")?;
        copied_bytes = 0;
        for table in TABLES {
            copied_bytes += client.copy_out_bytes(&format!("COPY {table} TO STDOUT"))?;
        }
        copy_times.push(started.elapsed());
    }

    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let checks = median(&mut check_times);
    let copy = median(&mut copy_times);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "large 10.1.0 fixture, plan 10.1.0 -> 26.3.0, median of {runs} runs, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )?;
    writeln!(
        out,
        "  full database checks (detect + {findings} findings): {:>8.3} s",
        checks.as_secs_f64()
    )?;
    writeln!(
        out,
        "  plain COPY of the same {} tables ({:.1} MiB):  {:>8.3} s",
        TABLES.len(),
        copied_bytes as f64 / 1048576.0,
        copy.as_secs_f64()
    )?;
    writeln!(
        out,
        "  checks / COPY: {:.2}x",
        checks.as_secs_f64() / copy.as_secs_f64()
    )?;
    Ok(())
}
