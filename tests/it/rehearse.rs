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
    let before = schedules(&production);
    let staging = empty_db();
    let (code, report, dir, output) = rehearse_to(
        &production,
        &staging,
        "10.1.0",
        &exec_template(""),
        &[
            "--from",
            "7.0.0",
            "--secret-key-env",
            "FIXTURE_KEY",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let work = dir.path().join("work");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed, report,
        "stdout carries the report the work directory holds"
    );
    let hops = report["journal"]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "7.0.0 -> 8.0.0 -> 10.1.0");
    for number in 1..=2 {
        assert_eq!(
            step(&report, &format!("hop-{number}/verify"))["detail"]["verified"],
            true
        );
    }
    assert_eq!(report["journal"]["outcome"], "succeeded");
    assert_eq!(schedules(&production), before, "the source is only read");
    assert!(schedules(&staging)
        .iter()
        .all(|(_, schedule)| schedule.is_none()));
    assert_eq!(
        step(&report, "pause-schedules")["detail"]["neutralized"][0]["rows"],
        before
            .iter()
            .filter(|(_, schedule)| schedule.is_some())
            .count()
    );
    let html = std::fs::read_to_string(work.join("report.html")).unwrap();
    assert!(html.contains("<h2>Timeline</h2>"));
    assert_eq!(
        html.matches("class=\"bar done\"").count(),
        report["journal"]["steps"].as_array().unwrap().len()
    );
    let markdown = std::fs::read_to_string(work.join("report.md")).unwrap();
    assert!(markdown.contains("| 2 | 8.0.0 -> 10.1.0 |"), "{markdown}");
    assert!(
        markdown.contains("Tables this hop's migrations rewrite: notification_destinations"),
        "{markdown}"
    );
    assert!(
        markdown.contains("REDASH_FEATURE_DISABLE_REFRESH_QUERIES=true"),
        "{markdown}"
    );
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
    assert!(
        before
            .iter()
            .filter(|(_, schedule)| schedule.is_some())
            .count()
            > 5
    );
    let staging = empty_db();
    // The fork's in-house export to spreadsheets must not run from the copy.
    let sql_dir = tempfile::tempdir().unwrap();
    let blank_exports = sql_dir.path().join("blank-exports.sql");
    std::fs::write(
        &blank_exports,
        "UPDATE queries SET spreadsheet_export_enabled = false, spreadsheet_export_url = NULL \
         WHERE spreadsheet_export_enabled OR spreadsheet_export_url IS NOT NULL;",
    )
    .unwrap();
    let exports_before = exports(&production);
    assert!(exports_before.iter().any(|(_, enabled, _)| *enabled));
    let (code, report, dir, output) = rehearse_to(
        &production,
        &staging,
        "latest",
        &exec_template(""),
        &[
            "--neutralize-sql",
            path(&blank_exports),
            "--secret-key-env",
            "FIXTURE_KEY",
        ],
    );
    assert_eq!(code, Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let snapshot = dir.path().join("production");
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
    assert!(schedules(&staging)
        .iter()
        .all(|(_, schedule)| schedule.is_none()));
    assert!(exports(&staging)
        .iter()
        .all(|(_, enabled, url)| !enabled && url.is_none()));
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
        schedules(&staging)
            .iter()
            .filter(|(_, schedule)| schedule.is_some())
            .count(),
        before
            .iter()
            .filter(|(_, schedule)| schedule.is_some())
            .count()
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

/// Rehearses `production` to `to` with `template` (and `extra` arguments); returns the exit
/// code, the JSON report and the work directory's temp dir.
fn rehearse_to(
    production: &TestDb,
    staging: &TestDb,
    to: &str,
    template: &str,
    extra: &[&str],
) -> (Option<i32>, Value, tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(production, dir.path());
    let work = dir.path().join("work");
    let mut args = vec![
        "--snapshot",
        path(&snapshot),
        "--to",
        to,
        "--runner",
        "exec",
        "--exec",
        template,
        "--work-dir",
        path(&work),
        "--yes",
    ];
    args.extend_from_slice(extra);
    let output = rehearse(staging, &args);
    let report = report(&work);
    (output.status.code(), report, dir, output)
}

fn alembic(db: &TestDb) -> String {
    use sqlx::Row as _;
    db.client()
        .fetch_all(sqlx::query("SELECT version_num::text FROM alembic_version"))
        .unwrap()[0]
        .get(0)
}

#[test]
fn a_hop_whose_migration_fails_is_rolled_back_and_the_report_names_the_step_and_row() {
    let production = fixture_db("10.1.0");
    // 25.1.0 converts queries.options to jsonb: this text is not JSON, and the cast fails.
    production.execute("UPDATE queries SET options = '{\"parameters\": [' WHERE id = 7");
    let staging = empty_db();
    let (code, report, dir, output) =
        rehearse_to(&production, &staging, "25.8.0", &exec_template(""), &[]);
    assert_eq!(code, Some(1), "{}", stderr(&output));
    let migrate = step(&report, "hop-1/migrate");
    assert_eq!(migrate["state"], "failed");
    assert_eq!(migrate["detail"]["exit_code"], 1);
    assert!(migrate["error"].as_str().unwrap().contains("exited with 1"));
    let tail = migrate["detail"]["output_tail"].to_string();
    assert!(tail.contains("json"), "{tail}");
    let check = &step(&report, "hop-1/check")["detail"]["findings"];
    let named = check
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["code"] == "json-invalid-for-jsonb")
        .unwrap_or_else(|| panic!("{check:#}"));
    assert!(
        named["message"].as_str().unwrap().contains("queries 7")
            || named["message"].as_str().unwrap().contains("7"),
        "{named:#}"
    );
    assert_eq!(step(&report, "hop-1/rollback")["state"], "done");
    assert_eq!(
        step(&report, "hop-1/rollback")["detail"]["restore_tested"],
        true
    );
    assert_eq!(alembic(&staging), "89bc7873a3e0", "back at 10.1.0");
    let markdown = std::fs::read_to_string(dir.path().join("work/report.md")).unwrap();
    assert!(
        markdown.starts_with("# Rehearsal of 10.1.0 -> 25.8.0: FAILED at hop-1/migrate"),
        "{markdown}"
    );
    assert!(markdown.contains("json-invalid-for-jsonb"), "{markdown}");
    assert_eq!(
        stdout(&output).lines().next().unwrap(),
        markdown.lines().next().unwrap().trim_start_matches("# ")
    );
}

#[test]
fn a_runner_that_exits_0_with_alembic_behind_is_a_failed_hop() {
    let production = fixture_db("8.0.0");
    let staging = empty_db();
    let (code, report, _dir, output) = rehearse_to(&production, &staging, "10.1.0", "true", &[]);
    assert_eq!(code, Some(1), "{}", stderr(&output));
    let migrate = step(&report, "hop-1/migrate");
    assert_eq!(migrate["detail"]["exit_code"], 0);
    assert_eq!(
        migrate["error"],
        "the migration command exited 0 but alembic_version holds e5c7a4e2df4d, not 10.1.0's head 89bc7873a3e0"
    );
    assert_eq!(step(&report, "hop-1/rollback")["state"], "done");
}

#[test]
fn keep_failed_leaves_the_copy_as_the_failed_migration_left_it() {
    let production = fixture_db("8.0.0");
    // The migration runs, then the command fails: without --keep-failed the copy is rolled
    // back to 8.0.0; with it, the copy stays migrated for inspection.
    let template = format!("{}; exit 3", exec_template(""));
    let staging = empty_db();
    let (code, report, _dir, _) = rehearse_to(&production, &staging, "10.1.0", &template, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(step(&report, "hop-1/migrate")["detail"]["exit_code"], 3);
    assert_eq!(alembic(&staging), "e5c7a4e2df4d");
    let kept = empty_db();
    let (code, report, _dir, _) =
        rehearse_to(&production, &kept, "10.1.0", &template, &["--keep-failed"]);
    assert_eq!(code, Some(1));
    assert!(report["journal"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|step| step["kind"] != "rollback"));
    assert_eq!(alembic(&kept), "89bc7873a3e0");
}

#[test]
fn damage_to_a_neutralized_row_beyond_what_was_neutralized_still_counts() {
    let production = fixture_db("8.0.0");
    let staging = empty_db();
    let (code, report, dir, output) =
        rehearse_to(&production, &staging, "10.1.0", &exec_template(""), &[]);
    assert_eq!(code, Some(0), "{}", stderr(&output));
    assert!(
        step(&report, "neutralize")["detail"]["neutralized"][0]["rows"]
            .as_u64()
            .unwrap()
            > 0
    );
    let snapshot = dir.path().join("production");
    let (code, clean) = verify_against(&staging, &snapshot, "10.1.0");
    assert_eq!(code, 0, "{clean:#}");
    // A muted alert renamed, a paused query deleted, a detached subscription's alert gone.
    staging.execute(
        "UPDATE alerts SET name = 'renamed' WHERE id = 2; \
         DELETE FROM alerts WHERE id = 3; \
         CREATE TEMP TABLE victim AS SELECT min(row_id::int) AS id FROM redash_upgrade.neutralized \
           WHERE step = 'pause-schedules' AND row_id::int NOT IN (SELECT query_id FROM alerts); \
         DELETE FROM widgets WHERE visualization_id IN \
           (SELECT id FROM visualizations WHERE query_id = (SELECT id FROM victim)); \
         DELETE FROM visualizations WHERE query_id = (SELECT id FROM victim); \
         DELETE FROM queries WHERE id = (SELECT id FROM victim);",
    );
    let victim: i32 = {
        use sqlx::Row as _;
        staging
            .client()
            .fetch_all(sqlx::query(
                "SELECT min(row_id::int) FROM redash_upgrade.neutralized n \
                 WHERE step = 'pause-schedules' AND NOT EXISTS \
                   (SELECT 1 FROM queries q WHERE q.id::text = n.row_id)",
            ))
            .unwrap()[0]
            .get(0)
    };
    let (code, damaged) = verify_against(&staging, &snapshot, "10.1.0");
    assert_eq!(code, 1);
    let table = |name: &str| {
        damaged["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|table| table["table"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(table("alerts")["changed_count"], 1, "{:#}", table("alerts"));
    assert_eq!(table("alerts")["missing"], serde_json::json!(["3"]));
    assert_eq!(
        table("queries")["missing"],
        serde_json::json!([victim.to_string()]),
        "{:#}",
        table("queries")
    );
}

#[test]
fn runner_output_and_reports_never_show_the_url_password_or_the_secret_key() {
    let production = fixture_db("8.0.0");
    let staging = empty_db();
    let template = "echo \"connecting to $REDASH_DATABASE_URL with $REDASH_SECRET_KEY\"; exit 4";
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(&production, dir.path());
    let work = dir.path().join("work");
    let output = command()
        .env("REDASH_DATABASE_URL", staging.tcp_url())
        .env("REDASH_SECRET_KEY", "a-very-secret-key-value")
        .args([
            "rehearse",
            "--snapshot",
            path(&snapshot),
            "--to",
            "10.1.0",
            "--runner",
            "exec",
            "--exec",
            template,
            "--work-dir",
            path(&work),
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let password = crate::pg::server().password().to_owned();
    let mut everything = format!("{}{}", stdout(&output), stderr(&output));
    for entry in walk(&work) {
        if entry.is_file() && !entry.to_string_lossy().contains("/snapshots/") {
            everything.push_str(&String::from_utf8_lossy(&std::fs::read(&entry).unwrap()));
        }
    }
    assert!(
        everything.contains("connecting to *** with ***"),
        "{everything}"
    );
    assert!(!everything.contains(&password));
    assert!(!everything.contains("a-very-secret-key-value"));
    let report = report(&work);
    assert_eq!(
        step(&report, "hop-1/migrate")["detail"]["environment"],
        serde_json::json!(["REDASH_DATABASE_URL", "REDASH_SECRET_KEY"])
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The dry run's text with the run's own paths and names replaced by placeholders.
fn normalized(text: &str, dir: &Path) -> String {
    text.replace(dir.to_str().unwrap(), "<dir>")
}

#[test]
fn dry_runs_print_the_docker_and_compose_commands_with_no_secret_and_touch_nothing() {
    let production = fixture_db("7.0.0");
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(&production, dir.path());
    // Nothing listens there: a dry run connects to nothing.
    let unreachable = "postgresql://redash:staging-password@127.0.0.1:9/staging";
    let run = |runner: &[&str]| {
        let output = command()
            .env("REDASH_DATABASE_URL", unreachable)
            .env("REDASH_SECRET_KEY", "a-very-secret-key-value")
            .args([
                "rehearse",
                "--snapshot",
                path(&snapshot),
                "--from",
                "7.0.0",
                "--to",
                "10.1.0",
            ])
            .args(["--work-dir", path(&dir.path().join("work")), "--dry-run"])
            .args(runner)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(!text.contains("staging-password"));
        assert!(!text.contains("a-very-secret-key-value"));
        normalized(&text, dir.path())
    };
    let docker = run(&["--runner", "docker", "--docker-network", "staging"]);
    crate::support::assert_golden("rehearse-dry-run-docker.txt", &docker);
    let markdown = run(&[
        "--runner",
        "docker",
        "--docker-network",
        "host",
        "--format",
        "markdown",
    ]);
    assert!(markdown.starts_with("# Rehearsal of 7.0.0 -> 10.1.0: dry run, nothing done\n"));
    assert!(markdown.contains("3. `REDASH_DATABASE_URL=<production> docker run --rm --name redash-upgrade-rehearsal-staging-hop-2 --network host --env REDASH_DATABASE_URL --env REDASH_SECRET_KEY redash/redash:10.1.0.b50633 manage db upgrade`"), "{markdown}");
    assert!(
        !markdown.contains("Warning"),
        "a host network reaches the staging database"
    );
    let compose = run(&[
        "--runner",
        "compose",
        "--compose-file",
        "/srv/redash-staging/compose.yaml",
        "--compose-project",
        "redash-staging",
    ]);
    crate::support::assert_golden("rehearse-dry-run-compose.txt", &compose);
    assert!(
        !dir.path().join("work").exists(),
        "a dry run writes nothing"
    );
}

#[test]
fn put_back_is_refused_where_a_later_migration_rewrote_what_the_operator_neutralized() {
    let production = fixture_db("6.0.0");
    let staging = empty_db();
    let dir = tempfile::tempdir().unwrap();
    // 6.0.0 schedules are strings; 7.0.0 rewrites them as JSON, so an original kept at 6.0.0
    // cannot be written back at 7.0.0.
    let sql = dir.path().join("pause.sql");
    std::fs::write(&sql, "UPDATE queries SET schedule = NULL WHERE id IN (SELECT id FROM queries WHERE schedule IS NOT NULL ORDER BY id LIMIT 2);").unwrap();
    let (code, _report, _work, output) = rehearse_to(
        &production,
        &staging,
        "7.0.0",
        &exec_template(""),
        &[
            "--neutralize-sql",
            path(&sql),
            "--secret-key-env",
            "FIXTURE_KEY",
        ],
    );
    assert_eq!(code, Some(0), "{}", stderr(&output));
    let count = |db: &TestDb| -> i64 {
        use sqlx::Row as _;
        db.client()
            .fetch_all(sqlx::query(
                "SELECT count(*) FROM redash_upgrade.neutralized",
            ))
            .unwrap()[0]
            .get(0)
    };
    let kept = count(&staging);
    let refused = rehearse(&staging, &["--restore-neutralized", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stdout(&refused);
    assert!(text.contains("REFUSED, nothing written"), "{text}");
    assert!(text.contains("queries.schedule of row"), "{text}");
    assert!(
        text.contains("640888ce445d (7.0.0) changed it since"),
        "{text}"
    );
    assert_eq!(count(&staging), kept, "nothing written");
}

#[test]
fn a_staging_database_that_is_not_empty_is_refused_without_leaving_a_journal() {
    let production = fixture_db("8.0.0");
    let occupied = fixture_db("10.1.0");
    let dir = tempfile::tempdir().unwrap();
    let snapshot = production_snapshot(&production, dir.path());
    let work = dir.path().join("work");
    let template = exec_template("");
    let args = [
        "--snapshot",
        path(&snapshot),
        "--to",
        "10.1.0",
        "--runner",
        "exec",
        "--exec",
        &template,
        "--work-dir",
        path(&work),
        "--yes",
    ];
    let refused = rehearse(&occupied, &args);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(stdout(&refused), "");
    let error = stderr(&refused);
    assert!(
        error.contains("not empty") || error.contains("--clean"),
        "{error}"
    );
    assert!(!work.join("journal.json").exists());
    let mut with_clean = args.to_vec();
    with_clean.push("--clean");
    let done = rehearse(&occupied, &with_clean);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(alembic(&occupied), "89bc7873a3e0");
}

#[test]
fn bad_runner_arguments_are_one_line_errors_before_anything_is_read() {
    let staging = empty_db();
    let missing = tempfile::tempdir().unwrap();
    let absent = missing.path().join("no-such-snapshot");
    for (args, expected) in [
        (vec!["--runner", "exec"], "--exec"),
        (
            vec!["--runner", "exec", "--exec", "migrate {form}"],
            "unknown placeholder {form}",
        ),
        (
            vec![
                "--runner",
                "exec",
                "--exec",
                "migrate --url postgresql://u:p@h/db",
            ],
            "holds a database URL",
        ),
        (vec!["--runner", "compose"], "--compose-file"),
    ] {
        let mut all = vec!["--snapshot", path(&absent), "--yes"];
        all.extend(args);
        let output = rehearse(&staging, &all);
        assert_eq!(output.status.code(), Some(2), "{all:?}");
        assert_eq!(stdout(&output), "");
        assert!(
            stderr(&output).contains(expected),
            "{all:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("u:p@"));
    }
}
