//! `queues-not-consumed`: every queue that receives jobs in the target release is consumed by
//! some worker.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct QueuesNotConsumed;

static META: CheckMeta = CheckMeta {
    code: "queues-not-consumed",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a queue that receives jobs in the target release has no worker",
    what: "Takes the queues each role consumes on the target release (a worker's QUEUES, or the \
           release's default when QUEUES is unset or empty; on Celery releases the scheduler's \
           too, as its command starts a Celery worker with beat), read the way the release's \
           worker reads them (quote characters inside the value stay in the names on Celery; on \
           RQ, supervisord removes them but keeps quoted words together), and compares their \
           union with the queues the target release sends jobs to. A queue the release's own \
           default QUEUES leave unconsumed too (4.x-6.x's 'schemas') is a warning, not an error.",
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
        if !deployment.knows_roles() {
            return Err(CannotRun(
                "no roles: give --compose or --ecs-task-def so the workers are known".into(),
            ));
        }
        let target = hop.plan.to;
        let consumers = super::consumers(hop);
        let mut consumed: Vec<&str> = consumers
            .iter()
            .flat_map(|consumer| consumer.queues.iter().map(String::as_str))
            .collect();
        consumed.sort_unstable();
        consumed.dedup();
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
        let missing: Vec<&str> = receiving
            .iter()
            .map(String::as_str)
            .filter(|queue| !consumed.contains(queue))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        // A queue the release's own default layout leaves unconsumed is upstream's gap (the
        // 'schemas' queue of 4.x-6.x): worth knowing, but it is no error of this deployment.
        let upstream_default: Vec<&String> = target
            .queues
            .worker_default
            .queues
            .iter()
            .chain(
                (!hop.plan.target_is_rq())
                    .then_some(&target.queues.scheduler_default.queues)
                    .into_iter()
                    .flatten(),
            )
            .collect();
        let (ours, upstreams): (Vec<&str>, Vec<&str>) = missing
            .iter()
            .partition(|queue| upstream_default.iter().any(|name| name == *queue));
        let anchor = consumers
            .iter()
            .find_map(|consumer| consumer.listed.map(|value| value.location.clone()))
            .or_else(|| {
                consumers
                    .first()
                    .map(|consumer| consumer.role.location.clone())
            })
            .or_else(|| deployment.roles.first().map(|role| role.location.clone()));
        let consumed_text = if consumed.is_empty() {
            "nothing".to_owned()
        } else {
            consumed.join(", ")
        };
        let mut reports = Vec::new();
        if !ours.is_empty() {
            let list = ours.join(", ");
            let mut message = if consumers.is_empty() {
                let scheduler_note = if hop.plan.target_is_rq()
                    && deployment.roles_of(RoleKind::Scheduler).next().is_some()
                {
                    " (the scheduler consumes no queue on RQ releases)"
                } else {
                    ""
                };
                format!(
                    "no worker role, so nothing consumes {list} on {}{scheduler_note}",
                    target.version
                )
            } else {
                format!(
                    "no role consumes {list} on {} (consumed: {consumed_text})",
                    target.version
                )
            };
            message.push_str(&quoting_note(&consumers));
            reports.push(Report {
                severity: None,
                effect: None,
                message,
                location: anchor.clone(),
                help: format!(
                    "Add {list} to a worker's QUEUES{}.",
                    if hop.plan.target_is_rq() {
                        ", or leave QUEUES empty on one worker so it consumes every queue"
                    } else {
                        ""
                    }
                ),
            });
        }
        if !upstreams.is_empty() {
            let list = upstreams.join(", ");
            reports.push(Report {
                severity: Some(Severity::Warning),
                effect: None,
                message: format!(
                    "no role consumes {list} on {}, and neither does {}'s own default QUEUES: \
                     its jobs pile up in Redis unless a worker lists it (consumed: {consumed_text})",
                    target.version, target.version
                ),
                location: anchor,
                help: format!(
                    "Add {list} to one worker's QUEUES (see `redash-upgrade plan` for the known bug)."
                ),
            });
        }
        Ok(reports)
    }
}

/// Why a QUEUES value that looks right consumes other names: quote characters inside it.
fn quoting_note(consumers: &[super::Consumer<'_>]) -> String {
    let odd: Vec<String> = consumers
        .iter()
        .flat_map(|consumer| {
            consumer
                .queues
                .iter()
                .filter(|queue| queue.contains(['"', '\'']) || queue.contains(char::is_whitespace))
                .map(move |queue| {
                    format!("{} consumes a queue named `{queue}`", consumer.role.name)
                })
        })
        .collect();
    if odd.is_empty() {
        return String::new();
    }
    format!(
        "; the quotes are inside the QUEUES value, so {}",
        odd.join(", ")
    )
}
