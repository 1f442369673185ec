//! `smoke` against a stand-in for Redash. No Redash can run on the test machines, so each test
//! starts an HTTP server of ours (a `std::net::TcpListener` on a free loopback port, one thread
//! per connection) that answers what upstream's handlers answer, written from getredash/redash:
//! - `/ping`: `PONG.` (`redash/handlers/__init__.py:11-14`, v10.1.0 and v25.8.0);
//! - `/status.json`: `monitor.get_status()` (`redash/monitor.py:51-61` at v10.1.0,
//!   `redash/monitor.py:49-59` at v25.8.0): `version` (`10.1.0+b50633` as
//!   `.circleci/update_version` stamps a release build, `25.8.0`), `workers: []`, Redis memory,
//!   object counts, `manager.queues`, `database_metrics`; a super admin only (403 otherwise,
//!   `redash/permissions.py:90-91`), an unknown key gets 404 "Couldn't find resource. Please
//!   login and try again." on /api/ paths and a redirect elsewhere
//!   (`redash/authentication/__init__.py:218-228` at v10.1.0);
//! - `/api/admin/queries/rq_status`: `{"queues": ..., "workers": [{"queues": "a, b", ...}]}`
//!   (`redash/handlers/admin.py:44-54`, `redash/monitor.py` `rq_workers`);
//! - `/api/queries?page_size=1`, `/api/dashboards?page_size=1`: `{count, page, page_size,
//!   results}` (`redash/handlers/base.py` `paginate`);
//! - `POST /api/queries/N/results` answers `{"job": ...}`, `GET /api/jobs/ID` the job
//!   (`redash/serializers/__init__.py:301-341` at v10.1.0: status 1-4, `error`,
//!   `query_result_id`), `GET /api/query_results/ID` `{"query_result": {"data": {"rows": ...}}}`;
//! - `/api/dashboards/ID` from 10.0.0 (by slug only with `?legacy`,
//!   `redash/handlers/dashboards.py:190-193`), widgets with `visualization.query.id`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::support::{command, stderr, stdout};

const KEY: &str = "Zk3yS3cr3tV4lu3ForTests";

/// One request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

type Handler = dyn Fn(&str, &str, &str) -> (u16, String) + Send + Sync;

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves `handler(method, target, body)` until the test process ends.
fn serve(handler: Arc<Handler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = Arc::clone(&handler);
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let target = parts.next().unwrap_or_default().to_owned();
                let mut length = 0;
                let mut authorization = None;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "authorization" => authorization = Some(value.trim().to_owned()),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock().unwrap().push(Seen {
                    target: target.clone(),
                    authorization,
                });
                let (status, text) = handler(&method, &target, &String::from_utf8_lossy(&body));
                let location = if status == 302 {
                    "Location: /login\r\n"
                } else {
                    ""
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            });
        }
    });
    Server { url, seen }
}

fn status_body(version: &str) -> Value {
    json!({
        "version": version,
        "workers": [],
        "redis_used_memory": 1_234_567,
        "redis_used_memory_human": "1.18M",
        "queries_count": 3,
        "dashboards_count": 1,
        "widgets_count": 3,
        "manager": {"queues": {"queries": {"size": 0}, "scheduled_queries": {"size": 0},
                               "periodic": {"size": 0}, "emails": {"size": 0},
                               "default": {"size": 0}, "schemas": {"size": 0}}},
        "database_metrics": {"metrics": [["Query Results Size", 16384], ["Redash DB Size", 9_000_000]]}
    })
}

fn rq_status() -> Value {
    json!({
        "queues": {},
        "workers": [
            {"name": "w1", "hostname": "worker-1", "pid": 7, "state": "idle",
             "queues": "queries, scheduled_queries, schemas", "current_job": null},
            {"name": "w2", "hostname": "worker-2", "pid": 8, "state": "idle",
             "queues": "periodic, emails, default", "current_job": null}
        ]
    })
}

fn page() -> Value {
    json!({"count": 3, "page": 1, "page_size": 1, "results": [{"id": 7, "name": "Orders"}]})
}

fn job(id: &str, status: u64, error: &str, result: Option<u64>) -> Value {
    json!({"job": {"id": id, "updated_at": 0, "status": status, "error": error,
                   "result": result, "query_result_id": result}})
}

/// A healthy Redash of `version`: query 7 succeeds (pending, then success), query 8's job fails,
/// dashboard 5 (slug `ops`) has a widget on each and a text widget.
fn redash(version: &'static str) -> Arc<Handler> {
    let polls = Arc::new(Mutex::new(0));
    Arc::new(move |method: &str, target: &str, body: &str| {
        let authorized = |ok: Value| -> (u16, String) { (200, ok.to_string()) };
        match (method, target) {
            ("GET", "/ping") => (200, "PONG.".to_owned()),
            ("GET", "/status.json") => authorized(status_body(version)),
            ("GET", "/api/admin/queries/rq_status") => authorized(rq_status()),
            ("GET", "/api/queries?page_size=1") | ("GET", "/api/dashboards?page_size=1") => {
                authorized(page())
            }
            ("POST", "/api/queries/7/results") | ("POST", "/api/queries/8/results") => {
                let request: Value = serde_json::from_str(body).unwrap();
                assert!(request.get("max_age").is_some(), "{body}");
                let id = if target.contains("/7/") {
                    "job-ok"
                } else {
                    "job-bad"
                };
                (200, job(id, 1, "", None).to_string())
            }
            ("GET", "/api/jobs/job-ok") => {
                let mut count = polls.lock().unwrap();
                *count += 1;
                let value = if *count == 1 {
                    job("job-ok", 2, "", None)
                } else {
                    job("job-ok", 3, "", Some(42))
                };
                (200, value.to_string())
            }
            ("GET", "/api/jobs/job-bad") => (
                200,
                job(
                    "job-bad",
                    4,
                    "relation \"missing_table\" does not exist",
                    None,
                )
                .to_string(),
            ),
            ("GET", "/api/query_results/42") => (
                200,
                json!({"query_result": {"id": 42, "data": {"columns": [{"name": "n"}],
                       "rows": [{"n": 1}, {"n": 2}]}}})
                .to_string(),
            ),
            ("GET", "/api/dashboards/5") | ("GET", "/api/dashboards/ops?legacy") => (
                200,
                json!({"id": 5, "slug": "ops", "widgets": [
                    {"id": 11, "visualization": {"id": 1, "query": {"id": 7}}},
                    {"id": 12, "visualization": {"id": 2, "query": {"id": 8}}},
                    {"id": 13, "text": "## notes"}
                ]})
                .to_string(),
            ),
            _ => (404, json!({"message": "not found"}).to_string()),
        }
    })
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn smoke(server: &Server, args: &[&str]) -> Outcome {
    let output = command()
        .env("REDASH_TEST_KEY", KEY)
        .args([
            "smoke",
            "--url",
            &server.url,
            "--api-key-env",
            "REDASH_TEST_KEY",
        ])
        .args(args)
        .output()
        .unwrap();
    let outcome = Outcome {
        code: output.status.code().unwrap(),
        stdout: stdout(&output),
        stderr: stderr(&output),
    };
    assert!(!outcome.stdout.contains(KEY), "{}", outcome.stdout);
    assert!(!outcome.stderr.contains(KEY), "{}", outcome.stderr);
    for seen in server.seen.lock().unwrap().iter() {
        assert!(!seen.target.contains(KEY), "key in a URL: {}", seen.target);
        if seen.target != "/ping" {
            assert_eq!(seen.authorization.as_deref(), Some(&*format!("Key {KEY}")));
        }
    }
    outcome
}

/// Runs `args` in every format and checks the key never shows; returns the text outcome.
fn smoke_every_format(server: &Server, args: &[&str]) -> Outcome {
    for format in ["markdown", "json"] {
        let mut all = args.to_vec();
        all.extend(["--format", format]);
        let outcome = smoke(server, &all);
        if format == "json" {
            let value: Value = serde_json::from_str(&outcome.stdout).unwrap();
            assert_eq!(value["type"], "smoke");
        }
    }
    smoke(server, args)
}

#[test]
fn a_healthy_10_1_0_passes() {
    let server = serve(redash("10.1.0+b50633"));
    let outcome = smoke_every_format(&server, &["--expect", "10.1"]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains("every probe passed"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("10.1.0+b50633 is 10.1.0"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("queries: 1"), "{}", outcome.stdout);
}

#[test]
fn a_healthy_25_8_0_passes_with_a_query_run_end_to_end() {
    let server = serve(redash("25.8.0"));
    let outcome = smoke_every_format(&server, &["--expect", "25.8.0", "--query-id", "7"]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains("query 7 ran: result 42, 2 rows"),
        "{}",
        outcome.stdout
    );
    let seen: Vec<String> = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.target.clone())
        .collect();
    assert!(
        seen.contains(&"/api/query_results/42".to_owned()),
        "{seen:?}"
    );
}

#[test]
fn an_unreachable_url_fails_the_ping() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server {
        url: format!("http://127.0.0.1:{port}"),
        seen: Arc::default(),
    };
    let outcome = smoke_every_format(&server, &["--expect", "10"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("error[smoke-unreachable]"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn the_old_release_still_answering_is_a_version_mismatch() {
    let server = serve(redash("8.0.0+b32245"));
    let outcome = smoke_every_format(&server, &["--expect", "10.1.0"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("error[smoke-version-mismatch]"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("\"8.0.0+b32245\", not 10.1.0"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_refused_key_is_reported_and_never_printed() {
    for (status, body) in [
        (403, json!({"message": "forbidden"}).to_string()),
        (401, String::new()),
        (302, String::new()),
    ] {
        let healthy = redash("10.1.0+b50633");
        let server = serve(Arc::new(
            move |method: &str, target: &str, request: &str| {
                if target == "/ping" {
                    healthy(method, target, request)
                } else {
                    (status, body.clone())
                }
            },
        ));
        let outcome = smoke_every_format(&server, &["--expect", "10.1.0"]);
        assert_eq!(outcome.code, 1);
        assert!(
            outcome.stdout.contains("error[smoke-auth-refused]"),
            "{}",
            outcome.stdout
        );
    }
}

#[test]
fn an_unknown_key_on_the_api_is_refused_too() {
    let healthy = redash("10.1.0+b50633");
    let server = serve(Arc::new(
        move |method: &str, target: &str, request: &str| {
            if target.starts_with("/api/queries?") {
                let body =
                    json!({"message": "Couldn't find resource. Please login and try again."});
                (404, body.to_string())
            } else {
                healthy(method, target, request)
            }
        },
    ));
    let outcome = smoke(&server, &["--expect", "10.1.0", "--format", "json"]);
    assert_eq!(outcome.code, 1);
    let value: Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(value["findings"][0]["code"], "smoke-auth-refused");
    assert_eq!(value["passed"], false);
}

#[test]
fn a_failing_query_names_the_jobs_error() {
    let server = serve(redash("10.1.0+b50633"));
    let outcome = smoke_every_format(&server, &["--expect", "10.1.0", "--query-id", "8"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("error[smoke-query-failed]"),
        "{}",
        outcome.stdout
    );
    let json = smoke(
        &server,
        &["--expect", "10.1.0", "--query-id", "8", "--format", "json"],
    );
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["findings"][0]["code"], "smoke-query-failed");
    assert_eq!(
        value["findings"][0]["message"],
        "query 8: job job-bad failed: relation \"missing_table\" does not exist"
    );
}

#[test]
fn a_dashboard_with_a_failing_widget_fails() {
    let server = serve(redash("10.1.0+b50633"));
    let outcome = smoke_every_format(&server, &["--expect", "10.1.0", "--dashboard", "ops"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("widget 11: query 7 ran"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("dashboard ops, widget 12: query 8"),
        "{}",
        outcome.stdout
    );
    let seen: Vec<String> = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.target.clone())
        .collect();
    assert!(
        seen.contains(&"/api/dashboards/ops?legacy".to_owned()),
        "{seen:?}"
    );
}

#[test]
fn a_queue_without_workers_fails_in_the_rq_era() {
    let healthy = redash("25.8.0");
    let server = serve(Arc::new(
        move |method: &str, target: &str, request: &str| {
            if target == "/api/admin/queries/rq_status" {
                (
                    200,
                    json!({"queues": {}, "workers": [{"queues": "queries"}]}).to_string(),
                )
            } else {
                healthy(method, target, request)
            }
        },
    ));
    let outcome = smoke(&server, &["--expect", "25.8.0"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("error[smoke-workers-missing]"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_missing_key_variable_is_a_one_line_error() {
    let output = command()
        .env_remove("REDASH_NO_SUCH_KEY")
        .args([
            "smoke",
            "--url",
            "http://127.0.0.1:9",
            "--api-key-env",
            "REDASH_NO_SUCH_KEY",
        ])
        .args(["--expect", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "error: --api-key-env REDASH_NO_SUCH_KEY: no such variable in this environment (or it is empty)\n"
    );
}

#[test]
fn a_bad_url_is_refused_before_anything_is_sent() {
    for url in [
        "redash.example.com",
        "https://user:pw@redash.example.com",
        "http://x/?api_key=1",
    ] {
        let output = command()
            .env("REDASH_TEST_KEY", KEY)
            .args([
                "smoke",
                "--url",
                url,
                "--api-key-env",
                "REDASH_TEST_KEY",
                "--expect",
                "10",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(!stderr(&output).contains(KEY));
    }
}

#[test]
fn smoke_codes_are_explained() {
    let output = command()
        .args(["explain", "smoke-version-mismatch"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("The running release is not the one expected"));
}

#[test]
fn a_status_endpoint_that_cannot_read_its_database_is_unhealthy() {
    let healthy = redash("10.1.0+b50633");
    let server = serve(Arc::new(
        move |method: &str, target: &str, request: &str| {
            if target == "/status.json" {
                (500, "<h1>Internal Server Error</h1>".to_owned())
            } else {
                healthy(method, target, request)
            }
        },
    ));
    let outcome = smoke_every_format(&server, &["--expect", "10.1.0"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("error[smoke-status-unhealthy]"),
        "{}",
        outcome.stdout
    );
}

/// The Celery era: the status reports no workers (the probe is skipped) and dashboards are
/// addressed by slug (`redash/handlers/dashboards.py:115-149` at v8.0.0).
#[test]
fn a_healthy_8_0_0_skips_the_workers_and_loads_the_dashboard_by_slug() {
    let healthy = redash("8.0.0+b32245");
    let server = serve(Arc::new(
        move |method: &str, target: &str, request: &str| match target {
            "/api/admin/queries/rq_status" | "/api/dashboards/ops?legacy" => (404, "{}".to_owned()),
            "/api/dashboards/ops" => healthy(method, "/api/dashboards/5", request),
            _ => healthy(method, target, request),
        },
    ));
    let outcome = smoke(
        &server,
        &["--expect", "8", "--query-id", "7", "--dashboard", "ops"],
    );
    assert!(
        outcome.stdout.contains("skipped workers"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("query 7 ran"), "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("widget 12: query 8"),
        "{}",
        outcome.stdout
    );
    assert_eq!(outcome.code, 1);
}
