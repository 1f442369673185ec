//! Usage history with a weekly rhythm, added to an already-loaded fixture database: the
//! generated `events` are spread evenly over two years, which is no way to find a quiet hour.
//!
//! For the weeks before an instant, each org gets office-hours activity in its time zone (busy
//! on weekdays 09-18 local, some in the evening, one event an hour at night, little at
//! weekends), recorded as Redash records it (`view`/`execute` of queries, `view` of dashboards,
//! `login`), by its enabled users on its own queries and dashboards, and a planted quiet period,
//! [`QUIET_DAY`] [`QUIET_HOURS`] local, with no event at all. Scheduled queries get the results
//! their schedule produces in the last week (older unused results are what Redash's cleanup
//! removes). Deterministic: the same spec gives the same rows. An extra step: the fixtures
//! themselves do not change.

use sqlx::Row as _;

use super::rng::Rng;
use super::{Client, TestbedError};
use crate::window::schedule::{self, Schedule};

/// The planted quiet period: Sunday (0 = Monday), 01:00 to 05:00 local, no event at all.
pub const QUIET_DAY: i64 = 6;
pub const QUIET_HOURS: std::ops::Range<i64> = 1..5;

/// What to add.
#[derive(Debug, Clone)]
pub struct UsageHistory {
    pub weeks: u32,
    /// The end of the history, as PostgreSQL reads a `timestamptz` (2026-11-30T00:00:00Z).
    pub as_of: String,
    /// The time zone of every org not in `org_timezones`.
    pub timezone: String,
    /// (org slug, time zone) for orgs elsewhere.
    pub org_timezones: Vec<(String, String)>,
    pub seed: u64,
}

impl UsageHistory {
    /// Every org in `timezone` but the second fixture org, `acme-eu`, in America/New_York.
    pub fn new(weeks: u32, as_of: &str, timezone: &str) -> UsageHistory {
        UsageHistory {
            weeks,
            as_of: as_of.to_owned(),
            timezone: timezone.to_owned(),
            org_timezones: vec![("acme-eu".to_owned(), "America/New_York".to_owned())],
            seed: 0x5EDA_0005_A6E0_0001,
        }
    }
}

/// What was added, for tests to compute what they expect.
#[derive(Debug, Clone)]
pub struct UsageSummary {
    /// `as_of` in seconds since the epoch.
    pub as_of: i64,
    pub orgs: Vec<OrgUsage>,
    pub query_results: u64,
}

#[derive(Debug, Clone)]
pub struct OrgUsage {
    pub org_id: i64,
    pub slug: String,
    pub timezone: String,
    pub events: Vec<PlantedEvent>,
}

#[derive(Debug, Clone)]
pub struct PlantedEvent {
    /// Local wall-clock time, seconds since 1970-01-01 00:00 local.
    pub local: i64,
    pub user_id: i64,
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: Option<i64>,
}

impl PlantedEvent {
    /// 0 = Monday.
    pub fn weekday(&self) -> i64 {
        (self.local.div_euclid(86_400) + 3).rem_euclid(7)
    }
    pub fn hour(&self) -> i64 {
        self.local.rem_euclid(86_400) / 3600
    }
}

/// Events in one local hour: the weekly rhythm.
fn events_in_hour(weekday: i64, hour: i64, rng: &mut Rng) -> u64 {
    let weekend = weekday >= 5;
    if weekday == QUIET_DAY && QUIET_HOURS.contains(&hour) {
        return 0;
    }
    match (weekend, hour) {
        (false, 9..=17) => 6 + rng.below(7),
        (false, 7..=8 | 18..=21) => 1 + rng.below(3),
        (true, 10..=17) => 1 + rng.below(2),
        // Night: one event an hour, so every hour but the planted ones has some.
        _ => 1,
    }
}

pub fn add_usage_history(
    client: &mut Client,
    spec: &UsageHistory,
) -> Result<UsageSummary, TestbedError> {
    let mut rng = Rng::new(spec.seed);
    let as_of: i64 = client
        .fetch_one(
            sqlx::query("SELECT floor(EXTRACT(EPOCH FROM $1::text::timestamptz))::bigint")
                .bind(&spec.as_of),
        )?
        .get(0);
    let has_disabled = has_column(client, "users", "disabled_at")?;
    let properties_type = column_type(client, "events", "additional_properties")?;
    let orgs: Vec<(i64, String)> = client
        .fetch_all(sqlx::query(
            "SELECT id::bigint, slug::text FROM organizations ORDER BY id",
        ))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    // Whole local days that fall inside the range whatever the zone's offset (at most 14 h).
    let first_day = (as_of - i64::from(spec.weeks) * 7 * 86_400).div_euclid(86_400) + 1;
    let last_day = as_of.div_euclid(86_400) - 1;
    let mut summary = UsageSummary {
        as_of,
        orgs: Vec::new(),
        query_results: 0,
    };
    for (org_id, slug) in orgs {
        let timezone = spec
            .org_timezones
            .iter()
            .find(|(org, _)| *org == slug)
            .map_or(spec.timezone.clone(), |(_, zone)| zone.clone());
        let users = ids(
            client,
            &format!(
                "SELECT id::bigint FROM users WHERE org_id = {org_id}{} ORDER BY id",
                if has_disabled {
                    " AND disabled_at IS NULL"
                } else {
                    ""
                }
            ),
        )?;
        let queries = ids(
            client,
            &format!("SELECT id::bigint FROM queries WHERE org_id = {org_id} AND NOT is_archived ORDER BY id"),
        )?;
        let dashboards = ids(
            client,
            &format!("SELECT id::bigint FROM dashboards WHERE org_id = {org_id} AND NOT is_archived ORDER BY id"),
        )?;
        if users.is_empty() || queries.is_empty() || dashboards.is_empty() {
            continue;
        }
        let mut events = Vec::new();
        for day in first_day..last_day {
            let weekday = (day + 3).rem_euclid(7);
            for hour in 0..24 {
                for _ in 0..events_in_hour(weekday, hour, &mut rng) {
                    let local = day * 86_400 + hour * 3600 + rng.below(3600) as i64;
                    let roll = rng.below(100);
                    let (action, object_type, object_id) = match roll {
                        0..=39 => ("view", "query", Some(*rng.pick(&queries))),
                        40..=59 => ("execute", "query", Some(*rng.pick(&queries))),
                        60..=89 => ("view", "dashboard", Some(*rng.pick(&dashboards))),
                        _ => ("login", "redash", None),
                    };
                    events.push(PlantedEvent {
                        local,
                        user_id: *rng.pick(&users),
                        action,
                        object_type,
                        object_id,
                    });
                }
            }
        }
        insert_events(client, org_id, &timezone, &properties_type, &events)?;
        summary.orgs.push(OrgUsage {
            org_id,
            slug,
            timezone,
            events,
        });
    }
    summary.query_results = scheduled_results(client, as_of)?;
    Ok(summary)
}

fn insert_events(
    client: &mut Client,
    org_id: i64,
    timezone: &str,
    properties_type: &str,
    events: &[PlantedEvent],
) -> Result<(), TestbedError> {
    let users: Vec<i64> = events.iter().map(|event| event.user_id).collect();
    let actions: Vec<&str> = events.iter().map(|event| event.action).collect();
    let types: Vec<&str> = events.iter().map(|event| event.object_type).collect();
    let objects: Vec<Option<String>> = events
        .iter()
        .map(|event| event.object_id.map(|id| id.to_string()))
        .collect();
    let locals: Vec<i64> = events.iter().map(|event| event.local).collect();
    let sql = format!(
        "INSERT INTO events (org_id, user_id, action, object_type, object_id, additional_properties, created_at) \
         SELECT $1, u, a, t, o, '{{\"user_agent\": \"Mozilla/5.0 (X11; Linux x86_64)\"}}'::{properties_type}, \
         (to_timestamp(l) AT TIME ZONE 'UTC') AT TIME ZONE $7 \
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS x(u, a, t, o, l)"
    );
    client.fetch_all(
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id as i32)
            .bind(users)
            .bind(actions)
            .bind(types)
            .bind(objects)
            .bind(locals)
            .bind(timezone),
    )?;
    Ok(())
}

/// A result for every run of every scheduled query in the last 7 days before `as_of`, at the
/// times its schedule gives (intervals phased by the query's id). Returns how many.
fn scheduled_results(client: &mut Client, as_of: i64) -> Result<u64, TestbedError> {
    let data_type = column_type(client, "query_results", "data")?;
    let start = as_of - 7 * 86_400;
    let (year, month, day) = crate::plan::civil_from_days(as_of.div_euclid(86_400));
    let as_of_date = format!("{year:04}-{month:02}-{day:02}");
    let rows = client.fetch_all(sqlx::query(
        "SELECT id::bigint, schedule::text FROM queries \
         WHERE schedule IS NOT NULL AND NOT is_archived AND data_source_id IS NOT NULL ORDER BY id",
    ))?;
    let mut total = 0u64;
    for row in rows {
        let id: i64 = row.get(0);
        let text: String = row.get(1);
        let Some(parsed) = schedule::parse(&text, &as_of_date) else {
            continue;
        };
        let (first, step) = match parsed {
            Schedule::Every { seconds } => (start + (id * 97).rem_euclid(seconds), seconds),
            Schedule::At {
                minute,
                days,
                weekday,
            } => {
                let mut first = start.div_euclid(86_400) * 86_400 + minute * 60;
                while first < start
                    || weekday
                        .is_some_and(|day| (first.div_euclid(86_400) + 3).rem_euclid(7) != day)
                {
                    first += 86_400;
                }
                let step = if weekday.is_some() { days.max(7) } else { days };
                (first, step * 86_400)
            }
        };
        if first >= as_of {
            continue;
        }
        let sql = format!(
            "INSERT INTO query_results (org_id, data_source_id, query_hash, query, data, runtime, retrieved_at) \
             SELECT q.org_id, q.data_source_id, q.query_hash, q.query, \
             '{{\"columns\": [], \"rows\": []}}'::{data_type}, 0.5, to_timestamp(t) \
             FROM queries q, generate_series($2::bigint, $3::bigint - 1, $4::bigint) AS t WHERE q.id = $1"
        );
        client.fetch_all(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id as i32)
                .bind(first)
                .bind(as_of)
                .bind(step),
        )?;
        total += ((as_of - 1 - first) / step + 1) as u64;
    }
    Ok(total)
}

fn ids(client: &mut Client, sql: &str) -> Result<Vec<i64>, TestbedError> {
    Ok(client
        .fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())))?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

fn has_column(client: &mut Client, table: &str, column: &str) -> Result<bool, TestbedError> {
    Ok(!column_type(client, table, column)?.is_empty())
}

/// The column's type as SQL writes it (`text`, `json`), empty when there is no such column.
fn column_type(client: &mut Client, table: &str, column: &str) -> Result<String, TestbedError> {
    let rows = client.fetch_all(
        sqlx::query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
        )
        .bind(table)
        .bind(column),
    )?;
    Ok(rows.first().map(|row| row.get(0)).unwrap_or_default())
}
