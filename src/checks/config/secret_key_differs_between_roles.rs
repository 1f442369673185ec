//! `secret-key-differs-between-roles`: roles run with different encryption or cookie secrets.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::EnvValue;

pub struct SecretKeyDiffersBetweenRoles;

static META: CheckMeta = CheckMeta {
    code: "secret-key-differs-between-roles",
    severity: Severity::Error,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "roles run with different REDASH_SECRET_KEY or REDASH_COOKIE_SECRET",
    what: "Once the plan reaches a release that stores credentials encrypted (7.0.0 and later), \
           compares REDASH_SECRET_KEY and REDASH_COOKIE_SECRET across the server, workers and \
           scheduler: their values where the files hold them, or whether each role sets them at \
           all. Values are compared, never printed.",
    why: "The server encrypts data-source credentials that workers decrypt to run queries, and \
          the migration encrypts with whatever the migrating container has. A role with another \
          key fails every query with a decryption error, and a migration run with another key \
          leaves credentials nobody can read.",
    fix: "Give every role the same secrets, from one place (one env file, one secret in the \
          secret store).",
    references: &[
        "v10.1.0:redash/settings/__init__.py",
        "v10.1.0:redash/models/__init__.py",
    ],
};

impl ConfigCheck for SecretKeyDiffersBetweenRoles {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    /// Before stored credentials are encrypted (7.0.0), only the server reads a secret (for its
    /// sessions): roles may differ without harm until the plan reaches a release that encrypts.
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.knowledge
            .schema_of(&hop.plan.to.version)
            .and_then(|schema| schema.table("data_sources"))
            .is_some_and(|table| table.column("encrypted_options").is_some())
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let roles: Vec<_> = hop.deployment.running_roles().collect();
        if roles.len() < 2 {
            return Ok(Vec::new());
        }
        let mut reports = Vec::new();
        for variable in ["REDASH_SECRET_KEY", "REDASH_COOKIE_SECRET"] {
            let values: Vec<(&str, Option<&EnvValue>)> = roles
                .iter()
                .map(|role| (role.name.as_str(), role.var(variable)))
                .collect();
            let set: Vec<_> = values.iter().filter(|(_, value)| value.is_some()).collect();
            if set.is_empty() {
                continue;
            }
            let unset: Vec<&str> = values
                .iter()
                .filter(|(_, value)| value.is_none())
                .map(|(name, _)| *name)
                .collect();
            if !unset.is_empty() {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{variable} is set on {} but not on {}",
                        set.iter()
                            .map(|(name, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", "),
                        unset.join(", ")
                    ),
                    location: set[0].1.map(|value| value.location.clone()),
                    help: format!("Set {variable} to the same value on every role."),
                });
                continue;
            }
            let known: Vec<(&str, &str, &EnvValue)> = values
                .iter()
                .filter_map(|(name, value)| {
                    let value = (*value)?;
                    Some((*name, value.value.as_deref()?, value))
                })
                .collect();
            if let Some((first_name, first_value, _)) = known.first() {
                let different: Vec<&(&str, &str, &EnvValue)> = known
                    .iter()
                    .filter(|(_, value, _)| value != first_value)
                    .collect();
                if let Some((name, _, value)) = different.first() {
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "{variable} on {name} differs from {first_name} (values not shown)"
                        ),
                        location: Some(value.location.clone()),
                        help: format!("Set {variable} to the same value on every role."),
                    });
                }
            }
        }
        Ok(reports)
    }
}
