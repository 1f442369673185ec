//! `worker-registration-dead`: a worker is registered in Redis but its connection is gone.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::{celery_has_no_registrations, report};
use crate::status::Liveness;

pub struct WorkerRegistrationDead;

static META: CheckMeta = CheckMeta {
    code: "worker-registration-dead",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "A registered RQ worker's connection is gone: it was killed, not stopped",
    what: "Compares the registered workers (`rq:workers`, `rq:worker:NAME` without `death`) with \
           the connections Redis has open (`CLIENT LIST`): rq 1.16.1 (Redash 25.1.0 on) names \
           each worker's connection after the worker, so a registration without a connection \
           belongs to a process that died without registering its death (SIGKILL, an OOM kill, \
           a host that vanished). rq 1.5.0 and 1.1.0 name nothing, so for 9.x and 10.x the \
           report lists the registrations and their expiry instead.",
    why: "A dead worker's job stays in the started registry until its timeout, its query's lock \
          stays until it expires, and monitoring (and Redash's admin page) still counts the \
          worker. Field reports found every worker dead after Redis restarted.",
    fix: "Find why the worker died (OOM kills: the memory sizing of `redash-upgrade plan`), and \
          restart the worker role. The registration expires by itself when its TTL runs out.",
    references: &[
        "https://github.com/rq/rq/blob/v1.16.1/rq/worker.py",
        "https://github.com/rq/rq/blob/v1.5.0/rq/worker.py",
    ],
};

impl LiveCheck for WorkerRegistrationDead {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(workers) = &live.observation.workers else {
            return Err(celery_has_no_registrations("workers"));
        };
        Ok(workers
            .iter()
            .filter(|worker| worker.liveness == Liveness::Gone)
            .map(|worker| {
                let job = worker
                    .current_job
                    .as_deref()
                    .map(|job| format!("; its job {job} is abandoned"))
                    .unwrap_or_default();
                let expiry = worker
                    .expires_in
                    .map(|seconds| format!(" (the registration expires in {seconds} s)"))
                    .unwrap_or_default();
                report(
                    format!(
                        "worker {} (queues {}) is registered but has no connection to Redis: it \
                         died without stopping{job}{expiry}",
                        worker.name,
                        worker.queues.join(",")
                    ),
                    "Restart the worker role, and look for why it died (OOM kill, Redis \
                     restart)."
                        .to_owned(),
                )
            })
            .collect())
    }
}
