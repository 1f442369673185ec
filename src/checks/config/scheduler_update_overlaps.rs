//! `scheduler-update-overlaps`: a deploy starts the new scheduler before the old one stops.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::{RoleKind, UpdateStrategy};

pub struct SchedulerUpdateOverlaps;

static META: CheckMeta = CheckMeta {
    code: "scheduler-update-overlaps",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a deploy runs the old and the new scheduler side by side",
    what: "Looks at how a deploy replaces each scheduler role when the target release runs RQ: \
           a Kubernetes Deployment's `strategy` (RollingUpdate, the default, starts the new pod \
           before the old one stops unless maxSurge is 0 with one replica), a DaemonSet's \
           maxSurge, an ECS service's `deploymentConfiguration.maximumPercent` (above 100, the \
           default being 200, ECS starts the new task first) or a CodeDeploy blue/green \
           controller. StatefulSets replace their pods one at a time, the old one first.",
    why: "An overlapping deploy starts the new scheduler while the old one still runs, on every \
          deploy and on the upgrade itself, even with one replica. The starting scheduler first \
          rewrites the periodic-job registrations in Redis (cancelling every job its own code \
          does not define), then registers itself with rq-scheduler. Up to 10.1.0 \
          (rq-scheduler 0.9) only one scheduler may be registered: while the old one runs, the \
          new one exits with `There's already an active RQ scheduler` and is restarted until \
          the old one is gone. ECS, which keeps the old task until a new one runs \
          (minimumHealthyPercent 100), keeps replacing the failed new task until the old one \
          stops or the deployment circuit breaker rolls the deploy back; on Kubernetes the new \
          pod restarts with a growing back-off, so once the old pod is gone the periodic jobs \
          (query refreshes, cleanups) can wait minutes for a scheduler. From 25.1.0 \
          (rq-scheduler 0.13) the two take a lock in turn, and the old release's scheduler \
          enqueues the jobs the new one registered until it stops.",
    fix: "Stop the old scheduler before the new one starts: on Kubernetes set the scheduler \
          Deployment's `strategy: {type: Recreate}` (as the community Helm chart does since \
          August 2022); on ECS set the scheduler service's `deploymentConfiguration` to \
          `maximumPercent: 100` with `minimumHealthyPercent: 0`. A few seconds without a \
          scheduler delay periodic jobs and lose nothing.",
    references: &[
        "v10.1.0:redash/tasks/schedule.py:102-127",
        "v10.1.0:redash/cli/rq.py:27-31",
        "https://github.com/rq/rq-scheduler/blob/v0.9.1/rq_scheduler/scheduler.py#L42-L46",
        "https://github.com/getredash/contrib-helm-chart/commit/0d35e3a9f026a6a590ac182c3b70b7e79d75a0cb",
        "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html",
    ],
};

impl ConfigCheck for SchedulerUpdateOverlaps {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.target_is_rq()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        Ok(hop
            .deployment
            .roles_of(RoleKind::Scheduler)
            .filter_map(|role| {
                let strategy = role.update_strategy.as_ref()?;
                let UpdateStrategy::Overlapping { how } = &strategy.value else {
                    return None;
                };
                let fix = if role.ecs {
                    "Set maximumPercent 100 and minimumHealthyPercent 0 on its ECS service."
                } else {
                    "Set its Deployment's strategy to Recreate."
                };
                Some(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "a deploy of {} starts the new scheduler before the old one stops ({how})",
                        role.name
                    ),
                    location: Some(strategy.location.clone()),
                    help: fix.into(),
                })
            })
            .collect())
    }
}
