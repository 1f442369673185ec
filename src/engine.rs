//! The commands as library calls: a request in, a report out. `cli.rs` only turns arguments
//! into requests; the benchmarks, the tests and later commands call these same functions.

use std::future::Future;

use crate::checks::db::SecretKey;
use crate::checks::{self, CheckReport, Levels, LiveDatabase};
use crate::db::{DatabaseUrl, DbError, ReadOnlySession, Timeouts};
use crate::detect::{self, DetectError, Detection, DriftBaseline};
use crate::inputs::{Deployment, DeploymentFiles, InputError};
use crate::knowledge::model::Release;
use crate::knowledge::KnowledgeBase;
use crate::plan::{self, PlanError};
use crate::report::Progress;

/// Why a command could not do its job; every one maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Rehearse(#[from] crate::rehearse::RehearseError),
    #[error("could not read the database: {0}")]
    Read(#[from] crate::checks::CannotRun),
    #[error("give --from: {0}")]
    FromNeeded(String),
    #[error("--from {given} is {resolved}, but the database is at {found} (see `redash-upgrade detect`)")]
    FromDisagrees {
        given: String,
        resolved: String,
        found: String,
    },
    #[error("nothing to check{0}: give --compose, --ecs-task-def, --env-file, --nginx or --database-url")]
    NothingToCheck(String),
    #[error("interrupted (Ctrl-C): the read-only transaction was rolled back")]
    Interrupted,
    #[error(transparent)]
    Window(Box<crate::window::WindowError>),
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("--fleet")]
    Fleet(#[from] crate::fleet::FleetError),
    #[error("app {app} of the fleet")]
    FleetApp {
        app: String,
        #[source]
        source: Box<EngineError>,
    },
    #[error(
        "app {app} of the fleet: {variable} (its database_url_env) is not set in this environment"
    )]
    FleetDatabaseUnset { app: String, variable: String },
    #[error("app {app} of the fleet: {variable} (its database_url_env)")]
    FleetDatabaseUrl {
        app: String,
        variable: String,
        #[source]
        source: crate::db::UrlError,
    },
}

/// A database to read, and how patiently.
#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
}

/// Everything `check` needs.
pub struct CheckRequest {
    /// The release running now; with a database, what `detect` finds when not given.
    pub from: Option<String>,
    pub to: String,
    pub files: DeploymentFiles,
    pub database: Option<DatabaseTarget>,
    /// The secret stored credentials are encrypted with, when the operator gave it some other
    /// way than the env files (never printed).
    pub secret_key: Option<SecretKey>,
    /// Sample big tables instead of reading them in full.
    pub quick: bool,
    /// The drift the operator accepts.
    pub baseline: Option<DriftBaseline>,
    pub levels: Levels,
    pub progress: Progress,
}

/// Runs a database command to its end on a fresh runtime, rolling back on Ctrl-C (dropping the
/// work closes its connections, and the server rolls their transactions back).
pub fn block_on<T>(work: impl Future<Output = Result<T, EngineError>>) -> Result<T, EngineError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    runtime.block_on(async {
        tokio::select! {
            result = work => result,
            _ = tokio::signal::ctrl_c() => Err(EngineError::Interrupted),
        }
    })
}

/// `detect`: which release the database is at, read in one read-only transaction, with the
/// drift `baseline` accepts set apart.
pub async fn detect(
    knowledge: &KnowledgeBase,
    target: &DatabaseTarget,
    baseline: Option<&DriftBaseline>,
) -> Result<Detection, EngineError> {
    let mut session = ReadOnlySession::open(&target.url, target.timeouts).await?;
    let detection = detect::detect(knowledge, &mut session).await;
    session.close().await;
    let mut detection = detection?;
    if let Some(baseline) = baseline {
        detection.accept(baseline);
    }
    Ok(detection)
}

/// `check`: reads the deployment's files (and the database, when given), plans from the
/// release running now, and runs every check over the plan's hops.
pub async fn check(
    knowledge: &KnowledgeBase,
    request: CheckRequest,
) -> Result<CheckReport, EngineError> {
    let deployment = request.files.read()?;
    if deployment.roles.is_empty()
        && deployment.services.is_empty()
        && deployment.nginx.is_none()
        && request.database.is_none()
    {
        let empty = &request.files.env_files;
        return Err(EngineError::NothingToCheck(match empty.as_slice() {
            [] => String::new(),
            [one] => format!(" ({} holds no variables)", one.display()),
            many => format!(
                " ({} hold no variables)",
                many.iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    }
    let mut inputs = deployment.files.clone();
    let mut assumptions = deployment.assumptions.clone();
    let findings = match &request.database {
        None => {
            let from = request.from.as_deref().ok_or_else(|| {
                EngineError::FromNeeded(
                    "the release running now (or --database-url to detect it)".into(),
                )
            })?;
            let plan = plan::plan(knowledge, from, &request.to)?;
            let findings =
                checks::run_checks(knowledge, &plan, &deployment, None, &request.levels).await;
            (plan_hops(&plan), findings)
        }
        Some(target) => {
            inputs.push(target.url.redacted());
            // On an early return the session is dropped, and the server rolls back its
            // transaction when the connection closes.
            let (mut session, snapshot) =
                ReadOnlySession::open_exporting(&target.url, target.timeouts).await?;
            let mut detection = detect::detect(knowledge, &mut session).await?;
            if let Some(baseline) = &request.baseline {
                detection.accept(baseline);
            }
            let (from, assumption) =
                from_of_database(knowledge, request.from.as_deref(), &detection, &deployment)?;
            assumptions.extend(assumption);
            let plan = plan::plan(knowledge, &from, &request.to)?;
            let secret = request
                .secret_key
                .clone()
                .or_else(|| secret_from_files(&deployment));
            let database = LiveDatabase::new(
                session,
                snapshot,
                detection,
                secret,
                request.quick,
                request.progress.clone(),
            );
            let findings = checks::run_checks(
                knowledge,
                &plan,
                &deployment,
                Some(&database),
                &request.levels,
            )
            .await;
            database.close().await;
            (plan_hops(&plan), findings)
        }
    };
    let (hops, findings) = findings;
    if inputs.is_empty() {
        inputs.push(
            "no files (give --compose, --ecs-task-def, --env-file, --nginx or --database-url)"
                .to_owned(),
        );
    }
    Ok(CheckReport {
        hops,
        inputs,
        assumptions,
        date: None,
        findings,
    })
}

fn plan_hops(plan: &plan::UpgradePlan<'_>) -> Vec<crate::plan::HopId> {
    plan.hops.iter().map(|hop| hop.id()).collect()
}

/// [`from_of_database`] without deployment files: the release `inventory` and other database-only
/// commands plan from.
pub(crate) fn release_of_database(
    knowledge: &KnowledgeBase,
    given: Option<&str>,
    detection: &Detection,
) -> Result<(String, Option<String>), EngineError> {
    from_of_database(knowledge, given, detection, &Deployment::default())
}

/// The release to plan from: `--from` when given (it must agree with the database), else the
/// one release the database is at. When the database cannot tell several releases apart, the
/// deployment's image tags may name one of them; failing that, releases of one line that differ
/// in nothing the checks look at give the same result, and the newest is assumed (and said so).
/// Returns the release and the assumption made, if any.
fn from_of_database(
    knowledge: &KnowledgeBase,
    given: Option<&str>,
    detection: &Detection,
    deployment: &Deployment,
) -> Result<(String, Option<String>), EngineError> {
    let found: Vec<String> = detection
        .candidates
        .iter()
        .map(ToString::to_string)
        .collect();
    let found_text = match found.as_slice() {
        [] => "no known release".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    if let Some(given) = given {
        let resolved = plan::resolve(knowledge, given, "--from")?;
        if !detection.candidates.is_empty() && !detection.candidates.contains(&resolved.version) {
            return Err(EngineError::FromDisagrees {
                given: given.to_owned(),
                resolved: resolved.version.to_string(),
                found: found_text,
            });
        }
        return Ok((resolved.version.to_string(), None));
    }
    let candidates: Vec<&Release> = detection
        .candidates
        .iter()
        .filter_map(|version| knowledge.release(version))
        .collect();
    match candidates.as_slice() {
        [] => Err(EngineError::FromNeeded(
            "the database matches no known release".into(),
        )),
        [one] => Ok((one.version.to_string(), None)),
        several => {
            let imaged: Vec<&&Release> = several
                .iter()
                .filter(|release| {
                    release.image.tag.as_deref().is_some_and(|tag| {
                        deployment
                            .running_roles()
                            .any(|role| role.image.as_ref().is_some_and(|image| image.value == tag))
                    })
                })
                .collect();
            if let [one] = imaged.as_slice() {
                return Ok((
                    one.version.to_string(),
                    Some(format!(
                        "the database is at {found_text}, which it cannot tell apart; the deployment runs the {} image, so the plan starts there",
                        one.version
                    )),
                ));
            }
            if interchangeable(knowledge, several) {
                let newest = several.last().expect("several candidates");
                return Ok((
                    newest.version.to_string(),
                    Some(format!(
                        "the database is at {found_text}, which it cannot tell apart; they run the same migrations and differ in nothing the checks read, so the plan starts from {} (give --from to choose)",
                        newest.version
                    )),
                ));
            }
            Err(EngineError::FromNeeded(format!(
                "the database is at {found_text}, which it cannot tell apart, and the checks differ between them"
            )))
        }
    }
}

/// Whether planning from any of `releases` (oldest first, sharing an alembic head) gives the
/// same checks: one job system, the same environment variables and defaults, queues, memory
/// figures and modules, and no transition between them that requires an action, renames a
/// variable or names a check.
fn interchangeable(knowledge: &KnowledgeBase, releases: &[&Release]) -> bool {
    let (Some(oldest), Some(newest)) = (releases.first(), releases.last()) else {
        return false;
    };
    let env = |release: &Release| -> Vec<(String, Option<String>)> {
        let mut env: Vec<_> = release
            .env
            .iter()
            .map(|variable| (variable.name.clone(), variable.default.clone()))
            .collect();
        env.sort();
        env
    };
    let queue_names = |release: &Release| -> Vec<String> {
        release
            .queues
            .receiving_jobs
            .iter()
            .map(|queue| queue.name.clone())
            .chain(release.queues.worker_default.queues.iter().cloned())
            .chain(release.queues.scheduler_default.queues.iter().cloned())
            .collect()
    };
    let alike = releases.iter().all(|release| {
        release.job_system == oldest.job_system
            && release.alembic_heads == oldest.alembic_heads
            && env(release) == env(oldest)
            && queue_names(release) == queue_names(oldest)
            && release.memory == oldest.memory
            && release.modules.query_runners == oldest.modules.query_runners
            && release.modules.destinations == oldest.modules.destinations
            && release.modules.default_enabled_runners == oldest.modules.default_enabled_runners
    });
    alike
        && knowledge
            .transitions_between(&oldest.version, &newest.version)
            .iter()
            .all(|transition| {
                transition.required_actions.is_empty()
                    && transition.env_renamed.is_empty()
                    && transition.checks.is_empty()
            })
}

/// The secret the deployment encrypts with, as its files give it: REDASH_SECRET_KEY, else the
/// REDASH_COOKIE_SECRET it falls back to.
fn secret_from_files(deployment: &Deployment) -> Option<SecretKey> {
    ["REDASH_SECRET_KEY", "REDASH_COOKIE_SECRET"]
        .iter()
        .find_map(|name| {
            deployment.running_roles().find_map(|role| {
                let value = role.var(name)?;
                let text = value.value.clone().filter(|text| !text.is_empty())?;
                Some(SecretKey {
                    value: text,
                    origin: format!("{name} in {}", value.location),
                })
            })
        })
}

/// Everything `check --fleet` needs: the apps, and what applies to every one of them.
pub struct FleetRequest {
    pub fleet: crate::fleet::Fleet,
    /// The release to reach for apps that do not name one.
    pub to: String,
    /// `--host-memory` and `--host-arch`, for apps that do not give their own.
    pub host_memory_mib: Option<u64>,
    pub host_platform: Option<String>,
    pub timeouts: Timeouts,
    pub quick: bool,
    pub levels: Levels,
    pub progress: Progress,
}

/// `check --fleet`: [`check`] for every app of the fleet, one report with every finding tagged
/// by its app. Apps that share a database server (`database_server`) and rewrite tables at the
/// same hop are named together in one note per hop: their migrations load the same server in
/// the same window. An app that cannot be checked fails the run, naming the app.
pub async fn check_fleet(
    knowledge: &KnowledgeBase,
    request: FleetRequest,
) -> Result<CheckReport, EngineError> {
    use crate::checks::{Finding, Severity};
    use crate::plan::HopId;

    let mut hops: Vec<HopId> = Vec::new();
    let mut inputs = Vec::new();
    let mut assumptions = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    // Per app: the tables each hop of its plan rewrites, and whether sizes were read.
    type Rewrites<'a> = (&'a crate::fleet::FleetApp, Vec<(HopId, Vec<String>)>, bool);
    let mut rewrites: Vec<Rewrites<'_>> = Vec::new();
    for app in &request.fleet.apps {
        let failed = |source: EngineError| EngineError::FleetApp {
            app: app.name.clone(),
            source: Box::new(source),
        };
        let database = match &app.database_url_env {
            None => None,
            Some(variable) => {
                let text =
                    std::env::var(variable).map_err(|_| EngineError::FleetDatabaseUnset {
                        app: app.name.clone(),
                        variable: variable.clone(),
                    })?;
                let url = text.parse::<DatabaseUrl>().map_err(|source| {
                    EngineError::FleetDatabaseUrl {
                        app: app.name.clone(),
                        variable: variable.clone(),
                        source,
                    }
                })?;
                Some(DatabaseTarget {
                    url,
                    timeouts: request.timeouts,
                })
            }
        };
        let mut files = app.files.clone();
        files.host_memory_mib = files.host_memory_mib.or(request.host_memory_mib);
        files.host_platform = files
            .host_platform
            .or_else(|| request.host_platform.clone());
        let with_database = database.is_some();
        let report = check(
            knowledge,
            CheckRequest {
                from: app.from.clone(),
                to: app.to.clone().unwrap_or_else(|| request.to.clone()),
                files,
                database,
                secret_key: None,
                quick: request.quick,
                baseline: None,
                levels: request.levels.clone(),
                progress: request.progress.clone(),
            },
        )
        .await
        .map_err(failed)?;
        let planned = match (report.hops.first(), report.hops.last()) {
            (Some(first), Some(last)) => {
                plan::plan(knowledge, &first.from.to_string(), &last.to.to_string())
                    .map_err(|error| failed(error.into()))?
                    .hops
                    .iter()
                    .map(|hop| {
                        (
                            hop.id(),
                            hop.rewritten_tables()
                                .into_iter()
                                .map(str::to_owned)
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        rewrites.push((app, planned, with_database));
        for hop in &report.hops {
            if !hops.contains(hop) {
                hops.push(hop.clone());
            }
        }
        inputs.extend(
            report
                .inputs
                .iter()
                .map(|input| format!("{}: {input}", app.name)),
        );
        assumptions.extend(
            report
                .assumptions
                .iter()
                .map(|assumption| format!("{}: {assumption}", app.name)),
        );
        findings.extend(report.findings.into_iter().map(|mut finding| {
            finding.app = Some(match finding.app.take() {
                Some(inner) => format!("{}/{inner}", app.name),
                None => app.name.clone(),
            });
            finding
        }));
    }
    hops.sort();
    // Apps on one database server whose plans rewrite tables at the same hop.
    let mut servers: Vec<&str> = request
        .fleet
        .apps
        .iter()
        .filter_map(|app| app.database_server.as_deref())
        .collect();
    servers.sort_unstable();
    servers.dedup();
    for server in servers {
        let sharing: Vec<_> = rewrites
            .iter()
            .filter(|(app, _, _)| app.database_server.as_deref() == Some(server))
            .collect();
        if sharing.len() < 2 {
            continue;
        }
        for hop in &hops {
            let at_hop: Vec<(&str, &Vec<String>, bool)> = sharing
                .iter()
                .filter_map(|(app, planned, sized)| {
                    planned
                        .iter()
                        .find(|(id, tables)| id == hop && !tables.is_empty())
                        .map(|(_, tables)| (app.name.as_str(), tables, *sized))
                })
                .collect();
            if at_hop.len() < 2 {
                continue;
            }
            let names: Vec<&str> = at_hop.iter().map(|(name, _, _)| *name).collect();
            let listed: Vec<String> = at_hop
                .iter()
                .map(|(name, tables, _)| format!("{name} rewrites {}", tables.join(", ")))
                .collect();
            let sized = at_hop.iter().filter(|(_, _, sized)| *sized).count();
            let sizes = if sized == at_hop.len() {
                "each app's own table-rewrite-size finding at this hop gives its sizes: add them up"
            } else if sized == 0 {
                "no database was given (database_url_env), so the sizes are unknown"
            } else {
                "no database was given for some of them (database_url_env), so not every size is known"
            };
            let Some(severity) = request
                .levels
                .level_of("table-rewrite-size", Severity::Info)
            else {
                continue;
            };
            findings.push(Finding {
                code: "table-rewrite-size",
                app: Some(names.join(", ")),
                severity,
                effect: None,
                hop: hop.clone(),
                message: format!(
                    "apps {} share the database server {server} and their migrations rewrite tables at {} -> {}: {}; {sizes}",
                    crate::report::describe::and_list(&names),
                    hop.from,
                    hop.to,
                    listed.join("; ")
                ),
                location: None,
                help: "Run these apps' hops in separate windows, or size the server's free disk \
                       and I/O for all of them together; rehearse them on one restored copy of \
                       the server to measure."
                    .into(),
            });
        }
    }
    if inputs.is_empty() {
        inputs.push(request.fleet.path.display().to_string());
    }
    Ok(CheckReport {
        hops,
        inputs,
        assumptions,
        date: None,
        findings,
    })
}
