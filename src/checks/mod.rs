//! The check engine: a registry of small documented checks, run over the hops of a plan. A
//! finding is data; an `Err` from a check only means it could not run, and becomes a finding of
//! its own without stopping the others.
//!
//! Two kinds of check share the registry: configuration checks ([`config`]) look at the
//! deployment's files, database checks ([`db`]) read the live metadata database.

pub mod config;
pub mod db;
pub mod live;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inputs::{Deployment, Location};
use crate::knowledge::KnowledgeBase;
use crate::plan::{HopId, HopPlan, UpgradePlan};

pub use db::LiveDatabase;

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

/// What a database finding says will happen at the hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The migration fails and the hop rolls back whole.
    Aborts,
    /// The migration succeeds, but data is lost or changed on the way.
    LosesData,
    /// The migration succeeds and the new release misbehaves at run time.
    Misbehaves,
}

impl Effect {
    /// How a report says it: `aborts the hop`.
    pub fn phrase(self) -> &'static str {
        match self {
            Effect::Aborts => "aborts the hop",
            Effect::LosesData => "loses data",
            Effect::Misbehaves => "breaks the new release",
        }
    }
}

/// What a check reports; the engine adds code, severity and hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Overrides the check's default severity for this report.
    pub severity: Option<Severity>,
    /// Overrides the check's effect for this report.
    pub effect: Option<Effect>,
    pub message: String,
    pub location: Option<Location>,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    /// The app the finding is about, when the files hold several (see
    /// [`Deployment::group_apps`]) or a fleet file names them; several names joined by `, ` when
    /// some apps share it; `None` for one app, or for what concerns every app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub severity: Severity,
    /// For database findings: what happens at the hop.
    pub effect: Option<Effect>,
    pub hop: HopId,
    pub message: String,
    pub location: Option<Location>,
    pub help: String,
}

/// Which hops a check runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Every hop; the check's own `applies` may narrow it on what the plan's hop already says
    /// (its job system, its known bugs, the tables it rewrites).
    EveryHop,
    /// The hops whose transitions name the check in the knowledge base (`checks` in
    /// `upgrade-paths/hops/*.json`), so the release that calls for it is data, not code.
    NamedByHop,
    /// The first hop it applies to only: a setting that no hop changes is reported once.
    OncePerPlan,
}

/// A check's identity and the text `explain CODE` prints: what it checks, why it matters, how to
/// fix it, references.
pub struct CheckMeta {
    /// Stable kebab-case name of the problem; never renamed.
    pub code: &'static str,
    pub severity: Severity,
    pub trigger: Trigger,
    /// For database checks: what happens at the hop to the rows they name. A migration that
    /// aborts or loses data is an error; how bad misbehaviour is, each check says.
    pub effect: Option<Effect>,
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    pub references: &'static [&'static str],
}

/// One hop as the checks see it: the plan's own hop, and what the operator gave.
pub struct HopContext<'a> {
    pub knowledge: &'a KnowledgeBase,
    pub plan: &'a HopPlan<'a>,
    pub deployment: &'a Deployment,
    /// Whether this is the plan's first hop (the files describe what runs before it).
    pub is_first: bool,
}

/// Why a check could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CannotRun(pub String);

/// A check of the deployment's configuration.
pub trait ConfigCheck: Sync {
    fn meta(&self) -> &'static CheckMeta;
    /// Whether the hop is one this check is about, beyond its trigger.
    fn applies(&self, _hop: &HopContext<'_>) -> bool {
        true
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun>;
    /// Whether the check is about the host every app shares (its memory) rather than one app:
    /// when the files hold several apps, it runs once over all of them instead of once per app.
    fn host_wide(&self) -> bool {
        false
    }
}

/// A check of the live metadata database; it runs only when a database was given.
#[async_trait::async_trait]
pub trait DatabaseCheck: Sync {
    fn meta(&self) -> &'static CheckMeta;
    /// Whether the hop is one this check is about, beyond its trigger (columns it needs, ...).
    fn applies(&self, _hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        true
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun>;
}

/// What a live check reads: the running system as `status` observed it.
pub struct LiveContext<'a> {
    pub knowledge: &'a KnowledgeBase,
    /// The release running now (`--from`).
    pub running: &'a crate::knowledge::model::Release,
    /// The plan's first hop, when `--to` names where the operator is going.
    pub next_hop: Option<&'a HopPlan<'a>>,
    /// The release `--to` resolves to.
    pub target: Option<&'a crate::knowledge::model::Release>,
    pub observation: &'a crate::status::Observation,
    pub baseline: Option<&'a crate::status::StatusBaseline>,
}

impl LiveContext<'_> {
    /// Whether the next hop replaces the job system (Celery to RQ).
    pub fn next_hop_changes_job_system(&self) -> bool {
        self.next_hop
            .is_some_and(|hop| hop.to.job_system != self.running.job_system)
    }
}

/// A check of the running system (Redis, the database's sessions); `status` runs these.
pub trait LiveCheck: Sync {
    fn meta(&self) -> &'static CheckMeta;
    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun>;
}

/// A registered check of any kind.
#[derive(Clone, Copy)]
pub enum Check {
    Config(&'static dyn ConfigCheck),
    Database(&'static dyn DatabaseCheck),
    Live(&'static dyn LiveCheck),
}

impl Check {
    pub fn meta(&self) -> &'static CheckMeta {
        match self {
            Check::Config(check) => check.meta(),
            Check::Database(check) => check.meta(),
            Check::Live(check) => check.meta(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.meta().code
    }

    pub fn default_severity(&self) -> Severity {
        self.meta().severity
    }
}

/// Every check, in the order reports list them. Codes are stable: never rename one.
pub static CHECKS: &[Check] = &[
    Check::Config(&config::queues_not_consumed::QueuesNotConsumed),
    Check::Config(&config::queues_celery_obsolete::QueuesCeleryObsolete),
    Check::Config(&config::scheduler_not_single::SchedulerNotSingle),
    Check::Config(&config::scheduler_queues_ignored::SchedulerQueuesIgnored),
    Check::Config(&config::workers_count_meaning_changed::WorkersCountMeaningChanged),
    Check::Config(&config::cookie_secret_missing::CookieSecretMissing),
    Check::Config(&config::secret_key_unset::SecretKeyUnset),
    Check::Config(&config::secret_key_differs_between_roles::SecretKeyDiffersBetweenRoles),
    Check::Config(&config::secret_in_plain_environment::SecretInPlainEnvironment),
    Check::Config(&config::variable_removed::VariableRemoved),
    Check::Config(&config::module_removed::ModuleRemoved),
    Check::Config(&config::memory_insufficient::MemoryInsufficient),
    Check::Config(&config::login_throttle_health_check::LoginThrottleHealthCheck),
    Check::Config(&config::multi_org_static_images::MultiOrgStaticImages),
    Check::Config(&config::redash_host_without_scheme::RedashHostWithoutScheme),
    Check::Config(&config::csrf_enforced_with_multi_org::CsrfEnforcedWithMultiOrg),
    Check::Config(&config::gunicorn_binds_ipv6::GunicornBindsIpv6),
    Check::Config(&config::image_tag_mismatch::ImageTagMismatch),
    Check::Config(&config::image_platform_unavailable::ImagePlatformUnavailable),
    Check::Config(&config::helm_chart_mismatches_image::HelmChartMismatchesImage),
    Check::Config(&config::scheduler_update_overlaps::SchedulerUpdateOverlaps),
    Check::Config(&config::database_without_volume::DatabaseWithoutVolume),
    Check::Config(&config::service_image_floats::ServiceImageFloats),
    Check::Config(&config::postgres_older_than_target::PostgresOlderThanTarget),
    Check::Config(&config::redis_older_than_target::RedisOlderThanTarget),
    Check::Config(&config::redis_may_drop_jobs::RedisMayDropJobs),
    Check::Config(&config::setting_differs_between_roles::SettingDiffersBetweenRoles),
    Check::Config(&config::connection_setting_not_read::ConnectionSettingNotRead),
    Check::Database(&db::alembic_stamp_problem::AlembicStampProblem),
    Check::Database(&db::schema_drift::SchemaDrift),
    Check::Database(&db::postgres_version_too_old::PostgresVersionTooOld),
    Check::Database(&db::migration_privileges_missing::MigrationPrivilegesMissing),
    Check::Database(&db::legacy_schedule_unconvertible::LegacyScheduleUnconvertible),
    Check::Database(&db::options_not_json::OptionsNotJson),
    Check::Database(&db::schedule_unreadable::ScheduleUnreadable),
    Check::Database(&db::json_invalid_for_jsonb::JsonInvalidForJsonb),
    Check::Database(&db::database_encoding_not_utf8::DatabaseEncodingNotUtf8),
    Check::Database(&db::converted_column_has_default::ConvertedColumnHasDefault),
    Check::Database(&db::column_has_dependent_view::ColumnHasDependentView),
    Check::Database(&db::user_details_will_be_lost::UserDetailsWillBeLost),
    Check::Database(&db::profile_image_url_breaks_migration::ProfileImageUrlBreaksMigration),
    Check::Database(&db::widget_position_not_integer::WidgetPositionNotInteger),
    Check::Database(&db::alert_options_not_object::AlertOptionsNotObject),
    Check::Database(&db::query_runner_not_registered::QueryRunnerNotRegistered),
    Check::Database(&db::query_options_break_rehash::QueryOptionsBreakRehash),
    Check::Database(&db::query_text_breaks_rehash::QueryTextBreaksRehash),
    Check::Database(&db::row_unloadable_after_25_1::RowUnloadableAfter251),
    Check::Database(&db::queue_of_data_source_not_consumed::QueueOfDataSourceNotConsumed),
    Check::Database(&db::runner_unusable_on_platform::RunnerUnusableOnPlatform),
    Check::Database(&db::python_queries_need_review::PythonQueriesNeedReview),
    Check::Database(&db::secret_key_cannot_decrypt::SecretKeyCannotDecrypt),
    Check::Database(&db::table_rewrite_size::TableRewriteSize),
    Check::Live(&live::backlog_not_drained::BacklogNotDrained),
    Check::Live(&live::queue_without_worker::QueueWithoutWorker),
    Check::Live(&live::worker_registration_dead::WorkerRegistrationDead),
    Check::Live(&live::scheduler_not_running::SchedulerNotRunning),
    Check::Live(&live::scheduler_running_twice::SchedulerRunningTwice),
    Check::Live(&live::scheduler_key_stale::SchedulerKeyStale),
    Check::Live(&live::job_lock_outlived_job::JobLockOutlivedJob),
    Check::Live(&live::celery_leftovers::CeleryLeftovers),
    Check::Live(&live::failed_jobs_grew::FailedJobsGrew),
    Check::Live(&live::redis_evicts_jobs::RedisEvictsJobs),
    Check::Live(&live::redis_not_persistent::RedisNotPersistent),
    Check::Live(&live::redis_server_too_old::RedisServerTooOld),
    Check::Live(&live::sessions_still_open::SessionsStillOpen),
];

/// The code of findings about a check that could not run.
pub const CANNOT_RUN: &str = "check-could-not-run";

pub fn find(code: &str) -> Option<Check> {
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

    /// The severity a finding of `code` gets (`severity` by default), `None` when allowed away.
    pub fn level_of(&self, code: &str, severity: Severity) -> Option<Severity> {
        self.apply(code, severity)
    }

    fn apply(&self, code: &str, severity: Severity) -> Option<Severity> {
        match self.overrides.get(code) {
            Some(level) => *level,
            None => Some(severity),
        }
    }
}

/// Runs every check that applies to every hop of `plan`, database checks only when `database`
/// is given. When the files hold several apps ([`Deployment::apps`]), the configuration checks
/// run once per app over a view of that app alone (three apps with one scheduler each are not
/// three schedulers), and their findings carry the app; host-wide checks (memory) and the
/// database checks run once over the whole deployment. A finding that several apps give alike
/// is reported once, naming them.
pub async fn run_checks(
    knowledge: &KnowledgeBase,
    plan: &UpgradePlan<'_>,
    deployment: &Deployment,
    database: Option<&LiveDatabase>,
    levels: &Levels,
) -> Vec<Finding> {
    let apps = deployment.apps();
    if apps.is_empty() {
        return run_pass(
            knowledge,
            plan,
            deployment,
            database,
            levels,
            Pass::Everything,
        )
        .await;
    }
    let mut findings = Vec::new();
    for app in &apps {
        let view = deployment.app_view(app);
        let mut found = run_pass(knowledge, plan, &view, None, levels, Pass::OneApp).await;
        for finding in &mut found {
            finding.app = Some((*app).to_owned());
        }
        findings.extend(found);
    }
    findings.extend(run_pass(knowledge, plan, deployment, database, levels, Pass::Shared).await);
    merge_alike(findings, apps.len())
}

/// Which checks a pass over the deployment runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every check: the files hold one app.
    Everything,
    /// The configuration checks about one app.
    OneApp,
    /// The host-wide configuration checks and the database checks, over every app.
    Shared,
}

async fn run_pass(
    knowledge: &KnowledgeBase,
    plan: &UpgradePlan<'_>,
    deployment: &Deployment,
    database: Option<&LiveDatabase>,
    levels: &Levels,
    pass: Pass,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut reported_once: Vec<&'static str> = Vec::new();
    // A check that cannot run on one hop cannot run on the next either: say so once.
    let mut not_run: Vec<&'static str> = Vec::new();
    for (index, hop_plan) in plan.hops.iter().enumerate() {
        let hop = HopContext {
            knowledge,
            plan: hop_plan,
            deployment,
            is_first: index == 0,
        };
        for check in CHECKS {
            let in_pass = match (pass, check) {
                (Pass::Everything, _) => true,
                (Pass::OneApp, Check::Config(check)) => !check.host_wide(),
                (Pass::OneApp, Check::Database(_)) => false,
                (Pass::Shared, Check::Config(check)) => check.host_wide(),
                (Pass::Shared, Check::Database(_)) => true,
                (_, Check::Live(_)) => false,
            };
            if !in_pass {
                continue;
            }
            let meta = check.meta();
            let triggered = match meta.trigger {
                Trigger::EveryHop => true,
                Trigger::NamedByHop => !hop_plan.check_triggers(meta.code).is_empty(),
                Trigger::OncePerPlan => !reported_once.contains(&meta.code),
            };
            if !triggered {
                continue;
            }
            let outcome = match (check, database) {
                (Check::Config(check), _) => {
                    if !check.applies(&hop) {
                        continue;
                    }
                    check.run(&hop)
                }
                (Check::Database(check), Some(database)) => {
                    if !check.applies(&hop, database) {
                        continue;
                    }
                    check.run(&hop, database).await
                }
                (Check::Database(_), None) | (Check::Live(_), _) => continue,
            };
            if meta.trigger == Trigger::OncePerPlan {
                reported_once.push(meta.code);
            }
            if outcome.is_err() {
                if not_run.contains(&meta.code) {
                    continue;
                }
                not_run.push(meta.code);
            }
            collect(&mut findings, meta, &hop_plan.id(), outcome, levels);
        }
    }
    findings
}

/// Runs every live check over what `status` observed; the findings carry `hop`.
pub fn run_live_checks(live: &LiveContext<'_>, hop: &HopId, levels: &Levels) -> Vec<Finding> {
    let mut findings = Vec::new();
    for check in CHECKS {
        if let Check::Live(check) = check {
            collect(&mut findings, check.meta(), hop, check.run(live), levels);
        }
    }
    findings
}

/// Findings that differ only in their app become one, at the first one's place, naming the
/// apps that gave it (none when every one of the `apps` did: it concerns them all).
fn merge_alike(findings: Vec<Finding>, apps: usize) -> Vec<Finding> {
    let mut merged: Vec<(Finding, Vec<String>)> = Vec::new();
    for finding in findings {
        let Some(app) = finding.app.clone() else {
            merged.push((finding, Vec::new()));
            continue;
        };
        let alike = merged.iter_mut().find(|(kept, names)| {
            !names.is_empty()
                && Finding {
                    app: None,
                    ..kept.clone()
                } == Finding {
                    app: None,
                    ..finding.clone()
                }
        });
        match alike {
            Some((_, names)) => names.push(app),
            None => merged.push((finding, vec![app])),
        }
    }
    merged
        .into_iter()
        .map(|(mut finding, names)| {
            if !names.is_empty() {
                finding.app = (names.len() < apps).then(|| names.join(", "));
            }
            finding
        })
        .collect()
}

fn collect(
    findings: &mut Vec<Finding>,
    meta: &'static CheckMeta,
    hop: &HopId,
    outcome: Result<Vec<Report>, CannotRun>,
    levels: &Levels,
) {
    match outcome {
        Ok(reports) => {
            for report in reports {
                let severity = report.severity.unwrap_or(meta.severity);
                if let Some(severity) = levels.apply(meta.code, severity) {
                    findings.push(Finding {
                        code: meta.code,
                        app: None,
                        severity,
                        effect: report.effect.or(meta.effect),
                        hop: hop.clone(),
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
                    app: None,
                    severity,
                    effect: None,
                    hop: hop.clone(),
                    message: format!("{} could not run: {why}", meta.code),
                    location: None,
                    help: format!(
                        "Give the input it needs, or run `redash-upgrade explain {}`.",
                        meta.code
                    ),
                });
            }
        }
    }
}

/// What `check` found: the plan's hops, the inputs it read, and the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub hops: Vec<HopId>,
    /// The files and the database read, as the report names them (passwords masked).
    pub inputs: Vec<String>,
    /// What the run assumed where its inputs left a choice (which release the database is at).
    pub assumptions: Vec<String>,
    /// The day the report was made (`YYYY-MM-DD`, UTC), when the caller dates it: only the
    /// change-ticket Markdown shows it.
    pub date: Option<String>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }

    /// Whether anything blocks the upgrade.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// How many checks could not run for want of input.
    pub fn not_run(&self) -> usize {
        self.could_not_run().count()
    }

    /// The notes of checks that could not run, once each.
    pub fn could_not_run(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|finding| finding.code == CANNOT_RUN)
    }

    /// Hops in plan order, each with its findings sorted by severity (checks that could not
    /// run are listed apart, by [`CheckReport::could_not_run`]).
    pub fn by_hop(&self) -> Vec<(&HopId, Vec<&Finding>)> {
        self.hops
            .iter()
            .map(|hop| {
                let mut list: Vec<&Finding> = self
                    .findings
                    .iter()
                    .filter(|finding| &finding.hop == hop && finding.code != CANNOT_RUN)
                    .collect();
                list.sort_by_key(|finding| finding.severity);
                (hop, list)
            })
            .collect()
    }
}
