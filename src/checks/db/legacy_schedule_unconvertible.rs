//! `legacy-schedule-unconvertible`: legacy `queries.schedule` strings the 7.0 migration cannot
//! turn into a schedule.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct LegacyScheduleUnconvertible;

static META: CheckMeta = CheckMeta {
    code: "legacy-schedule-unconvertible",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Misbehaves),
    summary: "legacy schedule strings that migration 640888ce445d cannot convert",
    what: "Before 7.0.0 `queries.schedule` is a string: interval seconds (`3600`) or a daily time \
           (`14:30`). On hops crossing 7.0.0, lists queries whose schedule is neither as Python \
           reads it: without a `:`, not an integer to `int()` (`1d`, `\"\"`, `3600.0`; \
           ` 3600` and `+60` are fine); with a `:`, not an hour 0-23 and minute 0-59 (`25:00`, \
           `9:75`; `9:5` is fine).",
    why: "640888ce445d turns a value with `:` into a daily schedule and anything else into the \
          interval. The 7.0.0 image the hop runs copies both verbatim; the 7.x and 8.x scheduler \
          then raises on that query every time it looks for due queries, so no scheduled query \
          runs at all (9.0 and later disable that one query's schedule instead, and sorting the \
          queries list by schedule fails). The copy of the migration in 9.0-10.1 calls int() \
          instead and aborts the hop.",
    fix: "Before the hop, set those queries' schedule to seconds or HH:MM, or to NULL (no \
          refresh): UPDATE queries SET schedule = NULL WHERE id IN (...).",
    references: &[
        "v7.0.0:migrations/versions/640888ce445d_.py:50-69",
        "v7.0.0:redash/models/__init__.py:550-583",
        "v10.1.0:migrations/versions/640888ce445d_.py:72",
        "v10.1.0:redash/models/__init__.py:650-677",
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
            Some((META.code, "queries")),
            "read legacy schedules",
            "SELECT id::bigint FROM queries WHERE schedule IS NOT NULL AND CASE \
               WHEN strpos(schedule, ':') = 0 \
                 THEN schedule !~ '^[[:space:]]*[+-]?[0-9]+(_[0-9]+)*[[:space:]]*$' \
               WHEN schedule !~ '^[[:space:]]*[+-]?[0-9]{1,9}[[:space:]]*:[[:space:]]*[+-]?[0-9]{1,9}[[:space:]]*$' \
                 THEN true \
               ELSE NOT (split_part(schedule, ':', 1)::int BETWEEN 0 AND 23 \
                         AND split_part(schedule, ':', 2)::int BETWEEN 0 AND 59) END \
             ORDER BY id",
            "queries with a schedule that is neither whole seconds nor a valid HH:MM (with 7.0.0 and 8.0.0 no scheduled query runs at all while one is left)",
            "Fix each schedule to seconds or HH:MM, or set it to NULL, before the hop.",
        )
        .await
    }
}
