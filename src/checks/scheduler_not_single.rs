//! `scheduler-not-single`: more than one scheduler on an RQ release.

use super::{CannotRun, Check, Documentation, HopContext, Report, Severity};
use crate::inputs::RoleKind;

pub struct SchedulerNotSingle;

static DOC: Documentation = Documentation {
    summary: "more than one scheduler runs on an RQ release",
    what: "Counts the scheduler roles and their replicas (compose `deploy.replicas`, ECS desired \
           count given with --ecs-desired-count) when the target release runs RQ.",
    why: "The RQ scheduler registers scheduled queries and periodic jobs in Redis; several \
          schedulers fight over the same registrations and enqueue jobs twice or drop them. \
          Autoscaling a scheduler service, harmless on Celery beat with one replica, breaks it.",
    fix: "Run exactly one scheduler: one service, one replica, autoscaling off.",
    references: &[
        "v10.1.0:bin/docker-entrypoint",
        "v10.1.0:redash/tasks/schedule.py",
    ],
};

impl Check for SchedulerNotSingle {
    fn code(&self) -> &'static str {
        "scheduler-not-single"
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn documentation(&self) -> &'static Documentation {
        &DOC
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.target_is_rq()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let schedulers: Vec<_> = hop.deployment.roles_of(RoleKind::Scheduler).collect();
        let copies: u32 = schedulers.iter().map(|role| role.copies()).sum();
        if copies <= 1 {
            return Ok(Vec::new());
        }
        let location = schedulers
            .iter()
            .find_map(|role| {
                role.replicas
                    .as_ref()
                    .map(|replicas| replicas.location.clone())
            })
            .or_else(|| schedulers.get(1).map(|role| role.location.clone()));
        Ok(vec![Report {
            message: format!(
                "{copies} schedulers would run on {} ({})",
                hop.to.version,
                schedulers
                    .iter()
                    .map(|role| format!("{} x{}", role.name, role.copies()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            location,
            help: "Run exactly one scheduler replica.".into(),
        }])
    }
}
