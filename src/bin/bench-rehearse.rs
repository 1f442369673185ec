//! Benchmark: `rehearse` of the large 10.1.0 fixture (about 15,000 queries, 200,000 query
//! results, 1,000,000 events) to 26.3.0, with the `exec` runner and the test bed's stand-in
//! migration (this same program, run with `--migrate`). Starts its own throwaway PostgreSQL
//! (like the tests) and prints every step's wall time and each hop's window.
//!
//!     cargo run --release --features testbed --bin bench-rehearse [-- --to 26.3.0]
//!
//! The migration's own time is the stand-in's (our SQL), not upstream's Python: the figures
//! that carry over to a real rehearsal are the restore, the neutralization, the snapshots
//! (rollback points) and the verifications around it.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use redash_upgrade::db::{DatabaseUrl, Timeouts};
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::rehearse::{self, RehearseRequest, Runner, StepState};
use redash_upgrade::report::Progress;
use redash_upgrade::snapshot::{self, SnapshotRequest};
use redash_upgrade::testbed::{self, PgServer, FIXTURE_SECRET_KEY};
use semver::Version;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|index| args.get(index + 1))
            .cloned()
    };
    let knowledge = KnowledgeBase::embedded()?;
    if args.iter().any(|arg| arg == "--migrate") {
        // The runner's side: what `manage db upgrade` does, in the test bed's SQL.
        let from: Version = value("--from").context("--from")?.parse()?;
        let to: Version = value("--to").context("--to")?.parse()?;
        let url: DatabaseUrl = std::env::var("REDASH_DATABASE_URL")?.parse()?;
        let mut client = testbed::Client::connect(&url.connect_options(), "connect")?;
        testbed::simulate_upgrade(&mut client, &knowledge, &from, &to)?;
        return Ok(());
    }
    let to = value("--to").unwrap_or_else(|| "26.3.0".into());
    let mut out = std::io::stdout();
    let server = PgServer::start()?;
    let loading = testbed::load_benchmark_database(&server, &knowledge, "large")?;
    server.create_database("staging", None)?;
    writeln!(
        out,
        "large 10.1.0 fixture loaded in {:.1} s",
        loading.as_secs_f64()
    )?;
    let work = tempfile::tempdir()?;
    let production: DatabaseUrl = server.tcp_url("large").parse()?;
    let staging: DatabaseUrl = server.tcp_url("staging").parse()?;
    let timeouts = Timeouts {
        statement: Duration::from_secs(30 * 60),
        lock: Duration::from_secs(2),
        connect: Duration::from_secs(10),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let snapshot_dir = work.path().join("production");
    let taken = runtime.block_on(snapshot::take(
        &knowledge,
        SnapshotRequest {
            url: production,
            timeouts,
            out: snapshot_dir.clone(),
            jobs: 1,
            pg_bindir: None,
            progress: Progress::hidden(),
        },
    ))?;
    writeln!(
        out,
        "production snapshot: {:.1} s",
        taken.total_time.as_secs_f64()
    )?;
    let program = std::env::current_exe()?;
    let template = format!(
        "{} --migrate --from {{from}} --to {{to}}",
        rehearse::runner::shell_word(&program.display().to_string())
    );
    let request = RehearseRequest {
        snapshot: snapshot_dir,
        url: staging,
        timeouts,
        from: None,
        to: to.clone(),
        runner: Runner::Exec { template },
        passed_env: Vec::new(),
        work: work.path().join("rehearsal"),
        neutralize_sql: None,
        secret_key: Some(redash_upgrade::checks::db::SecretKey {
            value: FIXTURE_SECRET_KEY.into(),
            origin: "the fixture's key".into(),
        }),
        keep_failed: false,
        resume: false,
        clean: false,
        jobs: 1,
        pg_bindir: None,
        progress: Progress::hidden(),
    };
    let rehearsal = runtime
        .block_on(rehearse::rehearse(&knowledge, request, &|_| true))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    writeln!(
        out,
        "\nrehearsal 10.1.0 -> {to}: {}",
        rehearsal.journal.outcome.as_deref().unwrap_or("?")
    )?;
    let mut total = 0.0;
    for step in &rehearsal.journal.steps {
        let seconds = step.seconds.unwrap_or_default();
        total += seconds;
        writeln!(
            out,
            "  {:<22} {:>8.2} s{}",
            step.id,
            seconds,
            if step.state == StepState::Done {
                ""
            } else {
                "  (not done)"
            }
        )?;
    }
    for (index, hop) in rehearsal.journal.hops.iter().enumerate() {
        let window: f64 = ["snapshot", "migrate", "verify"]
            .iter()
            .filter_map(|kind| {
                rehearsal
                    .journal
                    .step(&format!("hop-{}/{kind}", index + 1))
                    .and_then(|step| step.seconds)
            })
            .sum();
        writeln!(
            out,
            "window of hop {} ({} -> {}): {window:.1} s (snapshot + migration + verify)",
            index + 1,
            hop.from,
            hop.to
        )?;
    }
    writeln!(out, "all steps: {total:.1} s")?;
    Ok(())
}
