//! `window` against real fixtures with a planted usage history: the quietest window is the
//! planted quiet period, per org and time zone, and the counts are what was inserted.

use std::collections::{BTreeMap, HashSet};
use std::process::Output;

use redash_upgrade::testbed::{
    add_usage_history, OrgUsage, UsageHistory, UsageSummary, QUIET_DAY, QUIET_HOURS,
};
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::pg::{fixture_db, server, TestDb};
use crate::support::{run, stderr, stdout};

const AS_OF: &str = "2026-11-30T00:00:00Z";
const WEEKS: i64 = 8;
/// 1970-01-05, a Monday: local hours are counted from it.
const FIRST_MONDAY: i64 = 4 * 86_400;

fn window(db: &TestDb, args: &[&str]) -> Output {
    let url = db.tcp_url();
    let mut all = vec!["window", "--database-url", url.as_str(), "--as-of", AS_OF];
    all.extend_from_slice(args);
    let output = run(&all);
    for text in [stdout(&output), stderr(&output)] {
        assert!(
            !text.contains(server().password()),
            "the password is printed: {text}"
        );
    }
    output
}

fn json_of(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn scope<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|scope| scope["org"] == slug)
        .unwrap_or_else(|| panic!("no scope for {slug}"))
}

fn org<'a>(summary: &'a UsageSummary, slug: &str) -> &'a OrgUsage {
    summary.orgs.iter().find(|org| org.slug == slug).unwrap()
}

/// The events per weekday and local hour, from what was inserted.
fn expected_grid(org: &OrgUsage) -> Value {
    let mut grid = [[0u64; 24]; 7];
    for event in &org.events {
        grid[event.weekday() as usize][event.hour() as usize] += 1;
    }
    json!(grid)
}

/// Events and distinct (week, user) pairs in the window of `hours` starting at `start` (hour of
/// the week, Monday 00:00 = 0), from what was inserted.
fn expected_window(org: &OrgUsage, start: i64, hours: i64) -> (f64, f64) {
    let mut events = 0;
    let mut users = HashSet::new();
    for event in &org.events {
        let hour = (event.local - FIRST_MONDAY).div_euclid(3600);
        if (hour - start).rem_euclid(168) < hours {
            events += 1;
            users.insert(((hour - start).div_euclid(168), event.user_id));
        }
    }
    (
        events as f64 / WEEKS as f64,
        users.len() as f64 / WEEKS as f64,
    )
}

fn start_of(window: &Value) -> i64 {
    window["day"].as_i64().unwrap() * 24 + window["hour"].as_i64().unwrap()
}

fn assert_inside_quiet_period(window: &Value, what: &str) {
    let (day, hour) = (
        window["day"].as_i64().unwrap(),
        window["hour"].as_i64().unwrap(),
    );
    assert!(
        day == QUIET_DAY && QUIET_HOURS.start <= hour && hour + 2 <= QUIET_HOURS.end,
        "{what}: the quietest window is {window}"
    );
    assert_eq!(window["events_per_week"], 0.0, "{what}");
    assert_eq!(window["active_users_per_week"], 0.0, "{what}");
}

/// Scheduled queries of `org_id` due in every window of 2 hours starting at `utc_minute` of
/// the week (UTC), and the alerts on them, read by the test from the rows themselves.
fn expected_due(db: &TestDb, org_id: i64, utc_minute: i64) -> (u64, u64) {
    let mut client = db.client();
    let rows = client
        .fetch_all(sqlx::query(
            "SELECT q.schedule::text, (SELECT count(*) FROM alerts a WHERE a.query_id = q.id)::bigint \
             FROM queries q WHERE q.org_id = $1 AND q.schedule IS NOT NULL AND NOT q.is_archived",
        ).bind(org_id as i32))
        .unwrap();
    let inside = |minute: i64| (minute - utc_minute).rem_euclid(7 * 1440) < 120;
    let (mut due, mut alerts) = (0, 0);
    for row in rows {
        let text: String = row.get(0);
        let (interval, time, weekday) = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(schedule)) => {
                let interval = match &schedule["interval"] {
                    Value::Number(number) => number.as_i64().unwrap(),
                    Value::String(text) => text.parse().unwrap(),
                    _ => continue,
                };
                let weekday = schedule["day_of_week"].as_str().map(|day| {
                    [
                        "Monday",
                        "Tuesday",
                        "Wednesday",
                        "Thursday",
                        "Friday",
                        "Saturday",
                        "Sunday",
                    ]
                    .iter()
                    .position(|name| *name == day)
                    .unwrap() as i64
                });
                (
                    interval,
                    schedule["time"].as_str().map(str::to_owned),
                    weekday,
                )
            }
            _ if text.contains(':') => (86_400, Some(text), None),
            _ if text.trim().is_empty() || text == "null" => continue,
            _ => (text.parse().unwrap(), None, None),
        };
        let is_due = match time {
            None => interval <= 7200,
            Some(time) => {
                let (hour, minute) = time.split_once(':').unwrap();
                let minute_of_day =
                    hour.parse::<i64>().unwrap() * 60 + minute.parse::<i64>().unwrap();
                match weekday {
                    Some(day) => interval <= 7 * 86_400 && inside(day * 1440 + minute_of_day),
                    None => {
                        interval == 86_400 && (0..7).any(|day| inside(day * 1440 + minute_of_day))
                    }
                }
            }
        };
        if is_due {
            due += 1;
            alerts += row.get::<i64, _>(1) as u64;
        }
    }
    (due, alerts)
}

fn usage(db: &TestDb, timezone: &str) -> UsageSummary {
    add_usage_history(
        &mut db.client(),
        &UsageHistory::new(WEEKS as u32, AS_OF, timezone),
    )
    .unwrap()
}

#[test]
fn the_quietest_window_is_the_planted_quiet_period_of_each_org_in_its_zone() {
    let db = fixture_db("10.1.0");
    let summary = usage(&db, "Asia/Tokyo");
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("window.svg");
    let html = dir.path().join("window.html");
    let report = json_of(&window(
        &db,
        &[
            "--tz",
            "Asia/Tokyo",
            "--hours",
            "2",
            "--format",
            "json",
            "--svg",
            svg.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    ));
    assert_eq!(report["type"], "window");
    assert_eq!(report["utc_offset_seconds"], 9 * 3600);
    assert_eq!(report["scopes"][0]["org"], Value::Null, "all orgs first");

    // The orgs in Tokyo: their planted quiet period, and the counts inserted.
    for slug in ["default", "globex"] {
        let planted = org(&summary, slug);
        assert_eq!(planted.timezone, "Asia/Tokyo");
        let scope = scope(&report, slug);
        assert_eq!(scope["event_grid"], expected_grid(planted), "{slug}");
        assert_eq!(scope["events"], planted.events.len() as u64, "{slug}");
        let windows = scope["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 3);
        assert_inside_quiet_period(&windows[0], slug);
        for window in windows {
            let (events, users) = expected_window(planted, start_of(window), 2);
            assert_eq!(window["events_per_week"], events, "{slug} {window}");
            assert_eq!(window["active_users_per_week"], users, "{slug} {window}");
        }
    }
    // What the first window of the default org interrupts: its schedules, read here directly
    // (Tokyo is UTC+9 all year).
    let first = &scope(&report, "default")["windows"][0];
    let utc_minute = (start_of(first) - 9).rem_euclid(168) * 60;
    let (due, alerts) = expected_due(&db, 1, utc_minute);
    assert!(due > 0, "the fixture has hourly schedules");
    assert_eq!(first["scheduled_queries_due"], due);
    assert_eq!(first["alerts_evaluated"], alerts);

    // The org in New York has its own quiet period: quiet in Tokyo's time at other hours.
    let new_york = org(&summary, "acme-eu");
    assert_eq!(new_york.timezone, "America/New_York");
    let elsewhere = &scope(&report, "acme-eu")["windows"][0];
    assert_eq!(elsewhere["events_per_week"], 0.0);
    assert_ne!(start_of(elsewhere), start_of(first));
    assert!(
        !(elsewhere["day"] == QUIET_DAY && elsewhere["hour"].as_i64().unwrap() < QUIET_HOURS.end),
        "{elsewhere}"
    );
    let report = json_of(&window(
        &db,
        &["--tz", "America/New_York", "--format", "json"],
    ));
    let scope_ny = scope(&report, "acme-eu");
    assert_eq!(scope_ny["event_grid"], expected_grid(new_york));
    assert_inside_quiet_period(&scope_ny["windows"][0], "acme-eu in New York");

    // The SVG: well-formed, one heatmap of 7 x 24 cells per org and one for all orgs, the
    // windows outlined; the HTML holds it.
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    let document = roxmltree::Document::parse(&svg_text).unwrap();
    let panels: Vec<_> = document
        .descendants()
        .filter(|node| node.attribute("class") == Some("org"))
        .collect();
    assert_eq!(panels.len(), 4);
    for panel in &panels {
        let cells = panel
            .descendants()
            .filter(|node| node.attribute("class") == Some("cell"))
            .count();
        assert_eq!(cells, 7 * 24, "{:?}", panel.attribute("data-org"));
        let windows = panel
            .descendants()
            .filter(|node| node.attribute("class") == Some("window"))
            .count();
        assert_eq!(windows, 3);
    }
    assert!(svg_text.contains("Asia/Tokyo") && svg_text.contains("2026-11-30"));
    let html_text = std::fs::read_to_string(&html).unwrap();
    assert!(html_text.starts_with("<!DOCTYPE html>"));
    assert!(html_text.contains(svg_text.trim_end()));
    for text in [&svg_text, &html_text] {
        assert!(!text.contains(server().password()));
        assert!(text.contains(&db.name), "the title names the database");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temp file left"
    );

    // The text heatmap: 7 rows of 24 hours in blocks.
    let output = window(&db, &["--tz", "Asia/Tokyo"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for day in ["Mon ", "Tue ", "Sun "] {
        let row = text.lines().find(|line| line.starts_with(day)).unwrap();
        assert_eq!(row.chars().count(), 4 + 48 + 1, "{row}");
    }
    assert!(text.contains('█') && text.contains("Sun 0"), "{text}");
    assert!(text.contains("estimate"), "{text}");
}

/// A report.json in the shape `rehearse` writes it (its journal), with two measured hops.
fn rehearsal_report(path: &std::path::Path) {
    let step = |id: &str, hop: u64, kind: &str, seconds: f64| {
        json!({"id": id, "hop": hop, "kind": kind, "state": "done", "attempts": 1,
               "started_at": "2026-11-20T10:00:00Z", "finished_at": "2026-11-20T10:30:00Z",
               "seconds": seconds, "detail": {}, "error": null})
    };
    let report = json!({
        "type": "rehearsal", "dry_run": false, "work_dir": "redash-rehearsal",
        "journal": {
            "type": "redash-upgrade-rehearsal-journal", "format_version": 1,
            "snapshot": "snap", "snapshot_manifest_sha256": "00", "staging": "postgresql://staging",
            "staging_database": "staging", "from": "8.0.0", "to": "10.1.0", "assumption": null,
            "runner": "docker",
            "hops": [
                {"from": "8.0.0", "to": "9.0.0-beta", "image": null, "from_head": "a", "to_head": "b"},
                {"from": "9.0.0-beta", "to": "10.1.0", "image": null, "from_head": "b", "to_head": "c"}
            ],
            "steps": [
                step("restore", 0, "restore", 999.0),
                step("hop-1/snapshot", 1, "snapshot", 600.0),
                step("hop-1/migrate", 1, "migrate", 1800.0),
                step("hop-1/verify", 1, "verify", 300.0),
                step("hop-2/snapshot", 2, "snapshot", 1200.0),
                step("hop-2/migrate", 2, "migrate", 2400.0),
                step("hop-2/verify", 2, "verify", 600.0)
            ],
            "dirty_hop": null, "runner_process_group": null, "outcome": "succeeded", "runs": 1
        },
        "commands": [], "staging_environment": [], "staging_notes": [], "report_files": []
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

#[test]
fn legacy_schedules_a_rehearsal_s_durations_and_the_refusals() {
    let db = fixture_db("6.0.0");
    let summary = usage(&db, "UTC");
    let report = json_of(&window(&db, &["--format", "json"]));
    assert_eq!(report["timezone"], "UTC");
    let planted = org(&summary, "default");
    let default = scope(&report, "default");
    assert_eq!(default["event_grid"], expected_grid(planted));
    let first = &default["windows"][0];
    assert_inside_quiet_period(first, "6.0.0 default");
    let (due, alerts) = expected_due(&db, 1, start_of(first) * 60);
    assert!(due > 0);
    assert_eq!(first["scheduled_queries_due"], due);
    assert_eq!(first["alerts_evaluated"], alerts);
    assert_eq!(report["duration"]["source"], "estimate");
    // The scheduled results the history added show in the load grid.
    let results: u64 = report["scopes"][0]["query_result_grid"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(results, summary.query_results);

    // The hop's duration from a rehearsal: the sum of its hop windows, 6,900 s.
    let dir = tempfile::tempdir().unwrap();
    let rehearsal = dir.path().join("report.json");
    rehearsal_report(&rehearsal);
    let path = rehearsal.to_str().unwrap();
    let report = json_of(&window(&db, &["--format", "json", "--rehearsal", path]));
    assert_eq!(report["duration"]["seconds"], 6900.0);
    assert_eq!(report["duration"]["source"], "rehearsal");
    assert_eq!(report["duration"]["fits"], true);
    let report = json_of(&window(
        &db,
        &["--format", "json", "--rehearsal", path, "--hours", "1"],
    ));
    assert_eq!(report["duration"]["fits"], false);
    let text = stdout(&window(&db, &["--rehearsal", path, "--hours", "1"]));
    assert!(
        text.contains("115.0 min") && text.contains("does NOT fit"),
        "{text}"
    );
    let markdown = stdout(&window(&db, &["--format", "markdown"]));
    assert!(markdown.contains("| 1 | Sun 0"), "{markdown}");

    // Refusals: one line each, exit 2.
    let unknown = window(&db, &["--tz", "Mars/Olympus_Mons"]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = stderr(&unknown);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("--tz Mars/Olympus_Mons"), "{message}");
    let url = db.tcp_url();
    let empty = run(&[
        "window",
        "--database-url",
        &url,
        "--as-of",
        "2001-01-01T00:00:00Z",
    ]);
    assert_eq!(empty.status.code(), Some(2));
    let message = stderr(&empty);
    assert!(
        message.contains("no events in the 8 weeks") && message.contains("--as-of"),
        "{message}"
    );
    assert!(!message.contains(server().password()));
    assert!(stdout(&empty).is_empty());
    let by_user: BTreeMap<i64, usize> =
        planted
            .events
            .iter()
            .fold(BTreeMap::new(), |mut map, event| {
                *map.entry(event.user_id).or_default() += 1;
                map
            });
    assert!(by_user.len() > 3, "the org's real users: {by_user:?}");
}

#[test]
fn the_usage_history_is_deterministic_and_redash_fixture_adds_it_in_one_command() {
    let digest = |db: &TestDb, table: &str, columns: &str| -> String {
        db.client()
            .scalar(&format!(
                "SELECT md5(string_agg(concat_ws(',', {columns}), ';' ORDER BY id)) FROM {table}"
            ))
            .unwrap()
    };
    let events = "org_id, user_id, action, object_type, object_id, EXTRACT(EPOCH FROM created_at)";
    let results = "org_id, query_hash, EXTRACT(EPOCH FROM retrieved_at)";
    let by_library = fixture_db("7.0.0");
    let before = digest(&by_library, "events", events);
    let summary = add_usage_history(
        &mut by_library.client(),
        &UsageHistory::new(2, AS_OF, "Europe/Berlin"),
    )
    .unwrap();
    assert_ne!(digest(&by_library, "events", events), before);
    assert!(summary.query_results > 0);

    let by_tool = crate::pg::empty_db();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_redash-fixture"))
        .args(["--release", "7.0.0", "--database-url", &by_tool.tcp_url()])
        .args([
            "--usage-history",
            "2",
            "--as-of",
            AS_OF,
            "--tz",
            "Europe/Berlin",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).starts_with("added "), "{}", stderr(&output));
    assert_eq!(
        digest(&by_tool, "events", events),
        digest(&by_library, "events", events)
    );
    assert_eq!(
        digest(&by_tool, "query_results", results),
        digest(&by_library, "query_results", results)
    );
}
