//! `celery-leftovers`: Celery's keys are still in Redis after the hop to RQ.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{report, report_at};
use crate::knowledge::model::JobSystem;

pub struct CeleryLeftovers;

static META: CheckMeta = CheckMeta {
    code: "celery-leftovers",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "Celery's keys are still in Redis, though the release runs RQ",
    what: "When the running release uses RQ (9.0.0-beta on), looks for the keys Celery and \
           kombu's Redis transport leave: `_kombu.binding.*`, `unacked`, `unacked_index`, \
           `unacked_mutex`, `celery-task-meta-*`, and lists named as a queue Celery declared. A \
           warning when those lists still hold messages (jobs the old release queued and \
           nothing will run), info otherwise.",
    why: "RQ reads only `rq:*` keys and Redash's own locks, so nothing consumes Celery's lists \
          again: their messages are lost jobs, and the keys take memory. Deleting them is safe \
          once no Celery worker or beat of the old release runs.",
    fix: "Check that no old worker runs, then delete them, for example: `redis-cli --scan \
          --pattern '_kombu.binding.*' | xargs -r redis-cli DEL`, the same for \
          `celery-task-meta-*`, then `redis-cli DEL unacked unacked_index unacked_mutex` and \
          the queue lists the report names. Re-run any refresh the lost messages held.",
    references: &[
        "v8.0.0:redash/settings/__init__.py:27-30",
        "v8.0.0:bin/docker-entrypoint:6",
        "https://github.com/celery/kombu/blob/v4.6.3/kombu/transport/redis.py",
    ],
};

impl LiveCheck for CeleryLeftovers {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let groups = &live.observation.celery_keys;
        if live.running.job_system != JobSystem::Rq || groups.is_empty() {
            return Ok(Vec::new());
        }
        let keys: u64 = groups.iter().map(|group| group.count).sum();
        let messages: u64 = groups.iter().map(|group| group.messages).sum();
        let listed: Vec<String> = groups
            .iter()
            .map(|group| format!("{} ({})", group.pattern, group.count))
            .collect();
        let help = format!(
            "Once no Celery process runs, delete them: {}",
            groups
                .iter()
                .map(|group| {
                    if group.pattern.ends_with('*') {
                        format!(
                            "redis-cli --scan --pattern '{}' | xargs -r redis-cli DEL",
                            group.pattern
                        )
                    } else {
                        format!("redis-cli DEL {:?}", group.pattern)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
        let message = format!("{keys} key(s) of Celery remain: {}", listed.join(", "));
        Ok(vec![if messages > 0 {
            report(
                format!("{message}; {messages} message(s) in them will never run under RQ"),
                help,
            )
        } else {
            report_at(Severity::Info, message, help)
        }])
    }
}
