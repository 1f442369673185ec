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

/// The schedules of `db`, by query id.
fn schedules(db: &TestDb) -> Vec<(i32, Option<String>)> {
    use sqlx::Row as _;
    db.client()
        .fetch_all(sqlx::query(
            "SELECT id, schedule::text FROM queries ORDER BY id",
        ))
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn the_v4_fork_is_rehearsed_to_the_latest_release_with_the_source_untouched() {
    let production = fixture_db("fork");
    let before = schedules(&production);
    assert!(before.iter().filter(|(_, schedule)| schedule.is_some()).count() > 5);
    let staging = empty_db();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(&production, dir.path());
    let work = dir.path().join("work");
    let template = exec_template("");
    // The fork's in-house export to spreadsheets must not run from the copy.
    let blank_exports = dir.path().join("blank-exports.sql");
    std::fs::write(
        &blank_exports,
        "UPDATE queries SET spreadsheet_export_enabled = false, spreadsheet_export_url = NULL \
         WHERE spreadsheet_export_enabled OR spreadsheet_export_url IS NOT NULL;",
    )
    .unwrap();
    let exports_before = exports(&production);
    assert!(exports_before.iter().any(|(_, enabled, _)| *enabled));
    let output = rehearse(
        &staging,
        &[
            "--snapshot",
            path(&snapshot),
            "--runner",
            "exec",
            "--exec",
            &template,
            "--work-dir",
            path(&work),
            "--neutralize-sql",
            path(&blank_exports),
            "--secret-key-env",
            "FIXTURE_KEY",
            "--yes",
        ],
    );
    let report = report(&work);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let path: Vec<String> = report["journal"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hop| hop["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        path,
        ["5.0.2", "6.0.0", "7.0.0", "8.0.0", "10.1.0", "25.8.0", "26.3.0"]
    );
    for number in 1..=path.len() {
        assert_eq!(
            step(&report, &format!("hop-{number}/verify"))["detail"]["verified"],
            true,
            "hop {number}"
        );
    }
    assert_eq!(schedules(&production), before, "the source is only read");
    assert!(schedules(&staging).iter().all(|(_, schedule)| schedule.is_none()));
    assert!(exports(&staging).iter().all(|(_, enabled, url)| !enabled && url.is_none()));
    let neutralized = &step(&report, "neutralize")["detail"]["neutralized"];
    let operator = neutralized
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["step"] == "operator-sql")
        .unwrap();
    assert!(operator["rows"].as_u64().unwrap() > 0, "{neutralized:#}");

    // The copy against production: the neutralized values are set apart, the rest verifies
    // through every hop's declared effects.
    let verified = verify_against(&staging, &snapshot, "26.3.0");
    assert_eq!(verified.0, 0, "{:#}", verified.1);
    let notes = verified.1["not_compared"].to_string();
    assert!(notes.contains("queries: "), "{notes}");
    assert!(notes.contains("neutralized by a rehearsal"), "{notes}");

    // Put back: the exports and schedules are production's again (schedules as 7.0.0 rewrote
    // them), and verify finds nothing set apart.
    let put_back = rehearse(&staging, &["--restore-neutralized", "--yes"]);
    assert_eq!(put_back.status.code(), Some(0), "{}", stderr(&put_back));
    assert_eq!(exports(&staging), exports_before);
    let verified = verify_against(&staging, &snapshot, "26.3.0");
    assert_eq!(verified.0, 0, "{:#}", verified.1);
    assert!(!verified.1["not_compared"]
        .to_string()
        .contains("neutralized by a rehearsal"));
    assert_eq!(
        schedules(&staging).iter().filter(|(_, schedule)| schedule.is_some()).count(),
        before.iter().filter(|(_, schedule)| schedule.is_some()).count()
    );
}

/// The fork's export columns, by query id.
fn exports(db: &TestDb) -> Vec<(i32, bool, Option<String>)> {
    use sqlx::Row as _;
    db.client()
        .fetch_all(sqlx::query(
            "SELECT id, spreadsheet_export_enabled, spreadsheet_export_url FROM queries ORDER BY id",
        ))
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// `verify` of `db` against `snapshot`: exit code and JSON report.
fn verify_against(db: &TestDb, snapshot: &Path, expect: &str) -> (i32, Value) {
    let output = command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .env("FIXTURE_KEY", redash_upgrade::testbed::FIXTURE_SECRET_KEY)
        .args([
            "verify",
            "--baseline",
            path(snapshot),
            "--expect",
            expect,
            "--secret-key-env",
            "FIXTURE_KEY",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stderr(&output)));
    (output.status.code().unwrap(), report)
}
