//! `setting-differs-between-roles`: a setting that must agree across the roles where it takes
//! effect is set on some of them and not the others, or to different values.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::{EnvValue, Role, RoleKind};
use crate::knowledge::model::EnvVar;

pub struct SettingDiffersBetweenRoles;

static META: CheckMeta = CheckMeta {
    code: "setting-differs-between-roles",
    severity: Severity::Warning,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "a setting is not the same on every role where it takes effect",
    what: "For every variable the target release reads in more than one role (`takes_effect` in \
           upgrade-paths/releases/: the query-runner and destination lists, \
           REDASH_ENFORCE_PRIVATE_IP_BLOCK and REDASH_REQUESTS_ALLOW_REDIRECTS where queries \
           run, the mail settings, the database and Redis URLs), compares the roles of the \
           deployment that run that code: set on some and not on others, or set to different \
           values. Values of secrets and URLs are compared, never printed.",
    why: "Each role reads its own environment. A setting given to the server alone changes \
          nothing where the query runs (a private-address block set on the server leaves the \
          workers fetching internal URLs); a runner list that differs lets users create data \
          sources the workers cannot run; mail settings missing on the workers make every \
          invitation fail to send. The database and Redis URLs must be the same everywhere or \
          roles work on different data (an error).",
    fix: "Give the setting to every role where it takes effect, with one value: from one shared \
          env file, ConfigMap or secret.",
    references: &[
        "v10.1.0:redash/__init__.py:56-57",
        "v10.1.0:redash/utils/requests_session.py:4-13",
        "v10.1.0:redash/tasks/general.py:56",
        "v10.1.0:redash/settings/__init__.py:19-33",
    ],
};

/// URL variables and the older name each falls back to: one setting, two names.
const CONNECTIONS: [(&str, &str); 2] = [
    ("REDASH_DATABASE_URL", "DATABASE_URL"),
    ("REDASH_REDIS_URL", "REDIS_URL"),
];

fn kind_name(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::Server => "server",
        RoleKind::Worker => "worker",
        RoleKind::Scheduler => "scheduler",
        RoleKind::Other => "other",
    }
}

/// What `role` is given for `variable` (a URL through its fallback name too).
fn value_of<'r>(role: &'r Role, variable: &str) -> Option<&'r EnvValue> {
    match CONNECTIONS.iter().find(|(name, _)| *name == variable) {
        Some((name, fallback)) => role.var(name).or_else(|| role.var(fallback)),
        None => role.var(variable),
    }
}

impl ConfigCheck for SettingDiffersBetweenRoles {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.deployment.knows_roles()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let roles: Vec<&Role> = hop.deployment.running_roles().collect();
        if roles.len() < 2 {
            return Ok(Vec::new());
        }
        let mut reports = Vec::new();
        let variables = hop.plan.to.env.iter().filter(|variable| {
            // The fallback names are compared through their REDASH_ name.
            !CONNECTIONS
                .iter()
                .any(|(_, fallback)| *fallback == variable.name)
        });
        for variable in variables {
            let Some(effect) = &variable.takes_effect else {
                continue;
            };
            if let Some(report) = compare(hop, variable, effect, &roles) {
                reports.push(report);
            }
        }
        Ok(reports)
    }
}

fn compare(
    hop: &HopContext<'_>,
    variable: &EnvVar,
    effect: &crate::knowledge::model::TakesEffect,
    roles: &[&Role],
) -> Option<Report> {
    let name = variable.name.as_str();
    let setters: Vec<(&Role, &EnvValue)> = roles
        .iter()
        .filter_map(|role| Some((*role, value_of(role, name)?)))
        .collect();
    let (_, first) = setters.first()?;
    let concerned: Vec<&Role> = roles
        .iter()
        .copied()
        .filter(|role| effect.roles.iter().any(|kind| kind == kind_name(role.kind)))
        .collect();
    let connection = CONNECTIONS.iter().any(|(url, _)| *url == name);
    let severity = connection.then_some(Severity::Error);
    let names = |list: &[&Role]| {
        list.iter()
            .map(|role| role.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&Role> = concerned
        .iter()
        .copied()
        .filter(|role| value_of(role, name).is_none())
        .collect();
    if !missing.is_empty() {
        let set_on: Vec<&Role> = setters.iter().map(|(role, _)| *role).collect();
        return Some(Report {
            severity,
            effect: None,
            message: format!(
                "{name} is set on {} but not on {}, where {} takes effect in {}: {}",
                names(&set_on),
                names(&missing),
                if connection { "it" } else { "the setting" },
                hop.plan.to.version,
                effect.text
            ),
            location: Some(first.location.clone()),
            help: format!(
                "Set {name} on {} too, to the same value (one shared env file, ConfigMap or secret).",
                names(&missing)
            ),
        });
    }
    let known: Vec<(&Role, &str, &EnvValue)> = setters
        .iter()
        .filter(|(role, _)| {
            concerned
                .iter()
                .any(|concerned| concerned.name == role.name)
        })
        .filter_map(|(role, value)| Some((*role, value.value.as_deref()?, *value)))
        .collect();
    let (first_role, first_value, _) = known.first()?;
    let (other_role, other_value, other) = known
        .iter()
        .find(|(_, value, _)| normalized(value) != normalized(first_value))?;
    let hidden = connection || hop.knowledge.is_secret(name);
    let shown = if hidden {
        "values not shown".to_owned()
    } else {
        format!("{first_value:?} and {other_value:?}")
    };
    Some(Report {
        severity,
        effect: None,
        message: format!(
            "{name} differs between {} and {} ({shown}): {}",
            first_role.name, other_role.name, effect.text
        ),
        location: Some(other.location.clone()),
        help: format!("Give {name} one value on every role where it takes effect."),
    })
}

/// Lists compare as sets of trimmed items (`a,b` and `b, a` are one setting).
fn normalized(value: &str) -> Vec<String> {
    let mut items: Vec<String> = value
        .split(',')
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}
