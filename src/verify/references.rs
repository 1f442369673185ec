//! The references Redash follows when it shows a user's work (a widget's visualization, its
//! query, the query's data source, every object's organisation, an alert subscription's
//! destination), and the values the hops transformed, read in the live database.

use std::sync::Arc;

use serde::Serialize;
use sqlx::Row as _;

use super::compare::ValueNote;
use crate::checks::LiveDatabase;
use crate::db::introspect::Catalog;
use crate::db::quote_ident;
use crate::fernet::FernetKey;
use crate::knowledge::model::{DataEffect, Revision, RewriteRule};
use crate::snapshot::content::decode_bytea;
use crate::snapshot::SnapshotError;

/// Ids named per broken reference; the count is complete.
const IDS_SHOWN: i64 = 20;

/// (table, column, referenced table): each followed by `id`. A NULL reference is not broken.
const REFERENCES: &[(&str, &str, &str)] = &[
    ("widgets", "visualization_id", "visualizations"),
    ("widgets", "dashboard_id", "dashboards"),
    ("visualizations", "query_id", "queries"),
    ("queries", "data_source_id", "data_sources"),
    ("queries", "user_id", "users"),
    ("queries", "org_id", "organizations"),
    ("queries", "latest_query_data_id", "query_results"),
    ("dashboards", "user_id", "users"),
    ("dashboards", "org_id", "organizations"),
    ("users", "org_id", "organizations"),
    ("groups", "org_id", "organizations"),
    ("data_sources", "org_id", "organizations"),
    ("data_source_groups", "data_source_id", "data_sources"),
    ("data_source_groups", "group_id", "groups"),
    ("alerts", "query_id", "queries"),
    ("alerts", "user_id", "users"),
    ("alert_subscriptions", "alert_id", "alerts"),
    ("alert_subscriptions", "user_id", "users"),
    (
        "alert_subscriptions",
        "destination_id",
        "notification_destinations",
    ),
    ("notification_destinations", "org_id", "organizations"),
    ("notification_destinations", "user_id", "users"),
    ("query_snippets", "org_id", "organizations"),
    ("favorites", "user_id", "users"),
    ("favorites", "org_id", "organizations"),
    ("api_keys", "org_id", "organizations"),
    ("access_permissions", "grantee_id", "users"),
];

#[derive(Debug, Clone, Serialize)]
pub struct BrokenReference {
    pub table: String,
    pub column: String,
    pub references: String,
    /// Ids of the rows whose reference leads nowhere (first 20).
    pub ids: Vec<i64>,
    pub count: i64,
}

/// Every reference of [`REFERENCES`] whose tables and columns the database has.
pub async fn check(
    database: &LiveDatabase,
    catalog: &Catalog,
) -> Result<Vec<BrokenReference>, SnapshotError> {
    let mut broken = Vec::new();
    for &(table, column, target) in REFERENCES {
        let present = catalog
            .table(table)
            .is_some_and(|found| found.column(column).is_some() && found.column("id").is_some())
            && catalog
                .table(target)
                .is_some_and(|found| found.column("id").is_some());
        if !present {
            continue;
        }
        let sql = format!(
            "SELECT count(*) OVER (), child.id::bigint FROM {child} child \
             WHERE child.{col} IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM {parent} parent WHERE parent.id = child.{col}) \
             ORDER BY child.id LIMIT {IDS_SHOWN}",
            child = quote_ident(table),
            col = quote_ident(column),
            parent = quote_ident(target),
        );
        let rows = database
            .fetch_all(
                &format!("follow {table}.{column}"),
                sqlx::query(sqlx::AssertSqlSafe(sql)),
            )
            .await?;
        if let Some(first) = rows.first() {
            broken.push(BrokenReference {
                table: table.to_owned(),
                column: column.to_owned(),
                references: target.to_owned(),
                count: first.get(0),
                ids: rows.iter().map(|row| row.get(1)).collect(),
            });
        }
    }
    Ok(broken)
}

/// Values the migrations in between transformed, checked in the form the new release reads:
/// schedules as JSON objects with known fields, converted columns now JSON, and encrypted
/// columns that the given key decrypts.
pub async fn transformed_values(
    database: &LiveDatabase,
    catalog: &Catalog,
    between: &[&Revision],
    key: Option<Arc<FernetKey>>,
) -> Result<Vec<ValueNote>, SnapshotError> {
    let effects: Vec<&DataEffect> = between
        .iter()
        .flat_map(|revision| revision.data_effects.iter())
        .collect();
    let mut notes = Vec::new();
    let schedule_rewritten = effects.iter().any(|effect| {
        matches!(effect, DataEffect::Rewritten { table, column, rule: RewriteRule::ScheduleToJson | RewriteRule::EmptyScheduleToNull, .. }
            if table == "queries" && column == "schedule")
    });
    if schedule_rewritten
        && catalog
            .table("queries")
            .is_some_and(|t| t.column("schedule").is_some())
    {
        let ids = database
            .ids_where(
                "check schedules",
                "SELECT id, schedule::text FROM queries",
                "queries",
                |text| !is_schedule_object(text),
            )
            .await?;
        if !ids.is_empty() {
            notes.push(note(
                "queries",
                "schedule",
                "not a schedule object (interval, until, day_of_week, time) the new release reads",
                ids,
            ));
        }
    }
    for effect in &effects {
        if let DataEffect::Retyped {
            table, column, to, ..
        } = effect
        {
            if let Some(found) = catalog.table(table).and_then(|found| found.column(column)) {
                if &found.sql_type != to {
                    notes.push(ValueNote {
                        table: table.clone(),
                        column: column.clone(),
                        problem: format!(
                            "is {}, the migrations in between make it {to}",
                            found.sql_type
                        ),
                        keys: Vec::new(),
                        count: 0,
                    });
                }
            }
        }
    }
    if let Some(key) = key {
        for table in ["data_sources", "notification_destinations"] {
            if catalog
                .table(table)
                .is_none_or(|found| found.column("encrypted_options").is_none())
            {
                continue;
            }
            let key = key.clone();
            let ids = database
                .ids_where(
                    &format!("decrypt {table}"),
                    &format!("SELECT id, encrypted_options FROM {table}"),
                    table,
                    move |text| {
                        decode_bytea(text)
                            .map(|token| key.decrypt(&token).is_err())
                            .unwrap_or(true)
                    },
                )
                .await?;
            if !ids.is_empty() {
                notes.push(note(
                    table,
                    "encrypted_options",
                    "cannot be decrypted with the key given (--secret-key-env)",
                    ids,
                ));
            }
        }
    }
    Ok(notes)
}

fn note(table: &str, column: &str, problem: &str, ids: Vec<i64>) -> ValueNote {
    ValueNote {
        table: table.to_owned(),
        column: column.to_owned(),
        problem: problem.to_owned(),
        count: ids.len(),
        keys: ids
            .iter()
            .take(IDS_SHOWN as usize)
            .map(i64::to_string)
            .collect(),
    }
}

/// A schedule as 7.0.0 and later read it: an object whose fields are among `interval`,
/// `until`, `day_of_week` and `time`.
fn is_schedule_object(text: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .keys()
            .all(|key| matches!(key.as_str(), "interval" | "until" | "day_of_week" | "time")),
        _ => false,
    }
}
