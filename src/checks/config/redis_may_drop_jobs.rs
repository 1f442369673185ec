//! `redis-may-drop-jobs`: a Redis that may evict job data, or that keeps nothing across a
//! restart.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::deployment::Located;
use crate::inputs::{Service, ServiceKind};

pub struct RedisMayDropJobs;

static META: CheckMeta = CheckMeta {
    code: "redis-may-drop-jobs",
    severity: Severity::Warning,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "Redis may evict job data, or keeps nothing across a restart",
    what: "Reads each Redis service's settings from its command line, its mounted redis.conf and \
           (bitnami) its environment. Reported: a memory limit (`maxmemory`) with an `allkeys-*` \
           eviction policy (warning) or a `volatile-*` one (info); persistence turned off \
           (`save \"\"` without `appendonly yes`). Quiet: `noeviction` (the default), an eviction \
           policy without `maxmemory` (Redis then has no limit to evict at), and the image's \
           defaults, which upstream's setup runs: no command, RDB snapshots by the built-in \
           `save` rules.",
    why: "Redash's queues live in Redis: a queued query or scheduled refresh is a job hash and \
          its id in a queue list, and the RQ scheduler's registrations are keys too. Redash \
          enqueues jobs with no TTL, so an `allkeys-*` policy may evict queued jobs (or a queue \
          list) as soon as memory is full, and the job vanishes without an error. A \
          `volatile-*` policy evicts only keys with a TTL: finished jobs whose result the browser \
          is still polling for, and the per-query locks that stop a query from running twice. \
          With persistence off, the restarts an upgrade makes empty Redis: every job queued \
          across the window is lost, along with the scheduler's registrations until it starts \
          again.",
    fix: "Give Redash a Redis of its own with `maxmemory-policy noeviction` (when Redis is full, \
          enqueueing then fails loudly instead of losing jobs) and leave snapshots on (the \
          default) or set `appendonly yes`, with /data on a volume. A cache that needs eviction \
          belongs in a separate Redis.",
    references: &[
        "v10.1.0:redash/tasks/queries/execution.py:87-115",
        "https://github.com/rq/rq/blob/v1.5.0/docs/docs/jobs.md",
        "https://redis.io/docs/latest/develop/reference/eviction/",
        "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/",
        "setup@39abe4e:data/compose.yaml:37-39",
    ],
};

/// `0`, `0mb`, `0gb`: no limit.
fn is_zero(text: &str) -> bool {
    let digits: String = text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<u64>().is_ok_and(|number| number == 0)
}

fn eviction(service: &Service) -> Option<Report> {
    let policy = service.settings.get("maxmemory-policy")?;
    let limit = service
        .settings
        .get("maxmemory")
        .filter(|limit| !is_zero(&limit.value))?;
    let at = |setting: &Located<String>| setting.location.clone();
    let value = policy.value.trim().to_ascii_lowercase();
    if value.starts_with("allkeys-") {
        Some(Report {
            severity: None,
            effect: None,
            message: format!(
                "the Redis service {} evicts any key when it reaches {} (maxmemory-policy {}): \
                 queued jobs, which carry no TTL, and the queues themselves can vanish without \
                 an error",
                service.name, limit.value, policy.value
            ),
            location: Some(at(policy)),
            help: format!(
                "Set maxmemory-policy noeviction on {}, or give Redash a Redis of its own.",
                service.name
            ),
        })
    } else if value.starts_with("volatile-") {
        Some(Report {
            severity: Some(Severity::Info),
            effect: None,
            message: format!(
                "the Redis service {} evicts keys with a TTL when it reaches {} \
                 (maxmemory-policy {}): finished jobs the browser still polls for and the locks \
                 that keep a query from running twice can vanish; queued jobs carry no TTL and \
                 stay",
                service.name, limit.value, policy.value
            ),
            location: Some(at(policy)),
            help: format!("Prefer maxmemory-policy noeviction on {}.", service.name),
        })
    } else {
        None
    }
}

fn persistence(service: &Service) -> Option<Report> {
    let save = service
        .settings
        .get("save")
        .filter(|save| save.value.trim().is_empty())?;
    let appendonly = service
        .settings
        .get("appendonly")
        .is_some_and(|setting| setting.value.trim().eq_ignore_ascii_case("yes"));
    if appendonly {
        return None;
    }
    Some(Report {
        severity: None,
        effect: None,
        message: format!(
            "the Redis service {} persists nothing (save \"\" and no appendonly yes): a \
             restart during the upgrade window loses every queued job",
            service.name
        ),
        location: Some(save.location.clone()),
        help: format!(
            "Remove `save \"\"` from {} (or set `appendonly yes`) and keep /data on a volume.",
            service.name
        ),
    })
}

impl ConfigCheck for RedisMayDropJobs {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        Ok(hop
            .deployment
            .services
            .iter()
            .filter(|service| service.kind == ServiceKind::Redis)
            .flat_map(|service| [eviction(service), persistence(service)])
            .flatten()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_limits_are_no_limits() {
        assert!(super::is_zero("0"));
        assert!(super::is_zero("0mb"));
        assert!(!super::is_zero("256mb"));
        assert!(!super::is_zero("lots"));
    }
}
