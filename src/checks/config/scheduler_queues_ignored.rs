//! `scheduler-queues-ignored`: QUEUES or WORKERS_COUNT set on an RQ scheduler.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct SchedulerQueuesIgnored;

static META: CheckMeta = CheckMeta {
    code: "scheduler-queues-ignored",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "the RQ scheduler ignores QUEUES and WORKERS_COUNT",
    what: "Looks for QUEUES or WORKERS_COUNT on the scheduler role when the target release runs \
           RQ.",
    why: "From 10.0.0 the scheduler is `manage.py rq scheduler`: it only enqueues. Settings that \
          made the Celery scheduler also work a queue now do nothing, and leave readers believing \
          that the queue is consumed.",
    fix: "Remove QUEUES and WORKERS_COUNT from the scheduler and make sure a worker consumes \
          those queues.",
    references: &["v10.1.0:bin/docker-entrypoint"],
};

impl ConfigCheck for SchedulerQueuesIgnored {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.target_is_rq()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let mut reports = Vec::new();
        for role in hop.deployment.roles_of(RoleKind::Scheduler) {
            for variable in ["QUEUES", "WORKERS_COUNT"] {
                if let Some(value) = role.var(variable) {
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "{} sets {variable}, which the RQ scheduler of {} ignores",
                            role.name, hop.plan.to.version
                        ),
                        location: Some(value.location.clone()),
                        help: format!("Remove {variable} from the scheduler."),
                    });
                }
            }
        }
        Ok(reports)
    }
}
