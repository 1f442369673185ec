//! Checks of the live metadata database: data a hop's migrations fail on, or lose or mangle, and
//! what the migrations need from the server. They run only with `--database-url`.

pub mod alembic_stamp_problem;
pub mod json_invalid_for_jsonb;
pub mod legacy_schedule_unconvertible;
pub mod migration_privileges_missing;
pub mod postgres_version_too_old;
pub mod profile_image_url_breaks_migration;
pub mod query_runner_not_registered;
pub mod queue_of_data_source_not_consumed;
pub mod schema_drift;
pub mod secret_key_cannot_decrypt;
pub mod table_rewrite_size;
pub mod user_details_will_be_lost;
pub mod widget_position_not_integer;

use super::database::name_rows;
use super::{CannotRun, HopContext, Report};

/// Whether the live database has `table.column`.
pub(super) fn has_column(hop: &HopContext<'_>, table: &str, column: &str) -> bool {
    hop.database.is_some_and(|database| {
        database
            .detection()
            .catalog
            .table(table)
            .is_some_and(|found| found.column(column).is_some())
    })
}

/// The live type of `table.column` (`text`, `jsonb`, ...).
pub(super) fn column_type<'a>(hop: &HopContext<'a>, table: &str, column: &str) -> Option<&'a str> {
    let database = hop.database?;
    database
        .detection()
        .catalog
        .table(table)?
        .column(column)
        .map(|column| column.sql_type.as_str())
}

/// Runs `sql` (one column: the offending rows' ids) and, when it finds rows, one report naming
/// them after `message`.
pub(super) fn rows_report(
    hop: &HopContext<'_>,
    what: &str,
    sql: &str,
    message: &str,
    help: &str,
) -> Result<Vec<Report>, CannotRun> {
    let database = hop
        .database
        .expect("database checks apply only with a database");
    let ids: Vec<i64> = database
        .query(what, sql, &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Report {
        severity: None,
        message: format!("{message}: {}", name_rows(&ids, ids.len())),
        location: None,
        help: help.to_owned(),
    }])
}
