//! `backlog-not-drained`: jobs still queued or running when the old release is about to stop.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{report, report_at};

pub struct BacklogNotDrained;

static META: CheckMeta = CheckMeta {
    code: "backlog-not-drained",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "Jobs are still queued or running in Redis",
    what: "Counts, per queue, the jobs waiting (RQ: `LLEN rq:queue:NAME`; Celery: the queue's \
           list and its priority lists) and the jobs running (RQ: the started registry \
           `rq:wip:NAME`; Celery: messages taken and not acknowledged, kombu's `unacked` hash). \
           One finding per queue that is not empty. An error when the next hop replaces the job \
           system (Celery to RQ), a warning otherwise.",
    why: "A job queued by the old release runs under the new one, or never. Across the hop from \
          Celery to RQ nothing reads Celery's lists again: every queued refresh, alert check and \
          e-mail in them is lost. Within one job system a queued job still carries the old \
          release's arguments, and a running job is killed when its worker stops, leaving its \
          query's lock behind. Field reports lost jobs to queues nobody drained.",
    fix: "Stop the scheduler first (nothing new is enqueued), let the workers finish, and run \
          `redash-upgrade status --wait-drained --timeout 10min` until it exits 0; then stop the \
          workers and the server. A started job whose worker is gone never finishes: RQ moves it \
          to the failed registry when its timeout passes.",
    references: &[
        "v8.0.0:bin/docker-entrypoint:6",
        "v10.1.0:redash/tasks/queries/execution.py:87-115",
        "v10.1.0:redash/tasks/schedule.py:34-35",
        "https://redash.io/help/open-source/admin-guide/how-to-upgrade",
    ],
};

impl LiveCheck for BacklogNotDrained {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let lost = live.next_hop_changes_job_system();
        let running = if live.running.job_system == crate::knowledge::model::JobSystem::Rq {
            "running (started registry)"
        } else {
            "taken by a worker and not acknowledged"
        };
        Ok(live
            .observation
            .queues
            .iter()
            .filter(|queue| queue.queued + queue.started > 0)
            .map(|queue| {
                let message = format!(
                    "queue {}: {} queued ({}), {} {running}",
                    queue.name, queue.queued, queue.key, queue.started
                );
                if lost {
                    report_at(
                        Severity::Error,
                        format!(
                            "{message}; the next hop replaces {} with {}, which never reads \
                             these jobs",
                            live.running.job_system.name(),
                            live.next_hop
                                .map(|hop| hop.to.job_system.name())
                                .unwrap_or_default()
                        ),
                        "Drain the queues before stopping the old release: stop the scheduler, \
                         then `redash-upgrade status --wait-drained --timeout 10min`."
                            .to_owned(),
                    )
                } else {
                    report(
                        message,
                        "Stop the scheduler, then wait with `redash-upgrade status \
                         --wait-drained` before stopping the workers."
                            .to_owned(),
                    )
                }
            })
            .collect())
    }
}
