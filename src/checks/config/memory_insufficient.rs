//! `memory-insufficient`: a role's memory limit, or the host, is below what the target release
//! uses at idle.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct MemoryInsufficient;

static META: CheckMeta = CheckMeta {
    code: "memory-insufficient",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "memory below what the target release needs",
    what: "Estimates each role's memory on the target release from the idle figures in the \
           knowledge base (server, worker container, scheduler, each with its source) and compares \
           them with the role's limit (compose memory limits, ECS container or task memory). \
           Without per-role limits, sums every role (times its replicas) against --host-memory \
           and the release's recommended host minimum. Where the knowledge base has no figures for \
           the target (9.0.0-beta) or only a host minimum (25.8.0, 26.3.0), it says so.",
    why: "10.0.0 moved workers to RQ processes of about 590 MiB each, and a 2 GB host that ran \
          8.0.0 starts swapping or gets containers OOM-killed mid-migration; upstream raised its \
          recommendation to 4 GB. Idle figures are a floor: large query results need headroom.",
    fix: "Raise the limits or the instance size before the hop, or run fewer worker processes \
          per container.",
    references: &["https://discuss.redash.io/t/ec2-deployment-instance-size-issue/9271"],
};

impl ConfigCheck for MemoryInsufficient {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(figures) = &hop.plan.to.memory else {
            return Err(CannotRun(format!(
                "the knowledge base has no memory figures for {}",
                hop.plan.to.version
            )));
        };
        let per_role_figures = figures.server_mib.is_some()
            || figures.worker_process_mib.is_some()
            || figures.scheduler_mib.is_some();
        let estimate = |kind: RoleKind| -> Option<u64> {
            match kind {
                RoleKind::Server => figures.server_mib,
                RoleKind::Worker => figures.worker_process_mib,
                RoleKind::Scheduler => figures.scheduler_mib,
                RoleKind::Other => None,
            }
            .map(u64::from)
        };
        let host_minimum = figures.host_minimum_mib.map(u64::from);
        let deployment = hop.deployment;
        let mut reports = Vec::new();
        let mut any_limit = false;
        for role in deployment.running_roles() {
            let (Some(limit), Some(needed)) = (&role.memory_limit_mib, estimate(role.kind)) else {
                continue;
            };
            any_limit = true;
            if limit.value < needed {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{} is limited to {} MiB; on {} it uses about {needed} MiB at idle",
                        role.name, limit.value, hop.plan.to.version
                    ),
                    location: Some(limit.location.clone()),
                    help: format!("Raise the limit to at least {} MiB.", needed + needed / 2),
                });
            }
        }
        if let Some(host) = deployment.host_memory_mib {
            let total: u64 = deployment
                .running_roles()
                .filter_map(|role| Some(estimate(role.kind)? * u64::from(role.copies())))
                .sum();
            let minimum = host_minimum.unwrap_or(0).max(total);
            if host < minimum {
                let need = if per_role_figures {
                    format!("{} needs about {total} MiB for these roles at idle and upstream recommends at least {} MiB", hop.plan.to.version, host_minimum.unwrap_or(total))
                } else {
                    format!("upstream recommends at least {minimum} MiB for {} (the knowledge base has no per-role figures for it)", hop.plan.to.version)
                };
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!("the host has {host} MiB; {need}"),
                    location: None,
                    help: format!("Move to a host with at least {minimum} MiB before the hop."),
                });
            }
        } else if !per_role_figures {
            return Err(CannotRun(format!(
                "the knowledge base has no per-role memory figures for {}, only a recommended host of at least {} MiB: give --host-memory to compare",
                hop.plan.to.version,
                host_minimum.map_or_else(|| "?".to_owned(), |mib| mib.to_string())
            )));
        } else if !any_limit {
            return Err(CannotRun(
                "no memory limits in the files and no --host-memory".into(),
            ));
        }
        Ok(reports)
    }
}
