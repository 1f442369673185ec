//! `status`: the running system around a hop, read without writing. Redis as the running
//! release's job libraries left it (queues, registries, workers, the scheduler, Redash's job
//! locks, Celery's keys), the Redis server's settings, and, with a database, the other sessions
//! on the metadata database. The findings come from the live checks of the one registry
//! ([`crate::checks::LiveCheck`]), so `explain`, `--deny`, `--warn` and `--allow` work on them as
//! on `check`'s.

pub mod baseline;
pub mod client;
mod observe;
pub mod resp;
pub mod sessions;

use std::time::{Duration, Instant};

pub use baseline::{BaselineError, StatusBaseline};
pub use client::{ReadOnlyRedis, RedisError, RedisUrl};
pub use observe::{
    observe, Heartbeat, JobLock, KeyGroup, Liveness, Observation, PeriodicJob, QueueState,
    RedisServerInfo, SchedulerInstance, SchedulerState, WorkerState,
    SCHEDULER_HEARTBEAT_LATE_AFTER,
};

use crate::checks::{self, CheckReport, Levels, LiveContext};
use crate::db::DbError;
use crate::engine::DatabaseTarget;
use crate::knowledge::model::Release;
use crate::knowledge::KnowledgeBase;
use crate::plan::{self, HopId, PlanError};
use crate::report::Progress;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// Everything `status` needs.
pub struct StatusRequest {
    pub redis: RedisUrl,
    /// A PEM file of certificate authorities to trust for `rediss://` (`--redis-ca-cert`).
    pub redis_ca_certificates: Option<std::path::PathBuf>,
    pub database: Option<DatabaseTarget>,
    /// The release running now.
    pub from: String,
    /// The release the next hops lead to, when the operator is about to hop.
    pub to: Option<String>,
    pub baseline: Option<StatusBaseline>,
    pub levels: Levels,
    pub progress: Progress,
}

/// What `status` found: the observation and the findings about it.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub observation: Observation,
    pub report: CheckReport,
    /// Set by `--wait-drained`: whether every queue emptied in time, and how long it waited.
    pub wait: Option<WaitOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WaitOutcome {
    pub drained: bool,
    pub waited_seconds: u64,
    pub timeout_seconds: u64,
}

impl StatusReport {
    /// Whether the report blocks the hop: an error finding, or a wait that timed out.
    pub fn blocks(&self) -> bool {
        self.report.has_errors() || self.wait.as_ref().is_some_and(|wait| !wait.drained)
    }
}

struct Resolved<'k> {
    running: &'k Release,
    plan: Option<plan::UpgradePlan<'k>>,
}

fn resolve<'k>(
    knowledge: &'k KnowledgeBase,
    request: &StatusRequest,
) -> Result<Resolved<'k>, StatusError> {
    let resolved = plan::resolve(knowledge, &request.from, "--from")?;
    let running = knowledge
        .release(&resolved.version)
        .expect("a resolved version is a known release");
    let plan = match &request.to {
        Some(to) => Some(plan::plan(knowledge, &request.from, to)?),
        None => None,
    };
    Ok(Resolved { running, plan })
}

/// Reads Redis (and the sessions) once and runs the live checks.
pub fn status(
    knowledge: &KnowledgeBase,
    request: &StatusRequest,
) -> Result<StatusReport, StatusError> {
    let resolved = resolve(knowledge, request)?;
    let mut redis =
        ReadOnlyRedis::connect(&request.redis, request.redis_ca_certificates.as_deref())?;
    let mut observation = observe(&mut redis, resolved.running)?;
    if let Some(target) = &request.database {
        observation.sessions = Some(read_sessions(target)?);
    }
    Ok(judge(knowledge, request, &resolved, observation, None))
}

fn read_sessions(target: &DatabaseTarget) -> Result<Vec<sessions::Session>, StatusError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StatusError::Runtime)?;
    Ok(runtime.block_on(sessions::other_sessions(&target.url, target.timeouts))?)
}

fn judge(
    knowledge: &KnowledgeBase,
    request: &StatusRequest,
    resolved: &Resolved<'_>,
    observation: Observation,
    wait: Option<WaitOutcome>,
) -> StatusReport {
    let first_hop = resolved.plan.as_ref().and_then(|plan| plan.hops.first());
    let hop_id = first_hop.map(|hop| hop.id()).unwrap_or_else(|| HopId {
        from: resolved.running.version.clone(),
        to: resolved.running.version.clone(),
    });
    let context = LiveContext {
        knowledge,
        running: resolved.running,
        next_hop: first_hop,
        target: resolved
            .plan
            .as_ref()
            .and_then(|plan| plan.hops.last())
            .map(|hop| hop.to),
        observation: &observation,
        baseline: request.baseline.as_ref(),
    };
    let findings = checks::run_live_checks(&context, &hop_id, &request.levels);
    let mut inputs = vec![observation.redis.clone()];
    if let Some(target) = &request.database {
        inputs.push(target.url.redacted());
    }
    let report = CheckReport {
        hops: vec![hop_id],
        inputs,
        assumptions: Vec::new(),
        date: None,
        findings,
    };
    StatusReport {
        observation,
        report,
        wait,
    }
}

/// `--wait-drained`: reads Redis every `interval` until no job is queued or running in any
/// queue, or `timeout` passes; then reports as [`status`] does, with the wait's outcome.
pub fn wait_drained(
    knowledge: &KnowledgeBase,
    request: &StatusRequest,
    timeout: Duration,
    interval: Duration,
) -> Result<StatusReport, StatusError> {
    let resolved = resolve(knowledge, request)?;
    let mut redis =
        ReadOnlyRedis::connect(&request.redis, request.redis_ca_certificates.as_deref())?;
    let started = Instant::now();
    let mut observation = observe(&mut redis, resolved.running)?;
    let (queued, running) = observation.pending();
    let first = queued + running;
    let bar = request.progress.counter(first, "jobs");
    let mut last_logged = None;
    let drained = loop {
        let (queued, running) = observation.pending();
        let left = queued + running;
        bar.set_length(first.max(left));
        bar.set_position(first.saturating_sub(left));
        bar.set_message(format!("{queued} queued, {running} running"));
        if last_logged != Some(left) && bar.is_hidden() {
            request.progress.log(&format!(
                "waiting for the queues to drain: {queued} queued, {running} running ({} s)",
                started.elapsed().as_secs()
            ));
            last_logged = Some(left);
        }
        if left == 0 {
            break true;
        }
        if started.elapsed() >= timeout {
            break false;
        }
        std::thread::sleep(interval.min(timeout.saturating_sub(started.elapsed())));
        observation = observe(&mut redis, resolved.running)?;
    };
    bar.finish_and_clear();
    request.progress.log(&if drained {
        format!("drained after {} s", started.elapsed().as_secs())
    } else {
        let (queued, running) = observation.pending();
        format!(
            "not drained after {} s: {queued} queued, {running} running",
            started.elapsed().as_secs()
        )
    });
    if let Some(target) = &request.database {
        observation.sessions = Some(read_sessions(target)?);
    }
    let wait = WaitOutcome {
        drained,
        waited_seconds: started.elapsed().as_secs(),
        timeout_seconds: timeout.as_secs(),
    };
    Ok(judge(
        knowledge,
        request,
        &resolved,
        observation,
        Some(wait),
    ))
}
