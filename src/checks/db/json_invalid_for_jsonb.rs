//! `json-invalid-for-jsonb`: text that the 25.1 migrations cannot cast to jsonb.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::jsonb::{check_jsonb, JsonbProblem};
use super::LiveDatabase;
use super::{copy_field, copy_fields, copy_id, name_rows, Scan};

pub struct JsonInvalidForJsonb;

static META: CheckMeta = CheckMeta {
    code: "json-invalid-for-jsonb",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "text that migrations 7205816877ec and fd4fc850d7ea cannot cast to jsonb",
    what: "On hops crossing 25.1.0, reads every row of the columns those migrations convert to \
           jsonb (queries.options and schedule, events.additional_properties, \
           organizations.settings, alerts.options, dashboards.options and layout, changes.change, \
           visualizations.options, widgets.options, users.details) and tests each value against \
           jsonb's input rules: JSON grammar, no empty text, no \\u0000, no unpaired surrogate \
           escapes (which json columns accept and jsonb does not). Rows are streamed with COPY and \
           checked in parallel; --quick samples big tables.",
    why: "Each conversion is one ALTER TABLE ... USING col::jsonb inside the hop's transaction: a \
          single bad value in one row of events aborts the cast, the hop rolls back after \
          rewriting tables for as long as it took to get there, and the application of the new \
          image cannot start.",
    fix: "Fix or clear the named rows before the hop (for example UPDATE events SET \
          additional_properties = '{}' WHERE id IN (...)), or delete old events you do not need.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py",
        "v25.1.0:migrations/versions/fd4fc850d7ea_.py:25",
    ],
};

const CONVERTED: [(&str, &str); 11] = [
    ("queries", "options"),
    ("queries", "schedule"),
    ("events", "additional_properties"),
    ("organizations", "settings"),
    ("alerts", "options"),
    ("dashboards", "options"),
    ("dashboards", "layout"),
    ("changes", "change"),
    ("visualizations", "options"),
    ("widgets", "options"),
    ("users", "details"),
];

/// In --quick mode, tables above this many rows are sampled down to about this many.
const SAMPLE_ROWS: f64 = 100_000.0;

#[async_trait::async_trait]
impl DatabaseCheck for JsonInvalidForJsonb {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        CONVERTED.iter().any(|(table, column)| {
            database
                .column_type(table, column)
                .is_some_and(|sql_type| sql_type != "jsonb")
        })
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        // The column as the hop finds it: earlier hops of the plan may still change it.
        let at_hop = hop.knowledge.schema_of(&hop.plan.from.version);
        // First what to do with each column, then one scan per table for all its columns.
        let mut deferred: Vec<Option<Report>> = Vec::new();
        let mut checked: Vec<(&str, &str, &str)> = Vec::new();
        for (table, column) in CONVERTED {
            let Some(sql_type) = database.column_type(table, column) else {
                continue;
            };
            if sql_type == "jsonb" {
                continue;
            }
            let expected = at_hop
                .and_then(|schema| schema.table(table))
                .and_then(|found| found.column(column))
                .map(|found| found.sql_type.as_str());
            if expected.is_some_and(|expected| expected != sql_type) {
                deferred.push(Some(Report {
                    severity: Some(Severity::Info),
                    effect: None,
                    message: format!(
                        "{table}.{column} is {sql_type} now and an earlier hop converts it to {}: its values can only be checked once the database is at {}",
                        expected.unwrap_or("another type"),
                        hop.plan.from.version
                    ),
                    location: None,
                    help: format!("Run this check again after the hop to {}.", hop.plan.from.version),
                }));
            } else {
                deferred.push(None);
                checked.push((table, column, sql_type));
            }
        }
        let mut tables: Vec<(&str, Vec<&str>)> = Vec::new();
        for (table, column, _) in &checked {
            match tables.iter_mut().find(|(done, _)| done == table) {
                Some((_, columns)) => columns.push(column),
                None => tables.push((table, vec![column])),
            }
        }
        let plans: Vec<TablePlan> = tables
            .iter()
            .map(|(table, columns)| TablePlan::new(database, table, columns))
            .collect();
        let scans: Vec<Scan> = plans.iter().map(|plan| plan.scan.clone()).collect();
        let passes = database.scan(&scans, refused_values).await?;
        let scanned: Vec<(&str, TableScan)> = tables
            .iter()
            .zip(plans)
            .zip(passes)
            .map(|(((table, columns), plan), pass)| {
                let bad = pass
                    .found
                    .into_iter()
                    .map(|(index, id, problem)| (columns[index].to_owned(), id, problem))
                    .collect();
                (
                    *table,
                    TableScan {
                        bad,
                        rows: pass.rows,
                        sampled: plan.sampled,
                        estimate: plan.scan.estimate.unwrap_or(0),
                    },
                )
            })
            .collect();
        let mut reports = Vec::new();
        let mut columns = checked.iter();
        for note in deferred {
            if let Some(note) = note {
                reports.push(note);
                continue;
            }
            let Some((table, column, sql_type)) = columns.next() else {
                break;
            };
            let (_, scan) = scanned
                .iter()
                .find(|(done, _)| done == table)
                .expect("every checked table was scanned");
            let bad: Vec<&(String, i64, JsonbProblem)> = scan
                .bad
                .iter()
                .filter(|(name, _, _)| name == column)
                .collect();
            if bad.is_empty() {
                if scan.sampled {
                    reports.push(Report {
                        severity: Some(Severity::Info),
                        effect: None,
                        message: format!(
                            "{table}.{column}: checked a sample of {} of ~{} rows (--quick), none refused",
                            scan.rows, scan.estimate
                        ),
                        location: None,
                        help: "Run without --quick for a full pass before the hop.".into(),
                    });
                }
                continue;
            }
            let mut ids: Vec<i64> = bad.iter().map(|(_, id, _)| *id).collect();
            ids.sort_unstable();
            if *table == "queries" {
                database.note_rows(META.code, "queries", &ids);
            }
            let mut problems: Vec<String> = bad
                .iter()
                .map(|(_, _, problem)| problem.to_string())
                .collect();
            problems.sort();
            problems.dedup();
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{table}.{column} ({sql_type}) holds values jsonb refuses ({}): {}{}",
                    problems.join("; "),
                    name_rows(&ids, ids.len()),
                    if scan.sampled {
                        format!(
                            " (sampled {} rows with --quick: there may be more)",
                            scan.rows
                        )
                    } else {
                        String::new()
                    }
                ),
                location: None,
                help: format!("Fix or clear these {table} rows before the hop."),
            });
        }
        Ok(reports)
    }
}

/// What one pass over a table found.
struct TableScan {
    /// Column, row id and why jsonb refuses the value.
    bad: Vec<(String, i64, JsonbProblem)>,
    rows: u64,
    sampled: bool,
    estimate: u64,
}

/// How one table is read: the columns to check in one COPY, a sample with --quick on big tables.
struct TablePlan {
    scan: Scan,
    sampled: bool,
}

impl TablePlan {
    fn new(database: &LiveDatabase, table: &str, columns: &[&str]) -> TablePlan {
        let estimate = database.row_estimate(table);
        let sampled = database.quick() && estimate.is_some_and(|rows| rows as f64 > SAMPLE_ROWS);
        let source = match estimate.filter(|_| sampled) {
            Some(rows) => {
                let percent = (SAMPLE_ROWS / rows as f64 * 100.0).clamp(0.01, 100.0);
                format!("{table} TABLESAMPLE SYSTEM ({percent:.4})")
            }
            None => table.to_owned(),
        };
        let selected: Vec<String> = columns
            .iter()
            .map(|column| format!("\"{column}\"::text"))
            .collect();
        let present: Vec<String> = columns
            .iter()
            .map(|column| format!("\"{column}\" IS NOT NULL"))
            .collect();
        TablePlan {
            scan: Scan {
                what: format!("read {table}"),
                select: format!(
                    "SELECT id::bigint, {} FROM {source} WHERE {}",
                    selected.join(", "),
                    present.join(" OR ")
                ),
                estimate,
            },
            sampled,
        }
    }
}

/// A refused value: its text's position after the id, the row id, and why.
type Refused = (usize, i64, JsonbProblem);

/// Checks every non-NULL text of a COPY row (id, then the texts) against jsonb's input rules.
fn refused_values(row: &[u8], found: &mut Vec<Refused>) {
    let fields = copy_fields(row);
    let id = copy_id(&fields).unwrap_or(-1);
    for (index, raw) in fields.iter().skip(1).enumerate() {
        let Some(text) = copy_field(raw) else {
            continue;
        };
        if let Err(problem) = check_jsonb(&text) {
            found.push((index, id, problem));
        }
    }
}
