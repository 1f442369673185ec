//! `login-throttle-health-check`: REDASH_THROTTLE_LOGIN_PATTERN raised so a load balancer can poll
//! /login.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct LoginThrottleHealthCheck;

static META: CheckMeta = CheckMeta {
    code: "login-throttle-health-check",
    severity: Severity::Warning,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "a health check on /login, or the login rate limit raised for one",
    what: "Looks for REDASH_THROTTLE_LOGIN_PATTERN set to anything but the release default on any \
           role, and for container health checks (compose `healthcheck`, ECS `healthCheck`) that \
           request /login.",
    why: "Setups without a health endpoint in mind point the load balancer at /login and raise \
          the login rate limit so the probes are not throttled, which also lets password guessing \
          through. Redash answers GET /ping with 200 and no login on every release this tool \
          knows, at the root path even with multi_org.",
    fix: "Point the health check at /ping and restore the default login limit (unset \
          REDASH_THROTTLE_LOGIN_PATTERN).",
    references: &[
        "v10.1.0:redash/handlers/__init__.py",
        "v10.1.0:redash/settings/__init__.py",
    ],
};

impl ConfigCheck for LoginThrottleHealthCheck {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let default = hop
            .plan
            .to
            .env
            .iter()
            .find(|variable| variable.name == "REDASH_THROTTLE_LOGIN_PATTERN")
            .and_then(|variable| variable.default.clone());
        let mut reports = Vec::new();
        for role in hop.deployment.running_roles() {
            let Some(value) = role.var("REDASH_THROTTLE_LOGIN_PATTERN") else {
                continue;
            };
            let Some(pattern) = value.value.as_deref() else {
                continue;
            };
            if Some(pattern) == default.as_deref()
                || reports
                    .iter()
                    .any(|report: &Report| report.location == Some(value.location.clone()))
            {
                continue;
            }
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{} raises REDASH_THROTTLE_LOGIN_PATTERN to {pattern} (default {})",
                    role.name,
                    default.as_deref().unwrap_or("none")
                ),
                location: Some(value.location.clone()),
                help: "Health-check /ping instead and unset REDASH_THROTTLE_LOGIN_PATTERN.".into(),
            });
        }
        for role in hop.deployment.running_roles() {
            let Some(check) = &role.health_check else {
                continue;
            };
            if check.value.contains("/login") {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!("{}'s health check requests /login", role.name),
                    location: Some(check.location.clone()),
                    help: "Request /ping instead: it needs no login and is not rate-limited."
                        .into(),
                });
            }
        }
        Ok(reports)
    }
}
