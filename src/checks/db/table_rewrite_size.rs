//! `table-rewrite-size`: how much the hop's migrations rewrite, for the maintenance window.

use super::super::{CannotRun, CheckMeta, DatabaseCheck, HopContext, Report, Severity, Trigger};
use super::LiveDatabase;
use sqlx::Row as _;

pub struct TableRewriteSize;

static META: CheckMeta = CheckMeta {
    code: "table-rewrite-size",
    severity: Severity::Info,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "rows and bytes of the tables the hop rewrites, with disk and time to plan",
    what: "For each table the hop's migrations rewrite or walk row by row in Python (from the \
           knowledge base), reports its rows (planner estimate) and size with indexes, the extra \
           disk a rewrite needs while old and new copies coexist, and an estimate of the window: \
           rewrites at 20-100 MiB/s plus about 1 ms per row for each row-by-row migration (the \
           rate measured on a rehearsal of the large 10.1.0 fixture, where re-hashing queries \
           took most of the hop). Both are assumptions: a rehearsal measures the real time.",
    why: "Each hop is one transaction holding exclusive locks until it ends: the 25.1 hop \
          rewrites events, queries and more in one go, then re-hashes every query one row at a \
          time in Python, which on many queries takes longer than all the rewrites. A window planned without sizes runs over, \
          and a disk without room for a second copy of the biggest table fills mid-migration.",
    fix: "Plan the window from these figures and the rehearsal's measured time; free disk for at \
          least the largest table; archive old events first where you can.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py",
        "v25.1.0:migrations/versions/9e8c841d1a30_fix_hash.py:54-60",
        "v25.1.0:migrations/env.py:84-85",
    ],
};

/// Rough sequential rewrite rates for the duration range: an assumption, not a measurement.
const SLOW_MIB_PER_SECOND: f64 = 20.0;
const FAST_MIB_PER_SECOND: f64 = 100.0;
/// Seconds per row of a migration that walks a table in Python with one UPDATE per row. Measured
/// on a rehearsal of the large 10.1.0 fixture: the two re-hash passes of the 25.1 migrations
/// over about 15,000 queries took 27 s, about 0.9 ms a row each.
const SECONDS_PER_PYTHON_ROW: f64 = 0.001;

#[async_trait::async_trait]
impl DatabaseCheck for TableRewriteSize {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        !hop.plan.rewritten_tables().is_empty()
            || hop
                .plan
                .revisions
                .iter()
                .any(|revision| !revision.row_by_row.is_empty())
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let walks: Vec<(&str, &str)> = hop
            .plan
            .revisions
            .iter()
            .flat_map(|revision| {
                revision
                    .row_by_row
                    .iter()
                    .map(move |walk| (revision.revision.as_str(), walk.table.as_str()))
            })
            .collect();
        let mut tables: Vec<String> = hop
            .plan
            .rewritten_tables()
            .iter()
            .map(|table| table.to_string())
            .chain(walks.iter().map(|(_, table)| table.to_string()))
            .collect();
        tables.sort();
        tables.dedup();
        let rows = database
            .fetch_all(
                "read table sizes",
                sqlx::query(
                    "SELECT c.relname::text, c.reltuples::bigint, pg_total_relation_size(c.oid) \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
                     ORDER BY 3 DESC",
                )
                .bind(tables),
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sizes: Vec<(String, i64, i64)> = rows
            .iter()
            .map(|row| (row.get(0), row.get::<i64, _>(1).max(0), row.get(2)))
            .collect();
        let rewritten = hop.plan.rewritten_tables();
        let mib = |bytes: i64| bytes as f64 / (1024.0 * 1024.0);
        let rewritten_sizes: Vec<&(String, i64, i64)> = sizes
            .iter()
            .filter(|(table, _, _)| rewritten.contains(table.as_str()))
            .collect();
        let total: i64 = rewritten_sizes.iter().map(|(_, _, bytes)| bytes).sum();
        let largest: i64 = rewritten_sizes.first().map_or(0, |(_, _, bytes)| *bytes);
        let listed: Vec<String> = rewritten_sizes
            .iter()
            .map(|(table, rows, bytes)| format!("{table} ~{rows} rows {:.1} MiB", mib(*bytes)))
            .collect();
        let row_count = |table: &str| {
            sizes
                .iter()
                .find(|(name, _, _)| name == table)
                .map_or(0, |(_, rows, _)| *rows)
        };
        let python_seconds: f64 = walks
            .iter()
            .map(|(_, table)| row_count(table) as f64 * SECONDS_PER_PYTHON_ROW)
            .sum();
        let python_work: Vec<String> = walks
            .iter()
            .map(|(revision, table)| format!("{revision} walks ~{} {table} rows", row_count(table)))
            .collect();
        let fastest = mib(total) / FAST_MIB_PER_SECOND + python_seconds;
        let slowest = mib(total) / SLOW_MIB_PER_SECOND + python_seconds;
        let duration = if slowest < 1.0 {
            "under a second".to_owned()
        } else {
            format!("roughly {fastest:.0}-{slowest:.0} s")
        };
        let rewrites = if listed.is_empty() {
            format!("{} rewrites no table", hop.plan.to.version)
        } else {
            format!(
                "{} rewrites {} ({:.1} MiB in all): needs about {:.1} MiB of free disk",
                hop.plan.to.version,
                listed.join(", "),
                mib(total),
                mib(largest.max(total))
            )
        };
        let python = if python_work.is_empty() {
            String::new()
        } else {
            format!(
                ", plus about {python_seconds:.0} s of row-by-row Python work ({}; ~1 ms a row)",
                python_work.join(", ")
            )
        };
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "{rewrites}; the hop runs in one transaction holding its exclusive locks throughout, {duration} (table rewrites at {SLOW_MIB_PER_SECOND}-{FAST_MIB_PER_SECOND} MiB/s{python}; assumptions, a rehearsal measures it)"
            ),
            location: None,
            help: "Plan the maintenance window and the free disk from these figures; measure on a rehearsal.".into(),
        }])
    }
}
