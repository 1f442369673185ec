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
    what: "For each table the hop's migrations rewrite or update row by row (from the knowledge \
           base), reports its rows (planner estimate) and size with indexes, the extra disk a \
           rewrite needs while old and new copies coexist, and a rough duration.",
    why: "Each hop is one transaction holding exclusive locks until it ends: the 25.1 hop \
          rewrites events, queries and more in one go. A window planned without sizes runs over, \
          and a disk without room for a second copy of the biggest table fills mid-migration.",
    fix: "Plan the window from these figures and the rehearsal's measured time; free disk for at \
          least the largest table; archive old events first where you can.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py",
    ],
};

/// Rough sequential rewrite rates for the duration range: an assumption, not a measurement.
const SLOW_MIB_PER_SECOND: f64 = 20.0;
const FAST_MIB_PER_SECOND: f64 = 100.0;

#[async_trait::async_trait]
impl DatabaseCheck for TableRewriteSize {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        !hop.plan.rewritten_tables().is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let tables: Vec<String> = hop
            .plan
            .rewritten_tables()
            .iter()
            .map(|table| table.to_string())
            .collect();
        let rows = database.fetch_all(
            "read table sizes",
            sqlx::query("SELECT c.relname::text, c.reltuples::bigint, pg_total_relation_size(c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
             ORDER BY 3 DESC").bind(tables),
        ).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mib = |bytes: i64| bytes as f64 / (1024.0 * 1024.0);
        let total: i64 = rows.iter().map(|row| row.get::<i64, _>(2)).sum();
        let largest: i64 = rows.first().map_or(0, |row| row.get(2));
        let listed: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{} ~{} rows {:.1} MiB",
                    row.get::<String, _>(0),
                    row.get::<i64, _>(1).max(0),
                    mib(row.get(2))
                )
            })
            .collect();
        let fastest = mib(total) / FAST_MIB_PER_SECOND;
        let slowest = mib(total) / SLOW_MIB_PER_SECOND;
        let duration = if slowest < 1.0 {
            "under a second".to_owned()
        } else {
            format!("roughly {fastest:.0}-{slowest:.0} s")
        };
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "{} rewrites {} ({:.1} MiB in all): needs about {:.1} MiB of free disk and {duration} of exclusive locks (at {SLOW_MIB_PER_SECOND}-{FAST_MIB_PER_SECOND} MiB/s, an assumption)",
                hop.plan.to.version,
                listed.join(", "),
                mib(total),
                mib(largest.max(total)),
            ),
            location: None,
            help: "Plan the maintenance window and the free disk from these figures; measure on a rehearsal.".into(),
        }])
    }
}
