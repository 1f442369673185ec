//! Checks of the live metadata database: data a hop's migrations fail on, or lose or mangle, and
//! what the migrations need from the server. They run only with a database to read.

pub mod alembic_stamp_problem;
pub mod alert_options_not_object;
pub mod column_has_dependent_view;
pub mod converted_column_has_default;
pub mod database_encoding_not_utf8;
pub mod json_invalid_for_jsonb;
mod jsonb;
pub mod legacy_schedule_unconvertible;
mod live;
mod migrated_columns;
pub mod migration_privileges_missing;
pub mod options_not_json;
pub mod postgres_version_too_old;
pub mod profile_image_url_breaks_migration;
pub mod python_queries_need_review;
pub mod query_options_break_rehash;
pub mod query_runner_not_registered;
pub mod query_text_breaks_rehash;
pub mod queue_of_data_source_not_consumed;
pub mod row_unloadable_after_25_1;
pub mod runner_unusable_on_platform;
pub mod schedule_unreadable;
pub mod schema_drift;
pub mod secret_key_cannot_decrypt;
pub mod table_rewrite_size;
pub mod user_details_will_be_lost;
pub mod widget_position_not_integer;

pub use live::{
    copy_field, copy_fields, copy_id, name_rows, LiveDatabase, NamedRows, Scan, Scanned, SecretKey,
};

use sqlx::Row as _;

use super::{CannotRun, Report};

/// Whether PostgreSQL's jsonb input accepts `text` (the rule `json-invalid-for-jsonb` applies).
pub fn jsonb_accepts(text: &[u8]) -> bool {
    jsonb::check_jsonb(text).is_ok()
}

/// Runs `select` (one column: the offending rows' ids) and, when it finds rows, one report
/// naming them after `message`; `noted` (code, table) records them for per-row reports.
pub(super) async fn rows_report(
    database: &LiveDatabase,
    noted: Option<(&'static str, &'static str)>,
    what: &str,
    select: &'static str,
    message: &str,
    help: &str,
) -> Result<Vec<Report>, CannotRun> {
    let ids: Vec<i64> = database
        .fetch_all(what, sqlx::query(select))
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if let Some((code, table)) = noted {
        database.note_rows(code, table, &ids);
    }
    Ok(vec![Report {
        severity: None,
        effect: None,
        message: format!("{message}: {}", name_rows(&ids, ids.len())),
        location: None,
        help: help.to_owned(),
    }])
}
