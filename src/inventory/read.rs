//! The statements `inventory` runs, in the checks' read-only transaction. Columns a release does
//! not have yet are read as their default (no tags before 5.0.0, and so on), so one statement
//! per table serves every era.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row as _};

use crate::checks::{CannotRun, LiveDatabase};

pub struct RawQuery {
    pub id: i64,
    pub org_id: i64,
    pub org_slug: String,
    pub name: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub owner_disabled: bool,
    pub owner_gone: bool,
    pub data_source_id: Option<i64>,
    pub data_source_name: Option<String>,
    pub data_source_type: Option<String>,
    pub created_at: i64,
    pub updated_at: String,
    pub version: i64,
    pub is_archived: bool,
    pub is_draft: bool,
    pub schedule: Option<String>,
    pub schedule_failures: i64,
    pub tags: Vec<String>,
    pub last_result_at: Option<i64>,
    pub updated_epoch: Option<i64>,
}

pub struct RawDashboard {
    pub id: i64,
    pub org_id: i64,
    pub slug: String,
    pub name: String,
    pub is_archived: bool,
    pub is_draft: bool,
}

pub struct RawAlert {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub query_id: i64,
}

pub struct RawDataSource {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub r#type: String,
}

/// The last `view` and `execute` of one object by a person.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    pub viewed: Option<i64>,
    pub executed: Option<i64>,
}

pub struct Rows {
    pub queries: Vec<RawQuery>,
    pub dashboards: Vec<RawDashboard>,
    pub alerts: Vec<RawAlert>,
    pub data_sources: Vec<RawDataSource>,
    /// (query id, dashboard id) for every widget showing a query's visualization.
    pub widgets: Vec<(i64, i64)>,
    /// Widgets per dashboard (text widgets included).
    pub widget_counts: BTreeMap<i64, i64>,
    pub query_activity: BTreeMap<i64, Activity>,
    pub dashboard_activity: BTreeMap<i64, Activity>,
}

fn column_or(
    database: &LiveDatabase,
    table: &str,
    column: &str,
    present: &str,
    absent: &str,
) -> String {
    if database.has_column(table, column) {
        present.to_owned()
    } else {
        absent.to_owned()
    }
}

/// The columns of one row, read with the statement's name in any error.
struct Cells<'r> {
    row: &'r sqlx::postgres::PgRow,
    what: &'r str,
}

impl Cells<'_> {
    fn get<T>(&self, index: usize) -> Result<T, CannotRun>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row
            .try_get(index)
            .map_err(|error| CannotRun(format!("{}: {}", self.what, crate::db::describe(&error))))
    }

    /// A text column, empty for NULL.
    fn text(&self, index: usize) -> Result<String, CannotRun> {
        Ok(self.get::<Option<String>>(index)?.unwrap_or_default())
    }

    /// A boolean column, false for NULL.
    fn flag(&self, index: usize) -> Result<bool, CannotRun> {
        Ok(self.get::<Option<bool>>(index)?.unwrap_or(false))
    }

    /// A number column, 0 for NULL.
    fn number(&self, index: usize) -> Result<i64, CannotRun> {
        Ok(self.get::<Option<i64>>(index)?.unwrap_or(0))
    }
}

pub async fn read(database: &LiveDatabase) -> Result<Rows, CannotRun> {
    let disabled = column_or(
        database,
        "users",
        "disabled_at",
        "u.disabled_at IS NOT NULL",
        "false",
    );
    let draft = column_or(database, "queries", "is_draft", "q.is_draft", "false");
    let failures = column_or(
        database,
        "queries",
        "schedule_failures",
        "q.schedule_failures::bigint",
        "0::bigint",
    );
    let tags = column_or(
        database,
        "queries",
        "tags",
        "coalesce(q.tags, '{}')::text[]",
        "'{}'::text[]",
    );
    let updated_at = crate::archive::csv::UPDATED_AT_SQL.replace("updated_at", "q.updated_at");
    let statement = format!(
        "SELECT q.id::bigint, q.org_id::bigint, o.slug::text, q.name::text, u.id::bigint, u.name::text, \
                {disabled}, (q.user_id IS NOT NULL AND u.id IS NULL), \
                q.data_source_id::bigint, ds.name::text, ds.type::text, \
                extract(epoch FROM q.created_at)::bigint, {updated_at}, q.version::bigint, \
                q.is_archived, {draft}, q.schedule::text, {failures}, {tags}, \
                extract(epoch FROM qr.retrieved_at)::bigint, \
                extract(epoch FROM q.updated_at)::bigint \
           FROM queries q \
           JOIN organizations o ON o.id = q.org_id \
           LEFT JOIN users u ON u.id = q.user_id \
           LEFT JOIN data_sources ds ON ds.id = q.data_source_id \
           LEFT JOIN query_results qr ON qr.id = q.latest_query_data_id \
          ORDER BY q.id"
    );
    let what = "read queries";
    let rows = database
        .fetch_all(what, sqlx::query(AssertSqlSafe(statement)))
        .await?;
    let mut queries = Vec::with_capacity(rows.len());
    for row in &rows {
        let cells = Cells { row, what };
        queries.push(RawQuery {
            id: cells.get(0)?,
            org_id: cells.get(1)?,
            org_slug: cells.get(2)?,
            name: cells.text(3)?,
            owner_id: cells.get(4)?,
            owner_name: cells.get(5)?,
            owner_disabled: cells.flag(6)?,
            owner_gone: cells.get(7)?,
            data_source_id: cells.get(8)?,
            data_source_name: cells.get(9)?,
            data_source_type: cells.get(10)?,
            created_at: cells.number(11)?,
            updated_at: cells.text(12)?,
            version: cells.number(13)?,
            is_archived: cells.flag(14)?,
            is_draft: cells.flag(15)?,
            schedule: cells.get(16)?,
            schedule_failures: cells.number(17)?,
            tags: cells.get::<Option<Vec<String>>>(18)?.unwrap_or_default(),
            last_result_at: cells.get(19)?,
            updated_epoch: cells.get(20)?,
        });
    }

    let dashboard_draft = column_or(database, "dashboards", "is_draft", "d.is_draft", "false");
    let statement = format!(
        "SELECT d.id::bigint, d.org_id::bigint, d.slug::text, d.name::text, d.is_archived, \
                {dashboard_draft} FROM dashboards d ORDER BY d.id"
    );
    let what = "read dashboards";
    let mut dashboards = Vec::new();
    for row in database
        .fetch_all(what, sqlx::query(AssertSqlSafe(statement)))
        .await?
    {
        let cells = Cells { row: &row, what };
        dashboards.push(RawDashboard {
            id: cells.get(0)?,
            org_id: cells.get(1)?,
            slug: cells.text(2)?,
            name: cells.text(3)?,
            is_archived: cells.flag(4)?,
            is_draft: cells.flag(5)?,
        });
    }

    let what = "read alerts";
    let mut alerts = Vec::new();
    for row in database
        .fetch_all(
            what,
            sqlx::query(
                "SELECT a.id::bigint, q.org_id::bigint, a.name::text, a.query_id::bigint \
                   FROM alerts a JOIN queries q ON q.id = a.query_id ORDER BY a.id",
            ),
        )
        .await?
    {
        let cells = Cells { row: &row, what };
        alerts.push(RawAlert {
            id: cells.get(0)?,
            org_id: cells.get(1)?,
            name: cells.text(2)?,
            query_id: cells.get(3)?,
        });
    }

    let what = "read data sources";
    let mut data_sources = Vec::new();
    for row in database
        .fetch_all(
            what,
            sqlx::query(
                "SELECT id::bigint, org_id::bigint, name::text, type::text FROM data_sources \
                  ORDER BY id",
            ),
        )
        .await?
    {
        let cells = Cells { row: &row, what };
        data_sources.push(RawDataSource {
            id: cells.get(0)?,
            org_id: cells.get(1)?,
            name: cells.text(2)?,
            r#type: cells.text(3)?,
        });
    }

    let what = "read widgets";
    let mut widgets = Vec::new();
    let mut widget_counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in database
        .fetch_all(
            what,
            sqlx::query(
                "SELECT w.dashboard_id::bigint, v.query_id::bigint FROM widgets w \
                   LEFT JOIN visualizations v ON v.id = w.visualization_id",
            ),
        )
        .await?
    {
        let cells = Cells { row: &row, what };
        let dashboard: i64 = cells.get(0)?;
        *widget_counts.entry(dashboard).or_insert(0) += 1;
        if let Some(query) = cells.get::<Option<i64>>(1)? {
            widgets.push((query, dashboard));
        }
    }
    widgets.sort_unstable();
    widgets.dedup();

    // One pass over events: the last view and run of every query and dashboard by a person.
    let what = "read events";
    let mut query_activity: BTreeMap<i64, Activity> = BTreeMap::new();
    let mut dashboard_activity: BTreeMap<i64, Activity> = BTreeMap::new();
    for row in database
        .fetch_all(
            what,
            sqlx::query(
                "SELECT object_type::text, object_id::bigint, \
                        extract(epoch FROM max(created_at) FILTER (WHERE action = 'view'))::bigint, \
                        extract(epoch FROM max(created_at) FILTER (WHERE action = 'execute'))::bigint \
                   FROM events \
                  WHERE object_type IN ('query', 'dashboard') AND action IN ('view', 'execute') \
                    AND object_id ~ '^[0-9]{1,18}$' \
                  GROUP BY object_type, object_id",
            ),
        )
        .await?
    {
        let cells = Cells { row: &row, what };
        let kind: String = cells.get(0)?;
        let id: i64 = cells.get(1)?;
        let activity = Activity {
            viewed: cells.get(2)?,
            executed: cells.get(3)?,
        };
        let map = if kind == "query" {
            &mut query_activity
        } else {
            &mut dashboard_activity
        };
        let entry = map.entry(id).or_default();
        entry.viewed = entry.viewed.max(activity.viewed);
        entry.executed = entry.executed.max(activity.executed);
    }
    Ok(Rows {
        queries,
        dashboards,
        alerts,
        data_sources,
        widgets,
        widget_counts,
        query_activity,
        dashboard_activity,
    })
}
