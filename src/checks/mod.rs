//! The check engine: a registry of small documented checks, each run for every hop of a plan
//! whose span crosses its trigger. A finding is data; an `Err` from a check only means it could
//! not run, and becomes a finding of its own without stopping the others.

mod cookie_secret_missing;
mod csrf_enforced_with_multi_org;
mod gunicorn_binds_ipv6;
mod image_tag_mismatch;
mod login_throttle_health_check;
mod memory_insufficient;
mod module_removed;
mod multi_org_static_images;
mod queues_celery_obsolete;
mod queues_not_consumed;
mod redash_host_without_scheme;
mod scheduler_not_single;
mod scheduler_queues_ignored;
mod secret_in_plain_environment;
mod secret_key_differs_between_roles;
mod secret_key_unset;
mod variable_removed;
mod workers_count_meaning_changed;

pub mod database;
mod db;
mod jsonb;

/// Whether PostgreSQL's jsonb input accepts `text` (the rule `json-invalid-for-jsonb` applies).
pub fn jsonb_accepts(text: &[u8]) -> bool {
    jsonb::check_jsonb(text).is_ok()
}
pub mod render;

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;

use crate::inputs::{Deployment, Location};
use crate::knowledge::model::{Release, Transition};
use crate::knowledge::KnowledgeBase;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// What a check reports; the engine adds code, severity and hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Overrides the check's default severity for this report.
    pub severity: Option<Severity>,
    pub message: String,
    pub location: Option<Location>,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// `7.0.0->8.0.0`.
    pub hop: String,
    pub message: String,
    pub location: Option<Location>,
    pub help: String,
}

/// A check's identity and the text `explain CODE` prints: what it checks, why it matters, how to
/// fix it, references.
pub struct CheckMeta {
    /// Stable kebab-case name of the problem; never renamed.
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    pub references: &'static [&'static str],
}

/// One hop as the checks see it.
pub struct HopContext<'a> {
    pub knowledge: &'a KnowledgeBase,
    pub from: &'a Release,
    pub to: &'a Release,
    /// The transitions between consecutive releases that the hop crosses.
    pub transitions: Vec<&'a Transition>,
    pub deployment: &'a Deployment,
    /// The live metadata database, when `--database-url` was given.
    pub database: Option<&'a dyn database::Database>,
    /// Whether this is the plan's first hop (the files describe what runs before it).
    pub is_first: bool,
}

impl<'a> HopContext<'a> {
    pub fn crosses(&self, release: &Version) -> bool {
        &self.from.version < release && release <= &self.to.version
    }

    /// The tables the hop's migrations rewrite or alter, from the knowledge base.
    pub fn rewritten_tables(&self) -> Vec<&'a str> {
        let mut tables: Vec<&str> = self
            .knowledge
            .releases
            .iter()
            .filter(|release| {
                release.version > self.from.version && release.version <= self.to.version
            })
            .flat_map(|release| release.migrations.iter())
            .flat_map(|revision| revision.rewrites_tables.iter().map(String::as_str))
            .collect();
        tables.sort_unstable();
        tables.dedup();
        tables
    }

    pub fn target_is_rq(&self) -> bool {
        self.to.job_system == crate::knowledge::model::JobSystem::Rq
    }
}

/// Why a check could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CannotRun(pub String);

pub trait Check: Sync {
    fn meta(&self) -> &'static CheckMeta;
    fn code(&self) -> &'static str {
        self.meta().code
    }
    fn default_severity(&self) -> Severity {
        self.meta().severity
    }
    /// Whether the hop is one this check is about (it crosses the check's trigger release).
    fn applies(&self, _hop: &HopContext<'_>) -> bool {
        true
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun>;
    /// Checks of settings that no hop changes report once, on the first hop they apply to.
    fn once_per_plan(&self) -> bool {
        false
    }
}

/// Every check, in the order reports list them. Codes are stable: never rename one.
pub static CHECKS: &[&dyn Check] = &[
    &queues_not_consumed::QueuesNotConsumed,
    &queues_celery_obsolete::QueuesCeleryObsolete,
    &scheduler_not_single::SchedulerNotSingle,
    &scheduler_queues_ignored::SchedulerQueuesIgnored,
    &workers_count_meaning_changed::WorkersCountMeaningChanged,
    &cookie_secret_missing::CookieSecretMissing,
    &secret_key_unset::SecretKeyUnset,
    &secret_key_differs_between_roles::SecretKeyDiffersBetweenRoles,
    &secret_in_plain_environment::SecretInPlainEnvironment,
    &variable_removed::VariableRemoved,
    &module_removed::ModuleRemoved,
    &memory_insufficient::MemoryInsufficient,
    &login_throttle_health_check::LoginThrottleHealthCheck,
    &multi_org_static_images::MultiOrgStaticImages,
    &redash_host_without_scheme::RedashHostWithoutScheme,
    &csrf_enforced_with_multi_org::CsrfEnforcedWithMultiOrg,
    &gunicorn_binds_ipv6::GunicornBindsIpv6,
    &image_tag_mismatch::ImageTagMismatch,
    &db::alembic_stamp_problem::AlembicStampProblem,
    &db::schema_drift::SchemaDrift,
    &db::postgres_version_too_old::PostgresVersionTooOld,
    &db::migration_privileges_missing::MigrationPrivilegesMissing,
    &db::legacy_schedule_unconvertible::LegacyScheduleUnconvertible,
    &db::json_invalid_for_jsonb::JsonInvalidForJsonb,
    &db::user_details_will_be_lost::UserDetailsWillBeLost,
    &db::profile_image_url_breaks_migration::ProfileImageUrlBreaksMigration,
    &db::widget_position_not_integer::WidgetPositionNotInteger,
    &db::query_runner_not_registered::QueryRunnerNotRegistered,
    &db::queue_of_data_source_not_consumed::QueueOfDataSourceNotConsumed,
    &db::secret_key_cannot_decrypt::SecretKeyCannotDecrypt,
    &db::table_rewrite_size::TableRewriteSize,
];

/// The code of findings about a check that could not run.
pub const CANNOT_RUN: &str = "check-could-not-run";

pub fn find(code: &str) -> Option<&'static dyn Check> {
    CHECKS.iter().copied().find(|check| check.code() == code)
}

/// `--deny`, `--warn`, `--allow`: a new severity for a code, or none to drop its findings.
#[derive(Debug, Clone, Default)]
pub struct Levels {
    overrides: BTreeMap<String, Option<Severity>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} {code}: no such check (list them with `redash-upgrade checks`)")]
pub struct UnknownCode {
    pub option: &'static str,
    pub code: String,
}

impl Levels {
    pub fn set(
        &mut self,
        option: &'static str,
        code: &str,
        level: Option<Severity>,
    ) -> Result<(), UnknownCode> {
        if find(code).is_none() && code != CANNOT_RUN {
            return Err(UnknownCode {
                option,
                code: code.to_owned(),
            });
        }
        self.overrides.insert(code.to_owned(), level);
        Ok(())
    }

    fn apply(&self, code: &str, severity: Severity) -> Option<Severity> {
        match self.overrides.get(code) {
            Some(level) => *level,
            None => Some(severity),
        }
    }
}

/// Runs every applicable check for every hop.
pub fn run_checks(
    knowledge: &KnowledgeBase,
    stops: &[&Release],
    deployment: &Deployment,
    database: Option<&dyn database::Database>,
    levels: &Levels,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut reported_once: Vec<&'static str> = Vec::new();
    for (index, pair) in stops.windows(2).enumerate() {
        let (from, to) = (pair[0], pair[1]);
        let hop = HopContext {
            is_first: index == 0,
            knowledge,
            from,
            to,
            transitions: knowledge.transitions_between(&from.version, &to.version),
            deployment,
            database,
        };
        let hop_name = format!("{}->{}", from.version, to.version);
        for check in CHECKS {
            if !check.applies(&hop) || reported_once.contains(&check.code()) {
                continue;
            }
            if check.once_per_plan() {
                reported_once.push(check.code());
            }
            match check.run(&hop) {
                Ok(reports) => {
                    for report in reports {
                        let severity = report.severity.unwrap_or(check.default_severity());
                        if let Some(severity) = levels.apply(check.code(), severity) {
                            findings.push(Finding {
                                code: check.code(),
                                severity,
                                hop: hop_name.clone(),
                                message: report.message,
                                location: report.location,
                                help: report.help,
                            });
                        }
                    }
                }
                Err(CannotRun(why)) => {
                    if let Some(severity) = levels.apply(CANNOT_RUN, Severity::Info) {
                        findings.push(Finding {
                            code: CANNOT_RUN,
                            severity,
                            hop: hop_name.clone(),
                            message: format!("{} could not run: {why}", check.code()),
                            location: None,
                            help: format!(
                                "Give the input it needs, or run `redash-upgrade explain {}`.",
                                check.code()
                            ),
                        });
                    }
                }
            }
        }
    }
    findings
}

/// The queues the deployment's workers (and, on Celery, its scheduler) consume on the hop's
/// target release; `None` when the files name no worker at all.
pub(crate) fn consumed_queues(hop: &HopContext<'_>) -> Option<Vec<String>> {
    use crate::inputs::RoleKind;
    let deployment = hop.deployment;
    deployment.roles_of(RoleKind::Worker).next()?;
    let target = hop.to;
    let mut consumers: Vec<_> = deployment.roles_of(RoleKind::Worker).collect();
    if !hop.target_is_rq() {
        // A Celery scheduler runs a worker on its QUEUES too.
        consumers.extend(deployment.roles_of(RoleKind::Scheduler));
    }
    let mut consumed = Vec::new();
    for role in consumers {
        let defaults = if role.kind == RoleKind::Scheduler {
            &target.queues.scheduler_default.queues
        } else {
            &target.queues.worker_default.queues
        };
        let listed = role
            .var("QUEUES")
            .and_then(|value| value.value.as_deref())
            .map(queue_list);
        // Unset and empty mean the same: `${QUEUES:-...}` on Celery, "all queues" on RQ.
        match listed {
            Some(list) if !list.is_empty() => consumed.extend(list),
            _ => consumed.extend(defaults.iter().cloned()),
        }
    }
    consumed.sort();
    consumed.dedup();
    Some(consumed)
}

/// The first running role's value of a boolean setting, when it is on (`true`, `1`, `yes`, `on`).
pub(crate) fn setting_on<'a>(
    hop: &HopContext<'a>,
    name: &str,
) -> Option<&'a crate::inputs::EnvValue> {
    hop.deployment.running_roles().find_map(|role| {
        let value = role.var(name)?;
        let on = value.value.as_deref().is_some_and(|text| {
            matches!(
                text.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        });
        on.then_some(value)
    })
}

/// The queues a QUEUES value names. RQ workers take them as arguments, each split on commas
/// (`manage.py rq worker $QUEUES`), so spaces and commas both separate; Celery takes one
/// comma-separated `-Q` list.
pub(crate) fn queue_list(text: &str) -> Vec<String> {
    text.split(|character: char| character == ',' || character.is_whitespace())
        .map(str::trim)
        .filter(|queue| !queue.is_empty())
        .map(str::to_owned)
        .collect()
}
