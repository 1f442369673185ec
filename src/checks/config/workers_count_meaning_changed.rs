//! `workers-count-meaning-changed`: WORKERS_COUNT set on a worker while the hop moves from Celery
//! to RQ.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;
use crate::knowledge::model::JobSystem;

pub struct WorkersCountMeaningChanged;

static META: CheckMeta = CheckMeta {
    code: "workers-count-meaning-changed",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    summary: "WORKERS_COUNT means processes on RQ, not Celery concurrency",
    what: "Looks for WORKERS_COUNT on worker roles when the hop moves from Celery to RQ.",
    why: "On Celery, WORKERS_COUNT is the concurrency of one worker process (`-c`); on RQ it is \
          the number of worker processes supervisord starts, each a full Python process with its \
          own memory. The same number can multiply a container's memory.",
    fix: "Size WORKERS_COUNT for RQ: processes per container times the per-process memory must \
          fit the container's limit. Scale with more worker containers instead where you can.",
    references: &[
        "v8.0.0:bin/docker-entrypoint",
        "v10.1.0:bin/docker-entrypoint",
    ],
};

impl ConfigCheck for WorkersCountMeaningChanged {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.from.job_system == JobSystem::Celery && hop.plan.to.job_system == JobSystem::Rq
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        Ok(hop
            .deployment
            .roles_of(RoleKind::Worker)
            .filter_map(|role| {
                let count = role.var("WORKERS_COUNT")?;
                Some(Report {
                    severity: None,
                    message: format!(
                        "{} sets WORKERS_COUNT={}: Celery concurrency on {}, RQ worker processes on {}",
                        role.name,
                        count.value.as_deref().unwrap_or("(from a secret)"),
                        hop.plan.from.version,
                        hop.plan.to.version
                    ),
                    location: Some(count.location.clone()),
                    help: "Re-size WORKERS_COUNT as a number of processes and check the memory limit.".into(),
                })
            })
            .collect())
    }
}
