//! `status` against a real redis-server holding state the real job libraries made
//! (scripts/job-state, at the versions each release pins), and a real PostgreSQL for sessions.
//! Every expected number comes from the manifest the libraries' run printed, or from what the
//! test itself did to Redis.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use redash_upgrade::testbed::{Client, RedisReply, RedisServer};
use serde_json::Value;

use crate::redis_testbed::{scripts, venv, JobState};
use crate::support::{command, stderr, stdout};

/// Every live check, each made to fire by a test below (and kept quiet by another).
pub const COVERED: [&str; 13] = [
    "backlog-not-drained",
    "queue-without-worker",
    "worker-registration-dead",
    "scheduler-not-running",
    "scheduler-running-twice",
    "scheduler-key-stale",
    "job-lock-outlived-job",
    "celery-leftovers",
    "failed-jobs-grew",
    "redis-evicts-jobs",
    "redis-not-persistent",
    "redis-server-too-old",
    "sessions-still-open",
];

const READ_ONLY_PASSWORD: &str = "read-only-s3cret";

/// A user that can run only the commands `status` sends, so any write it tried would be
/// refused by Redis itself and logged in ACL LOG.
fn add_read_only_user(redis: &RedisServer) -> String {
    let reply = redis
        .send(&[
            "ACL",
            "SETUSER",
            "status",
            "on",
            &format!(">{READ_ONLY_PASSWORD}"),
            "~*",
            "&*",
            "-@all",
            "+@read",
            "+info",
            "+ping",
            "+select",
            "+client|list",
            "+config|get",
        ])
        .unwrap();
    assert_eq!(reply, RedisReply::Status("OK".into()));
    redis
        .url()
        .replace("redis://", &format!("redis://status:{READ_ONLY_PASSWORD}@"))
}

fn acl_denials(redis: &RedisServer) -> Vec<String> {
    match redis.send(&["ACL", "LOG"]).unwrap() {
        RedisReply::Array(Some(entries)) => {
            entries.iter().map(|entry| format!("{entry:?}")).collect()
        }
        other => panic!("ACL LOG: {other:?}"),
    }
}

fn status(args: &[&str]) -> Output {
    command()
        .arg("status")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn status_json(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    let output = status(&all);
    let err = stderr(&output);
    let json: Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|error| panic!("status printed no JSON ({error}): {err}"));
    (output.status.code(), json, err)
}

fn queue<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["observation"]["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|queue| queue["name"] == name)
        .unwrap_or_else(|| panic!("no queue {name} in {}", json["observation"]["queues"]))
}

fn findings<'a>(json: &'a Value, code: &str) -> Vec<&'a Value> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == code)
        .collect()
}

fn not_run(json: &Value, code: &str) -> bool {
    findings(json, "check-could-not-run")
        .iter()
        .any(|finding| finding["message"].as_str().unwrap().starts_with(code))
}

fn names(values: &[&Value], field: &str) -> BTreeSet<String> {
    values
        .iter()
        .map(|value| value[field].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the killed scheduler's key shows a missed heartbeat (its TTL, set to 15 s at each
/// heartbeat, below 15 - 7), so that `status` must call it stale; it still has a few seconds to
/// live.
fn wait_until_scheduler_key_is_late(redis: &RedisServer, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ttl = redis.send(&["TTL", key]).unwrap().integer().unwrap();
        assert!(ttl != -2, "{key} expired before status could read it");
        if ttl <= 7 {
            return;
        }
        assert!(Instant::now() < deadline, "{key} keeps a TTL of {ttl}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_key_still_there(redis: &RedisServer, key: &str) {
    assert_eq!(
        redis.send(&["EXISTS", key]).unwrap().integer(),
        Some(1),
        "{key} expired while status ran: the machine was too slow for this test's window"
    );
}

/// What both RQ eras must report of the state their libraries made.
fn assert_rq_state_reported(state: &JobState, json: &Value) {
    let manifest = &state.manifest;
    for (name, expected) in manifest["queued"].as_object().unwrap() {
        let reported = queue(json, name);
        assert_eq!(reported["queued"], expected["count"], "queued in {name}");
        assert_eq!(reported["key"], expected["key"]);
    }
    let started = manifest["started"]["queries"].as_array().unwrap().len();
    assert_eq!(queue(json, "queries")["started"], started);
    let failed = manifest["failed"]["default"].as_array().unwrap().len();
    assert_eq!(queue(json, "default")["failed"], failed);
    for name in ["emails", "periodic", "schemas", "scheduled_queries"] {
        assert_eq!(queue(json, name)["started"], 0, "{name}");
        assert_eq!(queue(json, name)["failed"], 0, "{name}");
    }

    let workers = json["observation"]["workers"].as_array().unwrap();
    let reported: BTreeSet<String> = workers
        .iter()
        .map(|worker| worker["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = manifest["live_workers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(manifest["dead_workers"].as_array().unwrap())
        .map(|name| name.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reported, expected,
        "the burst worker stopped cleanly and is not listed"
    );
    let live = workers
        .iter()
        .find(|worker| worker["name"] == "job-state-live")
        .unwrap();
    assert_eq!(live["queues"], serde_json::json!(["queries"]));
    assert_eq!(live["current_job"], manifest["started"]["queries"][0]);
    assert_eq!(live["state"], "busy");

    let scheduler = &json["observation"]["scheduler"];
    let periodic: BTreeSet<String> = names(
        &scheduler["periodic_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        "id",
    );
    let registered: BTreeSet<String> = manifest["scheduled"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(periodic, registered);
    let instances = scheduler["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0]["key"], manifest["scheduler_keys"]["birth"]);
    assert_eq!(instances[0]["heartbeat"], "late");

    // Every queue with a backlog is named; the queues a worker that may run listens to are not
    // "without worker".
    let backlog = names(&findings(json, "backlog-not-drained"), "message");
    assert_eq!(backlog.len(), manifest["queued"].as_object().unwrap().len());
    assert_eq!(findings(json, "scheduler-not-running").len(), 1);
    assert!(findings(json, "celery-leftovers").is_empty());
    assert!(findings(json, "redis-evicts-jobs").is_empty());
    assert_eq!(
        findings(json, "redis-not-persistent").len(),
        1,
        "the test bed's Redis saves nothing"
    );
}

fn queues_without_worker(json: &Value) -> BTreeSet<String> {
    findings(json, "queue-without-worker")
        .iter()
        .map(|finding| {
            finding["message"]
                .as_str()
                .unwrap()
                .strip_prefix("queue ")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn the_10_1_state_made_by_rq_1_5_is_reported_exactly_and_nothing_is_written() {
    let state = JobState::make("rq10");
    let url = add_read_only_user(&state.redis);
    let birth = state.manifest["scheduler_keys"]["birth"].as_str().unwrap();
    assert_eq!(birth, "rq:scheduler");
    // Query locks as Redash's enqueue_query sets them (SET key job_id EX JOB_EXPIRY_TIME,
    // v10.1.0:redash/tasks/queries/execution.py:111-115): one for the running job, one for the
    // job that failed.
    let started = state.manifest["started"]["queries"][0].as_str().unwrap();
    let failed = state.manifest["failed"]["default"][0].as_str().unwrap();
    for (key, job) in [
        ("query_hash_job:1:running", started),
        ("query_hash_job:2:over", failed),
    ] {
        assert_eq!(
            state.redis.send(&["SET", key, job, "EX", "43200"]).unwrap(),
            RedisReply::Status("OK".into())
        );
    }
    wait_until_scheduler_key_is_late(&state.redis, birth);
    let (code, json, err) = status_json(&["--redis-url", &url, "--from", "10.1.0"]);
    assert_key_still_there(&state.redis, birth);
    assert_eq!(code, Some(0), "{err}");
    assert_rq_state_reported(&state, &json);

    // rq 1.5 does not name its connection: both workers may be running, so only the queues no
    // registered worker listens to lack one.
    for worker in json["observation"]["workers"].as_array().unwrap() {
        assert_eq!(worker["liveness"], "unknown", "{worker}");
    }
    assert_eq!(
        queues_without_worker(&json),
        set(&["default", "periodic", "scheduled_queries", "schemas"])
    );
    assert!(findings(&json, "worker-registration-dead").is_empty());
    let outlived = findings(&json, "job-lock-outlived-job");
    assert_eq!(outlived.len(), 1);
    assert_eq!(
        outlived[0]["message"],
        format!(
            "1 of 2 query lock(s) outlived their job: query_hash_job:2:over -> {failed} (failed)"
        )
    );
    // 0.9.1's one key blocks a new scheduler: a warning that says so.
    let stale = findings(&json, "scheduler-key-stale");
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["severity"], "warning");
    assert!(
        stale[0]["message"]
            .as_str()
            .unwrap()
            .contains("refuses to start"),
        "{}",
        stale[0]
    );

    assert_eq!(
        acl_denials(&state.redis),
        Vec::<String>::new(),
        "status tried a command the read-only user may not run"
    );
    let shown = json["observation"]["redis"].as_str().unwrap();
    assert!(
        shown.starts_with("redis://status:***@127.0.0.1:"),
        "{shown}"
    );
    assert!(
        !stdout(&status(&["--redis-url", &url, "--from", "10.1.0"])).contains(READ_ONLY_PASSWORD)
    );
}

#[test]
fn the_25_8_state_made_by_rq_1_16_knows_the_dead_worker_by_its_closed_connection() {
    let state = JobState::make("rq25");
    let url = add_read_only_user(&state.redis);
    let birth = state.manifest["scheduler_keys"]["birth"].as_str().unwrap();
    wait_until_scheduler_key_is_late(&state.redis, birth);
    let (code, json, err) = status_json(&["--redis-url", &url, "--from", "25.8.0"]);
    assert_key_still_there(&state.redis, birth);
    assert_eq!(code, Some(0), "{err}");
    assert_rq_state_reported(&state, &json);

    let liveness: BTreeMap<String, String> = json["observation"]["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|worker| {
            (
                worker["name"].as_str().unwrap().to_owned(),
                worker["liveness"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(liveness["job-state-live"], "connected");
    assert_eq!(liveness["job-state-dead"], "gone");
    let dead = findings(&json, "worker-registration-dead");
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("worker job-state-dead (queues emails)"));
    // The dead worker was emails' only listener.
    assert_eq!(
        queues_without_worker(&json),
        set(&[
            "default",
            "emails",
            "periodic",
            "scheduled_queries",
            "schemas"
        ])
    );
    // 0.13.1 names its instances: a stale one blocks nobody.
    let stale = findings(&json, "scheduler-key-stale");
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["severity"], "info");
    assert_eq!(acl_denials(&state.redis), Vec::<String>::new());
}

#[test]
fn the_8_0_state_made_by_celery_4_3_is_a_backlog_the_hop_to_rq_would_lose() {
    let state = JobState::make("celery");
    let url = add_read_only_user(&state.redis);
    let manifest = &state.manifest;
    let (code, json, err) =
        status_json(&["--redis-url", &url, "--from", "8.0.0", "--to", "10.1.0"]);
    assert_eq!(code, Some(1), "a backlog the hop loses is an error: {err}");
    let mut messages = 0;
    for (name, expected) in manifest["queued"].as_object().unwrap() {
        assert_eq!(queue(&json, name)["queued"], expected["count"], "{name}");
        messages += expected["count"].as_u64().unwrap();
    }
    let unacked = manifest["unacked"]["task_ids"].as_array().unwrap().len();
    assert_eq!(queue(&json, "queries")["started"], unacked);
    let backlog = findings(&json, "backlog-not-drained");
    assert_eq!(backlog.len(), manifest["queued"].as_object().unwrap().len());
    assert!(backlog.iter().all(|finding| finding["severity"] == "error"));
    assert!(json["observation"]["workers"].is_null());
    assert!(
        not_run(&json, "queue-without-worker"),
        "Celery workers do not register"
    );
    assert!(not_run(&json, "scheduler-not-running"));
    let locks = json["observation"]["job_locks"].as_array().unwrap();
    assert_eq!(locks.len(), manifest["job_locks"].as_array().unwrap().len());
    assert!(
        findings(&json, "celery-leftovers").is_empty(),
        "Celery's keys are its own in 8.0.0"
    );
    assert!(findings(&json, "job-lock-outlived-job").is_empty());

    // Within the Celery era the same backlog is a warning, not a loss.
    let (code, json, _) = status_json(&["--redis-url", &url, "--from", "7.0.0", "--to", "8.0.0"]);
    assert_eq!(code, Some(0));
    assert!(findings(&json, "backlog-not-drained")
        .iter()
        .all(|finding| finding["severity"] == "warning"));

    // The same Redis read as the RQ release that followed: Celery's keys are leftovers, their
    // messages lost, and the locks name tasks RQ never heard of.
    let (code, json, err) = status_json(&["--redis-url", &url, "--from", "10.1.0"]);
    assert_eq!(code, Some(0), "{err}");
    let leftovers = findings(&json, "celery-leftovers");
    assert_eq!(leftovers.len(), 1);
    assert_eq!(leftovers[0]["severity"], "warning");
    let text = leftovers[0]["message"].as_str().unwrap();
    assert!(
        text.contains(&format!("{} message(s)", messages + unacked as u64)),
        "{text}"
    );
    for key in [
        "_kombu.binding.*",
        "unacked",
        "unacked_index",
        "queries",
        "celery",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
    let outlived = findings(&json, "job-lock-outlived-job");
    assert_eq!(outlived.len(), 1);
    assert!(outlived[0]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{0} of {0} query lock(s)", locks.len())));
    assert_eq!(acl_denials(&state.redis), Vec::<String>::new());
}

fn python(era: &str, args: &[&str]) -> String {
    let output = Command::new(venv(era).join("bin/python"))
        .arg(scripts().join("make_state.py"))
        .args(args)
        .output()
        .expect("run make_state.py");
    assert!(
        output.status.success(),
        "make_state.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn wait_drained_returns_when_a_real_worker_empties_the_queues_and_fails_on_timeout() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    python("rq10", &["_rq_enqueue", &url, "queries", "noop", "5"]);
    python("rq10", &["_rq_enqueue", &url, "schemas", "noop", "3"]);

    let timed_out = status(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--wait-drained",
        "--timeout",
        "1s",
        "--interval",
        "200ms",
        "--format",
        "json",
    ]);
    assert_eq!(timed_out.status.code(), Some(1), "{}", stderr(&timed_out));
    let json: Value = serde_json::from_str(&stdout(&timed_out)).unwrap();
    assert_eq!(json["wait"]["drained"], false);
    assert_eq!(json["blocks"], true);
    assert!(
        stderr(&timed_out).contains("waiting for the queues to drain: 8 queued, 0 running"),
        "{}",
        stderr(&timed_out)
    );

    let waiting = command()
        .args([
            "status",
            "--redis-url",
            &url,
            "--from",
            "10.1.0",
            "--wait-drained",
            "--timeout",
            "2min",
            "--interval",
            "200ms",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    python("rq10", &["_rq_burst", &url, "queries,schemas"]);
    let output = waiting.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["wait"]["drained"], true);
    assert_eq!(queue(&json, "queries")["queued"], 0);
    assert!(findings(&json, "backlog-not-drained").is_empty());
    assert!(
        stderr(&output).contains("drained after"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn failed_jobs_are_compared_with_a_baseline() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("before.json");
    let baseline_arg = baseline.to_str().unwrap();
    python("rq10", &["_rq_enqueue", &url, "default", "fail", "1"]);
    python("rq10", &["_rq_burst", &url, "default"]);

    let (code, json, err) = status_json(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--write-baseline",
        baseline_arg,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(not_run(&json, "failed-jobs-grew"));
    let written: Value = serde_json::from_slice(&std::fs::read(&baseline).unwrap()).unwrap();
    assert_eq!(written["failed"]["default"], 1);
    assert_eq!(written["release"], "10.1.0");

    let (_, json, _) = status_json(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--baseline",
        baseline_arg,
    ]);
    assert!(
        findings(&json, "failed-jobs-grew").is_empty(),
        "no growth, no finding"
    );
    assert!(!not_run(&json, "failed-jobs-grew"));

    python("rq10", &["_rq_enqueue", &url, "default", "fail", "2"]);
    python("rq10", &["_rq_burst", &url, "default"]);
    let (_, json, _) = status_json(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--baseline",
        baseline_arg,
    ]);
    let grew = findings(&json, "failed-jobs-grew");
    assert_eq!(grew.len(), 1);
    assert_eq!(
        grew[0]["message"],
        "queue default: 3 failed job(s), 1 at the baseline (release 10.1.0)"
    );

    std::fs::write(&baseline, "{\n  \"format\": 1,\n  oops\n}\n").unwrap();
    let output = status(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--baseline",
        baseline_arg,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "--baseline {baseline_arg}:3: not a status baseline"
        )),
        "{message}"
    );
}

#[test]
fn one_scheduler_is_quiet_and_two_are_reported() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let spawn = |era: &str, name: &str| {
        Command::new(venv(era).join("bin/python"))
            .arg(scripts().join("make_state.py"))
            .args(["_rq_scheduler", &url, name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_for_key = |pattern: &str, count: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while redis.send(&["KEYS", pattern]).unwrap().texts().len() < count {
            assert!(Instant::now() < deadline, "no {pattern}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let mut first = spawn("rq25", "first");
    wait_for_key("rq:scheduler_instance:*", 1);
    let (_, json, err) = status_json(&["--redis-url", &url, "--from", "25.8.0"]);
    assert!(findings(&json, "scheduler-not-running").is_empty(), "{err}");
    assert!(findings(&json, "scheduler-running-twice").is_empty());
    assert!(findings(&json, "scheduler-key-stale").is_empty());

    let mut second = spawn("rq25", "second");
    wait_for_key("rq:scheduler_instance:*", 2);
    let (_, json, _) = status_json(&["--redis-url", &url, "--from", "25.8.0"]);
    let twice = findings(&json, "scheduler-running-twice");
    assert_eq!(twice.len(), 1);
    let message = twice[0]["message"].as_str().unwrap();
    assert!(
        message.contains("rq:scheduler_instance:first")
            && message.contains("rq:scheduler_instance:second"),
        "{message}"
    );
    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn the_server_settings_fire_and_stay_quiet_as_configured() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let config = |name: &str, value: &str| {
        assert_eq!(
            redis.send(&["CONFIG", "SET", name, value]).unwrap(),
            RedisReply::Status("OK".into())
        );
    };
    config("save", "3600 1");
    let (code, json, err) =
        status_json(&["--redis-url", &url, "--from", "10.1.0", "--to", "25.8.0"]);
    assert_eq!(code, Some(0), "{err}");
    for code in [
        "redis-not-persistent",
        "redis-evicts-jobs",
        "redis-server-too-old",
    ] {
        assert!(
            findings(&json, code).is_empty(),
            "{code}: {}",
            json["findings"]
        );
    }

    config("maxmemory", "1gb");
    config("maxmemory-policy", "allkeys-lru");
    let (_, json, _) = status_json(&["--redis-url", &url, "--from", "10.1.0"]);
    let evicts = findings(&json, "redis-evicts-jobs");
    assert_eq!(evicts.len(), 1);
    assert_eq!(evicts[0]["severity"], "warning");
    config("maxmemory-policy", "volatile-lru");
    let (_, json, _) = status_json(&["--redis-url", &url, "--from", "10.1.0"]);
    assert_eq!(findings(&json, "redis-evicts-jobs")[0]["severity"], "info");
    config("maxmemory-policy", "noeviction");
    config("save", "");
    let (_, json, _) = status_json(&["--redis-url", &url, "--from", "10.1.0"]);
    assert!(findings(&json, "redis-evicts-jobs").is_empty());
    assert_eq!(findings(&json, "redis-not-persistent").len(), 1);

    // A knowledge base in which 25.8.0 needs a Redis newer than any: the running server is
    // compared with the target's minimum.
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_tree(
        &crate::support::repo_root().join("upgrade-paths"),
        dir.path(),
    );
    let release = dir.path().join("releases/25.8.0.json");
    let mut knowledge: Value = serde_json::from_slice(&std::fs::read(&release).unwrap()).unwrap();
    knowledge["redis_minimum"]["version"] = "99.0".into();
    std::fs::write(&release, serde_json::to_vec_pretty(&knowledge).unwrap()).unwrap();
    let output = command()
        .arg("--upgrade-paths")
        .arg(dir.path())
        .args([
            "status",
            "--redis-url",
            &url,
            "--from",
            "10.1.0",
            "--to",
            "25.8.0",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let old = findings(&json, "redis-server-too-old");
    assert_eq!(old.len(), 1);
    assert!(old[0]["message"]
        .as_str()
        .unwrap()
        .contains("older than the 99.0 Redis that 25.8.0 needs"));
}

#[test]
fn other_sessions_on_the_metadata_database_are_named_by_application() {
    let pg = crate::pg::server();
    pg.create_database("status_sessions", None).unwrap();
    let database_url = pg.tcp_url("status_sessions");
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let open = |name: &str| {
        let options = sqlx::postgres::PgConnectOptions::from_str(&database_url)
            .unwrap()
            .application_name(name);
        Client::connect(&options, "open a session").unwrap()
    };
    let mut old_worker = vec![open("redash-old-worker"), open("redash-old-worker")];
    let _server = open("redash-old-server");
    let (code, json, err) = status_json(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--to",
        "25.8.0",
        "--database-url",
        &database_url,
    ]);
    assert_eq!(
        code,
        Some(1),
        "sessions left before a migration block it: {err}"
    );
    let sessions = json["observation"]["sessions"].as_array().unwrap();
    let by_name: BTreeMap<String, usize> =
        sessions
            .iter()
            .fold(BTreeMap::new(), |mut counts, session| {
                *counts
                    .entry(session["application_name"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                counts
            });
    assert_eq!(by_name.get("redash-old-worker"), Some(&2), "{sessions:?}");
    assert_eq!(by_name.get("redash-old-server"), Some(&1));
    assert!(
        !by_name
            .keys()
            .any(|name| name.starts_with("redash-upgrade") && name != "redash-upgrade-testbed"),
        "status's own session is not listed: {by_name:?}"
    );
    let open_sessions = findings(&json, "sessions-still-open");
    let worker = open_sessions
        .iter()
        .find(|finding| {
            finding["message"]
                .as_str()
                .unwrap()
                .contains("\"redash-old-worker\"")
        })
        .expect("a finding for the old workers");
    assert_eq!(worker["severity"], "error");
    assert!(
        worker["message"].as_str().unwrap().starts_with(
            "2 session(s) of \"redash-old-worker\" as postgres from 127.0.0.1: 2 idle"
        ),
        "{worker}"
    );
    assert!(!stdout(&status(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--database-url",
        &database_url
    ]))
    .contains(pg.password()));

    // Without a hop next, the same sessions are a warning.
    let (code, json, _) = status_json(&[
        "--redis-url",
        &url,
        "--from",
        "10.1.0",
        "--database-url",
        &database_url,
    ]);
    assert_eq!(code, Some(0));
    assert!(findings(&json, "sessions-still-open")
        .iter()
        .all(|finding| finding["severity"] == "warning"));

    old_worker.clear();
    drop(_server);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, json, _) = status_json(&[
            "--redis-url",
            &url,
            "--from",
            "10.1.0",
            "--to",
            "25.8.0",
            "--database-url",
            &database_url,
        ]);
        let left: Vec<_> = findings(&json, "sessions-still-open")
            .into_iter()
            .filter(|finding| finding["message"].as_str().unwrap().contains("redash-old"))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed sessions stay listed: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bad_urls_and_unreachable_or_refusing_servers_fail_in_one_line_without_the_password() {
    let redis = RedisServer::start().unwrap();
    redis
        .send(&["CONFIG", "SET", "requirepass", "right-password"])
        .unwrap();
    let port = redis.port();
    let cases: [(String, &str); 5] = [
        (
            "http://:pw@host".to_owned(),
            "--redis-url: expected redis://",
        ),
        (
            "redis://:pw@host:port".to_owned(),
            "--redis-url: the port \"port\" is not a number",
        ),
        (
            format!("redis://:wrong-password@127.0.0.1:{port}/0"),
            "refused the credentials",
        ),
        (
            format!("redis://:pw@127.0.0.1:{}/0", unused_port()),
            "could not connect to Redis at redis://:***@127.0.0.1:",
        ),
        (format!("rediss://:pw@127.0.0.1:{port}/0"), "TLS"),
    ];
    for (url, expected) in &cases {
        let output = status(&["--redis-url", url, "--from", "10.1.0"]);
        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{url}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{url}: {message}");
        assert!(
            !message.contains("pw@") && !message.contains("wrong-password"),
            "{message}"
        );
        assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    }
    let output = status(&[
        "--redis-url",
        &format!("redis://:right-password@127.0.0.1:{port}/0"),
        "--from",
        "10.1.0",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stdout(&output).contains("right-password"));

    let output = status(&["--redis-url", "redis://127.0.0.1:1/0", "--from", "3.0.0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--from"), "{}", stderr(&output));
}

fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn rediss_verifies_the_server_against_the_given_authority() {
    let redis = RedisServer::start_with_tls().unwrap();
    let tls_port = redis.tls_port().unwrap();
    redis
        .send(&["CONFIG", "SET", "requirepass", "tls-s3cret"])
        .unwrap();
    let url = format!("rediss://:tls-s3cret@localhost:{tls_port}/0");
    let ca = redis.root_certificate();
    let ca = ca.to_str().unwrap();
    let (code, json, err) = status_json(&[
        "--redis-url",
        &url,
        "--redis-ca-cert",
        ca,
        "--from",
        "25.8.0",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        json["observation"]["redis"],
        format!("rediss://:***@localhost:{tls_port}/0")
    );
    assert!(json["observation"]["server"]["version"]
        .as_str()
        .unwrap()
        .starts_with(char::is_numeric));

    // Without the authority the test server's certificate is not trusted.
    let output = status(&["--redis-url", &url, "--from", "25.8.0"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("TLS") && message.contains("certificate"),
        "{message}"
    );
    assert!(!message.contains("tls-s3cret"), "{message}");

    let output = status(&[
        "--redis-url",
        &url,
        "--redis-ca-cert",
        "/nonexistent.pem",
        "--from",
        "25.8.0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--redis-ca-cert /nonexistent.pem"),
        "{}",
        stderr(&output)
    );
}
