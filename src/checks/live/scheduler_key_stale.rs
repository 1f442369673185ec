//! `scheduler-key-stale`: a scheduler's registration outlived its process.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{report, report_at};
use crate::status::Heartbeat;

pub struct SchedulerKeyStale;

static META: CheckMeta = CheckMeta {
    code: "scheduler-key-stale",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "A scheduler stopped without registering its death and its key is still in Redis",
    what: "Finds scheduler registrations without `death` whose expiry shows no heartbeat for \
           more than 7 s (Redash's scheduler refreshes it every 5 s to `interval + 10` s). With \
           rq-scheduler 0.9.1 (Redash 9.x and 10.x) that key is `rq:scheduler`, and a new \
           scheduler refuses to start while it exists (a warning); 0.13.1 (25.1.0 on) names \
           each instance, so a stale `rq:scheduler_instance:NAME` blocks nobody (info). Celery \
           beat keeps no key in Redis: nothing to report in that era.",
    why: "A scheduler killed without a chance to stop (SIGKILL, an OOM kill, a node lost) leaves \
          its key until it expires. With 0.9.1 the new release's scheduler then exits with \
          \"There's already an active RQ scheduler\" until the key is gone; an orchestrator that \
          gives up after a few fast restarts leaves the upgraded Redash with no scheduler.",
    fix: "Wait for the key to expire (the report gives the seconds left), or, once you are sure \
          no scheduler runs, delete it: `redis-cli DEL rq:scheduler`. Stop the scheduler with \
          SIGTERM (docker stop), which registers its death.",
    references: &[
        "https://github.com/rq/rq-scheduler/blob/v0.9.1/rq_scheduler/scheduler.py",
        "https://github.com/rq/rq-scheduler/blob/v0.13.1/rq_scheduler/scheduler.py",
        "https://discuss.redash.io/t/cannot-deploy-without-downtime-because-of-scheduler-process-getting-error-raise-valueerror-theres-already-an-active-rq-scheduler/7842",
    ],
};

impl LiveCheck for SchedulerKeyStale {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(scheduler) = &live.observation.scheduler else {
            return Ok(Vec::new());
        };
        Ok(scheduler
            .instances
            .iter()
            .filter(|instance| instance.heartbeat == Heartbeat::Late)
            .map(|instance| {
                let since = instance
                    .seconds_since_heartbeat
                    .map(|seconds| format!(" for {seconds} s"))
                    .unwrap_or_default();
                let message = format!(
                    "{} has had no heartbeat{since} and no death registered: its scheduler \
                     stopped uncleanly; the key expires in {} s",
                    instance.key, instance.expires_in
                );
                if scheduler.one_instance_key {
                    report(
                        format!(
                            "{message}; until then a new scheduler ({}) refuses to start",
                            scheduler.library
                        ),
                        format!(
                            "Wait {} s, or once no scheduler runs: redis-cli DEL {}",
                            instance.expires_in, instance.key
                        ),
                    )
                } else {
                    report_at(
                        Severity::Info,
                        format!(
                            "{message}; {} names each instance, so it blocks no new one",
                            scheduler.library
                        ),
                        "Nothing to do: it expires by itself.".to_owned(),
                    )
                }
            })
            .collect())
    }
}
