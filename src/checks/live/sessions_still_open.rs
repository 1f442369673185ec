//! `sessions-still-open`: other sessions on the metadata database.

use std::collections::BTreeMap;

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::report_at;

pub struct SessionsStillOpen;

static META: CheckMeta = CheckMeta {
    code: "sessions-still-open",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "Other sessions are connected to the metadata database",
    what: "With `--database-url`, lists the other client sessions on the same database \
           (`pg_stat_activity`: application name, user, client address, state, how long), \
           grouped by application, user and address. An error when `--to` says a hop is next \
           (they must be gone before `manage db upgrade`), a warning otherwise.",
    why: "An old worker or server still connected while the migration runs keeps writing with \
          the old release's idea of the schema, or holds the locks the migration's ALTER TABLE \
          waits for, so the hop hangs or half the rows are written the old way. Field reports \
          had old workers writing during a migration.",
    fix: "Stop every old Redash process (server, workers, scheduler, and cron jobs or notebooks \
          that use the database), then run `status` again until no session is left; a session \
          you cannot place can be ended with `SELECT pg_terminate_backend(PID)`.",
    references: &[
        "https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW",
        "https://redash.io/help/open-source/admin-guide/how-to-upgrade",
    ],
};

impl LiveCheck for SessionsStillOpen {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(sessions) = &live.observation.sessions else {
            return Err(CannotRun("no --database-url".into()));
        };
        let severity = if live.next_hop.is_some() {
            Severity::Error
        } else {
            Severity::Warning
        };
        let mut groups: BTreeMap<String, Vec<&crate::status::sessions::Session>> = BTreeMap::new();
        for session in sessions {
            groups.entry(session.label()).or_default().push(session);
        }
        Ok(groups
            .into_iter()
            .map(|(label, members)| {
                let mut states: BTreeMap<&str, usize> = BTreeMap::new();
                for session in &members {
                    *states
                        .entry(session.state.as_deref().unwrap_or("hidden from this role"))
                        .or_default() += 1;
                }
                let states: Vec<String> = states
                    .into_iter()
                    .map(|(state, count)| format!("{count} {state}"))
                    .collect();
                let oldest = members
                    .iter()
                    .filter_map(|session| session.connected_seconds)
                    .max()
                    .map(|seconds| format!(", the oldest connected {seconds} s ago"))
                    .unwrap_or_default();
                let pids: Vec<String> = members
                    .iter()
                    .map(|session| session.pid.to_string())
                    .collect();
                report_at(
                    severity,
                    format!(
                        "{} session(s) of {label}: {}{oldest} (pid {})",
                        members.len(),
                        states.join(", "),
                        pids.join(", ")
                    ),
                    "Stop the process that holds them before migrating; `status` again shows \
                     when they are gone."
                        .to_owned(),
                )
            })
            .collect())
    }
}
