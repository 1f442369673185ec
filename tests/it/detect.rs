//! `detect` against real databases: every release fixture, upgraded variants, the fork, broken
//! stamps and connection failures.

use serde_json::Value;

use crate::pg::{empty_db, fixture_db, server, TestDb};
use crate::support::{run, stderr, stdout};

fn detect_json(url: &str) -> (i32, Value) {
    let output = run(&["detect", "--database-url", url, "--format", "json"]);
    let text = stdout(&output);
    let code = output.status.code().unwrap();
    assert!(code != 2, "detect failed: {}", stderr(&output));
    (
        code,
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}")),
    )
}

fn candidates(report: &Value) -> Vec<String> {
    report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap().to_owned())
        .collect()
}

fn drift_count(report: &Value) -> usize {
    report["drift"]
        .as_object()
        .unwrap()
        .values()
        .map(|list| list.as_array().unwrap().len())
        .sum()
}

#[test]
fn every_release_fixture_is_detected_without_drift() {
    let expected: [(&str, &[&str]); 9] = [
        ("4.0.2", &["4.0.0", "4.0.1", "4.0.2"]),
        ("5.0.2", &["5.0.0", "5.0.1", "5.0.2", "6.0.0"]),
        ("6.0.0", &["5.0.0", "5.0.1", "5.0.2", "6.0.0"]),
        ("7.0.0", &["7.0.0", "8.0.0", "9.0.0-beta"]),
        ("8.0.0", &["7.0.0", "8.0.0", "9.0.0-beta"]),
        ("10.1.0", &["10.0.0", "10.1.0"]),
        ("25.1.0", &["25.1.0"]),
        ("25.8.0", &["25.8.0", "26.3.0"]),
        ("26.3.0", &["25.8.0", "26.3.0"]),
    ];
    for (version, releases) in expected {
        let db = fixture_db(version);
        let (code, report) = detect_json(&db.tcp_url());
        assert_eq!(candidates(&report), releases, "{version}");
        assert_eq!(drift_count(&report), 0, "{version}: {}", report["drift"]);
        assert_eq!(report["alembic"]["state"], "ok", "{version}");
        assert_eq!(report["basis"], "stamp", "{version}");
        assert_eq!(report["variance"], Value::Array(vec![]), "{version}");
        assert_eq!(report["orgs"], 3, "{version}");
        assert_eq!(report["multi_org"], true, "{version}");
        assert_eq!(report["indistinguishable"], releases.len() > 1, "{version}");
        assert_eq!(code, 0, "{version}");
    }
}

#[test]
fn the_fork_reports_exactly_its_in_house_columns_and_table() {
    let db = fixture_db("fork");
    let (code, report) = detect_json(&db.tcp_url());
    assert_eq!(code, 1);
    assert_eq!(candidates(&report), ["4.0.0", "4.0.1", "4.0.2"]);
    let drift = &report["drift"];
    assert_eq!(
        drift["extra_tables"],
        serde_json::json!(["google_group_sync"])
    );
    assert_eq!(
        drift["extra_columns"],
        serde_json::json!([
            {"table": "queries", "column": "spreadsheet_export_url", "type": "character varying(2048)"},
            {"table": "queries", "column": "spreadsheet_export_enabled", "type": "boolean"}
        ])
    );
    assert_eq!(drift_count(&report), 3, "{drift}");
}

fn stamp(db: &TestDb, sql: &str) -> (i32, Value) {
    db.execute(sql);
    detect_json(&db.tcp_url())
}

#[test]
fn a_missing_stamp_is_reported_and_the_schema_decides() {
    let db = fixture_db("10.1.0");
    let (code, report) = stamp(&db, "DROP TABLE alembic_version");
    assert_eq!(code, 1);
    assert_eq!(report["alembic"]["state"], "missing");
    assert_eq!(report["basis"], "schema");
    assert_eq!(candidates(&report), ["10.0.0", "10.1.0"]);
    // The table itself is then missing from the schema.
    assert_eq!(
        report["drift"]["missing_tables"],
        serde_json::json!(["alembic_version"])
    );
}

#[test]
fn an_empty_stamp_is_reported() {
    let db = fixture_db("7.0.0");
    let (code, report) = stamp(&db, "DELETE FROM alembic_version");
    assert_eq!(code, 1);
    assert_eq!(report["alembic"]["state"], "empty");
    assert_eq!(candidates(&report), ["7.0.0", "8.0.0", "9.0.0-beta"]);
}

#[test]
fn two_stamp_rows_are_reported() {
    let db = fixture_db("5.0.2");
    let (code, report) = stamp(&db, "INSERT INTO alembic_version VALUES ('969126bd800f')");
    assert_eq!(code, 1);
    assert_eq!(report["alembic"]["state"], "multiple");
    assert_eq!(
        report["alembic"]["revisions"],
        serde_json::json!(["71477dadd6ef", "969126bd800f"])
    );
}

#[test]
fn an_unknown_revision_is_reported() {
    let db = fixture_db("8.0.0");
    let (code, report) = stamp(
        &db,
        "UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'",
    );
    assert_eq!(code, 1);
    assert_eq!(report["alembic"]["state"], "unknown");
    assert_eq!(report["basis"], "schema");
    assert_eq!(candidates(&report), ["7.0.0", "8.0.0", "9.0.0-beta"]);
}

#[test]
fn a_stamp_behind_the_schema_is_called_out() {
    // A 10.1 schema stamped with the 7.0 head: migrations ran but the stamp was rolled back.
    let db = fixture_db("10.1.0");
    let (code, report) = stamp(
        &db,
        "UPDATE alembic_version SET version_num = 'e5c7a4e2df4d'",
    );
    assert_eq!(code, 1);
    assert_eq!(report["basis"], "schema");
    assert_eq!(candidates(&report), ["10.0.0", "10.1.0"]);
    assert_eq!(report["stamp_disagreement"]["direction"], "ahead");
}

#[test]
fn a_stamp_ahead_of_the_schema_is_called_out() {
    // A 4.0 schema stamped with the 5.0 head: someone ran `stamp head` instead of `upgrade`.
    let db = fixture_db("4.0.2");
    let (code, report) = stamp(
        &db,
        "UPDATE alembic_version SET version_num = '71477dadd6ef'",
    );
    assert_eq!(code, 1);
    assert_eq!(candidates(&report), ["4.0.0", "4.0.1", "4.0.2"]);
    assert_eq!(report["stamp_disagreement"]["direction"], "behind");
    let text = stdout(&run(&["detect", "--database-url", &db.tcp_url()]));
    assert!(text.contains("The stamp and the schema disagree"), "{text}");
}

#[test]
fn a_revision_between_releases_is_named() {
    let db = fixture_db("6.0.0");
    let (code, report) = stamp(
        &db,
        "UPDATE alembic_version SET version_num = '640888ce445d'",
    );
    assert_eq!(code, 1);
    assert_eq!(report["alembic"]["state"], "ok");
    assert_eq!(report["alembic"]["shipped_in"], "7.0.0");
}

#[test]
fn connection_failures_exit_2_without_the_password() {
    let server = server();
    let password = server.password().to_owned();
    let wrong_port = format!("postgresql://postgres:{password}@127.0.0.1:1/postgres");
    let wrong_password = format!(
        "postgresql://postgres:not-{password}@127.0.0.1:{}/postgres",
        server.port()
    );
    for url in [wrong_port, wrong_password] {
        let output = run(&["detect", "--database-url", &url]);
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(stdout(&output).is_empty());
        let message = stderr(&output);
        assert!(
            message.starts_with("error: could not connect to postgresql://postgres:***@127.0.0.1:"),
            "{message}"
        );
        assert!(!message.contains(&password), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

#[test]
fn a_database_that_is_not_redash_exits_2() {
    let db = empty_db();
    db.execute("CREATE TABLE invoices (id serial PRIMARY KEY, total numeric)");
    let output = run(&["detect", "--database-url", &db.tcp_url()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("is not a Redash metadata database"),
        "{message}"
    );
    assert!(!message.contains(server().password()), "{message}");
}

#[test]
fn the_url_can_come_from_the_environment_and_is_never_echoed() {
    let db = fixture_db("25.1.0");
    let output = crate::support::command()
        .args(["detect"])
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Release:   25.1.0"), "{text}");
    assert!(!text.contains(server().password()), "{text}");
    assert!(text.contains(":***@"), "{text}");
}

#[test]
fn detect_works_for_a_select_only_role_on_a_read_only_database() {
    // A database whose default is read-only and a role that may only SELECT: detect still works.
    let db = fixture_db("26.3.0");
    db.execute(&format!(
        "DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader; \
         ALTER DATABASE {} SET default_transaction_read_only = on",
        db.name
    ));
    let url = format!(
        "postgresql://reader:reader-pw@127.0.0.1:{}/{}",
        server().port(),
        db.name
    );
    let (code, report) = detect_json(&url);
    assert_eq!(code, 0);
    assert_eq!(candidates(&report), ["25.8.0", "26.3.0"]);
    let text = stdout(&run(&["detect", "--database-url", &url]));
    assert!(!text.contains("reader-pw"));
}

fn variance_columns(report: &Value) -> Vec<String> {
    let mut columns: Vec<String> = report["variance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            format!(
                "{}.{}",
                entry["table"].as_str().unwrap(),
                entry["column"].as_str().unwrap()
            )
        })
        .collect();
    columns.sort();
    columns
}

#[test]
fn databases_upgraded_from_4_0_2_are_upstream_variance_not_drift() {
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "upgraded-7.0.0",
            &["7.0.0", "8.0.0", "9.0.0-beta"],
            &["users.email"],
        ),
        ("upgraded-10.1.0", &["10.0.0", "10.1.0"], &["users.email"]),
        (
            "upgraded-25.1.0",
            &["25.1.0"],
            &[
                "dashboards.options",
                "organizations.settings",
                "queries.options",
                "query_results.data",
                "users.details",
                "users.email",
                "visualizations.options",
            ],
        ),
        (
            "upgraded-26.3.0",
            &["25.8.0", "26.3.0"],
            &[
                "dashboards.options",
                "organizations.settings",
                "queries.options",
                "query_results.data",
                "users.details",
                "users.email",
                "visualizations.options",
            ],
        ),
    ];
    for (fixture, releases, variance) in cases {
        let db = fixture_db(fixture);
        let (code, report) = detect_json(&db.tcp_url());
        assert_eq!(candidates(&report), releases, "{fixture}");
        assert_eq!(drift_count(&report), 0, "{fixture}: {}", report["drift"]);
        assert_eq!(variance_columns(&report), variance, "{fixture}");
        assert_eq!(code, 0, "{fixture}");
    }
    let db = fixture_db("upgraded-26.3.0");
    let text = stdout(&run(&["detect", "--database-url", &db.tcp_url()]));
    assert!(text.contains("Upstream variance, not drift"), "{text}");
}

#[test]
fn a_real_change_next_to_a_known_variant_is_still_drift() {
    let db = fixture_db("upgraded-10.1.0");
    db.execute("ALTER TABLE users ALTER COLUMN email TYPE character varying(400)");
    let (code, report) = detect_json(&db.tcp_url());
    assert_eq!(code, 1);
    assert_eq!(
        report["drift"]["changed_columns"][0]["found"]["type"],
        "character varying(400)"
    );
}

#[test]
fn the_session_is_named_read_only_repeatable_read_and_bounded() {
    use redash_upgrade::db::{DatabaseUrl, ReadOnlySession, Timeouts};
    use sqlx::Row as _;
    let db = fixture_db("10.1.0");
    let url: DatabaseUrl = db.tcp_url().parse().unwrap();
    let timeouts = Timeouts {
        statement: std::time::Duration::from_millis(1500),
        lock: std::time::Duration::from_millis(250),
        ..Timeouts::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (settings, write, after) = runtime.block_on(async {
        let mut session = ReadOnlySession::open(&url, timeouts).await.unwrap();
        let row = session
            .fetch_one(
                "read the settings",
                sqlx::query(
                    "SELECT current_setting('application_name'), current_setting('transaction_read_only'), \
                            current_setting('transaction_isolation'), current_setting('statement_timeout'), \
                            current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')",
                ),
            )
            .await
            .unwrap();
        let settings: Vec<String> = (0..6).map(|index| row.get::<String, _>(index)).collect();
        let write = session
            .fetch_all("delete", sqlx::query("DELETE FROM events RETURNING id"))
            .await
            .map(|rows| rows.len());
        // The failed statement rolled back to its savepoint: the transaction still reads.
        let after = session
            .fetch_one("count", sqlx::query("SELECT count(*) FROM events"))
            .await
            .map(|row| row.get::<i64, _>(0));
        session.close().await;
        (settings, write, after)
    });
    assert_eq!(
        settings,
        [
            "redash-upgrade",
            "on",
            "repeatable read",
            "1500ms",
            "250ms",
            "3s"
        ]
    );
    let message = write.unwrap_err().to_string();
    assert!(message.contains("read-only transaction"), "{message}");
    assert!(after.unwrap() > 0);
}

#[test]
fn a_baseline_accepts_known_drift_without_hiding_new_drift() {
    let db = fixture_db("fork");
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("fork-baseline.json");
    let baseline = baseline.to_str().unwrap();
    let (code, report) = detect_json(&db.tcp_url());
    assert_eq!(code, 1, "the fork's own objects are drift");
    let written = crate::support::command()
        .args([
            "detect",
            "--database-url",
            &db.tcp_url(),
            "--format",
            "json",
        ])
        .args(["--write-baseline", baseline])
        .output()
        .unwrap();
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert!(stderr(&written).starts_with(&format!("wrote {baseline} accepting ")));
    let accepted: Value = serde_json::from_slice(&written.stdout).unwrap();
    assert_eq!(
        accepted["drift"], report["accepted_drift"],
        "nothing left over"
    );
    assert_eq!(
        accepted["accepted_drift"]["extra_tables"],
        serde_json::json!(["google_group_sync"])
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(baseline).unwrap()).unwrap();
    assert_eq!(file["type"], "drift-baseline");
    assert!(!file["database"]
        .as_str()
        .unwrap()
        .contains(server().password()));

    let with = |db: &TestDb| {
        let output = crate::support::command()
            .args([
                "detect",
                "--database-url",
                &db.tcp_url(),
                "--format",
                "json",
            ])
            .args(["--baseline", baseline])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code(), report)
    };
    let (code, _) = with(&db);
    assert_eq!(code, Some(0), "accepted drift is not drift");
    db.execute("ALTER TABLE dashboards ADD COLUMN pinned boolean");
    let (code, report) = with(&db);
    assert_eq!(code, Some(1), "new drift still is");
    assert_eq!(report["drift"]["extra_columns"][0]["column"], "pinned");

    let again = crate::support::command()
        .args(["detect", "--database-url", &db.tcp_url()])
        .args(["--write-baseline", baseline])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        stderr(&again),
        format!("error: {baseline}: already exists; remove it or write the baseline elsewhere\n")
    );
    assert!(again.stdout.is_empty());
}

#[test]
fn a_schema_several_releases_share_is_named_by_all_of_them() {
    let db = fixture_db("8.0.0");
    let output = run(&["detect", "--database-url", &db.tcp_url()]);
    let text = stdout(&output);
    assert!(
        text.contains("Schema:    matches the schema 7.0.0, 8.0.0 and 9.0.0-beta share (no drift)"),
        "{text}"
    );
    assert!(!text.contains("matches 9.0.0-beta"), "{text}");
    let (_, report) = detect_json(&db.tcp_url());
    assert_eq!(
        report["compared_schema_of"],
        serde_json::json!(["7.0.0", "8.0.0", "9.0.0-beta"])
    );
}
