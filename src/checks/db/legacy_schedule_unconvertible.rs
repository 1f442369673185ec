//! `legacy-schedule-unconvertible`: legacy `queries.schedule` strings the 7.0 migration cannot
//! turn into a schedule.

use super::super::{CannotRun, CheckMeta, DatabaseCheck, HopContext, Report, Severity, Trigger};
use super::LiveDatabase;

pub struct LegacyScheduleUnconvertible;

static META: CheckMeta = CheckMeta {
    code: "legacy-schedule-unconvertible",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    summary: "legacy schedule strings that migration 640888ce445d cannot convert",
    what: "Before 7.0.0 `queries.schedule` is a string: interval seconds (`3600`) or a daily time \
           (`14:30`). On hops crossing 7.0.0, lists queries whose schedule is neither.",
    why: "640888ce445d turns a value with `:` into a daily schedule and anything else into the \
          interval. 7.0.0's copy stores other text as the interval, and the scheduler never runs \
          that query again; later copies call int() on it and the whole hop fails with \
          ValueError.",
    fix: "Before the hop, set those queries' schedule to seconds or HH:MM, or to NULL (no \
          refresh): UPDATE queries SET schedule = NULL WHERE id IN (...).",
    references: &[
        "v7.0.0:migrations/versions/640888ce445d_.py",
        "v10.1.0:migrations/versions/640888ce445d_.py",
    ],
};

#[async_trait::async_trait]
impl DatabaseCheck for LegacyScheduleUnconvertible {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database
            .column_type("queries", "schedule")
            .is_some_and(|sql_type| sql_type.starts_with("character varying"))
    }
    async fn run(
        &self,
        _hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        super::rows_report(
            database,
            "read legacy schedules",
            "SELECT id::bigint FROM queries \
             WHERE schedule IS NOT NULL \
               AND schedule !~ '^[0-9]+$' AND schedule !~ '^[0-9]{1,2}:[0-9]{2}$' \
             ORDER BY id",
            "queries with a schedule that is neither seconds nor HH:MM",
            "Fix each schedule to seconds or HH:MM, or set it to NULL, before the hop.",
        )
        .await
    }
}
