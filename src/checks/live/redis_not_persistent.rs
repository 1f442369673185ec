//! `redis-not-persistent`: the running Redis saves nothing, or its last save failed.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::report;

pub struct RedisNotPersistent;

static META: CheckMeta = CheckMeta {
    code: "redis-not-persistent",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "The running Redis keeps nothing across a restart, or its last snapshot failed",
    what: "Reads the server's `save` rules (`CONFIG GET save`), `aof_enabled` and \
           `rdb_last_bgsave_status` (`INFO persistence`). Reported: no save rules and no \
           append-only file, or a last snapshot that failed. Where CONFIG is refused (managed \
           Redis) the rules cannot be read and the check says so.",
    why: "An upgrade restarts things; a Redis restarted without persistence comes back empty: \
          every queued job and the scheduler's periodic jobs are gone, and field reports found \
          the workers dead after such a restart.",
    fix: "Keep the default snapshots (or `appendonly yes`) with /data on a volume; for a failed \
          snapshot, read the Redis log (disk full, permissions).",
    references: &[
        "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/",
        "setup@39abe4e:data/compose.yaml:37-39",
    ],
};

impl LiveCheck for RedisNotPersistent {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let server = &live.observation.server;
        let mut reports = Vec::new();
        if server.rdb_last_bgsave_status.as_deref() == Some("err") {
            reports.push(report(
                "Redis's last background save failed (rdb_last_bgsave_status:err)".to_owned(),
                "Read the Redis log: a full disk or a read-only /data stops snapshots.".to_owned(),
            ));
        }
        match &server.save {
            None if !server.aof_enabled && reports.is_empty() => {
                return Err(CannotRun(
                    "Redis refused CONFIG GET save (managed Redis): check its snapshot settings \
                     with the provider"
                        .into(),
                ));
            }
            Some(rules) if rules.trim().is_empty() && !server.aof_enabled => {
                reports.push(report(
                    "Redis persists nothing (no save rules, appendonly no): a restart during \
                     the window loses every queued job"
                        .to_owned(),
                    "CONFIG SET save \"3600 1 300 100 60 10000\" (and in redis.conf), or \
                     appendonly yes, with /data on a volume."
                        .to_owned(),
                ));
            }
            _ => {}
        }
        Ok(reports)
    }
}
