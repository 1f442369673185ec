//! `inventory` against real fixtures with planted queries: a busy one, a stale scheduled one, a
//! broken one, one whose options a 25.x migration fails on, one on a dashboard nobody views, one
//! with an alert, one whose data source is gone, one already archived, one of a disabled owner.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::pg::{fixture_db, TestDb};
use crate::support::{run, stderr, stdout};

const AS_OF: &str = "2026-11-30";

fn scalar(db: &TestDb, sql: &str) -> i64 {
    db.client().scalar::<i64>(sql).unwrap()
}

/// Unscheduled, unarchived queries of org 1 that no widget shows and no alert watches.
fn free_queries(db: &TestDb, count: usize) -> Vec<i64> {
    let rows = db
        .client()
        .fetch_all(sqlx::query(
            "SELECT q.id::bigint FROM queries q WHERE q.org_id = 1 AND NOT q.is_archived \
               AND q.data_source_id IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM visualizations v JOIN widgets w ON w.visualization_id = v.id WHERE v.query_id = q.id) \
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.query_id = q.id) \
             ORDER BY q.id LIMIT 20",
        ))
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|row| sqlx::Row::get(row, 0)).collect();
    assert!(ids.len() >= count, "the fixture has {ids:?}");
    ids.into_iter().take(count).collect()
}

/// `inventory` against `db` as of AS_OF, with `extra` options.
fn run_inventory(db: &TestDb, extra: &[&str]) -> std::process::Output {
    let url = db.tcp_url();
    let mut args = vec!["inventory", "--database-url", &url, "--as-of", AS_OF];
    args.extend(extra);
    let output = run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        stderr(&output)
    );
    output
}

fn inventory_json(db: &TestDb, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend(extra);
    serde_json::from_str(&stdout(&run_inventory(db, &args))).unwrap()
}

fn query(json: &Value, id: i64) -> &Value {
    json["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|query| query["id"] == id)
        .unwrap_or_else(|| panic!("no query {id}"))
}

#[test]
fn planted_queries_are_classed_by_the_rules() {
    let db = fixture_db("10.1.0");
    let [busy, stale_scheduled, broken, unreadable, with_alert, no_source, archived, disabled_owner, old_draft] =
        free_queries(&db, 9).try_into().unwrap();
    let on_dashboard: i64 = scalar(
        &db,
        "SELECT v.query_id::bigint FROM widgets w JOIN visualizations v ON v.id = w.visualization_id \
           JOIN dashboards d ON d.id = w.dashboard_id JOIN queries q ON q.id = v.query_id \
          WHERE NOT d.is_archived AND NOT q.is_archived AND q.org_id = 1 \
            AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.query_id = q.id) ORDER BY 1 LIMIT 1",
    );
    let owner_of_disabled: i64 = scalar(
        &db,
        &format!("SELECT user_id::bigint FROM queries WHERE id = {disabled_owner}"),
    );
    db.execute(&format!(
        "UPDATE queries SET schedule = NULL, schedule_failures = 0 WHERE org_id = 1; \
         INSERT INTO events (org_id, user_id, action, object_type, object_id, additional_properties, created_at) \
           SELECT 1, user_id, 'view', 'query', id::text, '{{}}', timestamptz '{AS_OF}' - interval '3 days' FROM queries WHERE id = {busy}; \
         UPDATE queries SET schedule = '{{\"interval\": 3600, \"time\": null, \"day_of_week\": null, \"until\": null}}' WHERE id = {stale_scheduled}; \
         UPDATE queries SET schedule = '{{\"interval\": 86400, \"time\": \"02:00\", \"day_of_week\": null, \"until\": null}}', schedule_failures = 9 WHERE id = {broken}; \
         UPDATE queries SET options = '{{\"parameters\": null}}' WHERE id = {unreadable}; \
         INSERT INTO alerts (name, query_id, user_id, options, state, rearm, created_at, updated_at) \
           SELECT 'planted', id, user_id, '{{}}', 'unknown', NULL, now(), now() FROM queries WHERE id = {with_alert}; \
         UPDATE queries SET data_source_id = NULL WHERE id = {no_source}; \
         UPDATE queries SET is_archived = true WHERE id = {archived}; \
         UPDATE users SET disabled_at = now() WHERE id = {owner_of_disabled}; \
         UPDATE queries SET is_draft = true WHERE id = {old_draft}; \
         UPDATE queries SET updated_at = timestamptz '{AS_OF}' - interval '400 days', created_at = timestamptz '{AS_OF}' - interval '800 days'"
    ));
    let json = inventory_json(&db, &["--to", "25.8.0"]);
    assert_eq!(json["type"], "inventory");
    assert_eq!(json["release"], "10.1.0");
    assert_eq!(json["to"], "25.8.0");
    let expect = |id: i64, class: &str, reason: &str| {
        let entry = query(&json, id);
        assert_eq!(entry["class"], class, "query {id}: {entry}");
        let text = entry["reason"].as_str().unwrap();
        assert!(
            text.contains(reason),
            "query {id}: {text:?} lacks {reason:?}"
        );
    };
    expect(busy, "keep", "viewed or run 3 days ago");
    expect(stale_scheduled, "archive", "scheduled 24 times a day");
    expect(broken, "archive", "failing (9 failures in a row)");
    expect(unreadable, "review", "query-options-break-rehash");
    expect(with_alert, "keep", "used by 1 alert(s)");
    expect(no_source, "review", "its data source is gone");
    expect(archived, "archive", "already archived");
    expect(disabled_owner, "archive", "its owner is disabled");
    expect(old_draft, "archive", "draft");
    expect(on_dashboard, "review", "dashboard(s) nobody viewed");
    assert_eq!(
        query(&json, unreadable)["migration_issues"],
        serde_json::json!(["query-options-break-rehash"])
    );
    assert_eq!(query(&json, disabled_owner)["owner_state"], "disabled");
    assert_eq!(
        query(&json, stale_scheduled)["scheduled_runs_per_day"],
        24.0
    );

    // Every query is in the inventory once, with a class and a reason.
    let total = scalar(&db, "SELECT count(*)::bigint FROM queries");
    let queries = json["queries"].as_array().unwrap();
    assert_eq!(queries.len() as i64, total);
    let ids: BTreeSet<i64> = queries
        .iter()
        .map(|query| query["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len() as i64, total);
    assert!(queries
        .iter()
        .all(|query| !query["reason"].as_str().unwrap().is_empty()));
    let counts: i64 = json["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|count| count.as_i64().unwrap())
        .sum();
    assert_eq!(counts, total);

    // The effect: the scheduled runs of the archive rows, computed from the rows themselves.
    let removed: f64 = queries
        .iter()
        .filter(|query| query["class"] == "archive" && query["is_archived"] == false)
        .map(|query| query["scheduled_runs_per_day"].as_f64().unwrap())
        .sum();
    assert!(
        (json["effect"]["scheduled_runs_per_day_removed"]
            .as_f64()
            .unwrap()
            - removed)
            .abs()
            < 1e-9
    );
    assert!(
        removed >= 25.0,
        "the hourly and the daily planted schedules"
    );
    assert_eq!(json["effect"]["query_rows_walked"], total);

    // Dashboards, alerts and data sources are classed too.
    let alert = json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["query_id"] == with_alert)
        .unwrap();
    assert_eq!(alert["class"], "keep");
    assert!(json["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|dashboard| dashboard["class"].is_string()));
    assert_eq!(
        json["data_sources"].as_array().unwrap().len() as i64,
        scalar(&db, "SELECT count(*)::bigint FROM data_sources")
    );

    // A shorter staleness keeps what was viewed 3 days ago and nothing older.
    let json = inventory_json(&db, &["--to", "25.8.0", "--stale-after", "2d"]);
    expect_class(&json, busy, "archive");
}

fn expect_class(json: &Value, id: i64, class: &str) {
    assert_eq!(query(json, id)["class"], class, "{}", query(json, id));
}

#[test]
fn the_csv_is_what_reviewers_edit_and_splits_by_owner_and_tag() {
    let db = fixture_db("10.1.0");
    let output = run_inventory(&db, &["--format", "csv"]);
    let text = stdout(&output);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    for column in [
        "id",
        "class",
        "reason",
        "org_id",
        "updated_at",
        "version",
        "is_archived",
        "owner_name",
        "tags",
    ] {
        assert!(
            header.contains(&column.to_owned()),
            "{column} in {header:?}"
        );
    }
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        records.len() as i64,
        scalar(&db, "SELECT count(*)::bigint FROM queries")
    );
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    // updated_at as archive compares it, straight from the database.
    let first = &records[0];
    let id: i64 = first[column("id")].parse().unwrap();
    let expected = db
        .client()
        .scalar::<String>(&format!(
            "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM queries WHERE id = {id}"
        ))
        .unwrap();
    assert_eq!(&first[column("updated_at")], expected.as_str());
    for record in &records {
        assert!(
            ["keep", "review", "archive"].contains(&&record[column("class")]),
            "{record:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let by_owner = dir.path().join("by-owner");
    let output = run_inventory(
        &db,
        &[
            "--format",
            "csv",
            "--split",
            "owner",
            "--out-dir",
            by_owner.to_str().unwrap(),
        ],
    );
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(&by_owner).unwrap() {
        let path = entry.unwrap().path();
        assert!(stdout(&output).contains(&path.display().to_string()));
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let owners: BTreeSet<String> = reader
            .records()
            .map(|record| record.unwrap()[column("owner_id")].to_owned())
            .collect();
        assert_eq!(
            owners.len(),
            1,
            "{} holds one owner's queries",
            path.display()
        );
        let mut reader = csv::Reader::from_path(&path).unwrap();
        for record in reader.records() {
            *seen
                .entry(record.unwrap()[column("id")].to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(
        seen.len(),
        records.len(),
        "every query in exactly one owner's file"
    );
    assert!(seen.values().all(|count| *count == 1));

    let by_tag = dir.path().join("by-tag");
    run_inventory(
        &db,
        &[
            "--format",
            "csv",
            "--split",
            "tag",
            "--out-dir",
            by_tag.to_str().unwrap(),
        ],
    );
    let tagged = scalar(
        &db,
        "SELECT count(*)::bigint FROM queries WHERE cardinality(tags) > 0",
    );
    assert!(tagged > 0, "the fixture tags queries");
    assert!(by_tag.join("untagged.csv").exists());
    let files = std::fs::read_dir(&by_tag).unwrap().count();
    assert!(files >= 2, "{files} files");

    let out = dir.path().join("inventory.md");
    let summary = stdout(&run_inventory(&db, &["--out", out.to_str().unwrap()]));
    assert!(summary.contains("queries ("), "{summary}");
    let markdown = std::fs::read_to_string(&out).unwrap();
    assert!(markdown.starts_with("# Redash inventory: "), "{markdown}");
    assert!(markdown.contains("## The effect of archiving"));
    assert!(!markdown.contains(crate::pg::server().password()));
}

#[test]
fn legacy_schedules_and_a_forks_columns_are_read() {
    let db = fixture_db("fork");
    let hourly: i64 = scalar(
        &db,
        "SELECT id::bigint FROM queries WHERE NOT is_archived ORDER BY id LIMIT 1",
    );
    let daily: i64 = scalar(
        &db,
        "SELECT id::bigint FROM queries WHERE NOT is_archived ORDER BY id OFFSET 1 LIMIT 1",
    );
    db.execute(&format!(
        "UPDATE queries SET schedule = '3600' WHERE id = {hourly}; UPDATE queries SET schedule = '14:30' WHERE id = {daily}"
    ));
    let json = inventory_json(&db, &["--to", "10.1.0"]);
    assert_eq!(json["release"], "4.0.2");
    assert_eq!(query(&json, hourly)["scheduled_runs_per_day"], 24.0);
    assert_eq!(query(&json, daily)["scheduled_runs_per_day"], 1.0);
    assert_eq!(
        query(&json, hourly)["tags"],
        serde_json::json!([]),
        "no tags before 5.0.0"
    );
    assert_eq!(
        json["queries"].as_array().unwrap().len() as i64,
        scalar(&db, "SELECT count(*)::bigint FROM queries")
    );
}

#[test]
fn bad_options_fail_in_one_line() {
    for (args, expected) in [
        (
            vec![
                "inventory",
                "--as-of",
                "yesterday",
                "--database-url",
                "postgresql://u:hunter2@127.0.0.1:1/x",
            ],
            "--as-of \"yesterday\"",
        ),
        (
            vec![
                "inventory",
                "--stale-after",
                "soon",
                "--database-url",
                "postgresql://u:hunter2@127.0.0.1:1/x",
            ],
            "--stale-after",
        ),
        (vec!["inventory"], "inventory needs a database"),
        (
            vec![
                "inventory",
                "--database-url",
                "postgresql://u:hunter2@127.0.0.1:1/x",
                "--split",
                "owner",
                "--out-dir",
                "/tmp/x",
            ],
            "--split writes CSV files",
        ),
    ] {
        let output = crate::support::command().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("hunter2"));
        assert!(stdout(&output).is_empty());
    }
}

fn queries_digest(db: &TestDb) -> String {
    db.client()
        .scalar::<String>("SELECT md5(string_agg(q::text, '|' ORDER BY q.id)) FROM queries q")
        .unwrap()
}

/// The inventory's own CSV, as a reviewer hands it back, is what `archive` reads: it archives the
/// `archive` rows, and undo puts the table back as it was.
#[test]
fn the_inventory_csv_drives_archive_and_undo() {
    let db = fixture_db("10.1.0");
    let url = db.tcp_url();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("inventory.csv");
    run_inventory(&db, &["--format", "csv", "--out", csv.to_str().unwrap()]);
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    let to_archive: BTreeSet<i64> = reader
        .records()
        .map(Result::unwrap)
        .filter(|record| {
            &record[column("class")] == "archive" && &record[column("is_archived")] == "false"
        })
        .map(|record| record[column("id")].parse().unwrap())
        .collect();
    assert!(!to_archive.is_empty());
    let before = queries_digest(&db);

    let journal = dir.path().join("journal.json");
    let output = run(&[
        "archive",
        "--database-url",
        &url,
        "--from",
        csv.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--apply",
        "--yes",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let archived: BTreeSet<i64> = db
        .client()
        .fetch_all(sqlx::query(
            "SELECT id::bigint FROM queries WHERE is_archived",
        ))
        .unwrap()
        .iter()
        .map(|row| sqlx::Row::get(row, 0))
        .collect();
    assert!(
        to_archive.is_subset(&archived),
        "every archive row is archived"
    );
    let scheduled_left = scalar(
        &db,
        &format!(
            "SELECT count(*)::bigint FROM queries WHERE schedule IS NOT NULL AND id IN ({})",
            to_archive
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    assert_eq!(scheduled_left, 0, "their schedules are cleared");

    // The journal undoes only the database it was written on.
    let other = fixture_db("10.1.0");
    let output = run(&[
        "archive",
        "--undo",
        journal.to_str().unwrap(),
        "--database-url",
        &other.tcp_url(),
        "--apply",
        "--yes",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(&format!(
            "it was written on the database {}, not {}",
            db.name, other.name
        )),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());

    let output = run(&[
        "archive",
        "--undo",
        journal.to_str().unwrap(),
        "--database-url",
        &url,
        "--apply",
        "--yes",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(queries_digest(&db), before, "undo puts every row back");
}
