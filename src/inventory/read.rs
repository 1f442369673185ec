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

fn read_error(what: &str) -> impl Fn(sqlx::Error) -> CannotRun + '_ {
    move |error| CannotRun(format!("{what}: {}", crate::db::describe(&error)))
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
        let get = read_error(what);
        queries.push(RawQuery {
            id: row.try_get(0).map_err(&get)?,
            org_id: row.try_get(1).map_err(&get)?,
            org_slug: row.try_get(2).map_err(&get)?,
            name: row
                .try_get::<Option<String>, _>(3)
                .map_err(&get)?
                .unwrap_or_default(),
            owner_id: row.try_get(4).map_err(&get)?,
            owner_name: row.try_get(5).map_err(&get)?,
            owner_disabled: row
                .try_get::<Option<bool>, _>(6)
                .map_err(&get)?
                .unwrap_or(false),
            owner_gone: row.try_get(7).map_err(&get)?,
            data_source_id: row.try_get(8).map_err(&get)?,
            data_source_name: row.try_get(9).map_err(&get)?,
            data_source_type: row.try_get(10).map_err(&get)?,
            created_at: row
                .try_get::<Option<i64>, _>(11)
                .map_err(&get)?
                .unwrap_or(0),
            updated_at: row
                .try_get::<Option<String>, _>(12)
                .map_err(&get)?
                .unwrap_or_default(),
            version: row
                .try_get::<Option<i64>, _>(13)
                .map_err(&get)?
                .unwrap_or(0),
            is_archived: row
                .try_get::<Option<bool>, _>(14)
                .map_err(&get)?
                .unwrap_or(false),
            is_draft: row
                .try_get::<Option<bool>, _>(15)
                .map_err(&get)?
                .unwrap_or(false),
            schedule: row.try_get(16).map_err(&get)?,
            schedule_failures: row
                .try_get::<Option<i64>, _>(17)
                .map_err(&get)?
                .unwrap_or(0),
            tags: row
                .try_get::<Option<Vec<String>>, _>(18)
                .map_err(&get)?
                .unwrap_or_default(),
            last_result_at: row.try_get(19).map_err(&get)?,
            updated_epoch: row.try_get(20).map_err(&get)?,
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
        let get = read_error(what);
        dashboards.push(RawDashboard {
            id: row.try_get(0).map_err(&get)?,
            org_id: row.try_get(1).map_err(&get)?,
            slug: row
                .try_get::<Option<String>, _>(2)
                .map_err(&get)?
                .unwrap_or_default(),
            name: row
                .try_get::<Option<String>, _>(3)
                .map_err(&get)?
                .unwrap_or_default(),
            is_archived: row
                .try_get::<Option<bool>, _>(4)
                .map_err(&get)?
                .unwrap_or(false),
            is_draft: row
                .try_get::<Option<bool>, _>(5)
                .map_err(&get)?
                .unwrap_or(false),
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
        let get = read_error(what);
        alerts.push(RawAlert {
            id: row.try_get(0).map_err(&get)?,
            org_id: row.try_get(1).map_err(&get)?,
            name: row
                .try_get::<Option<String>, _>(2)
                .map_err(&get)?
                .unwrap_or_default(),
            query_id: row.try_get(3).map_err(&get)?,
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
        let get = read_error(what);
        data_sources.push(RawDataSource {
            id: row.try_get(0).map_err(&get)?,
            org_id: row.try_get(1).map_err(&get)?,
            name: row
                .try_get::<Option<String>, _>(2)
                .map_err(&get)?
                .unwrap_or_default(),
            r#type: row
                .try_get::<Option<String>, _>(3)
                .map_err(&get)?
                .unwrap_or_default(),
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
        let get = read_error(what);
        let dashboard: i64 = row.try_get(0).map_err(&get)?;
        *widget_counts.entry(dashboard).or_insert(0) += 1;
        if let Some(query) = row.try_get::<Option<i64>, _>(1).map_err(&get)? {
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
        let get = read_error(what);
        let kind: String = row.try_get(0).map_err(&get)?;
        let id: i64 = row.try_get(1).map_err(&get)?;
        let activity = Activity {
            viewed: row.try_get(2).map_err(&get)?,
            executed: row.try_get(3).map_err(&get)?,
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
