//! `window`: when to take the downtime. Reads, in one read-only transaction, who used Redash
//! when (`events`), what the scheduler ran when (`query_results.retrieved_at`) and what is
//! scheduled (`queries.schedule`, alerts on those queries) over the weeks before an instant,
//! by weekday and hour in a time zone, per org and for all orgs; ranks the quietest windows of
//! the hop's length and says what each would interrupt, and whether the hop fits in it.

pub mod render;
pub mod schedule;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use sqlx::Row as _;

use crate::db::{DatabaseUrl, DbError, ReadOnlySession, Timeouts};
use crate::report::Progress;

/// Days of the week in the order every grid uses (ISO: Monday first).
pub const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEK_HOURS: i64 = 168;
/// Windows ranked per org.
const WINDOWS_SHOWN: usize = 3;
/// The hop's length when no rehearsal measured it: a fixed allowance, said to be one.
pub const ESTIMATE_SECONDS: f64 = 30.0 * 60.0;
/// 1970-01-05, the first Monday of the epoch: local hours are counted from it.
const FIRST_MONDAY_SECONDS: i64 = 4 * 86_400;

pub struct WindowRequest {
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    pub timezone: String,
    pub hours: u32,
    pub weeks: u32,
    /// An instant PostgreSQL reads as `timestamptz`; now when absent.
    pub as_of: Option<String>,
    pub rehearsal: Option<PathBuf>,
    pub progress: Progress,
}

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("--tz {0}: not a time zone the database knows (an IANA name such as Asia/Tokyo, Europe/Berlin or UTC)")]
    UnknownTimezone(String),
    #[error("--as-of {0}: not a timestamp (write it as 2026-11-30T00:00:00Z)")]
    AsOf(String),
    #[error("no events in the {weeks} weeks before {to} (from {from}): nothing to rank; {hint}")]
    NoEvents {
        weeks: u32,
        from: String,
        to: String,
        hint: String,
    },
    #[error("--rehearsal {path}: {why}")]
    Rehearsal { path: String, why: String },
    #[error("failed to write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A week of counts: 7 rows (Monday first) of 24 hours.
pub type Grid = [[u64; 24]; 7];

#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The database, its password masked.
    pub database: String,
    pub timezone: String,
    /// Local minus UTC at --as-of, used to place schedules' UTC times.
    pub utc_offset_seconds: i64,
    pub hours: u32,
    pub weeks: u32,
    pub from: String,
    pub to: String,
    pub duration: HopDuration,
    /// All orgs together first, then each org when there are several.
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// The org's slug; `None` for all orgs together.
    pub org: Option<String>,
    pub name: String,
    pub events: u64,
    /// Events per weekday and local hour.
    pub event_grid: Grid,
    /// Query results retrieved per weekday and local hour (the scheduler's and users' runs;
    /// Redash's cleanup keeps unused results about a week).
    pub query_result_grid: Grid,
    pub windows: Vec<QuietWindow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuietWindow {
    pub rank: usize,
    /// 0 = Monday.
    pub day: usize,
    pub hour: usize,
    pub hours: u32,
    /// `Sun 01:00-03:00`.
    pub label: String,
    pub events_per_week: f64,
    pub active_users_per_week: f64,
    pub query_results_per_week: f64,
    /// Queries whose schedule runs at least once in every such window.
    pub scheduled_queries_due: u64,
    /// Scheduled runs expected in the window per week, all schedules together.
    pub scheduled_runs_per_week: f64,
    /// Alerts on the queries due: each is evaluated after its query runs.
    pub alerts_evaluated: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HopDuration {
    pub seconds: f64,
    /// `rehearsal` or `estimate`.
    pub source: &'static str,
    /// Where the number comes from, in words.
    pub basis: String,
    pub fits: bool,
}

/// A scheduled query: its org, its schedule and the alerts on it.
struct Scheduled {
    org_id: i64,
    schedule: schedule::Schedule,
    alerts: u64,
}

/// What was read, before ranking.
struct Activity {
    /// (org, absolute local hour since the first Monday, user) -> events.
    events: BTreeMap<(i64, i64, Option<i64>), u64>,
    /// (org, hour of the week) -> query results.
    results: BTreeMap<(i64, i64), u64>,
}

pub async fn window(request: &WindowRequest) -> Result<WindowReport, WindowError> {
    let duration = hop_duration(request)?;
    let mut session = ReadOnlySession::open(&request.url, request.timeouts).await?;
    let result = read_and_rank(&mut session, request, duration).await;
    session.close().await;
    result
}

async fn read_and_rank(
    session: &mut ReadOnlySession,
    request: &WindowRequest,
    duration: HopDuration,
) -> Result<WindowReport, WindowError> {
    let known: i64 = session
        .fetch_one(
            "look the time zone up",
            sqlx::query("SELECT count(*) FROM pg_timezone_names WHERE name = $1")
                .bind(&request.timezone),
        )
        .await?
        .get(0);
    if known == 0 {
        return Err(WindowError::UnknownTimezone(request.timezone.clone()));
    }
    let to: i64 = match &request.as_of {
        Some(text) => session
            .fetch_one(
                "read --as-of",
                sqlx::query("SELECT floor(EXTRACT(EPOCH FROM $1::text::timestamptz))::bigint")
                    .bind(text),
            )
            .await
            .map_err(|_| WindowError::AsOf(text.clone()))?
            .get(0),
        None => session
            .fetch_one(
                "read the time",
                sqlx::query("SELECT floor(EXTRACT(EPOCH FROM now()))::bigint"),
            )
            .await?
            .get(0),
    };
    let from = to - i64::from(request.weeks) * 7 * 86_400;
    let row = session
        .fetch_one(
            "convert the range",
            sqlx::query(
                "SELECT to_char(to_timestamp($1) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 to_char(to_timestamp($2) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 EXTRACT(EPOCH FROM (to_timestamp($2) AT TIME ZONE $3) \
                 - (to_timestamp($2) AT TIME ZONE 'UTC'))::bigint",
            )
            .bind(from as f64)
            .bind(to as f64)
            .bind(&request.timezone),
        )
        .await?;
    let (from_text, to_text, offset): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    request.progress.log(&format!(
        "reading events and query results from {from_text} to {to_text} ({})",
        request.timezone
    ));

    let orgs: Vec<(i64, String, String)> = session
        .fetch_all(
            "read the orgs",
            sqlx::query("SELECT id::bigint, slug::text, name::text FROM organizations ORDER BY id"),
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();

    let mut activity = Activity {
        events: BTreeMap::new(),
        results: BTreeMap::new(),
    };
    // Grouped in the server: one row per org, local hour and user, however many events.
    let local_hour = |column: &str| {
        format!(
            "floor((EXTRACT(EPOCH FROM ({column} AT TIME ZONE $3)) - {FIRST_MONDAY_SECONDS}) / 3600)::bigint"
        )
    };
    let events_sql = format!(
        "SELECT org_id::bigint, {}, user_id::bigint, count(*)::bigint FROM events \
         WHERE created_at >= to_timestamp($1) AND created_at < to_timestamp($2) GROUP BY 1, 2, 3",
        local_hour("created_at")
    );
    for row in session
        .fetch_all(
            "read the events",
            sqlx::query(sqlx::AssertSqlSafe(events_sql))
                .bind(from as f64)
                .bind(to as f64)
                .bind(&request.timezone),
        )
        .await?
    {
        activity.events.insert(
            (row.get(0), row.get(1), row.get(2)),
            row.get::<i64, _>(3) as u64,
        );
    }
    if activity.events.is_empty() {
        let newest: Option<String> = session
            .fetch_one(
                "find the newest event",
                sqlx::query(
                    "SELECT to_char(max(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM events",
                ),
            )
            .await?
            .get(0);
        let hint = match newest {
            Some(at) => format!(
                "the newest event is at {at}: give --as-of a time after it (or more --weeks)"
            ),
            None => "the events table is empty (is this Redash's metadata database?)".to_owned(),
        };
        return Err(WindowError::NoEvents {
            weeks: request.weeks,
            from: from_text,
            to: to_text,
            hint,
        });
    }
    let results_sql = format!(
        "SELECT org_id::bigint, mod({}, {WEEK_HOURS}), count(*)::bigint FROM query_results \
         WHERE retrieved_at >= to_timestamp($1) AND retrieved_at < to_timestamp($2) GROUP BY 1, 2",
        local_hour("retrieved_at")
    );
    for row in session
        .fetch_all(
            "read when query results were retrieved",
            sqlx::query(sqlx::AssertSqlSafe(results_sql))
                .bind(from as f64)
                .bind(to as f64)
                .bind(&request.timezone),
        )
        .await?
    {
        activity
            .results
            .insert((row.get(0), row.get(1)), row.get::<i64, _>(2) as u64);
    }
    let as_of_date = &to_text[..10];
    let scheduled: Vec<Scheduled> = session
        .fetch_all(
            "read the schedules",
            sqlx::query(
                "SELECT q.org_id::bigint, q.schedule::text, \
                 (SELECT count(*) FROM alerts a WHERE a.query_id = q.id)::bigint \
                 FROM queries q WHERE q.schedule IS NOT NULL AND NOT q.is_archived",
            ),
        )
        .await?
        .iter()
        .filter_map(|row| {
            let text: String = row.get(1);
            Some(Scheduled {
                org_id: row.get(0),
                schedule: schedule::parse(&text, as_of_date)?,
                alerts: row.get::<i64, _>(2) as u64,
            })
        })
        .collect();

    let mut scopes = vec![scope(
        None,
        "All orgs".to_owned(),
        &activity,
        &scheduled,
        request,
        offset,
    )];
    if orgs.len() > 1 {
        for (id, slug, name) in &orgs {
            scopes.push(scope(
                Some((*id, slug.clone())),
                name.clone(),
                &activity,
                &scheduled,
                request,
                offset,
            ));
        }
    }
    Ok(WindowReport {
        kind: "window",
        database: request.url.redacted(),
        timezone: request.timezone.clone(),
        utc_offset_seconds: offset,
        hours: request.hours,
        weeks: request.weeks,
        from: from_text,
        to: to_text,
        duration,
        scopes,
    })
}

fn scope(
    org: Option<(i64, String)>,
    name: String,
    activity: &Activity,
    scheduled: &[Scheduled],
    request: &WindowRequest,
    offset_seconds: i64,
) -> Scope {
    let org_id = org.as_ref().map(|(id, _)| *id);
    let mine = |id: i64| org_id.is_none_or(|wanted| wanted == id);
    let mut event_grid: Grid = [[0; 24]; 7];
    let mut by_hour = [0u64; WEEK_HOURS as usize];
    for (&(org, hour, _), &count) in &activity.events {
        if mine(org) {
            by_hour[hour.rem_euclid(WEEK_HOURS) as usize] += count;
        }
    }
    let mut results_by_hour = [0u64; WEEK_HOURS as usize];
    for (&(org, hour), &count) in &activity.results {
        if mine(org) {
            results_by_hour[hour.rem_euclid(WEEK_HOURS) as usize] += count;
        }
    }
    let mut query_result_grid: Grid = [[0; 24]; 7];
    for hour in 0..WEEK_HOURS as usize {
        event_grid[hour / 24][hour % 24] = by_hour[hour];
        query_result_grid[hour / 24][hour % 24] = results_by_hour[hour];
    }
    let length = i64::from(request.hours.clamp(1, WEEK_HOURS as u32));
    let sum = |hours: &[u64], start: i64| -> u64 {
        (start..start + length)
            .map(|hour| hours[hour.rem_euclid(WEEK_HOURS) as usize])
            .sum()
    };
    let mut starts: Vec<i64> = (0..WEEK_HOURS).collect();
    starts.sort_by_key(|&start| (sum(&by_hour, start), sum(&results_by_hour, start), start));
    let overlaps = |a: i64, b: i64| {
        (b - a).rem_euclid(WEEK_HOURS) < length || (a - b).rem_euclid(WEEK_HOURS) < length
    };
    let mut chosen: Vec<i64> = Vec::new();
    for start in starts {
        if chosen.len() == WINDOWS_SHOWN {
            break;
        }
        if chosen.iter().all(|&other| !overlaps(start, other)) {
            chosen.push(start);
        }
    }
    let weeks = f64::from(request.weeks.max(1));
    let windows = chosen
        .iter()
        .enumerate()
        .map(|(index, &start)| {
            let inside = |hour: i64| (hour - start).rem_euclid(WEEK_HOURS) < length;
            let users: HashSet<(i64, i64)> = activity
                .events
                .keys()
                .filter(|(org, hour, user)| mine(*org) && user.is_some() && inside(*hour))
                .map(|(_, hour, user)| ((hour - start).div_euclid(WEEK_HOURS), user.unwrap_or(0)))
                .collect();
            let mut due = 0;
            let mut runs = 0.0;
            let mut alerts = 0;
            for query in scheduled.iter().filter(|query| mine(query.org_id)) {
                let per_week =
                    query
                        .schedule
                        .runs_per_week_in(start * 60, length * 60, offset_seconds / 60);
                runs += per_week;
                if per_week >= 1.0 {
                    due += 1;
                    alerts += query.alerts;
                }
            }
            QuietWindow {
                rank: index + 1,
                day: (start / 24) as usize,
                hour: (start % 24) as usize,
                hours: length as u32,
                label: label(start, length),
                events_per_week: sum(&by_hour, start) as f64 / weeks,
                active_users_per_week: users.len() as f64 / weeks,
                query_results_per_week: sum(&results_by_hour, start) as f64 / weeks,
                scheduled_queries_due: due,
                scheduled_runs_per_week: runs,
                alerts_evaluated: alerts,
            }
        })
        .collect();
    Scope {
        org: org.map(|(_, slug)| slug),
        name,
        events: by_hour.iter().sum(),
        event_grid,
        query_result_grid,
        windows,
    }
}

/// Writes the SVG and the HTML page asked for, each through a temporary file and a rename.
pub fn write_files(
    report: &WindowReport,
    svg: Option<&std::path::Path>,
    html: Option<&std::path::Path>,
) -> Result<(), WindowError> {
    let files = [
        (svg, svg.map(|_| render::svg(report))),
        (html, html.map(|_| render::html(report))),
    ];
    for (path, content) in files {
        if let (Some(path), Some(content)) = (path, content) {
            crate::rehearse::journal::write_atomically(path, content.as_bytes()).map_err(
                |source| WindowError::Write {
                    path: path.display().to_string(),
                    source,
                },
            )?;
        }
    }
    Ok(())
}

/// `Sun 01:00-03:00`, `Sun 23:00-Mon 01:00`.
pub fn label(start: i64, length: i64) -> String {
    let day = DAYS[(start / 24) as usize];
    let first = start % 24;
    if first + length <= 24 {
        return format!("{day} {first:02}:00-{:02}:00", first + length);
    }
    let end = (start + length).rem_euclid(WEEK_HOURS);
    format!(
        "{day} {first:02}:00-{} {:02}:00",
        DAYS[(end / 24) as usize],
        end % 24
    )
}

/// The hop's length: measured by a rehearsal when its report is given, else the fixed allowance.
fn hop_duration(request: &WindowRequest) -> Result<HopDuration, WindowError> {
    let limit = f64::from(request.hours) * 3600.0;
    let Some(path) = &request.rehearsal else {
        return Ok(HopDuration {
            seconds: ESTIMATE_SECONDS,
            source: "estimate",
            basis: "an estimate: a fixed 30 min allowance, not a measurement (rehearse the upgrade and give --rehearsal report.json for a measured figure)".to_owned(),
            fits: ESTIMATE_SECONDS <= limit,
        });
    };
    let (seconds, basis) = rehearsal_seconds(path)?;
    Ok(HopDuration {
        seconds,
        source: "rehearsal",
        basis,
        fits: seconds <= limit,
    })
}

/// The sum of the hop windows (snapshot, migration, verification) a rehearsal measured, as its
/// `report.json` records them.
pub fn rehearsal_seconds(path: &std::path::Path) -> Result<(f64, String), WindowError> {
    let failed = |why: String| WindowError::Rehearsal {
        path: path.display().to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|error| failed(error.to_string()))?;
    let report: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| failed(error.to_string()))?;
    let journal: crate::rehearse::Journal = serde_json::from_value(report["journal"].clone())
        .map_err(|error| failed(format!("not a rehearsal report.json: {error}")))?;
    let mut total = 0.0;
    let mut parts = Vec::new();
    let mut unmeasured = Vec::new();
    for (index, hop) in journal.hops.iter().enumerate() {
        let number = index + 1;
        let steps: Vec<Option<f64>> = ["snapshot", "migrate", "verify"]
            .iter()
            .map(|kind| {
                journal
                    .step(&format!("hop-{number}/{kind}"))
                    .and_then(|step| step.seconds)
            })
            .collect();
        if steps.iter().all(Option::is_some) {
            let window: f64 = steps.iter().flatten().sum();
            total += window;
            parts.push(format!("{} -> {} {window:.1} s", hop.from, hop.to));
        } else {
            unmeasured.push(format!("{} -> {}", hop.from, hop.to));
        }
    }
    if parts.is_empty() {
        return Err(failed(
            "no hop has a measured window (snapshot, migration and verification)".into(),
        ));
    }
    let mut basis = format!(
        "measured by the rehearsal: the sum of its hop windows (snapshot + migration + verify): {}",
        parts.join(", ")
    );
    if !unmeasured.is_empty() {
        basis.push_str(&format!(
            "; not measured, not counted: {}",
            unmeasured.join(", ")
        ));
    }
    Ok((total, basis))
}
