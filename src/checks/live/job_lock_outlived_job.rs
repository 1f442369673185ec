//! `job-lock-outlived-job`: Redash query locks whose job is finished, failed or gone.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::report;
use crate::knowledge::model::JobSystem;

pub struct JobLockOutlivedJob;

static META: CheckMeta = CheckMeta {
    code: "job-lock-outlived-job",
    severity: Severity::Info,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "Query locks point at jobs that are over or gone",
    what: "Reads Redash's per-query locks `query_hash_job:DATA_SOURCE_ID:QUERY_HASH` and the RQ \
           job each names (`rq:job:ID`'s `status`). Reported when the job is finished, failed, \
           stopped or missing: Redash keeps a lock only while its job is queued or started. In \
           the Celery era a task is only visible once it has a result, so nothing is reported \
           there.",
    why: "A lock stops the same query from being enqueued twice. The RQ releases handle a lock \
          whose job is over when the query runs again, and the scheduler's `remove_ghost_locks` \
          deletes them every minute, so a few are harmless; many mean the scheduler is not \
          running, or the locks were left by Celery before the hop (they name Celery task ids \
          that RQ does not know).",
    fix: "Nothing, while a scheduler runs. Without one, start it; the locks also expire after \
          REDASH_JOB_EXPIRY_TIME (12 h by default).",
    references: &[
        "v10.1.0:redash/tasks/queries/execution.py:22-23",
        "v10.1.0:redash/tasks/queries/maintenance.py:147-162",
        "v10.1.0:redash/settings/__init__.py:258",
    ],
};

impl LiveCheck for JobLockOutlivedJob {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        if live.running.job_system == JobSystem::Celery {
            return Ok(Vec::new());
        }
        let outlived: Vec<_> = live
            .observation
            .job_locks
            .iter()
            .filter(|lock| lock.outlived_its_job())
            .collect();
        if outlived.is_empty() {
            return Ok(Vec::new());
        }
        let examples: Vec<String> = outlived
            .iter()
            .take(3)
            .map(|lock| {
                format!(
                    "{} -> {} ({})",
                    lock.key,
                    lock.job_id.as_deref().unwrap_or("nothing"),
                    lock.job_status.as_deref().unwrap_or("no such job")
                )
            })
            .collect();
        Ok(vec![report(
            format!(
                "{} of {} query lock(s) outlived their job: {}",
                outlived.len(),
                live.observation.job_locks.len(),
                examples.join("; ")
            ),
            "Nothing while a scheduler runs (remove_ghost_locks clears them every minute)."
                .to_owned(),
        )])
    }
}
