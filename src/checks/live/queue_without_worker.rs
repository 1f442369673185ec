//! `queue-without-worker`: a queue holds jobs and no running worker listens to it.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{celery_has_no_registrations, report};

pub struct QueueWithoutWorker;

static META: CheckMeta = CheckMeta {
    code: "queue-without-worker",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "A queue holds jobs and no worker that may be running listens to it",
    what: "For each RQ queue with jobs waiting, looks for a registered worker (`rq:workers`, \
           each `rq:worker:NAME`'s `queues`) that listens to it and has not stopped: one that \
           registered its death, or (rq 1.16.1 and later, which name their Redis connection \
           after the worker) whose connection is gone, does not count. Celery workers do not \
           register in Redis, so in the Celery era the check cannot run.",
    why: "Jobs in a queue nobody consumes wait forever: scheduled refreshes stop, alerts stop \
          firing, and a drain before the hop never ends. After a hop the usual cause is a \
          QUEUES list (or a Helm/ECS worker definition) that does not name a queue the new \
          release sends to, or workers that died when Redis restarted.",
    fix: "Start a worker for the queue (`worker` with QUEUES naming it), or add the queue to an \
          existing worker's QUEUES; `redash-upgrade check` names the files that set QUEUES.",
    references: &[
        "v10.1.0:bin/docker-entrypoint:16-23",
        "v10.1.0:redash/models/__init__.py:101-102",
        "v10.1.0:redash/tasks/general.py",
    ],
};

impl LiveCheck for QueueWithoutWorker {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        if live.observation.workers.is_none() {
            return Err(celery_has_no_registrations("workers"));
        }
        Ok(live
            .observation
            .queues
            .iter()
            .filter(|queue| queue.queued > 0 && queue.workers.is_empty())
            .map(|queue| {
                report(
                    format!(
                        "queue {} has {} job(s) waiting and no worker that may be running \
                         listens to it",
                        queue.name, queue.queued
                    ),
                    format!(
                        "Start a worker whose QUEUES includes {}, or add it to a running \
                         worker's QUEUES.",
                        queue.name
                    ),
                )
            })
            .collect())
    }
}
