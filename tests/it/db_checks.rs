//! `check --database-url`: every database check fires on a fixture with planted rows, naming
//! exactly those rows, and stays quiet on the clean fixture; the checks only read, and give up
//! on a lock instead of hanging.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg::{fixture_db, server, TestDb};
use crate::support::{repo_root, stderr, stdout};

/// The database checks and the test below that makes each fire.
pub const COVERED: [&str; 23] = [
    "query-text-breaks-rehash",
    "schedule-unreadable",
    "python-queries-need-review",
    "query-options-break-rehash",
    "column-has-dependent-view",
    "converted-column-has-default",
    "database-encoding-not-utf8",
    "row-unloadable-after-25-1",
    "alembic-stamp-problem",
    "alert-options-not-object",
    "options-not-json",
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

/// A database check, the rows planted in a fixture to make it fire, and exactly what it must
/// say about them; on the same fixture without the planted rows it must say nothing.
struct Planted {
    code: &'static str,
    fixture: &'static str,
    args: &'static [&'static str],
    plant: String,
    /// The messages, sorted.
    expected: &'static [&'static str],
}

fn planted_cases() -> Vec<Planted> {
    let old_secret_token = redash_upgrade::fernet::FernetKey::from_secret("the-old-cookie-secret")
        .encrypt_with(br#"{"host": "db"}"#, 1_600_000_000, [9; 16]);
    vec![
        Planted {
            code: "alembic-stamp-problem",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "DELETE FROM alembic_version".into(),
            expected: &["alembic_version is empty"],
        },
        Planted {
            code: "schema-drift",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "ALTER TABLE events ADD COLUMN tenant text NOT NULL DEFAULT 'acme'".into(),
            expected: &["in-house column events.tenant (text) on a table 25.8.0 migrates (7205816877ec): the migration alters events and keeps the column, which upstream code then ignores"],
        },
        Planted {
            code: "schema-drift",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "ALTER TABLE widgets ALTER COLUMN options TYPE character varying(4000)".into(),
            expected: &["widgets.options is character varying(4000) NOT NULL where text NOT NULL is expected, and 25.8.0 migrates widgets (7205816877ec, db0aca1ebd32), written for upstream's schema"],
        },
        Planted {
            code: "legacy-schedule-unconvertible",
            fixture: "6.0.0",
            args: &["--from", "6", "--to", "7"],
            // ' 3600' and '9:5' convert and run; 'weekly' and '25:00' stop every schedule.
            plant: "UPDATE queries SET schedule = 'weekly' WHERE id = 5; \
                    UPDATE queries SET schedule = '25:00' WHERE id = 9; \
                    UPDATE queries SET schedule = ' 3600' WHERE id = 11; \
                    UPDATE queries SET schedule = '9:5' WHERE id = 12"
                .into(),
            expected: &[
                "queries with a schedule that is neither whole seconds nor a valid HH:MM (with 7.0.0 and 8.0.0 no scheduled query runs at all while one is left): ids 5, 9 (2 in all)",
            ],
        },
        Planted {
            code: "json-invalid-for-jsonb",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE events SET additional_properties = '{\"ua\": \"a\\u0000b\"}' WHERE id = 7; \
                    UPDATE visualizations SET options = '' WHERE id = 3; \
                    UPDATE queries SET options = '{\"parameters\": [}' WHERE id = 11; \
                    UPDATE changes SET change = '{\"q\": \"\\ud800\"}' WHERE id = 2;"
                .into(),
            expected: &[
                "changes.change (text) holds values jsonb refuses (an unpaired surrogate escape): id 2",
                "events.additional_properties (text) holds values jsonb refuses (\\u0000, which jsonb cannot store): id 7",
                "queries.options (text) holds values jsonb refuses (not JSON): id 11",
                "visualizations.options (text) holds values jsonb refuses (empty text): id 3",
            ],
        },
        Planted {
            code: "python-queries-need-review",
            fixture: "8.0.0",
            args: &["--from", "8", "--to", "10"],
            plant: "UPDATE data_sources SET type = 'python' WHERE id = 3; \
                    UPDATE queries SET data_source_id = 2 WHERE data_source_id = 3; \
                    UPDATE queries SET data_source_id = 3 WHERE id IN (4, 6)"
                .into(),
            expected: &["saved queries on Python data sources run under Python 3.7 on 10.1.0 (Python 2.7 before): ids 4, 6 (2 in all)"],
        },
        Planted {
            code: "schedule-unreadable",
            fixture: "7.0.0",
            args: &["--from", "7", "--to", "8"],
            plant: "UPDATE queries SET schedule = '{\"interval\": \"1d\", \"time\": null, \"day_of_week\": null, \"until\": null}' WHERE id = 3; \
                    UPDATE queries SET schedule = '{\"interval\": 86400, \"time\": \"25:00\", \"day_of_week\": null, \"until\": null}' WHERE id = 8; \
                    UPDATE queries SET schedule = '{\"interval\": \"3600\", \"time\": null, \"day_of_week\": null, \"until\": null}' WHERE id = 9"
                .into(),
            expected: &["schedules whose interval is not a whole number or whose time is not a valid HH:MM (on 8.0.0 no scheduled query runs at all while one is left): ids 3, 8 (2 in all)"],
        },
        Planted {
            code: "schedule-unreadable",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE queries SET schedule = '{\"interval\": \"1d\", \"time\": null, \"day_of_week\": null, \"until\": null}' WHERE id = 3"
                .into(),
            expected: &[
                "schedules whose interval is not a whole number or whose time is not a valid HH:MM (25.8.0 disables their schedules silently, and sorting the queries list by schedule fails): id 3",
                "schedules whose interval is not a whole number or whose time is not a valid HH:MM (26.3.0 disables their schedules silently, and sorting the queries list by schedule fails): id 3",
            ],
        },
        Planted {
            // Only 25.1.0 crashes on an empty statement; every 25.x on a bare SELECT for SQL Server.
            code: "query-text-breaks-rehash",
            fixture: "10.1.0",
            args: &["--from", "10.1", "--to", "25.1.0"],
            plant: "UPDATE data_sources SET type = 'pg' WHERE id = 2; UPDATE data_sources SET type = 'mssql' WHERE id = 3; \
                    UPDATE queries SET data_source_id = 2, query = E'-- TODO: write the query\n;', options = '{\"apply_auto_limit\": true}' WHERE id = 30; \
                    UPDATE queries SET data_source_id = 2, query = '', options = '{\"apply_auto_limit\": false}' WHERE id = 31; \
                    UPDATE queries SET data_source_id = 3, query = E'select 1;\nSELECT -- todo', options = '{\"apply_auto_limit\": true}' WHERE id = 32"
                .into(),
            expected: &[
                "SQL Server queries with auto-limit on whose last statement is a bare SELECT abort 25.1.0's re-hash migration: id 32",
                "SQL queries with auto-limit on and no statement (empty, comments or semicolons only) abort 25.1.0's re-hash migration: id 30",
            ],
        },
        Planted {
            code: "query-options-break-rehash",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE queries SET options = '{\"parameters\": null}' WHERE id = 21; \
                    UPDATE queries SET options = '{\"parameters\": [{\"title\": \"Start\", \"value\": \"2024-01-01\"}]}' WHERE id = 22"
                .into(),
            expected: &["queries whose options 25.8.0's re-hash migration cannot read (not an object, or parameters that are not named objects): ids 21, 22 (2 in all)"],
        },
        Planted {
            code: "user-details-will-be-lost",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE users SET profile_image_url = NULL WHERE id IN (4, 12)".into(),
            expected: &[
                "users without profile_image_url lose their details in 25.8.0: ids 4, 12 (2 in all)",
            ],
        },
        Planted {
            code: "profile-image-url-breaks-migration",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE users SET profile_image_url = 'https://img.example.com/a\"b.png' WHERE id = 8"
                .into(),
            expected: &["profile_image_url with a quote, backslash or control character: id 8"],
        },
        Planted {
            code: "query-options-break-rehash",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE queries SET options = '{\"parameters\": null}' WHERE id = 21; \
                    UPDATE queries SET options = '{\"parameters\": [{\"title\": \"Start\", \"value\": \"2024-01-01\"}]}' WHERE id = 22"
                .into(),
            expected: &["queries whose options 25.8.0's re-hash migration cannot read (not an object, or parameters that are not named objects): ids 21, 22 (2 in all)"],
        },
        Planted {
            code: "user-details-will-be-lost",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE users SET details = '[]' WHERE id = 6; UPDATE users SET details = 'null' WHERE id = 7; \
                    UPDATE users SET details = NULL WHERE id = 9"
                .into(),
            expected: &[
                "users whose details are NULL lose their profile image URL in 25.8.0: id 9",
                "users whose details are not a JSON object get an array as details, which 25.8.0 cannot load (they cannot log in): ids 6, 7 (2 in all)",
            ],
        },
        Planted {
            code: "profile-image-url-breaks-migration",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE users SET profile_image_url = 'https://img.example.com/a' || chr(9) || 'b.png' WHERE id = 5"
                .into(),
            expected: &["profile_image_url with a quote, backslash or control character: id 5"],
        },
        Planted {
            code: "widget-position-not-integer",
            fixture: "25.1.0",
            args: &["--to", "latest"],
            plant: "UPDATE widgets SET options = jsonb_set(options, '{position,sizeX}', '1073741824') WHERE id = 12"
                .into(),
            expected: &["widgets without integer position.col and sizeX: id 12"],
        },
        Planted {
            code: "alert-options-not-object",
            fixture: "25.1.0",
            args: &["--to", "latest"],
            plant: "UPDATE alerts SET options = '[]' WHERE id = 1; UPDATE alerts SET options = 'null' WHERE id = 2"
                .into(),
            expected: &["alerts whose options are not a JSON object abort 25.8.0's alert-selector migration: ids 1, 2 (2 in all)"],
        },
        Planted {
            code: "options-not-json",
            fixture: "6.0.0",
            args: &["--from", "6", "--to", "7"],
            plant: "UPDATE data_sources SET options = '' WHERE id = 2; \
                    UPDATE data_sources SET options = '{\"host\": \"db\"' WHERE id = 3; \
                    UPDATE data_sources SET options = '{\"timeout\": NaN}' WHERE id = 4"
                .into(),
            expected: &["data_sources rows whose options are not JSON abort 7.0.0's encryption migration: ids 2, 3 (2 in all)"],
        },
        Planted {
            code: "options-not-json",
            fixture: "8.0.0",
            args: &["--from", "8", "--to", "10"],
            plant: "UPDATE notification_destinations SET options = '{\"url\": \"https://hooks.example.com/x\"' WHERE id = 1"
                .into(),
            expected: &["notification_destinations rows whose options are not JSON abort 10.1.0's encryption migration: id 1"],
        },
        Planted {
            code: "widget-position-not-integer",
            fixture: "25.1.0",
            args: &["--to", "latest"],
            plant: "UPDATE widgets SET options = jsonb_set(options, '{position,col}', '1.5') WHERE id = 10; \
                    UPDATE widgets SET options = options #- '{position,sizeX}' WHERE id = 20;"
                .into(),
            expected: &["widgets without integer position.col and sizeX: ids 10, 20 (2 in all)"],
        },
        Planted {
            code: "queue-of-data-source-not-consumed",
            fixture: "10.1.0",
            args: &FROM_10_1,
            plant: "UPDATE data_sources SET queue_name = 'bigquery_adhoc' WHERE id IN (3, 8)".into(),
            // Once per hop: 10.1.0 -> 25.8.0 and 25.8.0 -> 26.3.0.
            expected: &[
                "no worker consumes queue bigquery_adhoc on 25.8.0, which data sources use: ids 3, 8 (2 in all)",
                "no worker consumes queue bigquery_adhoc on 26.3.0, which data sources use: ids 3, 8 (2 in all)",
            ],
        },
        Planted {
            code: "secret-key-cannot-decrypt",
            fixture: "10.1.0",
            args: &["--from", "10.1", "--to", "latest", "--secret-key-env", "FIXTURE_KEY"],
            plant: format!(
                "UPDATE data_sources SET encrypted_options = convert_to('{old_secret_token}', 'UTF8') WHERE id = 2"
            ),
            expected: &["data_sources rows the secret from --secret-key-env FIXTURE_KEY cannot decrypt: id 2"],
        },
        Planted {
            code: "column-has-dependent-view",
            fixture: "10.1.0",
            args: &FROM_10_1,
            // A view, a view in another schema and a rule on the table itself all block.
            plant: "CREATE VIEW reporting_queries AS SELECT id, name, options FROM queries; \
                    CREATE SCHEMA reporting; \
                    CREATE VIEW reporting.user_photos AS SELECT id, profile_image_url FROM public.users; \
                    CREATE TABLE widget_audit (id integer, options text); \
                    CREATE RULE keep_old_options AS ON UPDATE TO widgets \
                      DO ALSO INSERT INTO widget_audit VALUES (OLD.id, OLD.options)"
                .into(),
            expected: &[
                "queries.options is used by view reporting_queries, so 25.8.0's migration 7205816877ec cannot convert it to jsonb (cannot alter type of a column used by a view or rule)",
                "users.profile_image_url is used by view reporting.user_photos, so 25.8.0's migration fd4fc850d7ea cannot drop it (cannot drop column profile_image_url of table users because other objects depend on it)",
                "widgets.options is used by rule keep_old_options on table widgets, so 25.8.0's migration 7205816877ec cannot convert it to jsonb (cannot alter type of a column used by a view or rule)",
            ],
        },
        Planted {
            code: "column-has-dependent-view",
            fixture: "6.0.0",
            args: &["--from", "6", "--to", "7"],
            plant: "CREATE VIEW scheduled AS SELECT id, schedule FROM queries WHERE schedule IS NOT NULL; \
                    CREATE MATERIALIZED VIEW source_settings AS SELECT id, options FROM data_sources"
                .into(),
            expected: &[
                "data_sources.options is used by materialized view source_settings, so 7.0.0's migration 98af61feea92 cannot drop it (cannot drop column options of table data_sources because other objects depend on it)",
                "queries.schedule is used by view scheduled, so 7.0.0's migration 640888ce445d cannot drop it (cannot drop column schedule of table queries because other objects depend on it)",
            ],
        },
        Planted {
            code: "column-has-dependent-view",
            fixture: "8.0.0",
            args: &["--from", "8", "--to", "10"],
            plant: "CREATE VIEW destinations AS SELECT id, name, options FROM notification_destinations"
                .into(),
            expected: &["notification_destinations.options is used by view destinations, so 10.1.0's migration d7d747033183 cannot drop it (cannot drop column options of table notification_destinations because other objects depend on it)"],
        },
        Planted {
            code: "converted-column-has-default",
            fixture: "10.1.0",
            args: &FROM_10_1,
            // A json default casts to jsonb by assignment, also on a text column; text and name
            // defaults do not (each checked with ALTER COLUMN ... TYPE jsonb on the test server).
            plant: "ALTER TABLE events ALTER COLUMN additional_properties SET DEFAULT '{}'; \
                    ALTER TABLE changes ALTER COLUMN change SET DEFAULT current_user; \
                    ALTER TABLE widgets ALTER COLUMN options SET DEFAULT '{}'::json"
                .into(),
            expected: &[
                "changes.change has DEFAULT CURRENT_USER, which has no automatic cast to jsonb: 25.8.0's migration 7205816877ec fails with: default for column \"change\" cannot be cast automatically to type jsonb",
                "events.additional_properties has DEFAULT '{}'::text, which has no automatic cast to jsonb: 25.8.0's migration 7205816877ec fails with: default for column \"additional_properties\" cannot be cast automatically to type jsonb",
            ],
        },
        Planted {
            code: "row-unloadable-after-25-1",
            fixture: "10.1.0",
            args: &FROM_10_1,
            // JSON null loads (as None); text that is not JSON is json-invalid-for-jsonb's.
            plant: "UPDATE dashboards SET layout = '{}' WHERE id = 2; \
                    UPDATE dashboards SET layout = 'null' WHERE id = 3; \
                    UPDATE visualizations SET options = '[]' WHERE id = 3; \
                    UPDATE visualizations SET options = '[1' WHERE id = 4; \
                    UPDATE widgets SET options = '\"x\"' WHERE id = 4; \
                    UPDATE widgets SET options = '0' WHERE id = 6"
                .into(),
            expected: &[
                "dashboards whose layout is JSON but not an array or null: 25.8.0 cannot load them, so these dashboards and every page of the dashboard list that includes one fail (500) for every user: id 2",
                "visualizations whose options are JSON but not an object or null: 25.8.0 cannot load them, so the pages of their queries and the dashboards that show them fail (500): id 3",
                "widgets whose options are JSON but not an object or null: 25.8.0 cannot load them, so the dashboards that hold them fail to open (500): ids 4, 6 (2 in all)",
            ],
        },
    ]
}

#[test]
fn every_database_check_names_exactly_the_planted_rows_and_nothing_on_the_clean_fixture() {
    let mut failures = Vec::new();
    for case in planted_cases() {
        let db = fixture_db(case.fixture);
        db.execute(&case.plant);
        let (_, report) = check(&db.tcp_url(), case.args);
        let mut found = messages(&report, case.code);
        found.sort();
        if found != case.expected {
            failures.push(format!("{} on planted rows said {found:?}", case.code));
        }
        let clean = fixture_db(case.fixture);
        let (_, report) = check(&clean.tcp_url(), case.args);
        let found = messages(&report, case.code);
        if !found.is_empty() {
            failures.push(format!(
                "{} on the clean {} fixture said {found:?}",
                case.code, case.fixture
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_secret_that_decrypts_nothing_is_called_a_wrong_key() {
    let db = fixture_db("10.1.0");
    let found = fires(
        &db,
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
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("none of the ")
            && found[0].contains("(data_sources, notification_destinations)")
            && found[0]
                .contains("the secret from --secret-key-env OTHER_KEY: it is probably not the key"),
        "{found:?}"
    );
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
fn rewrite_sizes_are_reported_for_hops_that_rewrite() {
    let db = fixture_db("10.1.0");
    let found = fires(&db, &FROM_10_1, "table-rewrite-size");
    assert!(found[0].contains("events ~900 rows"), "{found:?}");
    // Re-hashing every query one row at a time is part of the window, named per revision.
    assert!(
        found[0].contains("of row-by-row Python work (1038c2174f5d walks ~")
            && found[0].contains(" queries rows, 9e8c841d1a30 walks ~")
            && found[0].contains("one transaction holding its exclusive locks throughout"),
        "{found:?}"
    );
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
        "error: give --from: the database is at 7.0.0, 8.0.0 or 9.0.0-beta, which it cannot tell apart, and the checks differ between them\n"
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
    for format in ["text", "json", "markdown", "sarif"] {
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

#[test]
fn the_run_transaction_outlives_scans_longer_than_its_idle_timeout() {
    // The run's own connection idles while other connections scan; its
    // idle_in_transaction_session_timeout is twice the statement timeout (1.6 s here), and
    // sixteen scans of 0.5 s on at most four connections take longer than that.
    use redash_upgrade::checks::db::{LiveDatabase, Scan};
    use redash_upgrade::db::{DatabaseUrl, ReadOnlySession, Timeouts};
    use redash_upgrade::report::Progress;
    let db = fixture_db("10.1.0");
    let url: DatabaseUrl = db.tcp_url().parse().unwrap();
    let timeouts = Timeouts {
        statement: Duration::from_millis(800),
        ..Timeouts::default()
    };
    let knowledge = redash_upgrade::knowledge::KnowledgeBase::embedded().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut session, snapshot) = ReadOnlySession::open_exporting(&url, timeouts)
            .await
            .unwrap();
        let detection = redash_upgrade::detect::detect(&knowledge, &mut session)
            .await
            .unwrap();
        let database = LiveDatabase::new(
            session,
            snapshot,
            detection,
            None,
            false,
            Progress::hidden(),
        );
        assert!(
            database.reads_in_parallel(),
            "the server exported the snapshot"
        );
        let scans: Vec<Scan> = (0..16)
            .map(|index| Scan {
                what: format!("scan {index}"),
                select: format!("SELECT {index}::bigint, pg_sleep(0.5)"),
                estimate: None,
            })
            .collect();
        let started = Instant::now();
        let passes = database
            .scan(&scans, |row: &[u8], found: &mut Vec<String>| {
                found.push(String::from_utf8_lossy(row).into_owned())
            })
            .await
            .unwrap();
        let took = started.elapsed();
        // One connection would take 8 s; at least two take at most half that.
        assert!(
            took > Duration::from_millis(1700) && took < Duration::from_millis(6000),
            "{took:?}"
        );
        for (index, pass) in passes.iter().enumerate() {
            assert_eq!(pass.rows, 1);
            assert_eq!(pass.found, [format!("{index}\t")]);
        }
        let rows = database
            .fetch_all("count queries", sqlx::query("SELECT count(*) FROM queries"))
            .await
            .expect("the run's transaction is still open");
        assert_eq!(rows.len(), 1);
        database.close().await;
    });
}

#[test]
fn check_reads_the_database_from_redash_database_url_like_detect() {
    let db = fixture_db("10.1.0");
    db.execute("DELETE FROM alembic_version");
    let output = crate::support::command()
        .args(["check", "--from", "10.1", "--format", "json"])
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        messages(&report, "alembic-stamp-problem"),
        ["alembic_version is empty"]
    );
    let text = crate::support::command()
        .args(["check", "--from", "10.1"])
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .output()
        .unwrap();
    let text = stdout(&text);
    assert!(
        text.starts_with("Checked: postgresql://postgres:***@127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains(server().password()), "{text}");
}

#[test]
fn releases_of_one_line_that_check_alike_are_assumed_and_said() {
    let db = fixture_db("4.0.2");
    let (code, report) = check(&db.tcp_url(), &["--to", "5"]);
    assert_ne!(code, 2);
    assert_eq!(report["hops"], serde_json::json!(["4.0.2->5.0.2"]));
    let assumed = report["assumed"][0].as_str().unwrap();
    assert!(
        assumed.starts_with("the database is at 4.0.0, 4.0.1 or 4.0.2, which it cannot tell apart; they run the same migrations"),
        "{assumed}"
    );
    // An image tag of one of them decides instead: 10.0.0 and 10.1.0 differ in what the checks read.
    let ten = fixture_db("10.1.0");
    let compose = repo_root().join("tests/fixtures/compose/v10.yml");
    let output = crate::support::command()
        .args([
            "check",
            "--database-url",
            &ten.tcp_url(),
            "--to",
            "latest",
            "--format",
            "json",
        ])
        .args([
            "--compose",
            compose.to_str().unwrap(),
            "--host-memory",
            "16GiB",
        ])
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let assumed = report["assumed"][0].as_str().unwrap();
    assert!(
        assumed.contains("the deployment runs the 10.1.0 image"),
        "{assumed}"
    );
}

#[test]
fn a_forks_columns_are_graded_by_what_the_hops_do_to_them() {
    // The fork's nullable and defaulted columns on queries survive every hop's ALTER TABLE.
    let db = fixture_db("fork");
    let (_, report) = check(&db.tcp_url(), &["--from", "4", "--to", "latest"]);
    let drift: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "schema-drift")
        .collect();
    assert!(!drift.is_empty(), "{report}");
    assert!(
        drift.iter().all(|finding| finding["severity"] == "warning"),
        "{drift:?}"
    );
    assert!(drift
        .iter()
        .any(|finding| finding["message"].as_str().unwrap().starts_with(
            "in-house column queries.spreadsheet_export_url (character varying(2048)) on a table"
        )));

    // Accepted in a baseline, they are no finding at all.
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let written = crate::support::command()
        .args(["detect", "--database-url", &db.tcp_url()])
        .args(["--write-baseline", baseline.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let (_, report) = check(
        &db.tcp_url(),
        &[
            "--from",
            "4",
            "--to",
            "latest",
            "--baseline",
            baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(messages(&report, "schema-drift"), Vec::<String>::new());

    // A NOT NULL column without a default breaks every insert of the upstream release, accepted
    // or not.
    db.execute("ALTER TABLE events ADD COLUMN tenant text NOT NULL DEFAULT 'acme'; ALTER TABLE events ALTER COLUMN tenant DROP DEFAULT");
    let (code, report) = check(
        &db.tcp_url(),
        &[
            "--from",
            "4",
            "--to",
            "latest",
            "--baseline",
            baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        messages(&report, "schema-drift"),
        ["in-house column events.tenant (text) is NOT NULL without a default: 5.0.2 does not set it, so every events row it inserts fails"]
    );
}

#[test]
fn queries_on_runners_that_crash_on_an_empty_configuration_are_named_on_every_25_target() {
    let db = fixture_db("10.1.0");
    db.execute("UPDATE data_sources SET type = 'graphite' WHERE id = 3");
    let ids: Vec<i64> = db
        .client()
        .fetch_all(sqlx::query(
            "SELECT id::bigint FROM queries WHERE data_source_id = 3 ORDER BY id",
        ))
        .unwrap()
        .iter()
        .map(|row| sqlx::Row::get(row, 0))
        .collect();
    assert!(!ids.is_empty());
    let found = fires(&db, &FROM_10_1, "query-runner-not-registered");
    let shown: Vec<String> = ids.iter().take(20).map(i64::to_string).collect();
    assert!(
        found.iter().any(|message| message.starts_with(&format!(
            "queries on graphite data sources crash 25.8.0's re-hash migration: ids {}",
            shown.join(", ")
        ))),
        "{found:?}"
    );
}

#[test]
fn every_database_check_says_what_happens_and_its_severity_follows() {
    use redash_upgrade::checks::{Check, Effect, Severity, CHECKS};
    for check in CHECKS {
        let Check::Database(_) = check else { continue };
        let meta = check.meta();
        if meta.code == "table-rewrite-size" || meta.code == "schema-drift" {
            // Sizes are information; drift's effect depends on each object (set per finding).
            continue;
        }
        // The role checked is the one connected as, which need not be the one that migrates:
        // its missing privileges abort the hop only if the migration runs as it.
        let conditional = meta.code == "migration-privileges-missing";
        let effect = meta
            .effect
            .unwrap_or_else(|| panic!("{} says nothing of what happens at the hop", meta.code));
        if matches!(effect, Effect::Aborts | Effect::LosesData) && !conditional {
            assert_eq!(meta.severity, Severity::Error, "{}: {effect:?}", meta.code);
        }
    }
    // And the finding carries it.
    let db = fixture_db("10.1.0");
    db.execute("UPDATE queries SET options = '{\"parameters\": null}' WHERE id = 21");
    let (_, report) = check(&db.tcp_url(), &FROM_10_1);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["code"] == "query-options-break-rehash")
        .unwrap();
    assert_eq!(finding["effect"], "aborts");
}

/// A copy of the small 10.1.0 fixture in a new database of another encoding (the fixture
/// templates are UTF8, and a database can only be cloned from a template of its own encoding).
fn fixture_db_encoded(encoding: &str) -> TestDb {
    let name = format!(
        "t_enc_{}_{}",
        encoding.to_lowercase().replace('_', ""),
        std::process::id()
    );
    server().drop_database(&name).unwrap();
    server()
        .connect("postgres")
        .unwrap()
        .batch_execute(&format!(
            "CREATE DATABASE {name} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        ))
        .unwrap();
    let db = TestDb { name };
    let knowledge = redash_upgrade::knowledge::KnowledgeBase::embedded().unwrap();
    redash_upgrade::testbed::load_release(
        &mut db.client(),
        &knowledge,
        &semver::Version::new(10, 1, 0),
        redash_upgrade::testbed::Scale::Small,
    )
    .unwrap();
    db
}

#[test]
fn escapes_a_non_utf8_database_cannot_take_are_named_with_its_encoding() {
    let code = "database-encoding-not-utf8";
    // Redash writes every character outside ASCII as a \u escape; a raw é is stored as it is,
    // and an escaped backslash before u is no escape.
    let plant = "UPDATE visualizations SET options = '{\"label\": \"caf\\u00e9\"}' WHERE id = 3; \
                 UPDATE events SET additional_properties = '{\"q\": \"\\u4e2d\\u6587 \\ud83d\\ude00\"}' WHERE id = 7; \
                 UPDATE users SET details = '{\"note\": \"\\u00ff\"}' WHERE id = 5; \
                 UPDATE queries SET options = '{\"path\": \"C:\\\\u00e9\"}' WHERE id = 9; \
                 UPDATE dashboards SET layout = '[\"é\"]' WHERE id = 2";
    for (encoding, expected) in [
        // No conversion from UTF8 at all: every escape outside ASCII is refused.
        (
            "SQL_ASCII",
            &[
                "the database's encoding is SQL_ASCII, not UTF8: events.additional_properties holds \\u escapes of characters that jsonb cannot convert to SQL_ASCII (U+4E2D, U+6587, U+1F600), so 25.8.0's migration 7205816877ec cannot cast it to jsonb: id 7",
                "the database's encoding is SQL_ASCII, not UTF8: users.details holds \\u escapes of characters that jsonb cannot convert to SQL_ASCII (U+00FF), so 25.8.0's migration fd4fc850d7ea cannot cast it to jsonb: id 5",
                "the database's encoding is SQL_ASCII, not UTF8: visualizations.options holds \\u escapes of characters that jsonb cannot convert to SQL_ASCII (U+00E9), so 25.8.0's migration 7205816877ec cannot cast it to jsonb: id 3",
            ][..],
        ),
        // LATIN1 holds é and ÿ, not Chinese or emoji: the server says which.
        (
            "LATIN1",
            &["the database's encoding is LATIN1, not UTF8: events.additional_properties holds \\u escapes of characters that jsonb cannot convert to LATIN1 (U+4E2D, U+6587, U+1F600), so 25.8.0's migration 7205816877ec cannot cast it to jsonb: id 7"][..],
        ),
    ] {
        let db = fixture_db_encoded(encoding);
        let (_, report) = check(&db.tcp_url(), &FROM_10_1);
        assert_eq!(
            messages(&report, code),
            Vec::<String>::new(),
            "the clean fixture in {encoding}"
        );
        db.execute(plant);
        let (_, report) = check(&db.tcp_url(), &FROM_10_1);
        let mut found = messages(&report, code);
        found.sort();
        assert_eq!(found, expected, "{encoding}");
        assert_eq!(
            messages(&report, "check-could-not-run"),
            Vec::<String>::new()
        );
    }
    // In UTF8 jsonb decodes every escape.
    let db = fixture_db("10.1.0");
    db.execute(plant);
    let (_, report) = check(&db.tcp_url(), &FROM_10_1);
    assert_eq!(messages(&report, code), Vec::<String>::new());
}
