//! What Redis holds for Redash's job system, read in one pass: one SCAN of the keyspace, then
//! the counts and hashes of the keys it found. Nothing is written.
//!
//! Where the keys come from (the libraries at the versions each release pins, `job_libraries`
//! in `upgrade-paths/releases/`):
//! - RQ: queues are lists `rq:queue:NAME` listed in the set `rq:queues`; registries are sorted
//!   sets `rq:wip:NAME` (started), `rq:failed:NAME`, `rq:deferred:NAME`, `rq:scheduled:NAME`;
//!   workers are hashes `rq:worker:NAME` listed in `rq:workers`, with `queues` (comma-separated),
//!   `state`, `current_job`, `last_heartbeat` and, once they stop cleanly, `death` (rq 1.5.0 and
//!   1.16.1, `rq/queue.py`, `rq/registry.py`, `rq/worker.py`). rq 1.16.1 also names each
//!   worker's connection after the worker (`CLIENT SETNAME`, `rq/worker.py:206`), so a worker
//!   whose connection is gone is known dead; rq 1.5.0 and 1.1.0 do not, and a worker killed
//!   without a word stays registered until its key expires.
//! - rq-scheduler: scheduled jobs in the sorted set `rq:scheduler:scheduled_jobs`; 0.9.1 registers
//!   its one instance in the hash `rq:scheduler` and refuses to start while that hash exists
//!   without `death` ("There's already an active RQ scheduler"); 0.13.1 registers each instance
//!   as `rq:scheduler_instance:NAME` (a fresh name per process, so a stale one blocks nobody).
//!   Both take `rq:scheduler_lock` (0.9.1: `'%s_lock' % scheduler_key`) while moving due jobs, and
//!   expire their own key `interval + 10` seconds after each heartbeat (rq-scheduler 0.9.1
//!   `scheduler.py:52,395`, 0.13.1 `scheduler.py:75,460`). Redash runs it with `interval=5`
//!   (`v10.1.0:redash/tasks/schedule.py:34-35`, `v25.8.0:redash/tasks/schedule.py:32`).
//! - Redash's own job locks: `query_hash_job:DATA_SOURCE_ID:QUERY_HASH` holding the job's id, for
//!   `REDASH_JOB_EXPIRY_TIME` (12 h by default) (`v8.0.0:redash/tasks/queries.py:23`,
//!   `v10.1.0:redash/tasks/queries/execution.py:22-23,111-115`). The RQ era removes a lock whose
//!   job is no longer queued or started every minute (`remove_ghost_locks`,
//!   `v10.1.0:redash/tasks/queries/maintenance.py:147-162`).
//! - Celery with kombu's Redis transport: each queue is a list named as the queue (and
//!   `NAME\x06\x16P` for priorities), declared by a set `_kombu.binding.NAME`; a message a worker
//!   took and has not acknowledged is in the hash `unacked` (indexed by the sorted set
//!   `unacked_index`) until it is acknowledged or restored; results are `celery-task-meta-ID`
//!   when the result backend is this Redis, Redash's default (`v8.0.0:redash/settings/__init__.py:27-30`).
//!   Celery workers do not register in Redis: listing them needs a broadcast, which writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::client::{ReadOnlyRedis, RedisError};
use crate::knowledge::model::{JobSystem, Release};

/// Seconds rq-scheduler adds to its interval when it sets its key's expiry.
const SCHEDULER_TTL_SLACK: i64 = 10;
/// Redash's scheduler interval, in seconds.
pub const REDASH_SCHEDULER_INTERVAL: i64 = 5;
/// A scheduler whose key was not refreshed for longer than this many seconds missed a heartbeat.
pub const SCHEDULER_HEARTBEAT_LATE_AFTER: i64 = REDASH_SCHEDULER_INTERVAL + 2;

/// Celery's own key prefixes (kombu's Redis transport and the result backend).
const CELERY_PREFIXES: &[&str] = &[
    "_kombu.binding.",
    "celery-task-meta-",
    "celery-taskset-meta-",
];
const CELERY_KEYS: &[&str] = &["unacked", "unacked_index", "unacked_mutex"];
/// kombu's priority lists: `NAME` + this separator + the priority.
const PRIORITY_SEPARATOR: &str = "\x06\x16";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedisServerInfo {
    pub version: String,
    /// Bytes; 0 means no limit.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub aof_enabled: bool,
    /// The `save` rules (`CONFIG GET save`); `None` where CONFIG is not allowed (managed
    /// Redis renames or forbids it).
    pub save: Option<String>,
    pub rdb_last_bgsave_status: Option<String>,
    pub used_memory: u64,
    pub uptime_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueState {
    pub name: String,
    /// The key its jobs wait in.
    pub key: String,
    pub queued: u64,
    /// Running: RQ's started registry; Celery's messages taken and not acknowledged (kombu does
    /// not say which queue they came from, so they are counted on the queue named in the
    /// message's routing key).
    pub started: u64,
    pub failed: u64,
    pub deferred: u64,
    /// RQ's own scheduled registry (jobs enqueued to run later), not rq-scheduler's.
    pub scheduled: u64,
    /// Workers that listen to it and are not known dead.
    pub workers: Vec<String>,
}

impl QueueState {
    fn new(name: &str, key: String) -> QueueState {
        QueueState {
            name: name.to_owned(),
            key,
            queued: 0,
            started: 0,
            failed: 0,
            deferred: 0,
            scheduled: 0,
            workers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Liveness {
    /// Its connection to Redis is open (rq names it after the worker).
    Connected,
    /// It registered its death: it stopped cleanly.
    Stopped,
    /// Registered, but its connection is gone: killed, or its host is.
    Gone,
    /// Registered and not stopped; this rq does not name its connection, so whether it still
    /// runs cannot be read until its key expires.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerState {
    pub name: String,
    pub queues: Vec<String>,
    pub state: Option<String>,
    pub current_job: Option<String>,
    pub hostname: Option<String>,
    pub pid: Option<String>,
    pub last_heartbeat: Option<String>,
    /// Seconds until Redis drops the registration if no heartbeat comes.
    pub expires_in: Option<i64>,
    pub liveness: Liveness,
}

impl WorkerState {
    pub fn may_be_running(&self) -> bool {
        matches!(self.liveness, Liveness::Connected | Liveness::Unknown)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heartbeat {
    /// Refreshed within the last interval.
    Fresh,
    /// Not refreshed for more than an interval and a bit: the process is gone or hung.
    Late,
    /// It registered its death.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerInstance {
    pub key: String,
    pub expires_in: i64,
    pub heartbeat: Heartbeat,
    /// Seconds since its last heartbeat, from the key's expiry.
    pub seconds_since_heartbeat: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodicJob {
    pub id: String,
    /// What it runs, as rq records it (`redash.tasks.queries.maintenance.refresh_queries()`).
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerState {
    /// `rq-scheduler 0.9.1`.
    pub library: String,
    /// Whether an instance that did not register its death stops a new one from starting (0.9.1's
    /// one `rq:scheduler` key).
    pub one_instance_key: bool,
    pub instances: Vec<SchedulerInstance>,
    /// Seconds left on `rq:scheduler_lock`, when held.
    pub lock_expires_in: Option<i64>,
    pub periodic_jobs: Vec<PeriodicJob>,
}

impl SchedulerState {
    pub fn running(&self) -> impl Iterator<Item = &SchedulerInstance> {
        self.instances
            .iter()
            .filter(|instance| instance.heartbeat == Heartbeat::Fresh)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLock {
    pub key: String,
    pub job_id: Option<String>,
    pub expires_in: i64,
    /// The status of the job it names (`queued`, `started`, `finished`, `failed`...), `None`
    /// when no such job exists.
    pub job_status: Option<String>,
}

impl JobLock {
    /// Whether the job it holds for is over or gone, so the lock only delays the next run of
    /// the query (Redash's `remove_ghost_locks` keeps locks of queued and started jobs).
    pub fn outlived_its_job(&self) -> bool {
        !matches!(self.job_status.as_deref(), Some("queued" | "started"))
    }
}

/// Keys of one kind, with how many and a few names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyGroup {
    pub pattern: String,
    pub count: u64,
    pub examples: Vec<String>,
    /// For queue lists: the messages they hold.
    pub messages: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub redis: String,
    pub server: RedisServerInfo,
    pub job_system: JobSystem,
    /// The libraries the running release pins, as `rq 1.5.0, rq-scheduler 0.9.1`.
    pub libraries: String,
    pub keys: u64,
    pub queues: Vec<QueueState>,
    /// `None` in the Celery era: Celery workers do not register in Redis.
    pub workers: Option<Vec<WorkerState>>,
    pub scheduler: Option<SchedulerState>,
    pub job_locks: Vec<JobLock>,
    /// Celery's keys: the job system's own before the hop to RQ, leftovers after it.
    pub celery_keys: Vec<KeyGroup>,
    pub sessions: Option<Vec<super::sessions::Session>>,
}

impl Observation {
    /// Jobs waiting or running in every queue.
    pub fn pending(&self) -> (u64, u64) {
        self.queues.iter().fold((0, 0), |(queued, started), queue| {
            (queued + queue.queued, started + queue.started)
        })
    }

    pub fn failed_by_queue(&self) -> BTreeMap<String, u64> {
        self.queues
            .iter()
            .map(|queue| (queue.name.clone(), queue.failed))
            .collect()
    }
}

fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (name, value) = line.trim_end().split_once(':')?;
        (name == field).then_some(value)
    })
}

fn server_info(redis: &mut ReadOnlyRedis) -> Result<RedisServerInfo, RedisError> {
    let info = redis.text(&["INFO"])?.unwrap_or_default();
    let number = |field| {
        info_field(&info, field)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    // Managed Redis (ElastiCache, Memorystore) refuse CONFIG: the rules are then unknown.
    let save = match redis.command(&["CONFIG", "GET", "save"]) {
        Ok(reply) => reply.texts().get(1).cloned(),
        Err(RedisError::Reply { .. }) => None,
        Err(error) => return Err(error),
    };
    Ok(RedisServerInfo {
        version: info_field(&info, "redis_version")
            .unwrap_or("unknown")
            .to_owned(),
        maxmemory: number("maxmemory"),
        maxmemory_policy: info_field(&info, "maxmemory_policy")
            .unwrap_or("noeviction")
            .to_owned(),
        aof_enabled: info_field(&info, "aof_enabled") == Some("1"),
        save,
        rdb_last_bgsave_status: info_field(&info, "rdb_last_bgsave_status").map(str::to_owned),
        used_memory: number("used_memory"),
        uptime_seconds: number("uptime_in_seconds"),
    })
}

/// Names of connected clients (`CLIENT LIST`'s `name=`), for rq's named worker connections.
fn client_names(redis: &mut ReadOnlyRedis) -> Result<BTreeSet<String>, RedisError> {
    let list = redis.text(&["CLIENT", "LIST"])?.unwrap_or_default();
    Ok(list
        .lines()
        .filter_map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("name="))
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
        })
        .collect())
}

/// Whether the pinned rq names its connection after the worker: rq 1.16.1 does
/// (`rq/worker.py:206`), rq 1.5.0 and 1.1.0 do not.
fn rq_names_its_connection(release: &Release) -> bool {
    release
        .library("rq")
        .and_then(|rq| {
            let mut parts = rq.version.split('.').map(|part| part.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .is_some_and(|version| version >= (1, 16))
}

/// Whether the pinned rq-scheduler keeps one `rq:scheduler` key for its one instance (0.9.1)
/// rather than one key per named instance (0.13.1).
fn scheduler_has_one_key(release: &Release) -> bool {
    release
        .library("rq-scheduler")
        .is_some_and(|scheduler| scheduler.version.starts_with("0.9."))
}

fn library_list(release: &Release) -> String {
    release
        .job_libraries
        .iter()
        .filter(|library| library.name != "redis")
        .map(|library| format!("{} {}", library.name, library.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The queues the release sends jobs to, reported even while empty (RQ lists a queue in
/// `rq:queues` only once it was used).
fn queues_receiving_jobs(running: &Release) -> impl Iterator<Item = String> + '_ {
    running
        .queues
        .receiving_jobs
        .iter()
        .map(|queue| queue.name.clone())
}

/// Reads everything `status` reports, for the release running now.
pub fn observe(redis: &mut ReadOnlyRedis, running: &Release) -> Result<Observation, RedisError> {
    let server = server_info(redis)?;
    let keys = redis.scan("*")?;
    let mut observation = Observation {
        redis: redis.url().to_owned(),
        server,
        job_system: running.job_system,
        libraries: library_list(running),
        keys: keys.len() as u64,
        queues: Vec::new(),
        workers: None,
        scheduler: None,
        job_locks: Vec::new(),
        celery_keys: Vec::new(),
        sessions: None,
    };
    match running.job_system {
        JobSystem::Rq => observe_rq(redis, running, &keys, &mut observation)?,
        JobSystem::Celery => observe_celery_queues(redis, running, &keys, &mut observation)?,
    }
    observation.celery_keys = celery_keys(redis, running, &keys)?;
    observation.job_locks = job_locks(redis, running, &keys)?;
    Ok(observation)
}

fn observe_rq(
    redis: &mut ReadOnlyRedis,
    running: &Release,
    keys: &[String],
    observation: &mut Observation,
) -> Result<(), RedisError> {
    let key_set: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let mut names: BTreeSet<String> = redis
        .texts(&["SMEMBERS", "rq:queues"])?
        .iter()
        .filter_map(|key| key.strip_prefix("rq:queue:").map(str::to_owned))
        .collect();
    names.extend(queues_receiving_jobs(running));
    for prefix in [
        "rq:queue:",
        "rq:wip:",
        "rq:failed:",
        "rq:deferred:",
        "rq:scheduled:",
    ] {
        names.extend(
            keys.iter()
                .filter_map(|key| key.strip_prefix(prefix))
                .filter(|name| !name.starts_with('_'))
                .map(str::to_owned),
        );
    }
    let mut queues = Vec::new();
    for name in &names {
        let mut queue = QueueState::new(name, format!("rq:queue:{name}"));
        queue.queued = redis.count(&["LLEN", &queue.key])?;
        for (registry, count) in [
            ("rq:wip:", &mut queue.started),
            ("rq:failed:", &mut queue.failed),
            ("rq:deferred:", &mut queue.deferred),
            ("rq:scheduled:", &mut queue.scheduled),
        ] {
            let key = format!("{registry}{name}");
            if key_set.contains(key.as_str()) {
                *count = redis.count(&["ZCARD", &key])?;
            }
        }
        queues.push(queue);
    }

    let connected = if rq_names_its_connection(running) {
        Some(client_names(redis)?)
    } else {
        None
    };
    let mut workers = Vec::new();
    let mut worker_keys = redis.texts(&["SMEMBERS", "rq:workers"])?;
    worker_keys.sort();
    for key in worker_keys {
        let Some(name) = key.strip_prefix("rq:worker:") else {
            continue;
        };
        let fields: BTreeMap<String, String> = redis.hash(&key)?.into_iter().collect();
        if fields.is_empty() {
            // Listed, but the key expired: rq prunes such names lazily.
            continue;
        }
        let liveness = if fields.contains_key("death") {
            Liveness::Stopped
        } else {
            match &connected {
                Some(names) if names.contains(name) => Liveness::Connected,
                Some(_) => Liveness::Gone,
                None => Liveness::Unknown,
            }
        };
        let worker = WorkerState {
            name: name.to_owned(),
            queues: fields
                .get("queues")
                .map(|list| {
                    list.split(',')
                        .filter(|queue| !queue.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            state: fields.get("state").cloned(),
            current_job: fields
                .get("current_job")
                .cloned()
                .filter(|job| !job.is_empty()),
            hostname: fields.get("hostname").cloned(),
            pid: fields.get("pid").cloned(),
            last_heartbeat: fields.get("last_heartbeat").cloned(),
            expires_in: Some(redis.integer(&["TTL", &key])?).filter(|ttl| *ttl >= 0),
            liveness,
        };
        for queue in &mut queues {
            if worker.may_be_running() && worker.queues.contains(&queue.name) {
                queue.workers.push(worker.name.clone());
            }
        }
        workers.push(worker);
    }
    observation.queues = queues;
    observation.workers = Some(workers);
    observation.scheduler = Some(scheduler(redis, running, keys)?);
    Ok(())
}

fn scheduler(
    redis: &mut ReadOnlyRedis,
    running: &Release,
    keys: &[String],
) -> Result<SchedulerState, RedisError> {
    let one_key = scheduler_has_one_key(running);
    let instance_keys: Vec<&String> = if one_key {
        keys.iter().filter(|key| *key == "rq:scheduler").collect()
    } else {
        keys.iter()
            .filter(|key| key.starts_with("rq:scheduler_instance:"))
            .collect()
    };
    let mut instances = Vec::new();
    for key in instance_keys {
        let fields: BTreeMap<String, String> = redis.hash(key)?.into_iter().collect();
        let expires_in = redis.integer(&["TTL", key])?;
        if expires_in == -2 {
            continue; // expired between SCAN and now
        }
        let since =
            (expires_in >= 0).then(|| REDASH_SCHEDULER_INTERVAL + SCHEDULER_TTL_SLACK - expires_in);
        let heartbeat = if fields.contains_key("death") {
            Heartbeat::Stopped
        } else if since.is_some_and(|since| since > SCHEDULER_HEARTBEAT_LATE_AFTER) {
            Heartbeat::Late
        } else {
            Heartbeat::Fresh
        };
        instances.push(SchedulerInstance {
            key: key.clone(),
            expires_in,
            heartbeat,
            seconds_since_heartbeat: since.filter(|_| heartbeat != Heartbeat::Stopped),
        });
    }
    let lock_expires_in = if keys.iter().any(|key| key == "rq:scheduler_lock") {
        Some(redis.integer(&["TTL", "rq:scheduler_lock"])?).filter(|ttl| *ttl >= -1)
    } else {
        None
    };
    let mut periodic_jobs = Vec::new();
    for id in redis.texts(&["ZRANGE", "rq:scheduler:scheduled_jobs", "0", "-1"])? {
        let description = redis.text(&["HGET", &format!("rq:job:{id}"), "description"])?;
        periodic_jobs.push(PeriodicJob { id, description });
    }
    Ok(SchedulerState {
        library: running
            .library("rq-scheduler")
            .map(|library| format!("rq-scheduler {}", library.version))
            .unwrap_or_else(|| "rq-scheduler".to_owned()),
        one_instance_key: one_key,
        instances,
        lock_expires_in,
        periodic_jobs,
    })
}

/// The Celery era's queues: those its bindings declare and those the release sends to.
fn observe_celery_queues(
    redis: &mut ReadOnlyRedis,
    running: &Release,
    keys: &[String],
    observation: &mut Observation,
) -> Result<(), RedisError> {
    let mut names: BTreeSet<String> = keys
        .iter()
        .filter_map(|key| key.strip_prefix("_kombu.binding."))
        .filter(|name| !name.contains("pidbox") && !name.starts_with("reply."))
        .map(str::to_owned)
        .collect();
    names.extend(queues_receiving_jobs(running));
    let unacked = unacked_by_routing_key(redis, keys)?;
    let mut queues = Vec::new();
    for name in names {
        let mut queue = QueueState::new(&name, name.clone());
        for key in keys.iter().filter(|key| {
            *key == &name
                || key
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(PRIORITY_SEPARATOR))
        }) {
            if redis.text(&["TYPE", key])?.as_deref() == Some("list") {
                queue.queued += redis.count(&["LLEN", key])?;
            }
        }
        queue.started = unacked.get(&name).copied().unwrap_or(0);
        queues.push(queue);
    }
    observation.queues = queues;
    Ok(())
}

/// kombu's unacknowledged messages, counted by the routing key each was sent with (Redash routes
/// each task to the queue of the same name).
fn unacked_by_routing_key(
    redis: &mut ReadOnlyRedis,
    keys: &[String],
) -> Result<BTreeMap<String, u64>, RedisError> {
    let mut counts = BTreeMap::new();
    if !keys.iter().any(|key| key == "unacked") {
        return Ok(counts);
    }
    for (_, value) in redis.hash("unacked")? {
        // [message, exchange, routing_key] (kombu/transport/virtual/base.py, QoS.append).
        let routing_key = serde_json::from_str::<serde_json::Value>(&value)
            .ok()
            .and_then(|entry| entry.get(2)?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "(unreadable)".to_owned());
        *counts.entry(routing_key).or_insert(0) += 1;
    }
    Ok(counts)
}

fn celery_keys(
    redis: &mut ReadOnlyRedis,
    running: &Release,
    keys: &[String],
) -> Result<Vec<KeyGroup>, RedisError> {
    let mut groups: Vec<KeyGroup> = Vec::new();
    let mut add = |pattern: String, key: &str, messages: u64| {
        let group = match groups.iter_mut().find(|group| group.pattern == pattern) {
            Some(group) => group,
            None => {
                groups.push(KeyGroup {
                    pattern,
                    count: 0,
                    examples: Vec::new(),
                    messages: 0,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.count += 1;
        group.messages += messages;
        if group.examples.len() < 3 {
            group.examples.push(key.to_owned());
        }
    };
    let bound: BTreeSet<&str> = keys
        .iter()
        .filter_map(|key| key.strip_prefix("_kombu.binding."))
        .collect();
    for key in keys {
        if let Some(prefix) = CELERY_PREFIXES
            .iter()
            .find(|prefix| key.starts_with(**prefix))
        {
            add(format!("{prefix}*"), key, 0);
        } else if CELERY_KEYS.contains(&key.as_str()) {
            let messages = if key == "unacked" {
                redis.count(&["HLEN", key])?
            } else {
                0
            };
            add(key.clone(), key, messages);
        } else if running.job_system == JobSystem::Rq {
            // A list named as a declared Celery queue: the messages nothing will consume now.
            let queue = key.split(PRIORITY_SEPARATOR).next().unwrap_or(key);
            if bound.contains(queue) && redis.text(&["TYPE", key])?.as_deref() == Some("list") {
                let messages = redis.count(&["LLEN", key])?;
                add(key.clone(), key, messages);
            }
        }
    }
    Ok(groups)
}

fn job_locks(
    redis: &mut ReadOnlyRedis,
    running: &Release,
    keys: &[String],
) -> Result<Vec<JobLock>, RedisError> {
    let mut locks = Vec::new();
    for key in keys.iter().filter(|key| key.starts_with("query_hash_job:")) {
        let job_id = redis.text(&["GET", key])?;
        let expires_in = redis.integer(&["TTL", key])?;
        if expires_in == -2 {
            continue;
        }
        let job_status = match (&job_id, running.job_system) {
            (Some(id), JobSystem::Rq) => {
                redis.text(&["HGET", &format!("rq:job:{id}"), "status"])?
            }
            // A Celery task is only findable by its result, once it has one.
            (Some(id), JobSystem::Celery) => redis
                .text(&["GET", &format!("celery-task-meta-{id}")])?
                .and_then(|meta| {
                    let meta: serde_json::Value = serde_json::from_str(&meta).ok()?;
                    Some(meta.get("status")?.as_str()?.to_ascii_lowercase())
                })
                .or(Some("queued".to_owned())),
            (None, _) => None,
        };
        locks.push(JobLock {
            key: key.clone(),
            job_id,
            expires_in,
            job_status,
        });
    }
    Ok(locks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read_by_name() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n# Memory\r\nmaxmemory_policy:allkeys-lru\r\n";
        assert_eq!(info_field(info, "redis_version"), Some("7.0.15"));
        assert_eq!(info_field(info, "maxmemory_policy"), Some("allkeys-lru"));
        assert_eq!(info_field(info, "maxmemory"), None);
    }

    #[test]
    fn locks_of_queued_and_started_jobs_are_live() {
        let lock = |status: Option<&str>| JobLock {
            key: "query_hash_job:1:abc".into(),
            job_id: Some("j".into()),
            expires_in: 100,
            job_status: status.map(str::to_owned),
        };
        assert!(!lock(Some("queued")).outlived_its_job());
        assert!(!lock(Some("started")).outlived_its_job());
        assert!(lock(Some("finished")).outlived_its_job());
        assert!(lock(Some("failed")).outlived_its_job());
        assert!(lock(None).outlived_its_job());
    }
}
