//! `smoke`: after a hop, probe the new release over HTTP the way a user reaches it. `/ping`, the
//! status endpoint (version, PostgreSQL and Redis, workers per queue where the era reports them),
//! a page of queries and of dashboards with the API key, and on request one query run end to end
//! and one dashboard's widgets.
//!
//! What each release serves, from upstream (`getredash/redash`):
//! - `GET /ping` answers `PONG.` with no login (`redash/handlers/__init__.py:11-14`, every release).
//! - `GET /status.json` needs a super admin (`login_required`, `require_super_admin`,
//!   `redash/handlers/__init__.py:17-22`) and returns `monitor.get_status()`: `version`
//!   (`redash.__version__`, which release builds rewrite to `VERSION+bBUILD` in
//!   `.circleci/update_version`), Redis `used_memory` (read from Redis), object counts and
//!   `database_metrics` (read from PostgreSQL), and `manager.queues` with each queue's size. Its
//!   `workers` is always an empty list (`redash/monitor.py`, `get_status`, at v8.0.0, v10.1.0 and
//!   v25.8.0).
//! - Workers per queue: only the RQ era reports them, at `GET /api/admin/queries/rq_status`
//!   (`redash/handlers/admin.py:44-54` at v10.1.0 and v25.8.0; `monitor.rq_workers()` gives each
//!   worker's `queues` as a comma-separated string). The Celery era's `/api/admin/queries/tasks`
//!   lists tasks, not workers, so the probe is skipped there.
//! - Running a saved query: `POST /api/queries/ID/results` from 7.0.0 (`redash/handlers/api.py`
//!   at v7.0.0:126, `QueryResultResource.post`); before, `POST /api/query_results` with the
//!   query's text, `query_id` and `data_source_id` (v6.0.0 `redash/handlers/query_results.py:104`).
//!   `max_age: 0` always executes. Jobs at `GET /api/jobs/ID`: status 1 pending, 2 started,
//!   3 success, 4 failure, 5 cancelled (the Celery era; the RQ era reports a cancelled job as 4,
//!   `redash/serializers/__init__.py:301-341` at v10.1.0), with `error` and `query_result_id`.
//! - Dashboards: `/api/dashboards/SLUG` up to 9.0.0-beta; from 10.0.0 `/api/dashboards/ID`, and
//!   by slug only with `?legacy` (`redash/handlers/dashboards.py:190-193` at v10.1.0).

use std::time::{Duration, Instant};

use semver::Version;
use serde::Serialize;
use serde_json::{json, Value};

use crate::checks::{CheckMeta, Severity, Trigger};

/// What `smoke` is asked to probe.
pub struct SmokeRequest {
    /// The base URL, without a trailing slash.
    pub url: String,
    /// The API key; sent in the `Authorization` header only, never printed.
    pub api_key: String,
    /// The release the status endpoint must report.
    pub expect: Version,
    pub query_id: Option<u64>,
    pub dashboard: Option<String>,
    /// How long one query may take, from its start to its result; every request also gives up
    /// after it.
    pub timeout: Duration,
}

/// Why `smoke` could not run at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    #[error("--url {0}: not an http:// or https:// URL with a host")]
    BadUrl(String),
    #[error("--api-key-env {0}: no such variable in this environment (or it is empty)")]
    KeyVariableUnset(String),
}

/// Checks `url` and returns it without a trailing slash. No user, password or query string: the
/// key goes in a header, and a URL is printed in the report.
pub fn base_url(url: &str) -> Result<String, SmokeError> {
    let bad = || SmokeError::BadUrl(url.to_owned());
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || url.contains('?') || url.contains('#') {
        return Err(bad());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// One probe's outcome, in the order they ran.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub name: &'static str,
    /// `ok`, `failed` or `skipped`.
    pub outcome: &'static str,
    pub detail: String,
}

/// A failed probe, with a stable code that `explain` documents.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeFinding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeReport {
    pub url: String,
    pub expect: String,
    /// The version the status endpoint reported, as Redash prints it.
    pub version: Option<String>,
    pub probes: Vec<Probe>,
    pub findings: Vec<SmokeFinding>,
}

impl SmokeReport {
    pub fn passed(&self) -> bool {
        !self
            .findings
            .iter()
            .any(|finding| finding.severity == Severity::Error)
    }
}

const fn meta(
    code: &'static str,
    summary: &'static str,
    what: &'static str,
    why: &'static str,
    fix: &'static str,
    references: &'static [&'static str],
) -> CheckMeta {
    CheckMeta {
        code,
        severity: Severity::Error,
        trigger: Trigger::OncePerPlan,
        effect: None,
        summary,
        what,
        why,
        fix,
        references,
    }
}

/// The codes `smoke` reports, documented for `explain` (they are probes of a running release,
/// not checks of a plan, so they are not in the check registry).
pub static CODES: &[CheckMeta] = &[
    meta(
        "smoke-unreachable",
        "The new release does not answer GET /ping",
        "Requests GET /ping, which every release answers with PONG. and no login.",
        "If /ping fails, no gunicorn worker of the web role answers at that URL: the container did not start, crashed on start (a missing setting, a migration not run), or the proxy in front does not reach it.",
        "Look at the server role's logs (docker compose logs server), check it is running and listening, and that --url is the address users reach.",
        &["getredash/redash v10.1.0:redash/handlers/__init__.py:11-14"],
    ),
    meta(
        "smoke-auth-refused",
        "The API key is refused",
        "Sends the key in the Authorization: Key header to /status.json and the API.",
        "/status.json needs a super admin; the API needs a user the key belongs to. A refused key after a hop can also mean REDASH_SECRET_KEY or the cookie secret changed, or the users table was not carried over.",
        "Use the API key of a super admin (the admin group of the default org), from the user's profile page; check the key's user is not disabled.",
        &["getredash/redash v10.1.0:redash/handlers/__init__.py:17-22"],
    ),
    meta(
        "smoke-status-unhealthy",
        "The status endpoint fails or lacks what it reads from PostgreSQL and Redis",
        "Reads /status.json: it answers only if the web role reaches both the metadata database (object counts, database sizes) and Redis (used memory, queue sizes).",
        "A failing status endpoint means the new release cannot read its database or Redis: a wrong REDASH_DATABASE_URL or REDASH_REDIS_URL, a database not migrated, or a service that is down.",
        "Read the server role's log for the traceback; check the URLs of the database and Redis in the new release's environment.",
        &["getredash/redash v10.1.0:redash/monitor.py:51-61"],
    ),
    meta(
        "smoke-version-mismatch",
        "The running release is not the one expected",
        "Compares the version /status.json reports (10.1.0+b50633 in a release image) with --expect, ignoring the build suffix.",
        "An old image still answering (a tag not updated, a load balancer still sending traffic to the old containers) would pass every other probe.",
        "Check the image tag of every role and that the old containers are stopped or out of the load balancer.",
        &["getredash/redash v10.1.0:.circleci/update_version:3-5"],
    ),
    meta(
        "smoke-workers-missing",
        "A queue has no worker (RQ era)",
        "Reads /api/admin/queries/rq_status and counts, for every queue the status endpoint lists, the workers that listen on it.",
        "Jobs on a queue nobody listens to wait forever: queries never finish, schedules pile up.",
        "Start workers for the queue (QUEUES of a worker role), or move the data sources to a queue that is served.",
        &["getredash/redash v10.1.0:redash/monitor.py:107-125"],
    ),
    meta(
        "smoke-api-failed",
        "The API does not list queries or dashboards",
        "Requests one page of /api/queries and of /api/dashboards with the key.",
        "The pages read the queries and dashboards tables through the new release's models: a failure points at the migration or at data it cannot load.",
        "Read the server role's log for the traceback of the failed request.",
        &["getredash/redash v10.1.0:redash/handlers/queries.py:141-161"],
    ),
    meta(
        "smoke-query-failed",
        "A query did not run end to end",
        "With --query-id, runs the query with max_age 0 and polls its job until it succeeds or fails, then fetches the result; with --dashboard, fetches every widget's query result.",
        "A query that fails after the hop while it ran before points at the workers (queues, a runner missing from the new image, Python 3) or at the data source's options.",
        "The job's error says why; look at the worker's log for the job id. Run the query from the UI to compare.",
        &["getredash/redash v10.1.0:redash/serializers/__init__.py:301-341"],
    ),
    meta(
        "smoke-dashboard-failed",
        "The dashboard does not load",
        "With --dashboard, loads it (by slug up to 9.0.0-beta, by id or with ?legacy from 10.0.0).",
        "A dashboard that does not load after the hop points at widgets or visualizations the new release cannot read.",
        "Read the server role's log for the traceback; from 10.0.0 pass the dashboard's id or its slug.",
        &["getredash/redash v10.1.0:redash/handlers/dashboards.py:190-193"],
    ),
];

/// The documentation of a smoke code.
pub fn find_code(code: &str) -> Option<&'static CheckMeta> {
    CODES.iter().find(|meta| meta.code == code)
}

struct Response {
    status: u16,
    body: String,
}

impl Response {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
}

impl Client {
    fn new(request: &SmokeRequest) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(request.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Client {
            agent: config.into(),
            base: request.url.clone(),
            key: request.api_key.clone(),
        }
    }

    /// Never lets the key out in an error text.
    fn mask(&self, text: String) -> String {
        if self.key.is_empty() {
            text
        } else {
            text.replace(&self.key, "***")
        }
    }

    fn get(&self, path: &str, authorized: bool) -> Result<Response, String> {
        let mut builder = self.agent.get(format!("{}{path}", self.base));
        if authorized {
            builder = builder.header("Authorization", format!("Key {}", self.key));
        }
        self.finish(builder.call())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Response, String> {
        let result = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Key {}", self.key))
            .header("Content-Type", "application/json")
            .send(body.to_string());
        self.finish(result)
    }

    fn finish(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Response, String> {
        let mut response = result.map_err(|error| self.mask(error.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|error| self.mask(error.to_string()))?;
        Ok(Response {
            status,
            body: self.mask(body),
        })
    }
}

/// The first line of a body, shortened, for a message.
fn excerpt(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or_default();
    let mut text: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        text.push('…');
    }
    text
}

/// Whether Redash refused the key: a valid key without the permission gets 403
/// (`require_permission`); an unknown key gets a redirect to the login page, or on `/api/` paths
/// 404 "Couldn't find resource. Please login and try again." (`redirect_to_login`,
/// `redash/authentication/__init__.py:218-228` at v10.1.0).
fn refused(response: &Response) -> bool {
    matches!(response.status, 401 | 403)
        || (300..400).contains(&response.status)
        || (response.status == 404 && response.body.contains("Please login"))
}

/// Compares a version as Redash prints it (`10.1.0+b50633`, `25.8.0`, `9.0.0-beta+b1`) with the
/// expected release, ignoring the build suffix.
pub fn version_matches(reported: &str, expect: &Version) -> bool {
    match Version::parse(reported.trim()) {
        Ok(mut version) => {
            version.build = semver::BuildMetadata::EMPTY;
            &version == expect
        }
        Err(_) => reported.split('+').next() == Some(expect.to_string().as_str()),
    }
}

struct Run<'a> {
    request: &'a SmokeRequest,
    client: Client,
    report: SmokeReport,
}

impl Run<'_> {
    fn probe(&mut self, name: &'static str, outcome: &'static str, detail: impl Into<String>) {
        self.report.probes.push(Probe {
            name,
            outcome,
            detail: detail.into(),
        });
    }

    fn fail(
        &mut self,
        name: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> &'static str {
        let message = message.into();
        let meta = find_code(code).expect("a documented smoke code");
        self.probe(name, "failed", message.clone());
        self.report.findings.push(SmokeFinding {
            code,
            severity: meta.severity,
            message,
            help: meta.fix.to_owned(),
        });
        "failed"
    }

    fn rq_era(&self) -> bool {
        self.request.expect.major >= 9
    }
}

/// Runs every probe. A failed probe is a finding; the run goes on where the next probe still
/// means something (nothing after an unreachable /ping, no API after a refused key).
pub fn smoke(request: &SmokeRequest) -> SmokeReport {
    let mut run = Run {
        request,
        client: Client::new(request),
        report: SmokeReport {
            url: request.url.clone(),
            expect: request.expect.to_string(),
            version: None,
            probes: Vec::new(),
            findings: Vec::new(),
        },
    };
    if !ping(&mut run) {
        return run.report;
    }
    if !status(&mut run) {
        return run.report;
    }
    if !api_pages(&mut run) {
        return run.report;
    }
    if let Some(query_id) = request.query_id {
        match run_query(&run, query_id, true) {
            Ok(detail) => run.probe("query", "ok", detail),
            Err(message) => {
                run.fail("query", "smoke-query-failed", message);
            }
        }
    }
    if let Some(dashboard) = &request.dashboard {
        dashboard_probe(&mut run, dashboard);
    }
    run.report
}

fn ping(run: &mut Run<'_>) -> bool {
    match run.client.get("/ping", false) {
        Ok(response) if response.status == 200 && response.body.trim().starts_with("PONG") => {
            run.probe("ping", "ok", "GET /ping answered PONG.");
            true
        }
        Ok(response) => {
            let message = format!(
                "GET /ping answered HTTP {} ({}), not PONG.",
                response.status,
                excerpt(&response.body)
            );
            run.fail("ping", "smoke-unreachable", message);
            false
        }
        Err(error) => {
            let message = format!("GET /ping: {error}");
            run.fail("ping", "smoke-unreachable", message);
            false
        }
    }
}

fn status(run: &mut Run<'_>) -> bool {
    let response = match run.client.get("/status.json", true) {
        Ok(response) => response,
        Err(error) => {
            run.fail(
                "status",
                "smoke-status-unhealthy",
                format!("GET /status.json: {error}"),
            );
            return true;
        }
    };
    if refused(&response) {
        run.fail(
            "status",
            "smoke-auth-refused",
            format!(
                "GET /status.json answered HTTP {}: the key is refused (the status endpoint needs a super admin's key)",
                response.status
            ),
        );
        return false;
    }
    let body = match response.json() {
        Some(body) if response.status == 200 => body,
        _ => {
            run.fail(
                "status",
                "smoke-status-unhealthy",
                format!(
                    "GET /status.json answered HTTP {} ({}): the web role could not read its database or Redis",
                    response.status,
                    excerpt(&response.body)
                ),
            );
            return true;
        }
    };
    let version = body["version"].as_str().unwrap_or_default().to_owned();
    run.report.version = Some(version.clone());
    if version_matches(&version, &run.request.expect) {
        run.probe(
            "version",
            "ok",
            format!("{version} is {} as expected", run.request.expect),
        );
    } else {
        run.fail(
            "version",
            "smoke-version-mismatch",
            format!(
                "the status endpoint reports version {:?}, not {}",
                version, run.request.expect
            ),
        );
    }
    let redis = body.get("redis_used_memory_human").and_then(Value::as_str);
    let database = body
        .pointer("/database_metrics/metrics")
        .and_then(Value::as_array);
    match (redis, database) {
        (Some(memory), Some(_)) => run.probe(
            "status",
            "ok",
            format!("database and Redis reachable (Redis uses {memory})"),
        ),
        _ => {
            run.fail(
                "status",
                "smoke-status-unhealthy",
                "the status endpoint lacks Redis memory or database metrics",
            );
        }
    }
    let queues: Vec<String> = body
        .pointer("/manager/queues")
        .and_then(Value::as_object)
        .map(|queues| queues.keys().cloned().collect())
        .unwrap_or_default();
    workers(run, &queues);
    true
}

fn workers(run: &mut Run<'_>, queues: &[String]) {
    if !run.rq_era() {
        run.probe(
            "workers",
            "skipped",
            "the Celery era's status does not report workers per queue",
        );
        return;
    }
    let response = match run.client.get("/api/admin/queries/rq_status", true) {
        Ok(response) if response.status == 200 => response,
        Ok(response) => {
            run.fail(
                "workers",
                "smoke-status-unhealthy",
                format!(
                    "GET /api/admin/queries/rq_status answered HTTP {}",
                    response.status
                ),
            );
            return;
        }
        Err(error) => {
            run.fail(
                "workers",
                "smoke-status-unhealthy",
                format!("GET /api/admin/queries/rq_status: {error}"),
            );
            return;
        }
    };
    let body = response.json().unwrap_or(Value::Null);
    let listening: Vec<String> = body["workers"]
        .as_array()
        .map(|workers| {
            workers
                .iter()
                .filter_map(|worker| worker["queues"].as_str())
                .flat_map(|queues| queues.split(',').map(|queue| queue.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut counts = Vec::new();
    let mut missing = Vec::new();
    for queue in queues {
        let count = listening.iter().filter(|name| *name == queue).count();
        counts.push(format!("{queue}: {count}"));
        if count == 0 {
            missing.push(queue.clone());
        }
    }
    if missing.is_empty() {
        run.probe(
            "workers",
            "ok",
            format!("workers per queue: {}", counts.join(", ")),
        );
    } else {
        run.fail(
            "workers",
            "smoke-workers-missing",
            format!(
                "no worker listens on {} (workers per queue: {})",
                missing.join(", "),
                counts.join(", ")
            ),
        );
    }
}

fn api_pages(run: &mut Run<'_>) -> bool {
    for (name, path) in [
        ("queries", "/api/queries?page_size=1"),
        ("dashboards", "/api/dashboards?page_size=1"),
    ] {
        match run.client.get(path, true) {
            Ok(response) if refused(&response) => {
                run.fail(
                    name,
                    "smoke-auth-refused",
                    format!(
                        "GET {path} answered HTTP {}: the key is refused",
                        response.status
                    ),
                );
                return false;
            }
            Ok(response) if response.status == 200 => {
                let count = response
                    .json()
                    .and_then(|body| body["count"].as_u64())
                    .map_or_else(String::new, |count| format!(" ({count} in all)"));
                run.probe(name, "ok", format!("GET {path} answered{count}"));
            }
            Ok(response) => {
                run.fail(
                    name,
                    "smoke-api-failed",
                    format!(
                        "GET {path} answered HTTP {} ({})",
                        response.status,
                        excerpt(&response.body)
                    ),
                );
            }
            Err(error) => {
                run.fail(name, "smoke-api-failed", format!("GET {path}: {error}"));
            }
        }
    }
    true
}

/// Runs (or, for a widget, fetches) query `id` and returns a line on its result.
fn run_query(run: &Run<'_>, id: u64, execute: bool) -> Result<String, String> {
    let max_age = if execute { 0 } else { -1 };
    let started = Instant::now();
    let response = if run.request.expect.major >= 7 {
        run.client.post(
            &format!("/api/queries/{id}/results"),
            &json!({ "max_age": max_age }),
        )?
    } else {
        let query = run.client.get(&format!("/api/queries/{id}"), true)?;
        let query = query
            .json()
            .filter(|_| query.status == 200)
            .ok_or_else(|| format!("GET /api/queries/{id} answered HTTP {}", query.status))?;
        run.client.post(
            "/api/query_results",
            &json!({
                "query": query["query"],
                "query_id": id,
                "data_source_id": query["data_source_id"],
                "max_age": max_age,
            }),
        )?
    };
    let body = response.json().unwrap_or(Value::Null);
    if response.status != 200 {
        let error = body
            .pointer("/job/error")
            .or_else(|| body.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| excerpt(&response.body), str::to_owned);
        return Err(format!(
            "query {id}: running it answered HTTP {}: {error}",
            response.status
        ));
    }
    let result_id = if let Some(result) = body.get("query_result") {
        result["id"].as_u64()
    } else {
        let job_id = body
            .pointer("/job/id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("query {id}: the answer names no job"))?
            .to_owned();
        Some(poll(run, id, &job_id, started)?)
    };
    let result_id = result_id.ok_or_else(|| format!("query {id}: no result id"))?;
    let result = run
        .client
        .get(&format!("/api/query_results/{result_id}"), true)?;
    if result.status != 200 {
        return Err(format!(
            "query {id}: fetching result {result_id} answered HTTP {}",
            result.status
        ));
    }
    let rows = result
        .json()
        .and_then(|body| {
            body.pointer("/query_result/data/rows")
                .and_then(Value::as_array)
                .map(Vec::len)
        })
        .ok_or_else(|| format!("query {id}: result {result_id} holds no rows"))?;
    Ok(format!(
        "query {id} ran: result {result_id}, {rows} rows, in {:.1}s",
        started.elapsed().as_secs_f64()
    ))
}

fn poll(run: &Run<'_>, id: u64, job_id: &str, started: Instant) -> Result<u64, String> {
    let mut wait = Duration::from_millis(100);
    loop {
        let response = run.client.get(&format!("/api/jobs/{job_id}"), true)?;
        let body = response.json().unwrap_or(Value::Null);
        let job = &body["job"];
        match job["status"].as_u64() {
            Some(3) => {
                return job["query_result_id"]
                    .as_u64()
                    .ok_or_else(|| format!("query {id}: job {job_id} succeeded with no result"))
            }
            Some(status @ (4 | 5)) => {
                let error = job["error"].as_str().unwrap_or_default();
                let what = if status == 5 {
                    "was cancelled"
                } else {
                    "failed"
                };
                return Err(format!("query {id}: job {job_id} {what}: {error}"));
            }
            Some(1 | 2) => {}
            _ => {
                return Err(format!(
                    "query {id}: GET /api/jobs/{job_id} answered HTTP {} ({})",
                    response.status,
                    excerpt(&response.body)
                ))
            }
        }
        if started.elapsed() >= run.request.timeout {
            return Err(format!(
                "query {id}: job {job_id} did not finish within {}s",
                run.request.timeout.as_secs()
            ));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

fn dashboard_probe(run: &mut Run<'_>, dashboard: &str) {
    let by_id = dashboard
        .chars()
        .all(|character| character.is_ascii_digit());
    let path = if run.request.expect.major >= 10 && !by_id {
        format!("/api/dashboards/{dashboard}?legacy")
    } else {
        format!("/api/dashboards/{dashboard}")
    };
    let response = match run.client.get(&path, true) {
        Ok(response) => response,
        Err(error) => {
            run.fail(
                "dashboard",
                "smoke-dashboard-failed",
                format!("GET {path}: {error}"),
            );
            return;
        }
    };
    let body = match response.json() {
        Some(body) if response.status == 200 => body,
        _ => {
            run.fail(
                "dashboard",
                "smoke-dashboard-failed",
                format!("GET {path} answered HTTP {}", response.status),
            );
            return;
        }
    };
    let widgets: Vec<(u64, u64)> = body["widgets"]
        .as_array()
        .map(|widgets| {
            widgets
                .iter()
                .filter_map(|widget| {
                    Some((
                        widget["id"].as_u64()?,
                        widget.pointer("/visualization/query/id")?.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    run.probe(
        "dashboard",
        "ok",
        format!(
            "GET {path} answered: {} widgets with a query",
            widgets.len()
        ),
    );
    for (widget, query) in widgets {
        match run_query(run, query, false) {
            Ok(detail) => run.probe("widget", "ok", format!("widget {widget}: {detail}")),
            Err(message) => {
                run.fail(
                    "widget",
                    "smoke-query-failed",
                    format!("dashboard {dashboard}, widget {widget}: {message}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_redash_prints_them() {
        let ten = Version::new(10, 1, 0);
        assert!(version_matches("10.1.0+b50633", &ten));
        assert!(version_matches("10.1.0", &ten));
        assert!(!version_matches("10.0.0+b50363", &ten));
        assert!(version_matches("25.8.0", &Version::new(25, 8, 0)));
        assert!(version_matches(
            "9.0.0-beta+b42121",
            &Version::parse("9.0.0-beta").unwrap()
        ));
        assert!(!version_matches("", &ten));
    }

    #[test]
    fn urls_with_credentials_or_a_query_are_refused() {
        assert_eq!(
            base_url("https://r.example.com/").unwrap(),
            "https://r.example.com"
        );
        assert!(base_url("r.example.com").is_err());
        assert!(base_url("https://u:p@r.example.com").is_err());
        assert!(base_url("https://r.example.com/?api_key=1").is_err());
    }

    #[test]
    fn every_smoke_code_is_unique_and_kebab_case() {
        let mut codes: Vec<&str> = CODES.iter().map(|meta| meta.code).collect();
        assert!(codes.iter().all(|code| code.starts_with("smoke-")
            && code.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CODES.len());
        assert!(codes.iter().all(|code| crate::checks::find(code).is_none()));
    }
}
