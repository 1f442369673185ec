//! `redis-evicts-jobs`: the running Redis has a memory limit and a policy that evicts keys.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{report, report_at};

pub struct RedisEvictsJobs;

static META: CheckMeta = CheckMeta {
    code: "redis-evicts-jobs",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "The running Redis may evict Redash's jobs when memory is full",
    what: "Reads `maxmemory` and `maxmemory_policy` from the running server (`INFO`). Reported: \
           a limit with an `allkeys-*` policy (warning) or a `volatile-*` one (info). Quiet: \
           `noeviction`, or no limit. `check` reads the same settings from the deployment's \
           files (`redis-may-drop-jobs`); this is what the server actually runs with, managed \
           Redis included.",
    why: "Redash enqueues jobs with no TTL: under `allkeys-*` a full Redis drops queued jobs or \
          whole queues without an error. `volatile-*` evicts keys with a TTL: results the \
          browser polls for, and the query locks.",
    fix: "Set `maxmemory-policy noeviction` (managed Redis: its parameter group), or give Redash \
          a Redis of its own.",
    references: &[
        "v10.1.0:redash/tasks/queries/execution.py:87-115",
        "https://redis.io/docs/latest/develop/reference/eviction/",
    ],
};

impl LiveCheck for RedisEvictsJobs {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let server = &live.observation.server;
        if server.maxmemory == 0 {
            return Ok(Vec::new());
        }
        let policy = server.maxmemory_policy.as_str();
        let limit = format!("{} bytes", server.maxmemory);
        Ok(if policy.starts_with("allkeys-") {
            vec![report(
                format!(
                    "Redis evicts any key at {limit} (maxmemory-policy {policy}); {} bytes used: \
                     queued jobs and queues can vanish",
                    server.used_memory
                ),
                "CONFIG SET maxmemory-policy noeviction (and in redis.conf or the parameter \
                 group)."
                    .to_owned(),
            )]
        } else if policy.starts_with("volatile-") {
            vec![report_at(
                Severity::Info,
                format!(
                    "Redis evicts keys with a TTL at {limit} (maxmemory-policy {policy}): job \
                     results and query locks can vanish"
                ),
                "Prefer maxmemory-policy noeviction.".to_owned(),
            )]
        } else {
            Vec::new()
        })
    }
}
