//! `inventory`: every query (and dashboard, alert and data source) of the metadata database, read
//! in one read-only transaction, with what tells whether anyone still uses it, and a class a
//! person can review: `keep`, `review` or `archive`, with the reason. The rules are data
//! ([`Rules`]), changed from the command line.
//!
//! What it reads:
//! - queries with their owner (disabled from 5.0.0, `users.disabled_at`, or gone), data source
//!   and type, dates, `version`, schedule (the era's format: seconds or `HH:MM` text before
//!   7.0.0, a JSON object after), `schedule_failures` and tags (5.0.0 on), archived and draft;
//! - the result each query points at (`latest_query_data_id`: its last run, scheduled or not);
//! - `events` on queries and dashboards (`view`, `execute`), in one pass, for the last time a
//!   person viewed or ran a query or viewed a dashboard showing it;
//! - widgets (which dashboards show which query) and alerts;
//! - the database checks of the plan to `--to`, for the rows they name
//!   ([`crate::checks::db::NamedRows`]): a query whose text or options a hop's migration fails
//!   on must be fixed, archived or not (the 25.x re-hash walks archived queries too,
//!   `v25.1.0:migrations/versions/9e8c841d1a30_fix_hash.py:36-56`).

pub mod csv_out;
mod read;
mod rules;
mod schedule;

use std::collections::BTreeMap;

use serde::Serialize;

pub use rules::{format_rate, Class, Rules};
pub use schedule::runs_per_day;

use crate::checks::{self, Levels, LiveDatabase};
use crate::db::ReadOnlySession;
use crate::engine::{DatabaseTarget, EngineError};
use crate::knowledge::KnowledgeBase;
use crate::plan;
use crate::report::Progress;

/// Everything `inventory` needs.
pub struct InventoryRequest {
    pub database: DatabaseTarget,
    /// The release running now, when the operator gives it (else detected).
    pub from: Option<String>,
    pub to: String,
    /// Seconds since the epoch that "now" is, for staleness.
    pub as_of: i64,
    pub rules: Rules,
    pub progress: Progress,
}

/// Who owns a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerState {
    Active,
    Disabled,
    Gone,
}

impl OwnerState {
    pub fn name(self) -> &'static str {
        match self {
            OwnerState::Active => "active",
            OwnerState::Disabled => "disabled",
            OwnerState::Gone => "gone",
        }
    }
}

/// Whether the target release runs a data source's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runs {
    /// Its runner is enabled by default.
    Yes,
    /// The release has the runner, off by default (REDASH_ADDITIONAL_QUERY_RUNNERS).
    IfEnabled,
    /// The release has no runner of this type.
    No,
    /// The query has no data source.
    NoDataSource,
}

impl Runs {
    pub fn name(self) -> &'static str {
        match self {
            Runs::Yes => "yes",
            Runs::IfEnabled => "if-enabled",
            Runs::No => "no",
            Runs::NoDataSource => "no-data-source",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryEntry {
    pub id: i64,
    pub org_id: i64,
    pub org_slug: String,
    pub name: String,
    pub class: Class,
    pub reason: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub owner_state: OwnerState,
    pub data_source_id: Option<i64>,
    pub data_source_name: Option<String>,
    pub data_source_type: Option<String>,
    pub runs_on_target: Runs,
    pub created_at: i64,
    /// As `archive` compares it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub updated_at: String,
    pub version: i64,
    pub last_run_at: Option<i64>,
    pub last_viewed_at: Option<i64>,
    pub dashboards: Vec<i64>,
    pub alerts: Vec<i64>,
    pub schedule: Option<String>,
    pub scheduled_runs_per_day: f64,
    pub schedule_failures: i64,
    pub tags: Vec<String>,
    pub is_archived: bool,
    pub is_draft: bool,
    /// Codes of the database checks that name this query.
    pub migration_issues: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardEntry {
    pub id: i64,
    pub org_id: i64,
    pub slug: String,
    pub name: String,
    pub class: Class,
    pub reason: String,
    pub widgets: i64,
    pub queries: Vec<i64>,
    pub last_viewed_at: Option<i64>,
    pub is_archived: bool,
    pub is_draft: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEntry {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub query_id: i64,
    pub class: Class,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSourceEntry {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub r#type: String,
    pub runs_on_target: Runs,
    pub queries: u64,
    pub queries_kept: u64,
    pub class: Class,
    pub reason: String,
}

/// What archiving the `archive` rows would change, and what it would not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// Scheduled runs per day of the queries marked `archive` that are not archived yet.
    pub scheduled_runs_per_day_removed: f64,
    pub scheduled_runs_per_day_now: f64,
    /// Rows of `queries` the hops' query-walking migrations read: archiving does not change it.
    pub query_rows_walked: u64,
    pub queries_to_archive: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    pub database: String,
    pub release: String,
    pub to: String,
    pub as_of: i64,
    pub rules: Rules,
    pub queries: Vec<QueryEntry>,
    pub dashboards: Vec<DashboardEntry>,
    pub alerts: Vec<AlertEntry>,
    pub data_sources: Vec<DataSourceEntry>,
    pub effect: Effect,
    pub assumptions: Vec<String>,
}

impl Inventory {
    /// Queries per class.
    pub fn counts(&self) -> BTreeMap<Class, u64> {
        let mut counts = BTreeMap::new();
        for query in &self.queries {
            *counts.entry(query.class).or_insert(0) += 1;
        }
        counts
    }
}

/// Reads the database and classifies every row.
pub async fn inventory(
    knowledge: &KnowledgeBase,
    request: InventoryRequest,
) -> Result<Inventory, EngineError> {
    let target = &request.database;
    let (mut session, snapshot) =
        ReadOnlySession::open_exporting(&target.url, target.timeouts).await?;
    let detection = crate::detect::detect(knowledge, &mut session).await?;
    let (from, assumption) =
        match crate::engine::release_of_database(knowledge, request.from.as_deref(), &detection) {
            // The database cannot tell some releases apart (10.0.0 and 10.1.0); the inventory
            // needs only the schema, which they share, so it reads it as the newest.
            Err(EngineError::FromNeeded(_))
                if request.from.is_none() && detection.candidates.len() > 1 =>
            {
                let newest = detection.candidates.iter().max().expect("several");
                (
                    newest.to_string(),
                    Some(format!(
                        "the database is at one of {}; read as {newest} (give --from to choose)",
                        detection
                            .candidates
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                )
            }
            other => other?,
        };
    let plan = plan::plan(knowledge, &from, &request.to)?;
    let target_release = plan
        .hops
        .last()
        .map(|hop| hop.to)
        .or_else(|| {
            plan::resolve(knowledge, &request.to, "--to")
                .ok()
                .and_then(|resolved| knowledge.release(&resolved.version))
        })
        .ok_or_else(|| EngineError::FromNeeded("a known --to".into()))?;
    let to = target_release.version.to_string();
    let database = LiveDatabase::new(
        session,
        snapshot,
        detection,
        None,
        false,
        request.progress.clone(),
    );
    request
        .progress
        .log("inventory: running the database checks of the plan");
    let findings = checks::run_checks(
        knowledge,
        &plan,
        &crate::inputs::Deployment::default(),
        Some(&database),
        &Levels::default(),
    )
    .await;
    let mut assumptions: Vec<String> = assumption.into_iter().collect();
    // Only the database checks matter here: the configuration checks have no files to read.
    for finding in findings
        .iter()
        .filter(|finding| finding.code == checks::CANNOT_RUN)
    {
        let code = finding
            .message
            .split_whitespace()
            .next()
            .unwrap_or_default();
        if matches!(checks::find(code), Some(checks::Check::Database(_))) {
            assumptions.push(format!("not checked per row: {}", finding.message));
        }
    }
    let mut issues: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for named in database.named_rows() {
        if named.table != "queries" {
            continue;
        }
        for id in named.ids {
            let codes = issues.entry(id).or_default();
            if !codes.iter().any(|code| code == named.code) {
                codes.push(named.code.to_owned());
            }
        }
    }
    request
        .progress
        .log("inventory: reading queries, dashboards, alerts and events");
    let rows = read::read(&database).await;
    database.close().await;
    let rows = rows?;
    let mut inventory =
        rules::classify(rows, target_release, &request.rules, request.as_of, issues);
    inventory.database = target.url.redacted();
    inventory.release = from;
    inventory.to = to;
    inventory.as_of = request.as_of;
    inventory.assumptions.extend(assumptions);
    Ok(inventory)
}
