//! `queues-not-consumed`: every queue that receives jobs in the target release is consumed by
//! some worker.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct QueuesNotConsumed;

static META: CheckMeta = CheckMeta {
    code: "queues-not-consumed",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    summary: "a queue that receives jobs in the target release has no worker",
    what:
        "Takes the queues each worker consumes (its QUEUES, or the release's default when QUEUES \
           is unset or, on RQ, empty) and, on Celery releases, the scheduler's, and compares their \
           union with the queues the target release sends jobs to: queries, scheduled_queries and \
           the release's own (celery and the schema-refresh queue on Celery; schemas, periodic, \
           emails and default on RQ).",
    why:
        "A job sent to a queue nobody consumes waits forever: ad-hoc queries spin, schedules never \
          run, schema browsers stay empty, alert e-mails are never sent. QUEUES lists written for \
          Celery name queues that RQ releases no longer use, and miss the ones they added.",
    fix: "Add the missing queues to a worker's QUEUES (comma-separated), or leave QUEUES empty on \
          one worker so that it consumes every queue. Data sources can name their own queues \
          (queue_name, scheduled_queue_name): the database checks look at those.",
    references: &[
        "v8.0.0:bin/docker-entrypoint",
        "v10.1.0:redash/worker.py",
        "v10.1.0:bin/docker-entrypoint",
        "v10.1.0:redash/cli/rq.py",
    ],
};

impl ConfigCheck for QueuesNotConsumed {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let deployment = hop.deployment;
        let workers: Vec<_> = deployment.roles_of(RoleKind::Worker).collect();
        if deployment.roles.is_empty() {
            return Err(CannotRun(
                "no roles: give --compose or --ecs-task-def so the workers are known".into(),
            ));
        }
        let target = hop.plan.to;
        let consumed = super::consumed_queues(hop).unwrap_or_default();
        let mut receiving: Vec<String> = Vec::new();
        for queue in &target.queues.receiving_jobs {
            let name = queue
                .configurable_by
                .as_deref()
                .filter(|setting| setting.starts_with("REDASH_") || setting.starts_with("QUEUES"))
                .and_then(|variable| {
                    deployment
                        .running_roles()
                        .find_map(|role| role.var(variable)?.value.clone())
                })
                .unwrap_or_else(|| queue.name.clone());
            if !receiving.contains(&name) {
                receiving.push(name);
            }
        }
        let anchor = workers
            .iter()
            .find_map(|role| role.var("QUEUES").map(|value| value.location.clone()))
            .or_else(|| workers.first().map(|role| role.location.clone()))
            .or_else(|| deployment.roles.first().map(|role| role.location.clone()));
        let missing: Vec<&String> = receiving
            .iter()
            .filter(|queue| !consumed.contains(queue))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let list = missing
            .iter()
            .map(|queue| queue.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let message = if workers.is_empty() {
            format!(
                "no worker role, so nothing consumes {list} on {}",
                target.version
            )
        } else {
            format!(
                "no worker consumes {list} on {} (workers consume: {})",
                target.version,
                if consumed.is_empty() {
                    "nothing".to_owned()
                } else {
                    consumed.join(", ")
                }
            )
        };
        Ok(vec![Report {
            severity: None,
            message,
            location: anchor,
            help: format!(
                "Add {list} to a worker's QUEUES{}.",
                if hop.plan.target_is_rq() {
                    ", or leave QUEUES empty on one worker so it consumes every queue"
                } else {
                    ""
                }
            ),
        }])
    }
}
