//! `rehearse` against a real throwaway PostgreSQL with the real pg_dump and pg_restore. Docker
//! cannot run on the test machines, so the hops run through `--runner exec` with
//! `redash-fixture-migrate`, our stand-in for a Redash image's `manage db upgrade`: it applies
//! the test bed's rendering of upstream's migrations (schema and data) in one transaction.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::pg::{empty_db, fixture_db, TestDb};
use crate::support::{command, stderr, stdout};

pub fn migrate_program() -> &'static str {
    env!("CARGO_BIN_EXE_redash-fixture-migrate")
}

/// The exec template that runs our stand-in migration for a hop.
pub fn exec_template(extra: &str) -> String {
    format!("{} --from {{from}} --to {{to}}{extra}", migrate_program())
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

/// Snapshots `db` into `dir/production`.
pub fn production_snapshot(db: &TestDb, dir: &Path) -> PathBuf {
    let out = dir.join("production");
    let taken = command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .args(["snapshot", "--out", path(&out)])
        .output()
        .unwrap();
    assert_eq!(taken.status.code(), Some(0), "{}", stderr(&taken));
    out
}

/// Runs `rehearse` with the staging URL in the environment.
pub fn rehearse(staging: &TestDb, args: &[&str]) -> Output {
    command()
        .env("REDASH_DATABASE_URL", staging.tcp_url())
        .env("FIXTURE_KEY", redash_upgrade::testbed::FIXTURE_SECRET_KEY)
        .arg("rehearse")
        .args(args)
        .output()
        .unwrap()
}

fn report(work: &Path) -> Value {
    let text = std::fs::read_to_string(work.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["journal"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {report:#}"))
}

#[test]
fn seven_to_ten_is_rehearsed_hop_by_hop_and_every_hop_verifies() {
    let production = fixture_db("7.0.0");
    let staging = empty_db();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(&production, dir.path());
    let work = dir.path().join("work");
    let template = exec_template("");
    let output = rehearse(
        &staging,
        &[
            "--snapshot",
            path(&snapshot),
            "--from",
            "7.0.0",
            "--to",
            "10.1.0",
            "--runner",
            "exec",
            "--exec",
            &template,
            "--work-dir",
            path(&work),
            "--secret-key-env",
            "FIXTURE_KEY",
            "--yes",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let report = report(&work);
    let hops = report["journal"]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "7.0.0 -> 8.0.0 -> 10.1.0");
    for number in 1..=2 {
        assert_eq!(step(&report, &format!("hop-{number}/verify"))["detail"]["verified"], true);
    }
    assert_eq!(report["journal"]["outcome"], "succeeded");
    std::fs::copy(work.join("report.json"), "/tmp/rehearse-report.json").ok();
    std::fs::copy(work.join("report.md"), "/tmp/rehearse-report.md").ok();
    std::fs::copy(work.join("report.html"), "/tmp/rehearse-report.html").ok();
}
