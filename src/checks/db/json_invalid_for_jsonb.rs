//! `json-invalid-for-jsonb`: text that the 25.1 migrations cannot cast to jsonb.

use std::sync::mpsc;
use std::sync::Mutex;

use semver::Version;

use super::super::database::{copy_field, copy_fields, name_rows};
use super::super::jsonb::{check_jsonb, JsonbProblem};
use super::super::{CannotRun, Check, CheckMeta, HopContext, Report, Severity};

pub struct JsonInvalidForJsonb;

static META: CheckMeta = CheckMeta {
    code: "json-invalid-for-jsonb",
    severity: Severity::Error,
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

/// Rows checked by one worker at a time.
const BATCH: usize = 2_048;
/// In --quick mode, tables above this many rows are sampled down to about this many.
const SAMPLE_ROWS: f64 = 100_000.0;

impl Check for JsonInvalidForJsonb {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.crosses(&Version::new(25, 1, 0))
            && CONVERTED.iter().any(|(table, column)| {
                super::column_type(hop, table, column).is_some_and(|sql_type| sql_type != "jsonb")
            })
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let database = hop.database.expect("applies");
        // The column as the hop finds it: earlier hops of the plan may still change it.
        let at_hop = hop.knowledge.schema_of(&hop.from.version);
        // First what to do with each column, then one scan per table for all its columns.
        let mut deferred: Vec<Option<Report>> = Vec::new();
        let mut checked: Vec<(&str, &str, &str)> = Vec::new();
        for (table, column) in CONVERTED {
            let Some(sql_type) = super::column_type(hop, table, column) else {
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
                    message: format!(
                        "{table}.{column} is {sql_type} now and an earlier hop converts it to {}: its values can only be checked once the database is at {}",
                        expected.unwrap_or("another type"),
                        hop.from.version
                    ),
                    location: None,
                    help: format!("Run this check again after the hop to {}.", hop.from.version),
                }));
            } else {
                deferred.push(None);
                checked.push((table, column, sql_type));
            }
        }
        let mut scanned: Vec<(&str, TableScan)> = Vec::new();
        for (table, _, _) in &checked {
            if scanned.iter().any(|(done, _)| done == table) {
                continue;
            }
            let columns: Vec<&str> = checked
                .iter()
                .filter(|(other, _, _)| other == table)
                .map(|(_, column, _)| *column)
                .collect();
            scanned.push((table, scan_table(database, table, &columns)?));
        }
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
            let mut problems: Vec<String> = bad
                .iter()
                .map(|(_, _, problem)| problem.to_string())
                .collect();
            problems.sort();
            problems.dedup();
            reports.push(Report {
                severity: None,
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

/// Reads `columns` of `table` in one COPY (a sample with --quick on big tables).
fn scan_table(
    database: &dyn super::super::database::Database,
    table: &str,
    columns: &[&str],
) -> Result<TableScan, CannotRun> {
    let estimate = database
        .detection()
        .server
        .largest_tables
        .iter()
        .find(|size| size.table == table)
        .map(|size| size.rows_estimate.max(0) as f64);
    let sampled = database.quick() && estimate.is_some_and(|rows| rows > SAMPLE_ROWS);
    let source = if sampled {
        let percent = (SAMPLE_ROWS / estimate.unwrap_or(SAMPLE_ROWS) * 100.0).clamp(0.01, 100.0);
        format!("{table} TABLESAMPLE SYSTEM ({percent:.4})")
    } else {
        table.to_owned()
    };
    let selected: Vec<String> = columns
        .iter()
        .map(|column| format!("\"{column}\"::text"))
        .collect();
    let present: Vec<String> = columns
        .iter()
        .map(|column| format!("\"{column}\" IS NOT NULL"))
        .collect();
    let query = format!(
        "SELECT id::bigint, {} FROM {source} WHERE {}",
        selected.join(", "),
        present.join(" OR ")
    );
    let (bad, rows) = scan(database, &format!("read {table}"), &query, estimate)?;
    Ok(TableScan {
        bad: bad
            .into_iter()
            .map(|(index, id, problem)| (columns[index].to_owned(), id, problem))
            .collect(),
        rows,
        sampled,
        estimate: estimate.unwrap_or(0.0) as u64,
    })
}

/// A refused value: its text's position after the id, the row id, and why.
type Refused = (usize, i64, JsonbProblem);

/// Streams `query` (id, then the texts) and checks every non-NULL text on every core; a finding
/// is (text's position after the id, id, problem).
fn scan(
    database: &dyn super::super::database::Database,
    what: &str,
    query: &str,
    estimate: Option<f64>,
) -> Result<(Vec<Refused>, u64), CannotRun> {
    let workers = std::thread::available_parallelism().map_or(2, |count| count.get());
    let bar = crate::report::progress_wanted().then(|| {
        let bar = indicatif::ProgressBar::new(estimate.unwrap_or(0.0) as u64);
        bar.set_message(what.to_owned());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} rows")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let (sender, receiver) = mpsc::sync_channel::<Vec<Vec<u8>>>(workers * 2);
    let receiver = Mutex::new(receiver);
    let found = Mutex::new(Vec::new());
    let result = std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let batch = {
                    let receiver = receiver
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    receiver.recv()
                };
                let Ok(batch) = batch else { break };
                let mut bad = Vec::new();
                for row in &batch {
                    let fields = copy_fields(row);
                    let Some(id) = fields.first().and_then(|raw| copy_field(raw)) else {
                        continue;
                    };
                    let id = std::str::from_utf8(&id)
                        .ok()
                        .and_then(|id| id.parse().ok())
                        .unwrap_or(-1);
                    for (index, raw) in fields.iter().skip(1).enumerate() {
                        let Some(text) = copy_field(raw) else {
                            continue;
                        };
                        if let Err(problem) = check_jsonb(&text) {
                            bad.push((index, id, problem));
                        }
                    }
                }
                found
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .extend(bad);
            });
        }
        let mut batch = Vec::with_capacity(BATCH);
        let result = database.copy_out(what, query, &mut |row| {
            batch.push(row.to_vec());
            if batch.len() == BATCH {
                if let Some(bar) = &bar {
                    bar.inc(BATCH as u64);
                }
                let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        if !batch.is_empty() {
            let _ = sender.send(batch);
        }
        drop(sender);
        result
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let rows = result?;
    Ok((
        found
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        rows,
    ))
}
