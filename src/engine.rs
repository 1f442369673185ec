//! The commands as library calls: a request in, a report out. `cli.rs` only turns arguments
//! into requests; the benchmarks, the tests and later commands call these same functions.

use std::future::Future;

use crate::checks::{self, CheckReport, Levels, LiveDatabase};
use crate::db::{DatabaseUrl, DbError, ReadOnlySession, Timeouts};
use crate::detect::{self, DetectError, Detection};
use crate::inputs::{Deployment, DeploymentFiles, InputError};
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
    #[error("give --from: {0}")]
    FromNeeded(String),
    #[error("--from {given} is {resolved}, but the database is at {found} (see `redash-upgrade detect`)")]
    FromDisagrees {
        given: String,
        resolved: String,
        found: String,
    },
    #[error("interrupted (Ctrl-C): the read-only transaction was rolled back")]
    Interrupted,
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
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
    pub secret_key: Option<String>,
    /// Sample big tables instead of reading them in full.
    pub quick: bool,
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

/// `detect`: which release the database is at, read in one read-only transaction.
pub async fn detect(
    knowledge: &KnowledgeBase,
    target: &DatabaseTarget,
) -> Result<Detection, EngineError> {
    let mut session = ReadOnlySession::open(&target.url, target.timeouts).await?;
    let detection = detect::detect(knowledge, &mut session).await;
    session.close().await;
    Ok(detection?)
}

/// `check`: reads the deployment's files (and the database, when given), plans from the
/// release running now, and runs every check over the plan's hops.
pub async fn check(
    knowledge: &KnowledgeBase,
    request: CheckRequest,
) -> Result<CheckReport, EngineError> {
    let deployment = request.files.read()?;
    let mut inputs = deployment.files.clone();
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
            let detection = detect::detect(knowledge, &mut session).await?;
            let from = from_of_database(knowledge, request.from.as_deref(), &detection)?;
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
        findings,
    })
}

fn plan_hops(plan: &plan::UpgradePlan<'_>) -> Vec<crate::plan::HopId> {
    plan.hops.iter().map(|hop| hop.id()).collect()
}

/// The release to plan from: `--from` when given (it must agree with the database), else the
/// one release the database is at.
fn from_of_database(
    knowledge: &KnowledgeBase,
    given: Option<&str>,
    detection: &Detection,
) -> Result<String, EngineError> {
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
    match given {
        Some(given) => {
            let resolved = plan::resolve(knowledge, given, "--from")?;
            if !detection.candidates.is_empty() && !detection.candidates.contains(&resolved.version)
            {
                return Err(EngineError::FromDisagrees {
                    given: given.to_owned(),
                    resolved: resolved.version.to_string(),
                    found: found_text,
                });
            }
            Ok(resolved.version.to_string())
        }
        None => match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(EngineError::FromNeeded(
                "the database matches no known release".into(),
            )),
            _ => Err(EngineError::FromNeeded(format!(
                "the database is at {found_text}, which it cannot tell apart"
            ))),
        },
    }
}

/// The secret the deployment encrypts with, as its env files give it.
fn secret_from_files(deployment: &Deployment) -> Option<String> {
    ["REDASH_SECRET_KEY", "REDASH_COOKIE_SECRET"]
        .iter()
        .find_map(|name| {
            deployment
                .running_roles()
                .find_map(|role| role.var(name)?.value.clone())
                .filter(|value| !value.is_empty())
        })
}
