//! The rules that class each row, in the order they are tried; the first that applies gives the
//! class and the reason. Only the thresholds are options; the order is the policy, written once
//! here and in the README.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::read::Rows;
use super::{
    AlertEntry, DashboardEntry, DataSourceEntry, Effect, Inventory, OwnerState, QueryEntry, Runs,
};
use crate::knowledge::model::Release;

/// What a reviewer is asked to do with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Keep,
    Review,
    Archive,
}

impl Class {
    pub const NAMES: [&'static str; 3] = ["keep", "review", "archive"];

    /// A class as a reviewer may write it (any case, spaces around).
    pub fn parse(text: &str) -> Option<Class> {
        match text.trim().to_ascii_lowercase().as_str() {
            "keep" => Some(Class::Keep),
            "review" => Some(Class::Review),
            "archive" => Some(Class::Archive),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Keep => "keep",
            Class::Review => "review",
            Class::Archive => "archive",
        }
    }
}

/// The thresholds of the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rules {
    /// A query nobody viewed, ran or edited for this many days is stale (`--stale-after`).
    pub stale_after_days: u32,
    /// A scheduled query that failed this many times in a row is broken (`--failing-after`).
    pub failing_after: i64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            stale_after_days: 180,
            failing_after: 5,
        }
    }
}

fn days_ago(as_of: i64, at: i64) -> i64 {
    (as_of - at).max(0) / 86_400
}

fn runs_of(release: &Release, kind: Option<&str>) -> Runs {
    let Some(kind) = kind else {
        return Runs::NoDataSource;
    };
    let modules = &release.modules;
    if modules
        .types_of(&modules.default_enabled_runners)
        .any(|known| known == kind)
    {
        Runs::Yes
    } else if modules
        .types_of(&modules.query_runners)
        .any(|known| known == kind)
    {
        Runs::IfEnabled
    } else {
        Runs::No
    }
}

/// Classes every row of `rows` for the hop to `target`, as of `as_of`; `issues` are the check
/// codes naming each query.
pub fn classify(
    rows: Rows,
    target: &Release,
    rules: &Rules,
    as_of: i64,
    issues: BTreeMap<i64, Vec<String>>,
) -> Inventory {
    let stale_after = i64::from(rules.stale_after_days) * 86_400;
    let fresh = |at: Option<i64>| at.is_some_and(|at| as_of - at < stale_after);
    // Archived dashboards count too: their widgets still hold the query, and `archive`, which
    // never deletes a widget, refuses such a query.
    let mut dashboards_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut queries_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(query, dashboard) in &rows.widgets {
        dashboards_of.entry(query).or_default().push(dashboard);
        queries_of.entry(dashboard).or_default().push(query);
    }
    let mut alerts_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for alert in &rows.alerts {
        alerts_of.entry(alert.query_id).or_default().push(alert.id);
    }

    let mut queries = Vec::with_capacity(rows.queries.len());
    for raw in rows.queries {
        let activity = rows
            .query_activity
            .get(&raw.id)
            .copied()
            .unwrap_or_default();
        let dashboards = dashboards_of.remove(&raw.id).unwrap_or_default();
        let dashboard_view = dashboards
            .iter()
            .filter_map(|id| rows.dashboard_activity.get(id)?.viewed)
            .max();
        let last_viewed_at = [activity.viewed, activity.executed, dashboard_view]
            .into_iter()
            .flatten()
            .max();
        let last_run_at = [raw.last_result_at, activity.executed]
            .into_iter()
            .flatten()
            .max();
        let alerts = alerts_of.remove(&raw.id).unwrap_or_default();
        let owner_state = if raw.owner_gone || raw.owner_id.is_none() {
            OwnerState::Gone
        } else if raw.owner_disabled {
            OwnerState::Disabled
        } else {
            OwnerState::Active
        };
        let runs_on_target = runs_of(target, raw.data_source_type.as_deref());
        let per_day = super::runs_per_day(raw.schedule.as_deref(), as_of);
        let migration_issues = issues.get(&raw.id).cloned().unwrap_or_default();
        let idle = |at: Option<i64>| match at {
            Some(at) => format!("not viewed or run for {} days", days_ago(as_of, at)),
            None => "never viewed or run by anyone".to_owned(),
        };
        let (class, mut reason) = if raw.is_archived {
            (Class::Archive, "already archived".to_owned())
        } else if !migration_issues.is_empty() {
            (
                Class::Review,
                format!(
                    "a migration on the way to {} fails on it ({}): fix it, archived or not",
                    target.version,
                    migration_issues.join(", ")
                ),
            )
        } else if runs_on_target == Runs::NoDataSource {
            (Class::Review, "its data source is gone".to_owned())
        } else if runs_on_target == Runs::No {
            (
                Class::Review,
                format!(
                    "{} has no runner for type {}",
                    target.version,
                    raw.data_source_type.as_deref().unwrap_or("?")
                ),
            )
        } else if !alerts.is_empty() {
            (Class::Keep, format!("used by {} alert(s)", alerts.len()))
        } else if fresh(last_viewed_at) {
            (
                Class::Keep,
                format!(
                    "viewed or run {} days ago",
                    days_ago(as_of, last_viewed_at.unwrap_or(as_of))
                ),
            )
        } else if fresh(Some(raw.created_at)) || fresh(raw.updated_epoch) {
            (
                Class::Keep,
                format!(
                    "created or edited {} days ago",
                    days_ago(
                        as_of,
                        raw.updated_epoch
                            .unwrap_or(raw.created_at)
                            .max(raw.created_at)
                    )
                ),
            )
        } else if !dashboards.is_empty() {
            (
                Class::Review,
                format!(
                    "on {} dashboard(s) nobody viewed for {} days (archive refuses queries on dashboards)",
                    dashboards.len(),
                    rules.stale_after_days
                ),
            )
        } else if per_day > 0.0 && raw.schedule_failures >= rules.failing_after {
            (
                Class::Archive,
                format!(
                    "scheduled and failing ({} failures in a row), {}",
                    raw.schedule_failures,
                    idle(last_viewed_at)
                ),
            )
        } else if per_day > 0.0 {
            (
                Class::Archive,
                format!(
                    "scheduled {} times a day, {}",
                    format_rate(per_day),
                    idle(last_viewed_at)
                ),
            )
        } else if raw.is_draft {
            (Class::Archive, format!("draft, {}", idle(last_viewed_at)))
        } else {
            (Class::Archive, idle(last_viewed_at))
        };
        if class != Class::Keep || owner_state != OwnerState::Active {
            match owner_state {
                OwnerState::Disabled => reason.push_str("; its owner is disabled"),
                OwnerState::Gone => reason.push_str("; its owner is gone"),
                OwnerState::Active => {}
            }
        }
        if runs_on_target == Runs::IfEnabled && class == Class::Keep {
            reason.push_str(&format!(
                "; its type needs REDASH_ADDITIONAL_QUERY_RUNNERS in {}",
                target.version
            ));
        }
        queries.push(QueryEntry {
            id: raw.id,
            org_id: raw.org_id,
            org_slug: raw.org_slug,
            name: raw.name,
            class,
            reason,
            owner_id: raw.owner_id,
            owner_name: raw.owner_name,
            owner_state,
            data_source_id: raw.data_source_id,
            data_source_name: raw.data_source_name,
            data_source_type: raw.data_source_type,
            runs_on_target,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            version: raw.version,
            last_run_at,
            last_viewed_at,
            dashboards,
            alerts,
            schedule: raw.schedule,
            scheduled_runs_per_day: per_day,
            schedule_failures: raw.schedule_failures,
            tags: raw.tags,
            is_archived: raw.is_archived,
            is_draft: raw.is_draft,
            migration_issues,
        });
    }

    let class_of: BTreeMap<i64, Class> = queries
        .iter()
        .map(|query| (query.id, query.class))
        .collect();
    let archived: BTreeSet<i64> = queries
        .iter()
        .filter(|query| query.is_archived)
        .map(|query| query.id)
        .collect();

    let dashboards = rows
        .dashboards
        .into_iter()
        .map(|raw| {
            let viewed = rows
                .dashboard_activity
                .get(&raw.id)
                .and_then(|activity| activity.viewed);
            let widgets = rows.widget_counts.get(&raw.id).copied().unwrap_or(0);
            let mut shown = queries_of.remove(&raw.id).unwrap_or_default();
            shown.sort_unstable();
            shown.dedup();
            let (class, reason) = if raw.is_archived {
                (Class::Archive, "already archived".to_owned())
            } else if fresh(viewed) {
                (
                    Class::Keep,
                    format!(
                        "viewed {} days ago",
                        days_ago(as_of, viewed.unwrap_or(as_of))
                    ),
                )
            } else if widgets == 0 {
                (Class::Archive, "no widgets".to_owned())
            } else {
                (
                    Class::Review,
                    match viewed {
                        Some(at) => format!("not viewed for {} days", days_ago(as_of, at)),
                        None => "never viewed".to_owned(),
                    },
                )
            };
            DashboardEntry {
                id: raw.id,
                org_id: raw.org_id,
                slug: raw.slug,
                name: raw.name,
                class,
                reason,
                widgets,
                queries: shown,
                last_viewed_at: viewed,
                is_archived: raw.is_archived,
                is_draft: raw.is_draft,
            }
        })
        .collect();

    let alerts = rows
        .alerts
        .into_iter()
        .map(|raw| {
            let (class, reason) = if archived.contains(&raw.query_id) {
                (
                    Class::Review,
                    format!("its query {} is archived", raw.query_id),
                )
            } else {
                (Class::Keep, format!("its query {} is kept", raw.query_id))
            };
            AlertEntry {
                id: raw.id,
                org_id: raw.org_id,
                name: raw.name,
                query_id: raw.query_id,
                class,
                reason,
            }
        })
        .collect();

    let data_sources = rows
        .data_sources
        .into_iter()
        .map(|raw| {
            let of_it: Vec<&QueryEntry> = queries
                .iter()
                .filter(|query| query.data_source_id == Some(raw.id))
                .collect();
            let kept = of_it
                .iter()
                .filter(|query| class_of.get(&query.id) == Some(&Class::Keep))
                .count() as u64;
            let runs_on_target = runs_of(target, Some(&raw.r#type));
            let (class, reason) = if runs_on_target == Runs::No {
                (
                    Class::Review,
                    format!("{} has no runner for type {}", target.version, raw.r#type),
                )
            } else if of_it.is_empty() {
                (Class::Review, "no query uses it".to_owned())
            } else if kept == 0 {
                (
                    Class::Review,
                    format!("none of its {} queries is kept", of_it.len()),
                )
            } else {
                (Class::Keep, format!("{kept} of its queries are kept"))
            };
            DataSourceEntry {
                id: raw.id,
                org_id: raw.org_id,
                name: raw.name,
                r#type: raw.r#type,
                runs_on_target,
                queries: of_it.len() as u64,
                queries_kept: kept,
                class,
                reason,
            }
        })
        .collect();

    let live = queries.iter().filter(|query| !query.is_archived);
    let effect = Effect {
        scheduled_runs_per_day_now: live.clone().map(|query| query.scheduled_runs_per_day).sum(),
        scheduled_runs_per_day_removed: live
            .clone()
            .filter(|query| query.class == Class::Archive)
            .map(|query| query.scheduled_runs_per_day)
            .sum(),
        queries_to_archive: live.filter(|query| query.class == Class::Archive).count() as u64,
        query_rows_walked: queries.len() as u64,
    };
    Inventory {
        database: String::new(),
        release: String::new(),
        to: target.version.to_string(),
        as_of,
        rules: rules.clone(),
        queries,
        dashboards,
        alerts,
        data_sources,
        effect,
        assumptions: Vec::new(),
    }
}

/// `24`, `0.14`: a rate as a person reads it.
pub fn format_rate(rate: f64) -> String {
    if rate >= 10.0 || rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    }
}
