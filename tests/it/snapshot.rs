//! `snapshot`, `snapshot verify`, `restore` and `verify` against a real throwaway PostgreSQL,
//! with the real pg_dump and pg_restore, on the release fixtures.

use std::path::Path;
use std::process::Output;

use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, PgServer, Scale};
use semver::Version;
use serde_json::Value;

use crate::pg::{empty_db, fixture_db, server, TestDb};
use crate::support::{command, stderr, stdout};

/// A server of its own with database `redash` loaded with `release`'s fixture (the fork's on
/// 4.0.2 when `fork`), and an empty `staging`: for tests that stop or watch processes.
pub fn server_with(release: &Version, fork: bool) -> PgServer {
    let server = PgServer::start().unwrap_or_else(|error| panic!("{error}"));
    server.create_database("redash", None).unwrap();
    server.create_database("staging", None).unwrap();
    let knowledge = KnowledgeBase::embedded().unwrap();
    let mut client = server.connect("redash").unwrap();
    testbed::load_release(&mut client, &knowledge, release, Scale::Small).unwrap();
    if fork {
        testbed::apply_fork(&mut client).unwrap();
    }
    server
}

/// Runs the binary with `REDASH_DATABASE_URL` set to `url` (never on the command line).
pub fn run_with_url(url: &str, args: &[&str]) -> Output {
    command()
        .env("REDASH_DATABASE_URL", url)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}):\n{}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

/// Snapshots `db` into `dir/name`, checking the command succeeded.
fn snapshot(db: &TestDb, dir: &Path, name: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    let taken = run_with_url(&db.tcp_url(), &["snapshot", "--out", path(&out)]);
    assert_eq!(
        taken.status.code(),
        Some(0),
        "snapshot of {}: {}{}",
        db.name,
        stdout(&taken),
        stderr(&taken)
    );
    out
}

/// The verdict of `table` in a verify report.
fn verdict<'a>(report: &'a Value, table: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|verdict| verdict["table"] == table)
        .unwrap_or_else(|| panic!("no verdict for {table}: {report:#}"))
}

#[test]
fn every_release_fixture_restores_and_verifies_with_no_difference() {
    let knowledge = KnowledgeBase::embedded().unwrap();
    let mut fixtures: Vec<String> = knowledge
        .releases
        .iter()
        .map(|release| release.version.to_string())
        .collect();
    fixtures.extend(
        [
            "fork",
            "upgraded-7.0.0",
            "upgraded-10.1.0",
            "upgraded-25.1.0",
            "upgraded-26.3.0",
        ]
        .map(str::to_owned),
    );
    let work = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for chunk in fixtures.chunks(fixtures.len().div_ceil(2)) {
            let work = work.path();
            scope.spawn(move || {
                for fixture in chunk {
                    let source = fixture_db(fixture);
                    let snap = snapshot(&source, work, fixture);
                    let checked = command()
                        .args(["snapshot", "verify", path(&snap), "--format", "json"])
                        .output()
                        .unwrap();
                    assert_eq!(
                        checked.status.code(),
                        Some(0),
                        "{fixture}: {}",
                        stdout(&checked)
                    );
                    assert_eq!(json(&checked)["complete"], true, "{fixture}");

                    let staging = empty_db();
                    let restored = run_with_url(
                        &staging.tcp_url(),
                        &["restore", path(&snap), "--yes", "--format", "json"],
                    );
                    let report = json(&restored);
                    assert_eq!(
                        restored.status.code(),
                        Some(0),
                        "{fixture}: {report:#}\n{}",
                        stderr(&restored)
                    );
                    assert_eq!(report["restore_tested"], true, "{fixture}");
                    assert_eq!(report["comparison"]["mode"], "restore", "{fixture}");
                    let tables = report["comparison"]["tables"].as_array().unwrap();
                    assert!(
                        tables.iter().any(|table| table["table"] == "queries"
                            && table["user_work"] == true
                            && table["rows_now"].as_u64().unwrap() > 0),
                        "{fixture}: {report:#}"
                    );

                    let verified = run_with_url(
                        &staging.tcp_url(),
                        &["verify", "--baseline", path(&snap), "--format", "json"],
                    );
                    let report = json(&verified);
                    assert_eq!(verified.status.code(), Some(0), "{fixture}: {report:#}");
                    assert_eq!(report["verified"], true, "{fixture}");
                    assert_eq!(report["differences"], 0, "{fixture}");
                }
            });
        }
    });
}

#[test]
fn planted_damage_after_a_restore_is_reported_with_the_exact_ids() {
    let source = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let snap = snapshot(&source, work.path(), "before");
    let staging = empty_db();
    let restored = run_with_url(&staging.tcp_url(), &["restore", path(&snap), "--yes"]);
    assert_eq!(restored.status.code(), Some(0), "{}", stdout(&restored));

    let mut client = staging.client();
    let pick = |client: &mut redash_upgrade::testbed::Client, sql: &str| -> i64 {
        client.scalar::<i64>(sql).unwrap()
    };
    let widget = pick(&mut client, "SELECT max(id)::bigint FROM widgets");
    let query = pick(&mut client, "SELECT min(id)::bigint FROM queries");
    let user = pick(
        &mut client,
        "SELECT min(id)::bigint FROM users WHERE details IS NOT NULL",
    );
    let snippet = pick(
        &mut client,
        "SELECT max(id)::bigint + 1 FROM query_snippets",
    );
    let alert = pick(&mut client, "SELECT min(id)::bigint FROM alerts");
    staging.execute(&format!(
        "DELETE FROM widgets WHERE id = {widget};
         UPDATE queries SET query = query || ' -- edited by hand' WHERE id = {query};
         UPDATE users SET details = NULL WHERE id = {user};
         INSERT INTO query_snippets (id, org_id, trigger, description, user_id, snippet, created_at, updated_at)
           SELECT {snippet}, org_id, 'planted', '', user_id, 'SELECT 1', now(), now()
           FROM query_snippets LIMIT 1;
         ALTER TABLE dashboards DROP COLUMN slug;
         UPDATE alerts SET name = name || ' (renamed)' WHERE id = {alert};
         ALTER TABLE alerts DROP COLUMN options;"
    ));

    let verified = run_with_url(
        &staging.tcp_url(),
        &["verify", "--baseline", path(&snap), "--format", "json"],
    );
    let report = json(&verified);
    assert_eq!(verified.status.code(), Some(1), "{report:#}");
    assert_eq!(report["verified"], false);
    let widgets = verdict(&report, "widgets");
    assert_eq!(widgets["missing"], serde_json::json!([widget.to_string()]));
    assert_eq!(widgets["missing_count"], 1);
    let queries = verdict(&report, "queries");
    assert_eq!(queries["changed_count"], 1, "{queries:#}");
    assert_eq!(queries["changed"][0]["key"], query.to_string());
    assert_eq!(
        queries["changed"][0]["columns"],
        serde_json::json!(["stable"])
    );
    let users = verdict(&report, "users");
    assert_eq!(users["changed_count"], 1, "{users:#}");
    assert_eq!(users["changed"][0]["key"], user.to_string());
    assert_eq!(
        users["changed"][0]["columns"],
        serde_json::json!(["details"])
    );
    assert!(users["changed"][0]["diff"]
        .as_str()
        .unwrap()
        .contains("\n+details: NULL\n"));
    let snippets = verdict(&report, "query_snippets");
    assert_eq!(snippets["added"], serde_json::json!([snippet.to_string()]));
    let dashboards = verdict(&report, "dashboards");
    assert!(
        dashboards["problem"].as_str().unwrap().contains("slug"),
        "{dashboards:#}"
    );
    assert!(report["schema_differences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line == "missing column dashboards.slug"));
    // A lost column that migrations may change does not hide a change to the others.
    let alerts = verdict(&report, "alerts");
    assert!(
        alerts["problem"]
            .as_str()
            .unwrap()
            .starts_with("column options is gone"),
        "{alerts:#}"
    );
    assert_eq!(alerts["changed_count"], 1, "{alerts:#}");
    assert_eq!(alerts["changed"][0]["key"], alert.to_string());
    assert_eq!(
        alerts["changed"][0]["columns"],
        serde_json::json!(["stable"])
    );
    for untouched in ["visualizations", "data_sources", "organizations"] {
        let table = verdict(&report, untouched);
        assert_eq!(table["changed_count"], 0, "{untouched}");
        assert_eq!(table["missing_count"], 0, "{untouched}");
        assert_eq!(table["added_count"], 0, "{untouched}");
    }

    let text = run_with_url(&staging.tcp_url(), &["verify", "--baseline", path(&snap)]);
    assert_eq!(text.status.code(), Some(1));
    let text = stdout(&text);
    assert!(text.starts_with("NOT verified: "), "{text}");
    assert!(
        text.contains(&format!("widgets: 89 -> 88 rows, 1 missing: {widget}")),
        "{text}"
    );
    assert!(text.contains(&format!("{user} (details)")), "{text}");
    // The diff shows the row before (from the snapshot's dump) and now.
    assert!(text.contains("Changed rows, before and now"), "{text}");
    assert!(text.contains("    +details: NULL"), "{text}");
    assert!(text.contains("    -details: {\""), "{text}");
    assert!(text.contains(" -- edited by hand"), "{text}");

    let markdown = run_with_url(
        &staging.tcp_url(),
        &["verify", "--baseline", path(&snap), "--format", "markdown"],
    );
    assert_eq!(markdown.status.code(), Some(1));
    assert!(stdout(&markdown).starts_with("# NOT verified"));
    let _ = server();
}

/// Snapshots the `from` fixture (after `prepare`), brings the database forward to `to` with the
/// test bed's upgrade simulation, and returns verify's JSON report and exit code.
fn verify_across_hop(from: &str, to: &str, prepare: &str, args: &[&str]) -> (Value, i32) {
    let db = fixture_db(from);
    if !prepare.is_empty() {
        db.execute(prepare);
    }
    let work = tempfile::tempdir().unwrap();
    let snap = snapshot(&db, work.path(), "before-hop");
    {
        let knowledge = KnowledgeBase::embedded().unwrap();
        let mut client = db.client();
        testbed::simulate_upgrade(
            &mut client,
            &knowledge,
            &Version::parse(from).unwrap(),
            &Version::parse(to).unwrap(),
        )
        .unwrap();
    }
    let mut arguments = vec![
        "verify",
        "--baseline",
        path(&snap),
        "--expect",
        to,
        "--format",
        "json",
    ];
    arguments.extend_from_slice(args);
    let verified = command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .env("FIXTURE_KEY", testbed::FIXTURE_SECRET_KEY)
        .args(&arguments)
        .output()
        .unwrap();
    (json(&verified), verified.status.code().unwrap())
}

fn changed_tables(report: &Value) -> Vec<String> {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|table| {
            table["user_work"] == true
                && (table["changed_count"] != 0
                    || table["missing_count"] != 0
                    || table["added_count"] != 0
                    || !table["problem"].is_null())
        })
        .map(|table| table["table"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_faithful_hop_verifies_through_its_declared_effects() {
    // 6.0.0 -> 7.0.0: legacy schedules become JSON (then empty ones NULL), data-source options
    // are encrypted; with the key the encrypted options are compared with the plain ones.
    let (report, code) =
        verify_across_hop("6.0.0", "7.0.0", "", &["--secret-key-env", "FIXTURE_KEY"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(changed_tables(&report), Vec::<String>::new());
    assert!(report["migrations_between"]
        .as_array()
        .unwrap()
        .contains(&Value::from("640888ce445d")));
    assert!(
        !report["not_compared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line.as_str().unwrap().starts_with("data_sources.options")),
        "{report:#}"
    );

    // Without the key the options cannot be compared, and verify says so.
    let (report, code) = verify_across_hop("6.0.0", "7.0.0", "", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(report["not_compared"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line
            .as_str()
            .unwrap()
            .starts_with("data_sources.options: encrypted")));

    // 10.1.0 -> 26.3.0: JSON text to jsonb, profile images into details, query hashes
    // recomputed, widget grid doubled, alert selectors added.
    let (report, code) = verify_across_hop("10.1.0", "26.3.0", "", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["release_now"],
        serde_json::json!(["25.8.0", "26.3.0"])
    );
    assert_eq!(report["expected_release"], "26.3.0");
    assert!(report["not_compared"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line
            .as_str()
            .unwrap()
            .starts_with("queries.query_hash: recomputed")));
}

#[test]
fn the_25_1_details_loss_is_reported_naming_the_users() {
    let (report, code) = verify_across_hop(
        "10.1.0",
        "25.1.0",
        "UPDATE users SET profile_image_url = NULL WHERE id IN (3, 7, 11)",
        &[],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(changed_tables(&report), vec!["users".to_owned()]);
    let users = verdict(&report, "users");
    assert_eq!(users["changed_count"], 3);
    let keys: Vec<&str> = users["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["3", "7", "11"]);
    assert_eq!(
        users["changed"][0]["columns"],
        serde_json::json!(["details"])
    );
    assert!(
        users["known_causes"][0].as_str().unwrap().starts_with(
            "fd4fc850d7ea: Users whose profile_image_url is NULL get details set to NULL"
        ),
        "{users:#}"
    );
}

#[test]
fn a_hop_that_loses_a_row_or_stops_short_is_not_verified() {
    let db = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let snap = snapshot(&db, work.path(), "before-hop");
    db.execute("DELETE FROM alert_subscriptions WHERE id = 2");
    let verified = run_with_url(
        &db.tcp_url(),
        &[
            "verify",
            "--baseline",
            path(&snap),
            "--expect",
            "25.1.0",
            "--format",
            "json",
        ],
    );
    let report = json(&verified);
    assert_eq!(verified.status.code(), Some(1));
    let alembic = report["alembic_problem"].as_str().unwrap();
    assert!(
        alembic.starts_with("alembic_version holds 89bc7873a3e0, but 25.1.0's head is "),
        "{alembic}"
    );
    assert_eq!(
        verdict(&report, "alert_subscriptions")["missing"],
        serde_json::json!(["2"])
    );
}

#[test]
fn a_directory_format_snapshot_with_jobs_restores_in_parallel_and_verifies() {
    let source = fixture_db("upgraded-10.1.0");
    // A fork's one-column table whose rows are empty strings: each one an empty COPY line.
    source.execute(
        "CREATE TABLE fork_notes (note text); INSERT INTO fork_notes VALUES (''), (''), ('x')",
    );
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("parallel");
    let taken = run_with_url(
        &source.tcp_url(),
        &[
            "snapshot",
            "--out",
            path(&snap),
            "--jobs",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(taken.status.code(), Some(0), "{}", stderr(&taken));
    let summary = json(&taken);
    assert_eq!(summary["dump"]["format"], "directory");
    assert!(snap.join("dump/toc.dat").is_file());
    let checked = command()
        .args(["snapshot", "verify", path(&snap)])
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(0), "{}", stdout(&checked));

    let staging = empty_db();
    let restored = run_with_url(
        &staging.tcp_url(),
        &[
            "restore",
            path(&snap),
            "--yes",
            "--jobs",
            "2",
            "--format",
            "json",
        ],
    );
    let report = json(&restored);
    assert_eq!(restored.status.code(), Some(0), "{report:#}");
    assert_eq!(report["restore_tested"], true);
    assert!(report["command"].as_str().unwrap().contains("--jobs=2"));

    // The same snapshot, taken with one job, holds the same content.
    let single = snapshot(&source, work.path(), "single");
    let manifest = |dir: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
    };
    let contents = |manifest: &Value| -> Vec<(String, u64, String)> {
        manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|table| {
                (
                    table["name"].as_str().unwrap().to_owned(),
                    table["rows"].as_u64().unwrap(),
                    table["content_sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(contents(&manifest(&snap)), contents(&manifest(&single)));
    assert!(contents(&manifest(&single))
        .iter()
        .any(|(table, rows, _)| table == "fork_notes" && *rows == 3));
}

#[test]
fn clean_replaces_what_the_target_held_and_says_so() {
    let source = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let snap = snapshot(&source, work.path(), "before");
    // A staging copy that has drifted since the last rehearsal.
    let staging = fixture_db("10.1.0");
    staging.execute("DELETE FROM widgets; CREATE TABLE leftover (id int)");
    let refused = run_with_url(&staging.tcp_url(), &["restore", path(&snap), "--yes"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("already holds Redash's tables (alembic at 89bc7873a3e0)"),
        "{}",
        stderr(&refused)
    );

    let restored = run_with_url(
        &staging.tcp_url(),
        &[
            "restore",
            path(&snap),
            "--yes",
            "--clean",
            "--format",
            "json",
        ],
    );
    let report = json(&restored);
    // pg_restore --clean drops what the dump holds; the table only staging had stays, and the
    // restore test says so.
    assert_eq!(restored.status.code(), Some(1), "{report:#}");
    assert!(report["target_before"]
        .as_str()
        .unwrap()
        .ends_with("dropped by --clean"));
    assert_eq!(
        report["comparison"]["schema_differences"],
        serde_json::json!(["extra table leftover"])
    );
    assert_eq!(
        verdict(&report["comparison"], "widgets")["missing_count"],
        0
    );

    staging.execute("DROP TABLE leftover");
    let verified = run_with_url(&staging.tcp_url(), &["verify", "--baseline", path(&snap)]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
}

#[test]
fn a_changed_credential_is_named_in_the_diff_but_never_shown() {
    // Before 7.0.0 data-source options hold passwords in plain JSON.
    let source = fixture_db("6.0.0");
    let work = tempfile::tempdir().unwrap();
    let snap = snapshot(&source, work.path(), "before");
    let id: i64 = source
        .client()
        .scalar("SELECT min(id)::bigint FROM data_sources")
        .unwrap();
    let old_options: String = source
        .client()
        .scalar(&format!("SELECT options FROM data_sources WHERE id = {id}"))
        .unwrap();
    source.execute(&format!(
        "UPDATE data_sources SET options = '{{\"password\": \"hunter2-planted\"}}' WHERE id = {id}"
    ));
    for format in ["text", "json", "markdown"] {
        let verified = run_with_url(
            &source.tcp_url(),
            &["verify", "--baseline", path(&snap), "--format", format],
        );
        assert_eq!(verified.status.code(), Some(1), "{format}");
        let out = stdout(&verified);
        assert!(!out.contains("hunter2-planted"), "{format}: {out}");
        assert!(!out.contains(&old_options), "{format}: {out}");
        if format == "text" {
            assert!(out.contains("-options: *** (hidden, before)"), "{out}");
            assert!(out.contains("+options: *** (hidden, now)"), "{out}");
        }
    }
}
