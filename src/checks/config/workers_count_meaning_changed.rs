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
    effect: None,
    summary: "WORKERS_COUNT means processes on RQ, not Celery concurrency",
    what: "Looks for WORKERS_COUNT on worker roles when the hop moves from Celery to RQ.",
    why: "On Celery, WORKERS_COUNT is the concurrency of one worker process (`-c`); on RQ it is \
          the number of worker processes supervisord starts, each a Python process of its own \
          that holds the query results it works on. The only measurement of an idle 10.x worker \
          container (590 MiB with one process, 589 with two) says nothing of more processes \
          under load, so a count carried over from Celery is untested on RQ.",
    fix: "Size WORKERS_COUNT for RQ as processes, keep it at what was measured (1 or 2) where the \
          memory limit is tight, and scale with more worker containers instead; \
          `memory-insufficient` gives each container's need as the knowledge base models it.",
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
        let workers: Vec<_> = hop.deployment.roles_of(RoleKind::Worker).collect();
        // Queues only RQ releases have: a worker that already lists one was laid out for RQ,
        // and its WORKERS_COUNT already counts processes.
        let new_queues: Vec<&str> = hop
            .plan
            .to
            .queues
            .receiving_jobs
            .iter()
            .map(|queue| queue.name.as_str())
            .filter(|name| {
                !hop.plan
                    .from
                    .queues
                    .receiving_jobs
                    .iter()
                    .any(|old| old.name == *name)
            })
            .collect();
        let rq_shaped = workers.iter().any(|role| {
            role.var("QUEUES")
                .and_then(|value| value.value.as_deref())
                .is_some_and(|text| {
                    super::queue_names(text, JobSystem::Rq)
                        .iter()
                        .any(|queue| new_queues.contains(&queue.as_str()))
                })
        });
        if rq_shaped {
            return Ok(Vec::new());
        }
        // One finding per value, naming every worker that sets it.
        let mut by_value: Vec<(Option<&str>, Vec<&crate::inputs::Role>)> = Vec::new();
        for role in workers {
            let Some(count) = role.var("WORKERS_COUNT") else {
                continue;
            };
            let value = count.value.as_deref();
            match by_value.iter_mut().find(|(known, _)| *known == value) {
                Some((_, roles)) => roles.push(role),
                None => by_value.push((value, vec![role])),
            }
        }
        Ok(by_value
            .into_iter()
            .map(|(value, roles)| {
                let names: Vec<&str> = roles.iter().map(|role| role.name.as_str()).collect();
                let (subject, plural) = super::role_list(&names);
                Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{subject} {} WORKERS_COUNT={}: Celery concurrency on {}, RQ worker processes on {}",
                        if plural { "set" } else { "sets" },
                        value.unwrap_or("(from a secret)"),
                        hop.plan.from.version,
                        hop.plan.to.version
                    ),
                    location: roles[0].var("WORKERS_COUNT").map(|count| count.location.clone()),
                    help: "Re-size WORKERS_COUNT as a number of processes and check the memory limit (see memory-insufficient).".into(),
                }
            })
            .collect())
    }
}
