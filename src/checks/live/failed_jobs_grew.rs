//! `failed-jobs-grew`: more failed jobs than the baseline recorded.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::report;

pub struct FailedJobsGrew;

static META: CheckMeta = CheckMeta {
    code: "failed-jobs-grew",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "Failed jobs grew since the baseline",
    what: "Compares each queue's failed registry (`ZCARD rq:failed:NAME`) with the counts an \
           earlier `status --write-baseline FILE` recorded, given as `--baseline FILE`. RQ only: \
           Celery keeps no registry of failed tasks.",
    why: "A hop that breaks jobs (a data source whose runner was removed, a task whose \
          arguments changed) shows first as failed jobs piling up after the new release \
          starts; a count alone says nothing without the count before.",
    fix: "Look at the failed jobs (`rq info`, or Redash's admin page), fix the cause, and write \
          a new baseline once the count is understood.",
    references: &["https://github.com/rq/rq/blob/v1.16.1/rq/registry.py"],
};

impl LiveCheck for FailedJobsGrew {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(baseline) = live.baseline else {
            return Err(CannotRun(
                "no --baseline FILE (write one with `status --write-baseline FILE` before the hop)"
                    .into(),
            ));
        };
        if live.observation.workers.is_none() {
            return Err(CannotRun("Celery keeps no registry of failed tasks".into()));
        }
        Ok(live
            .observation
            .queues
            .iter()
            .filter_map(|queue| {
                let before = baseline.failed.get(&queue.name).copied().unwrap_or(0);
                (queue.failed > before).then(|| {
                    report(
                        format!(
                            "queue {}: {} failed job(s), {before} at the baseline (release {})",
                            queue.name, queue.failed, baseline.release
                        ),
                        format!(
                            "Look at the failed jobs in rq:failed:{}; fix the cause, then write a \
                             new baseline.",
                            queue.name
                        ),
                    )
                })
            })
            .collect())
    }
}
