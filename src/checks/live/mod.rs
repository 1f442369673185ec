//! Checks of the running system, as `status` reads it: Redis (queues, registries, workers, the
//! scheduler, Redash's job locks, Celery's keys, the server's settings) and the sessions on the
//! metadata database. They run only in `status`, never in `check`.

pub mod backlog_not_drained;
pub mod celery_leftovers;
pub mod failed_jobs_grew;
pub mod job_lock_outlived_job;
pub mod queue_without_worker;
pub mod redis_evicts_jobs;
pub mod redis_not_persistent;
pub mod redis_server_too_old;
pub mod scheduler_key_stale;
pub mod scheduler_not_running;
pub mod scheduler_running_twice;
pub mod sessions_still_open;
pub mod worker_registration_dead;

use super::{CannotRun, Report, Severity};

/// A report at the check's own severity, about Redis or the database rather than a file.
pub(crate) fn report(message: String, help: String) -> Report {
    Report {
        severity: None,
        effect: None,
        message,
        location: None,
        help,
    }
}

pub(crate) fn report_at(severity: Severity, message: String, help: String) -> Report {
    Report {
        severity: Some(severity),
        ..report(message, help)
    }
}

/// Celery workers and Celery beat leave no trace in Redis that can be read without writing.
pub(crate) fn celery_has_no_registrations(what: &str) -> CannotRun {
    CannotRun(format!(
        "Celery {what} do not register in Redis (listing them takes a broadcast, which writes); \
         count them with `docker compose ps` or your orchestrator"
    ))
}
