//! `module-removed`: a query runner or destination named in the settings that the target release
//! no longer ships.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use super::queue_list;

pub struct ModuleRemoved;

static META: CheckMeta = CheckMeta {
    code: "module-removed",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a query runner or destination module the target release does not ship",
    what: "Reads REDASH_ENABLED_QUERY_RUNNERS, REDASH_ADDITIONAL_QUERY_RUNNERS, \
           REDASH_ENABLED_DESTINATIONS and REDASH_ADDITIONAL_DESTINATIONS on every role and looks \
           each module up in the target release's redash/query_runner/ and redash/destinations/.",
    why: "Redash imports every module these settings name when it starts (`__import__`), so one \
          that the release removed or renamed stops the server, the workers and the migration \
          container with an ImportError, and data sources of that type stop working.",
    fix: "Remove the module from the setting (and move or delete the data sources or alert \
          destinations that use it), or pick a target release that still ships it.",
    references: &[
        "v10.1.0:redash/query_runner/__init__.py",
        "v10.1.0:redash/destinations/__init__.py",
        "v10.1.0:redash/settings/__init__.py",
    ],
};

const SETTINGS: [(&str, bool); 4] = [
    ("REDASH_ENABLED_QUERY_RUNNERS", true),
    ("REDASH_ADDITIONAL_QUERY_RUNNERS", true),
    ("REDASH_ENABLED_DESTINATIONS", false),
    ("REDASH_ADDITIONAL_DESTINATIONS", false),
];

impl ConfigCheck for ModuleRemoved {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let mut reports: Vec<Report> = Vec::new();
        for role in hop.deployment.running_roles() {
            for (setting, runners) in SETTINGS {
                let Some(value) = role.var(setting) else {
                    continue;
                };
                let Some(text) = value.value.as_deref() else {
                    continue;
                };
                let shipped = if runners {
                    &hop.plan.to.modules.query_runners
                } else {
                    &hop.plan.to.modules.destinations
                };
                for module in queue_list(text) {
                    let location = Some(value.location.clone());
                    if shipped.contains(&module)
                        || reports.iter().any(|report| {
                            report.location == location && report.message.contains(&module)
                        })
                    {
                        continue;
                    }
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "{setting} names {module}, which {} does not ship: Redash fails to start importing it",
                            hop.plan.to.version
                        ),
                        location,
                        help: format!("Remove {module} from {setting}, or choose a release that ships it."),
                    });
                }
            }
        }
        Ok(reports)
    }
}
