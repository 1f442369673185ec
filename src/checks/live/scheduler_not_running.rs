//! `scheduler-not-running`: no RQ scheduler has a fresh heartbeat in Redis.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{celery_has_no_registrations, report};

pub struct SchedulerNotRunning;

static META: CheckMeta = CheckMeta {
    code: "scheduler-not-running",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "No RQ scheduler is running: periodic jobs are not enqueued",
    what: "Reads the scheduler's registration: rq-scheduler 0.9.1 (Redash 9.x and 10.x) keeps \
           one hash `rq:scheduler`, 0.13.1 (25.1.0 on) one `rq:scheduler_instance:NAME` per \
           process. A live scheduler refreshes its key's expiry (`interval + 10` s, Redash's \
           interval is 5 s) on every loop; a key without `death` refreshed within the last 7 s \
           counts as running. Reported when none does, with the periodic jobs registered in \
           `rq:scheduler:scheduled_jobs` that nothing will enqueue. Celery beat does not \
           register in Redis, so in the Celery era the check cannot run.",
    why: "Without the scheduler nothing refreshes scheduled queries, removes ghost locks, or \
          sends the aggregated failure e-mails, and nothing says so. Inside the maintenance \
          window this is expected (stop the scheduler first); after the hop it means the new \
          release's scheduler did not start.",
    fix: "Start the `scheduler` role (one instance). If it exits at start with \"There's already \
          an active RQ scheduler\", see `redash-upgrade explain scheduler-key-stale`.",
    references: &[
        "v10.1.0:redash/tasks/schedule.py:34-35",
        "v10.1.0:redash/cli/rq.py:27-31",
        "https://github.com/rq/rq-scheduler/blob/v0.9.1/rq_scheduler/scheduler.py",
        "https://github.com/rq/rq-scheduler/blob/v0.13.1/rq_scheduler/scheduler.py",
    ],
};

impl LiveCheck for SchedulerNotRunning {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(scheduler) = &live.observation.scheduler else {
            return Err(celery_has_no_registrations("beat"));
        };
        if scheduler.running().next().is_some() {
            return Ok(Vec::new());
        }
        let jobs = scheduler.periodic_jobs.len();
        Ok(vec![report(
            format!(
                "no {} has refreshed its registration within {} s: {jobs} periodic job(s) in \
                 rq:scheduler:scheduled_jobs wait for a scheduler to enqueue them",
                scheduler.library,
                crate::status::SCHEDULER_HEARTBEAT_LATE_AFTER
            ),
            "Expected inside the maintenance window; otherwise start one `scheduler` role."
                .to_owned(),
        )])
    }
}
