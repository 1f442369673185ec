//! `cookie-secret-missing`: a role runs without REDASH_COOKIE_SECRET.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct CookieSecretMissing;

static META: CheckMeta = CheckMeta {
    code: "cookie-secret-missing",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "REDASH_COOKIE_SECRET is not set",
    what: "Looks for REDASH_COOKIE_SECRET, set and not empty, on every Redash role.",
    why: "Up to 10.0.0 an unset cookie secret falls back to a built-in value that is public, so \
          anyone can forge sessions; from 10.1.0 Redash refuses to start without one. It is also \
          the key data sources are encrypted with when REDASH_SECRET_KEY is unset, so it must be \
          the same on every role.",
    fix: "Set REDASH_COOKIE_SECRET on every role (ECS: as a secret) to the value the deployment \
          has used so far; if it never set one, set it to the built-in default first so sessions \
          and encrypted data keep working, then rotate it deliberately.",
    references: &[
        "v10.1.0:redash/settings/__init__.py",
        "v10.0.0:redash/settings/__init__.py",
    ],
};

impl ConfigCheck for CookieSecretMissing {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        if hop.deployment.roles.is_empty() {
            return Err(CannotRun("no roles to look at".into()));
        }
        // The release data says whether the target still has a built-in default.
        let has_default =
            hop.plan.to.env.iter().any(|variable| {
                variable.name == "REDASH_COOKIE_SECRET" && variable.default.is_some()
            });
        let severity = if has_default {
            Severity::Warning
        } else {
            Severity::Error
        };
        let unset: Vec<_> = hop
            .deployment
            .running_roles()
            .filter(|role| {
                role.var("REDASH_COOKIE_SECRET")
                    .is_none_or(|value| value.is_empty())
            })
            .collect();
        let Some(first) = unset.first() else {
            return Ok(Vec::new());
        };
        let names: Vec<&str> = unset.iter().map(|role| role.name.as_str()).collect();
        let (roles, plural) = super::role_list(&names);
        Ok(vec![Report {
            severity: Some(severity),
            effect: None,
            message: format!(
                "{roles} {} no REDASH_COOKIE_SECRET ({})",
                if plural { "have" } else { "has" },
                if !has_default {
                    format!("{} refuses to start without it", hop.plan.to.version)
                } else {
                    "the public built-in default is used".to_owned()
                }
            ),
            location: Some(first.location.clone()),
            help: "Set REDASH_COOKIE_SECRET on every role to the value in use now.".into(),
        }])
    }
}
