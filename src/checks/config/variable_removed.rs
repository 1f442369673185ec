//! `variable-removed`: a role sets a variable that the target release no longer reads.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct VariableRemoved;

static META: CheckMeta = CheckMeta {
    code: "variable-removed",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a variable the target release no longer reads",
    what: "Compares each role's Redash variables with the variables the target release reads \
           (from its settings at that tag). A variable that an earlier release read and the \
           target does not is reported; a renamed one names its new name.",
    why: "Settings that silently stop working are how upgrades lose behaviour: REDASH_CELERY_* \
          tuning after the move to RQ, a renamed variable whose old name is no longer read, a \
          feature flag that became the default. Redash does not warn about them.",
    fix: "Remove the variable, or set its new name when it was renamed, and check that the \
          behaviour it configured is still what you want.",
    references: &[
        "v8.0.0:redash/settings/__init__.py",
        "v10.1.0:redash/settings/__init__.py",
    ],
};

impl ConfigCheck for VariableRemoved {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let reads = |release: &crate::knowledge::model::Release, name: &str| {
            release.env.iter().any(|variable| variable.name == name)
        };
        let mut reports = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for role in hop.deployment.running_roles() {
            for (name, value) in &role.env {
                if reads(hop.plan.to, name)
                    || !reads(hop.plan.from, name)
                    || !seen.insert(name.clone())
                {
                    continue;
                }
                let renamed = hop
                    .plan
                    .transitions
                    .iter()
                    .flat_map(|transition| transition.env_renamed.iter())
                    .find(|rename| &rename.from == name);
                let (message, help) = match renamed {
                    Some(rename) => (
                        format!(
                            "{name} is renamed to {} in {}",
                            rename.to, hop.plan.to.version
                        ),
                        format!("Set {} instead of {name}.", rename.to),
                    ),
                    None => (
                        format!("{name} is no longer read by {}", hop.plan.to.version),
                        format!("Remove {name}; what it configured no longer applies."),
                    ),
                };
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!("{message} (set on {} and maybe other roles)", role.name),
                    location: Some(value.location.clone()),
                    help,
                });
            }
        }
        Ok(reports)
    }
}
