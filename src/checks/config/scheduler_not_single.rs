//! `scheduler-not-single`: more than one scheduler on an RQ release.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct SchedulerNotSingle;

static META: CheckMeta = CheckMeta {
    code: "scheduler-not-single",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "more than one scheduler runs on an RQ release",
    what: "Counts the scheduler roles and their replicas (compose `deploy.replicas`, ECS desired \
           count given with --ecs-desired-count) when the target release runs RQ.",
    why: "Upstream runs exactly one scheduler service. Scheduling is not parallel work, so a \
          second copy adds nothing, and every scheduler rewrites the periodic-job registrations \
          in Redis when it starts, cancelling the jobs its own code does not define: while old \
          and new copies overlap during a rolling upgrade, each removes the other's jobs. \
          Autoscaling a scheduler service makes this happen with load.",
    fix: "Run exactly one scheduler: one service, one replica, autoscaling off.",
    references: &[
        "v10.1.0:bin/docker-entrypoint",
        "v10.1.0:redash/tasks/schedule.py:102",
    ],
};

impl ConfigCheck for SchedulerNotSingle {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.target_is_rq()
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
            severity: None,
            effect: None,
            message: format!(
                "{copies} schedulers would run on {} ({})",
                hop.plan.to.version,
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
