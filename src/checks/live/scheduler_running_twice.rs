//! `scheduler-running-twice`: two RQ schedulers have fresh heartbeats.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{celery_has_no_registrations, report};

pub struct SchedulerRunningTwice;

static META: CheckMeta = CheckMeta {
    code: "scheduler-running-twice",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "More than one RQ scheduler is running",
    what: "Counts the scheduler registrations refreshed within the last 7 s \
           (`rq:scheduler_instance:NAME`, rq-scheduler 0.13.1, Redash 25.1.0 on; 0.9.1 refuses a \
           second instance outright, so there it cannot happen).",
    why: "Each scheduler, when it starts, registers its release's periodic jobs and cancels \
          every registered job that is not among them (`schedule_periodic_jobs`), so an old and \
          a new scheduler left running side by side by a rolling update undo each other's \
          periodic jobs on every restart. The lock `rq:scheduler_lock` only keeps them from \
          enqueueing the same due job twice.",
    fix: "Run exactly one scheduler: stop the old release's scheduler before starting the new \
          one (ECS: minimumHealthyPercent 0 and maximumPercent 100 for the scheduler service; \
          Kubernetes: strategy Recreate).",
    references: &[
        "v25.8.0:redash/tasks/schedule.py:32",
        "v10.1.0:redash/tasks/schedule.py:102-118",
        "v25.8.0:redash/tasks/schedule.py:94-107",
        "https://github.com/rq/rq-scheduler/blob/v0.13.1/rq_scheduler/scheduler.py",
    ],
};

impl LiveCheck for SchedulerRunningTwice {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(scheduler) = &live.observation.scheduler else {
            return Err(celery_has_no_registrations("beat"));
        };
        let running: Vec<&str> = scheduler
            .running()
            .map(|instance| instance.key.as_str())
            .collect();
        if running.len() < 2 {
            return Ok(Vec::new());
        }
        Ok(vec![report(
            format!(
                "{} schedulers are running: {}",
                running.len(),
                running.join(", ")
            ),
            "Stop all but one scheduler (the one of the release you run).".to_owned(),
        )])
    }
}
