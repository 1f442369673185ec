//! `gunicorn-binds-ipv6`: 26.3.0's server listens on `[::]:5000`.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::RoleKind;

pub struct GunicornBindsIpv6;

static META: CheckMeta = CheckMeta {
    code: "gunicorn-binds-ipv6",
    severity: Severity::Info,
    trigger: Trigger::NamedByHop,
    effect: None,
    summary: "26.3.0's server binds [::]:5000, which needs IPv6 in the container",
    what: "On hops crossing 26.3.0, reports each server role that runs the image's own `server` \
           command.",
    why: "26.3.0's entrypoint starts gunicorn on [::]:5000 instead of 0.0.0.0:5000. Where the \
          kernel or the pod disables IPv6 the server cannot bind and never becomes healthy; a \
          setting to change the address came only after 26.3.0.",
    fix: "Confirm IPv6 is available in the server container, or override the server's command \
          to bind 0.0.0.0:5000.",
    references: &["v26.3.0:bin/docker-entrypoint:49"],
};

impl ConfigCheck for GunicornBindsIpv6 {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        Ok(hop
            .deployment
            .roles_of(RoleKind::Server)
            .filter(|role| {
                role.command
                    .as_ref()
                    .is_some_and(|command| command.value.trim() == "server")
            })
            .map(|role| Report {
                severity: None,
                effect: None,
                message: format!(
                    "{} will listen on [::]:5000 on {}",
                    role.name, hop.plan.to.version
                ),
                location: role
                    .command
                    .as_ref()
                    .map(|command| command.location.clone()),
                help: "Check that IPv6 is enabled in the container before the hop.".into(),
            })
            .collect())
    }
}
