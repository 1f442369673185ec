//! The throwaway Redis server, and job-queue state of each era made on it by the real job
//! libraries at the versions Redash pins (scripts/job-state), checked through raw keys.

use std::path::{Path, PathBuf};
use std::process::Command;

use redash_upgrade::testbed::{RedisReply, RedisServer};
use serde_json::Value;

/// v10.1.0:redash/tasks/general.py, models/__init__.py:101-102 and tasks/schedule.py:35.
const RQ_QUEUES: [&str; 6] = [
    "queries",
    "scheduled_queries",
    "schemas",
    "periodic",
    "emails",
    "default",
];

#[test]
fn redis_server_starts_answers_and_stops() {
    let server = RedisServer::start().unwrap();
    assert!(server.url().starts_with("redis://127.0.0.1:"));
    assert_eq!(
        server.send(&["PING"]).unwrap(),
        RedisReply::Status("PONG".into())
    );
    assert_eq!(
        server.send(&["RPUSH", "queries", "a", "b"]).unwrap(),
        RedisReply::Integer(2)
    );
    assert_eq!(
        server
            .send(&["LRANGE", "queries", "0", "-1"])
            .unwrap()
            .texts(),
        ["a", "b"]
    );
    assert_eq!(
        server.send(&["GET", "missing"]).unwrap(),
        RedisReply::Bulk(None)
    );
    assert!(matches!(
        server.send(&["NO-SUCH-COMMAND"]).unwrap(),
        RedisReply::Error(_)
    ));
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after drop"
    );
}

#[test]
fn rq_10_1_state_is_made_by_rq_1_5_and_rq_scheduler_0_9() {
    let state = JobState::make("rq10");
    state.assert_rq();
}

#[test]
fn rq_25_8_state_is_made_by_rq_1_16_and_rq_scheduler_0_13() {
    let state = JobState::make("rq25");
    state.assert_rq();
    assert_eq!(
        state.manifest["scheduler_keys"]["birth"],
        "rq:scheduler_instance:job-state-stale"
    );
}

/// On Python 3.7 to 3.9 (venv.sh looks on PATH, then in pyenv), else on python3 3.10/3.11 with
/// scripts/job-state/celery_compat.py putting back removed standard library names (the manifest
/// says which: "python", "stdlib_compat").
#[test]
fn celery_8_0_state_is_made_by_celery_4_3_with_the_redis_broker() {
    let state = JobState::make("celery");
    let redis = &state.redis;
    let manifest = &state.manifest;
    assert_eq!(manifest["libraries"]["celery"], "4.3.0");
    assert_eq!(manifest["libraries"]["kombu"], "4.6.3");
    let python = manifest["python"].as_str().unwrap();
    let compat = manifest["stdlib_compat"].as_bool().unwrap();
    let old_python = ["3.7.", "3.8.", "3.9."]
        .iter()
        .any(|minor| python.starts_with(minor));
    assert_eq!(
        compat, !old_python,
        "Python {python}, stdlib_compat {compat}"
    );
    let queued = manifest["queued"].as_object().unwrap();
    assert_eq!(
        sorted(queued.keys()),
        sorted(["queries", "scheduled_queries", "celery", "schemas"])
    );
    for (queue, expected) in queued {
        let length = redis.send(&["LLEN", queue]).unwrap().integer();
        assert_eq!(length, expected["count"].as_i64(), "LLEN {queue}");
        assert!(
            exists(redis, &format!("_kombu.binding.{queue}")),
            "{queue} is declared"
        );
    }
    // The message a consumer died holding is in kombu's unacked hash, not in the list.
    let unacked = redis.send(&["HVALS", "unacked"]).unwrap().texts();
    assert_eq!(unacked.len(), 1);
    let held = manifest["unacked"]["task_ids"][0].as_str().unwrap();
    assert!(unacked[0].contains(held), "{}", unacked[0]);
    assert_eq!(
        redis.send(&["ZCARD", "unacked_index"]).unwrap().integer(),
        Some(1)
    );
    let locks = redis.send(&["KEYS", "query_hash_job:*"]).unwrap().texts();
    assert_eq!(locks.len(), manifest["job_locks"].as_array().unwrap().len());
    for lock in &locks {
        let ttl = redis.send(&["TTL", lock]).unwrap().integer().unwrap();
        assert!(ttl > 0, "{lock} expires");
    }
}

/// A fresh server with one era's state on it, and the live worker the state left running
/// (killed on drop).
pub(crate) struct JobState {
    pub(crate) redis: RedisServer,
    pub(crate) manifest: Value,
    live_worker: Option<i32>,
}

impl JobState {
    pub(crate) fn make(era: &str) -> JobState {
        let venv = venv(era);
        let redis = RedisServer::start().unwrap();
        let output = Command::new(venv.join("bin/python"))
            .arg(scripts().join("make_state.py"))
            .args([era, &redis.url()])
            .output()
            .expect("run make_state.py");
        assert!(
            output.status.success(),
            "make_state.py {era} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "make_state.py {era} printed no manifest ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        assert_eq!(manifest["era"], era);
        let live_worker = manifest["live_worker_pid"].as_i64().map(|pid| pid as i32);
        JobState {
            redis,
            manifest,
            live_worker,
        }
    }

    fn assert_rq(&self) {
        let redis = &self.redis;
        let manifest = &self.manifest;
        let queued = manifest["queued"].as_object().unwrap();
        assert_eq!(
            sorted(queued.keys()),
            sorted(RQ_QUEUES),
            "Redash's RQ queues"
        );
        for (queue, expected) in queued {
            let key = expected["key"].as_str().unwrap();
            assert_eq!(key, format!("rq:queue:{queue}"));
            let length = redis.send(&["LLEN", key]).unwrap().integer();
            assert_eq!(length, expected["count"].as_i64(), "LLEN {key}");
            assert!(
                redis
                    .send(&["SMEMBERS", "rq:queues"])
                    .unwrap()
                    .texts()
                    .contains(&key.to_owned()),
                "{key} is in rq:queues"
            );
        }

        let failed = redis
            .send(&["ZRANGE", "rq:failed:default", "0", "-1"])
            .unwrap()
            .texts();
        assert_eq!(failed, [manifest["failed"]["default"][0].as_str().unwrap()]);
        let failed_job = format!("rq:job:{}", failed[0]);
        assert_eq!(
            redis.send(&["HGET", &failed_job, "status"]).unwrap().text(),
            Some("failed".into())
        );

        let started = redis
            .send(&["ZRANGE", "rq:wip:queries", "0", "-1"])
            .unwrap()
            .texts();
        assert_eq!(
            started,
            [manifest["started"]["queries"][0].as_str().unwrap()]
        );
        let started_job = format!("rq:job:{}", started[0]);
        assert_eq!(
            redis
                .send(&["HGET", &started_job, "status"])
                .unwrap()
                .text(),
            Some("started".into())
        );

        let workers = redis.send(&["SMEMBERS", "rq:workers"]).unwrap().texts();
        for name in ["job-state-live", "job-state-dead"] {
            assert!(
                workers.contains(&format!("rq:worker:{name}")),
                "{name} in {workers:?}"
            );
        }
        let live = self.live_worker.expect("a live worker pid");
        assert!(process_alive(live), "the live worker runs");
        assert_eq!(
            redis
                .send(&["HGET", "rq:worker:job-state-live", "current_job"])
                .unwrap()
                .text()
                .as_deref(),
            Some(started[0].as_str())
        );
        let dead = manifest["dead_worker_pid"].as_i64().unwrap() as i32;
        assert!(!process_alive(dead), "the dead worker is gone");
        assert!(exists(redis, "rq:worker:job-state-dead"));
        assert!(
            redis
                .send(&["HEXISTS", "rq:worker:job-state-dead", "death"])
                .unwrap()
                .integer()
                == Some(0),
            "the dead worker never registered its death"
        );

        let scheduled = redis
            .send(&["ZRANGE", "rq:scheduler:scheduled_jobs", "0", "-1"])
            .unwrap()
            .texts();
        let mut expected_ids: Vec<String> = manifest["scheduled"]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        let mut scheduled_sorted = scheduled.clone();
        scheduled_sorted.sort();
        expected_ids.sort();
        assert_eq!(scheduled_sorted, expected_ids);
        for id in &scheduled {
            assert!(exists(redis, &format!("rq:job:{id}")), "{id}'s job hash");
        }

        let birth = manifest["scheduler_keys"]["birth"].as_str().unwrap();
        assert!(exists(redis, birth), "the stale scheduler key {birth}");
        assert_eq!(
            redis.send(&["HEXISTS", birth, "death"]).unwrap().integer(),
            Some(0),
            "the killed scheduler never registered its death"
        );
    }
}

impl Drop for JobState {
    fn drop(&mut self) {
        if let Some(pid) = self.live_worker {
            // SAFETY: kill(2) on the worker make_state.py started for this test and reported.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn sorted<'a>(names: impl IntoIterator<Item = &'a (impl AsRef<str> + ?Sized + 'a)>) -> Vec<String> {
    let mut names: Vec<String> = names
        .into_iter()
        .map(|name| name.as_ref().to_owned())
        .collect();
    names.sort();
    names
}

fn exists(redis: &RedisServer, key: &str) -> bool {
    redis.send(&["EXISTS", key]).unwrap().integer() == Some(1)
}

fn process_alive(pid: i32) -> bool {
    // A killed child of make_state.py was reaped by it; a zombie would still count as alive.
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

pub(crate) fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/job-state")
}

/// The era's virtualenv, built once by scripts/job-state/venv.sh and cached under the target
/// directory (venv.sh rebuilds it when the pins change).
pub(crate) fn venv(era: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    };
    let dir = target.join("job-state-venvs").join(era);
    let output = Command::new("bash")
        .arg(scripts().join("venv.sh"))
        .arg(era)
        .arg(&dir)
        .output()
        .expect("run bash scripts/job-state/venv.sh");
    assert!(
        output.status.success(),
        "could not build the {era} virtualenv (needs python3, python3-venv and PyPI; \
         Debian: apt-get install -y python3 python3-venv): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}
