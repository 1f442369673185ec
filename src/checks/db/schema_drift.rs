//! `schema-drift`: the database differs from its release's schema, on tables a hop migrates.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct SchemaDrift;

static META: CheckMeta = CheckMeta {
    code: "schema-drift",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "in-house or unexplained schema changes on a table the hop's migrations alter",
    what: "Takes the drift `redash-upgrade detect` finds (beyond the known shapes of upgraded \
           databases, and apart from what a drift baseline accepts) and grades it by what the \
           hop does to it: a missing or changed table or column on a table the hop's migrations \
           alter is an error naming the revisions; an in-house column that is NOT NULL without a \
           default is an error on every hop (upstream code inserts rows without it), accepted or \
           not; any other in-house column on a table the hop alters is a warning, unless the \
           baseline accepts it.",
    why: "Migrations are written against upstream's schema: a changed type makes a cast fail, a \
          missing column fails the ALTER, and the hop rolls back. A fork's extra nullable or \
          defaulted column survives ALTER TABLE and is merely ignored; one that is NOT NULL \
          without a default makes every insert of the upstream release fail once the fork's own \
          code is gone. Drift elsewhere is harmless to the hop but still shows in `detect`.",
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
        let detection = database.detection();
        let drift = &detection.drift;
        let touched = hop.plan.rewritten_tables();
        let target = &hop.plan.to.version;
        // The revisions of this hop that alter or rewrite `table`.
        let revisions_of = |table: &str| -> String {
            hop.plan
                .revisions
                .iter()
                .filter(|revision| revision.rewrites_tables.iter().any(|name| name == table))
                .map(|revision| revision.revision.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut reports = Vec::new();
        let mut blocking = |table: &str, what: String| {
            if touched.contains(&table) {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{what}, and {target} migrates {table} ({}), written for upstream's schema",
                        revisions_of(table)
                    ),
                    location: None,
                    help: format!("Rehearse the hop on a copy; make the change compatible with the {table} migration first."),
                });
            }
        };
        for column in &drift.missing_columns {
            blocking(
                &column.table,
                format!("column {}.{} is missing", column.table, column.column),
            );
        }
        for column in &drift.changed_columns {
            blocking(
                &column.table,
                format!(
                    "{}.{} is {} where {} is expected",
                    column.table, column.column, column.found, column.expected
                ),
            );
        }
        for table in &drift.missing_tables {
            blocking(table, format!("table {table} is missing"));
        }
        // In-house columns, accepted in a baseline or not: graded by what happens to them.
        let accepted = &detection.accepted_drift.extra_columns;
        for column in drift.extra_columns.iter().chain(accepted) {
            let shape = detection
                .catalog
                .table(&column.table)
                .and_then(|table| table.column(&column.column));
            let required = shape.is_some_and(|shape| !shape.nullable && shape.default.is_none());
            if required {
                if !hop.is_first {
                    continue;
                }
                // Upstream code does not know the column: every row it inserts lacks it.
                reports.push(Report {
                    severity: None,
                    effect: Some(Effect::Misbehaves),
                    message: format!(
                        "in-house column {}.{} ({}) is NOT NULL without a default: {target} does not set it, so every {} row it inserts fails",
                        column.table, column.column, column.sql_type, column.table
                    ),
                    location: None,
                    help: format!(
                        "Give {}.{} a default or make it nullable before the hop (ALTER TABLE {} ALTER COLUMN {} SET DEFAULT ... or DROP NOT NULL).",
                        column.table, column.column, column.table, column.column
                    ),
                });
            } else if touched.contains(&column.table.as_str()) && !accepted.contains(column) {
                reports.push(Report {
                    severity: Some(Severity::Warning),
                    effect: None,
                    message: format!(
                        "in-house column {}.{} ({}) on a table {target} migrates ({}): the migration alters {} and keeps the column, which upstream code then ignores",
                        column.table,
                        column.column,
                        column.sql_type,
                        revisions_of(&column.table),
                        column.table
                    ),
                    location: None,
                    help: "Rehearse the hop on a copy; accept the column with `redash-upgrade detect --write-baseline FILE` once it is known to survive.".into(),
                });
            }
        }
        Ok(reports)
    }
}
