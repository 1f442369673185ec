//! `schema-drift`: the database differs from its release's schema, on tables a hop migrates.

use super::super::{CannotRun, CheckMeta, DatabaseCheck, HopContext, Report, Severity, Trigger};
use super::LiveDatabase;

pub struct SchemaDrift;

static META: CheckMeta = CheckMeta {
    code: "schema-drift",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    summary: "in-house or unexplained schema changes on a table the hop's migrations alter",
    what: "Takes the drift `redash-upgrade detect` finds (extra, missing and changed tables and \
           columns, beyond the known shapes of upgraded databases) and reports the drift on the \
           tables this hop's migrations alter or rewrite.",
    why: "Migrations are written against upstream's schema. A fork's extra NOT NULL column makes \
          rows the migration inserts fail; a changed type makes a cast fail; a missing column \
          fails the ALTER. Drift elsewhere is harmless to the hop but still shows in `detect`.",
    fix: "Rehearse the hop on a snapshot copy; make in-house columns nullable or give them \
          defaults, or move them to a table of your own, before the hop.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py",
    ],
};

#[async_trait::async_trait]
impl DatabaseCheck for SchemaDrift {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let drift = &database.detection().drift;
        let touched = hop.plan.rewritten_tables();
        let mut reports = Vec::new();
        let mut report = |table: &str, what: String| {
            if touched.contains(&table) {
                reports.push(Report {
                    severity: None,
                    message: format!("{what}, and {} migrates {table}", hop.plan.to.version),
                    location: None,
                    help: format!("Rehearse the hop on a copy; make the change compatible with the {table} migration first."),
                });
            }
        };
        for column in &drift.extra_columns {
            report(
                &column.table,
                format!(
                    "in-house column {}.{} ({})",
                    column.table, column.column, column.sql_type
                ),
            );
        }
        for column in &drift.missing_columns {
            report(
                &column.table,
                format!("column {}.{} is missing", column.table, column.column),
            );
        }
        for column in &drift.changed_columns {
            report(
                &column.table,
                format!(
                    "{}.{} is {} where {} is expected",
                    column.table, column.column, column.found, column.expected
                ),
            );
        }
        for table in &drift.missing_tables {
            report(table, format!("table {table} is missing"));
        }
        Ok(reports)
    }
}
