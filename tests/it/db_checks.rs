//! `check --database-url`: every database check fires on a fixture with planted rows, naming
//! exactly those rows, and stays quiet on the clean fixture; the checks only read, and give up
//! on a lock instead of hanging.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg::{fixture_db, server, TestDb};
use crate::support::{repo_root, stderr, stdout};

/// The database checks and the test below that makes each fire.
pub const COVERED: [&str; 13] = [
    "alembic-stamp-problem",
    "schema-drift",
    "postgres-version-too-old",
    "migration-privileges-missing",
    "legacy-schedule-unconvertible",
    "json-invalid-for-jsonb",
    "user-details-will-be-lost",
    "profile-image-url-breaks-migration",
    "widget-position-not-integer",
    "query-runner-not-registered",
    "queue-of-data-source-not-consumed",
    "secret-key-cannot-decrypt",
    "table-rewrite-size",
];

/// From the 10.1.0 fixtures to the newest release.
const FROM_10_1: [&str; 4] = ["--from", "10.1", "--to", "latest"];

fn check(url: &str, args: &[&str]) -> (i32, Value) {
    let compose = repo_root().join("tests/fixtures/compose/v10.yml");
    let output = crate::support::command()
        .args(["check", "--database-url", url, "--format", "json"])
        .args([
            "--compose",
            compose.to_str().unwrap(),
            "--host-memory",
            "16GiB",
        ])
        .args(args)
        .env("FIXTURE_KEY", redash_upgrade::testbed::FIXTURE_SECRET_KEY)
        .env("OTHER_KEY", "a-key-nobody-used")
        .env_remove("CI")
        .output()
        .unwrap();
    let code = output.status.code().unwrap();
    assert_ne!(code, 2, "check failed: {}", stderr(&output));
    (code, serde_json::from_str(&stdout(&output)).unwrap())
}

/// The messages of the findings with `code`.
fn messages(report: &Value, code: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == code)
        .map(|finding| finding["message"].as_str().unwrap().to_owned())
        .collect()
}

fn fires(db: &TestDb, args: &[&str], code: &str) -> Vec<String> {
    let (_, report) = check(&db.tcp_url(), args);
    let found = messages(&report, code);
    assert!(!found.is_empty(), "{code} did not fire: {report}");
    found
}

fn quiet(version: &str, args: &[&str], code: &str) {
    let db = fixture_db(version);
    let (_, report) = check(&db.tcp_url(), args);
    assert_eq!(
        messages(&report, code),
        Vec::<String>::new(),
        "{code} on the clean {version} fixture"
    );
}

#[test]
fn a_broken_stamp_is_a_finding() {
    let db = fixture_db("10.1.0");
    db.execute("DELETE FROM alembic_version");
    let found = fires(&db, &FROM_10_1, "alembic-stamp-problem");
    assert_eq!(found, ["alembic_version is empty"]);
    quiet("10.1.0", &FROM_10_1, "alembic-stamp-problem");
}

#[test]
fn drift_on_a_migrated_table_is_a_finding() {
    let db = fixture_db("10.1.0");
    db.execute("ALTER TABLE events ADD COLUMN tenant text NOT NULL DEFAULT 'acme'");
    let found = fires(&db, &FROM_10_1, "schema-drift");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("in-house column events.tenant (text)"),
        "{found:?}"
    );
    quiet("10.1.0", &FROM_10_1, "schema-drift");
}

#[test]
fn the_test_server_is_new_enough() {
    // The test server cannot be made older; the comparison itself is unit-tested both ways.
    quiet(
        "25.8.0",
        &["--from", "25.8", "--to", "latest"],
        "postgres-version-too-old",
    );
    quiet(
        "4.0.2",
        &["--from", "4", "--to", "latest"],
        "postgres-version-too-old",
    );
}

#[test]
fn legacy_schedules_that_cannot_convert_are_named() {
    let db = fixture_db("6.0.0");
    db.execute("UPDATE queries SET schedule = 'weekly' WHERE id IN (5, 9)");
    let found = fires(
        &db,
        &["--from", "6", "--to", "7"],
        "legacy-schedule-unconvertible",
    );
    assert_eq!(
        found,
        ["queries with a schedule that is neither seconds nor HH:MM: ids 5, 9 (2 in all)"]
    );
    quiet(
        "6.0.0",
        &["--from", "6", "--to", "7"],
        "legacy-schedule-unconvertible",
    );
}

#[test]
fn text_that_jsonb_refuses_is_named_per_column() {
    let db = fixture_db("10.1.0");
    db.execute(
        "UPDATE events SET additional_properties = '{\"ua\": \"a\\u0000b\"}' WHERE id = 7; \
         UPDATE visualizations SET options = '' WHERE id = 3; \
         UPDATE queries SET options = '{\"parameters\": [}' WHERE id = 11; \
         UPDATE changes SET change = '{\"q\": \"\\ud800\"}' WHERE id = 2;",
    );
    let mut found = fires(&db, &FROM_10_1, "json-invalid-for-jsonb");
    found.sort();
    assert_eq!(
        found,
        [
            "changes.change (text) holds values jsonb refuses (an unpaired surrogate escape): id 2",
            "events.additional_properties (text) holds values jsonb refuses (\\u0000, which jsonb cannot store): id 7",
            "queries.options (text) holds values jsonb refuses (not JSON): id 11",
            "visualizations.options (text) holds values jsonb refuses (empty text): id 3",
        ]
    );
    quiet("10.1.0", &FROM_10_1, "json-invalid-for-jsonb");
}

#[test]
fn the_jsonb_rules_agree_with_postgresql() {
    let db = fixture_db("25.8.0");
    let mut client = db.client();
    let corpus = [
        "{}",
        "[]",
        "",
        " ",
        "{\"a\":1}",
        "{'a':1}",
        "[1,]",
        "01",
        "-0",
        "1e400",
        "1.",
        ".5",
        "NaN",
        "true",
        "tru",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud83d\\ude00\"",
        "\"\\x\"",
        "\"a\tb\"",
        "{\"a\":1}x",
        "null",
        " [ 1 , { \"b\" : null } ] ",
        "\"\\u00e9\"",
        "1e",
        "--1",
        "{\"a\" 1}",
        "[\"\\/\"]",
        "9999999999999999999999999999999999999999",
    ];
    for text in corpus {
        let postgres_accepts = client
            .fetch_one(sqlx::query("SELECT $1::text::jsonb IS NOT NULL").bind(text))
            .is_ok();
        let ours = redash_upgrade::checks::db::jsonb_accepts(text.as_bytes());
        assert_eq!(
            ours, postgres_accepts,
            "{text:?}: PostgreSQL says {postgres_accepts}"
        );
    }
}

#[test]
fn users_whose_details_the_25_1_hop_drops_are_named() {
    let db = fixture_db("10.1.0");
    db.execute("UPDATE users SET profile_image_url = NULL WHERE id IN (4, 12)");
    let found = fires(&db, &FROM_10_1, "user-details-will-be-lost");
    assert_eq!(
        found,
        ["users without profile_image_url lose their details in 25.8.0: ids 4, 12 (2 in all)"]
    );
    quiet("10.1.0", &FROM_10_1, "user-details-will-be-lost");
}

#[test]
fn profile_urls_that_break_the_migration_are_named() {
    let db = fixture_db("10.1.0");
    db.execute(
        "UPDATE users SET profile_image_url = 'https://img.example.com/a\"b.png' WHERE id = 8",
    );
    let found = fires(&db, &FROM_10_1, "profile-image-url-breaks-migration");
    assert_eq!(found, ["profile_image_url with a quote or backslash: id 8"]);
    quiet("10.1.0", &FROM_10_1, "profile-image-url-breaks-migration");
}

#[test]
fn widgets_the_12_column_step_cannot_resize_are_named() {
    let db = fixture_db("25.1.0");
    db.execute(
        "UPDATE widgets SET options = jsonb_set(options, '{position,col}', '1.5') WHERE id = 10; \
         UPDATE widgets SET options = options #- '{position,sizeX}' WHERE id = 20;",
    );
    let found = fires(&db, &["--to", "latest"], "widget-position-not-integer");
    assert_eq!(
        found,
        ["widgets without integer position.col and sizeX: ids 10, 20 (2 in all)"]
    );
    quiet("25.1.0", &["--to", "latest"], "widget-position-not-integer");
}

#[test]
fn data_sources_on_a_queue_no_worker_reads_are_named() {
    let db = fixture_db("10.1.0");
    db.execute("UPDATE data_sources SET queue_name = 'bigquery_adhoc' WHERE id IN (3, 8)");
    let found = fires(&db, &FROM_10_1, "queue-of-data-source-not-consumed");
    assert_eq!(
        found[0],
        "no worker consumes queue bigquery_adhoc on 25.8.0, which data sources use: ids 3, 8 (2 in all)"
    );
    quiet("10.1.0", &FROM_10_1, "queue-of-data-source-not-consumed");
}

#[test]
fn credentials_the_secret_cannot_decrypt_are_named() {
    let db = fixture_db("10.1.0");
    let token = redash_upgrade::fernet::FernetKey::from_secret("the-old-cookie-secret")
        .encrypt_with(br#"{"host": "db"}"#, 1_600_000_000, [9; 16]);
    db.client()
        .fetch_all(
            sqlx::query("UPDATE data_sources SET encrypted_options = $1 WHERE id = 2")
                .bind(token.into_bytes()),
        )
        .unwrap();
    let args = [
        "--from",
        "10.1",
        "--to",
        "latest",
        "--secret-key-env",
        "FIXTURE_KEY",
    ];
    let found = fires(&db, &args, "secret-key-cannot-decrypt");
    assert_eq!(
        found,
        ["data_sources rows the given secret cannot decrypt: id 2"]
    );
    quiet("10.1.0", &args, "secret-key-cannot-decrypt");
    let wrong = fixture_db("10.1.0");
    let found = fires(
        &wrong,
        &[
            "--from",
            "10.1",
            "--to",
            "latest",
            "--secret-key-env",
            "OTHER_KEY",
        ],
        "secret-key-cannot-decrypt",
    );
    assert_eq!(found.len(), 2, "both tables: {found:?}");
}

#[test]
fn rewrite_sizes_are_reported_for_hops_that_rewrite() {
    let db = fixture_db("10.1.0");
    let found = fires(&db, &FROM_10_1, "table-rewrite-size");
    assert!(found[0].contains("events ~900 rows"), "{found:?}");
    quiet(
        "25.8.0",
        &["--from", "25.8", "--to", "latest"],
        "table-rewrite-size",
    );
}

#[test]
fn a_select_only_role_on_a_read_only_database_writes_nothing() {
    let db = fixture_db("10.1.0");
    db.execute(&format!(
        "DROP ROLE IF EXISTS auditor; CREATE ROLE auditor LOGIN PASSWORD 'auditor-pw'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor; \
         ALTER DATABASE {} SET default_transaction_read_only = on",
        db.name
    ));
    let fingerprint = |db: &TestDb| -> String {
        db.client()
            .scalar(
                "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM ( \
                   SELECT 'q' || q::text AS t FROM queries q UNION ALL \
                   SELECT 'e' || e::text FROM events e UNION ALL \
                   SELECT 'u' || u::text FROM users u UNION ALL \
                   SELECT 'd' || d::text FROM data_sources d UNION ALL \
                   SELECT 'a' || a::text FROM alembic_version a) AS everything",
            )
            .unwrap()
    };
    let before = fingerprint(&db);
    let url = format!(
        "postgresql://auditor:auditor-pw@127.0.0.1:{}/{}",
        server().port(),
        db.name
    );
    let (_, report) = check(
        &url,
        &[
            "--from",
            "10.1",
            "--to",
            "latest",
            "--secret-key-env",
            "FIXTURE_KEY",
        ],
    );
    assert_eq!(fingerprint(&db), before);
    // Every check ran; the only finding the role itself causes is the privileges one.
    assert_eq!(
        messages(&report, "check-could-not-run"),
        Vec::<String>::new()
    );
    let privileges = messages(&report, "migration-privileges-missing");
    assert!(
        privileges
            .iter()
            .any(|message| message.starts_with("role auditor does not own")),
        "{privileges:?}"
    );
    quiet("10.1.0", &FROM_10_1, "migration-privileges-missing");
}

#[test]
fn a_locked_row_does_not_hold_up_the_checks() {
    let db = fixture_db("10.1.0");
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; SELECT * FROM events WHERE id = 7 FOR UPDATE; SELECT * FROM queries WHERE id = 3 FOR UPDATE")
        .unwrap();
    let started = Instant::now();
    let (_, report) = check(
        &db.tcp_url(),
        &[
            "--from",
            "10.1",
            "--to",
            "latest",
            "--lock-timeout",
            "300ms",
        ],
    );
    let took = started.elapsed();
    holder.batch_execute("ROLLBACK").unwrap();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(
        messages(&report, "check-could-not-run"),
        Vec::<String>::new()
    );
    assert!(
        !messages(&report, "table-rewrite-size").is_empty(),
        "{report}"
    );
}

#[test]
fn a_locked_table_makes_the_run_give_up_cleanly_not_hang() {
    // A migration in progress holds ACCESS EXCLUSIVE locks; reading the catalog of a locked
    // table waits for it, so the run stops at the lock timeout with the reason and no report.
    let db = fixture_db("10.1.0");
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let output = crate::support::command()
        .args([
            "check",
            "--database-url",
            &db.tcp_url(),
            "--from",
            "10.1",
            "--lock-timeout",
            "300ms",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    holder.batch_execute("ROLLBACK").unwrap();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert!(message.contains("lock timeout"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn quick_mode_samples_big_tables_and_says_so() {
    let db = fixture_db("10.1.0");
    db.execute(
        "INSERT INTO events (org_id, user_id, action, object_type, object_id, additional_properties, created_at) \
         SELECT 1, 1, 'view', 'query', (g % 100)::text, '{\"ip\": \"10.0.0.1\"}', now() \
         FROM generate_series(1, 150000) AS g; ANALYZE events;",
    );
    let args = ["--from", "10.1", "--to", "latest"];
    let (_, full) = check(&db.tcp_url(), &args);
    assert_eq!(
        messages(&full, "json-invalid-for-jsonb"),
        Vec::<String>::new()
    );
    let (_, quick) = check(&db.tcp_url(), &[&args[..], &["--quick"]].concat());
    let sampled = messages(&quick, "json-invalid-for-jsonb");
    assert_eq!(sampled.len(), 1, "{sampled:?}");
    assert!(
        sampled[0].starts_with("events.additional_properties: checked a sample of"),
        "{sampled:?}"
    );
}

#[test]
fn every_release_fixture_has_no_database_error() {
    let cases = [
        ("4.0.2", "4"),
        ("5.0.2", "5"),
        ("6.0.0", "6"),
        ("7.0.0", "7"),
        ("8.0.0", "8"),
        ("10.1.0", "10.1"),
        ("25.1.0", "25.1"),
        ("25.8.0", "25.8"),
    ];
    for (version, from) in cases {
        let db = fixture_db(version);
        let (_, report) = check(
            &db.tcp_url(),
            &[
                "--from",
                from,
                "--to",
                "latest",
                "--secret-key-env",
                "FIXTURE_KEY",
            ],
        );
        let errors: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| {
                finding["severity"] == "error"
                    && COVERED.contains(&finding["code"].as_str().unwrap())
            })
            .collect();
        assert!(errors.is_empty(), "{version}: {errors:?}");
    }
}

#[test]
fn queries_on_runners_the_target_does_not_enable_are_named() {
    let db = fixture_db("10.1.0");
    // Data source 5 of the first org is Python, which no release enables by default.
    db.execute("UPDATE queries SET data_source_id = 5 WHERE id IN (2, 4)");
    let args = ["--from", "10.1", "--to", "latest"];
    let found = fires(&db, &args, "query-runner-not-registered");
    assert_eq!(
        found,
        ["queries on python data sources, a type no enabled runner of 25.8.0 registers: ids 2, 4 (2 in all)"]
    );
    quiet("10.1.0", &args, "query-runner-not-registered");
    // Enabled for the migration: quiet.
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("runners.env");
    std::fs::write(
        &env,
        "REDASH_ADDITIONAL_QUERY_RUNNERS=redash.query_runner.python\n",
    )
    .unwrap();
    let (_, report) = check(
        &db.tcp_url(),
        &[&args[..], &["--env-file", env.to_str().unwrap()]].concat(),
    );
    assert_eq!(
        messages(&report, "query-runner-not-registered"),
        Vec::<String>::new()
    );
}

#[test]
fn elasticsearch_queries_are_named_on_a_hop_to_25_1_only() {
    let db = fixture_db("10.1.0");
    // Data source 4 of the first org is Elasticsearch.
    db.execute("UPDATE queries SET data_source_id = 4 WHERE id = 6");
    let found = fires(
        &db,
        &["--from", "10.1", "--to", "25.1"],
        "query-runner-not-registered",
    );
    assert_eq!(
        found,
        ["queries on elasticsearch data sources crash 25.1.0's re-hash migration: id 6"]
    );
    let (_, report) = check(&db.tcp_url(), &["--from", "10.1", "--to", "25.8"]);
    assert_eq!(
        messages(&report, "query-runner-not-registered"),
        Vec::<String>::new()
    );
}

#[test]
fn from_is_required_when_the_database_cannot_tell_and_must_agree_with_it() {
    let db = fixture_db("7.0.0");
    let run = |args: &[&str]| {
        crate::support::command()
            .args(["check", "--database-url", &db.tcp_url()])
            .args(args)
            .output()
            .unwrap()
    };
    let missing = run(&["--to", "10"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "error: give --from: the database is at 7.0.0, 8.0.0 or 9.0.0-beta, which it cannot tell apart\n"
    );
    let wrong = run(&["--from", "10.1", "--to", "latest"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).starts_with(
        "error: --from 10.1 is 10.1.0, but the database is at 7.0.0, 8.0.0 or 9.0.0-beta"
    ));
    let fine = run(&["--from", "8", "--to", "10"]);
    assert_ne!(fine.status.code(), Some(2), "{}", stderr(&fine));
}

#[test]
fn no_secret_reaches_any_output() {
    let db = fixture_db("10.1.0");
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("prod.env");
    std::fs::write(
        &env,
        "REDASH_COOKIE_SECRET=cookie-value-that-must-not-leak\nREDASH_SECRET_KEY=key-value-that-must-not-leak\nREDASH_MAIL_PASSWORD=mail-value-that-must-not-leak\n",
    )
    .unwrap();
    for format in ["text", "json", "markdown"] {
        let output = crate::support::command()
            .args([
                "check",
                "--database-url",
                &db.tcp_url(),
                "--from",
                "10.1",
                "--format",
                format,
            ])
            .args(["--env-file", env.to_str().unwrap()])
            .output()
            .unwrap();
        let everything = format!("{}{}", stdout(&output), stderr(&output));
        for secret in [
            "cookie-value-that-must-not-leak",
            "key-value-that-must-not-leak",
            "mail-value-that-must-not-leak",
            server().password(),
        ] {
            assert!(!everything.contains(secret), "{format} leaks {secret}");
        }
        // The secret from the env file was used: the fixture's rows do not decrypt with it.
        assert!(everything.contains("secret-key-cannot-decrypt"), "{format}");
    }
}
