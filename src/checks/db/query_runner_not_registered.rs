//! `query-runner-not-registered`: queries on data sources whose type has no runner in the target
//! release, which the 25.1 re-hash migration aborts on.

use super::super::config::queue_list;
use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::name_rows;
use super::LiveDatabase;
use sqlx::Row as _;

pub struct QueryRunnerNotRegistered;

static META: CheckMeta = CheckMeta {
    code: "query-runner-not-registered",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "queries whose data-source type has no query runner in the target release",
    what: "On hops crossing 25.1.0, works out the runners the target enables (its default list, \
           or REDASH_ENABLED_QUERY_RUNNERS, plus REDASH_ADDITIONAL_QUERY_RUNNERS, minus \
           REDASH_DISABLED_QUERY_RUNNERS, from the configuration inputs) and the data-source \
           types they register, and lists the queries on data sources of any other type. It also \
           lists queries on data sources whose runner crashes on the empty configuration the \
           migration passes, as the target's known bugs say: Elasticsearch and Kibana on 25.1.0, \
           Graphite and Amazon Elasticsearch on every 25.x and 26.x release.",
    why: "Migration 9e8c841d1a30 recomputes every query's hash through its data source's runner; \
          a type with no registered runner (removed from the release, or not enabled, like \
          python by default) gives None.gen_query_hash and aborts the hop. Runners that read \
          their configuration in their constructor crash on the empty one it passes: 25.1.0's \
          Elasticsearch and Kibana (fixed in 25.8.0), Graphite (`url`) and Amazon Elasticsearch \
          (`region`) in every release since.",
    fix: "Enable the runner (REDASH_ADDITIONAL_QUERY_RUNNERS) for the migration, or archive and \
          detach those queries, or delete the data sources you no longer use; go to 25.8.0 \
          rather than 25.1.0 with Elasticsearch or Kibana data sources.",
    references: &[
        "v25.1.0:migrations/versions/9e8c841d1a30_fix_hash.py",
        "v25.1.0:redash/settings/__init__.py",
        "v25.1.0:redash/query_runner/graphite.py:67",
        "v25.1.0:redash/query_runner/amazon_elasticsearch.py:54",
    ],
};

/// The known bugs of targets whose re-hash migration crashes on some runners' empty
/// configuration, and the data-source types of those runners.
const RUNNERS_CRASH_BUGS: [(&str, &[&str]); 2] = [
    ("migration-25-1-elasticsearch", &["elasticsearch", "kibana"]),
    (
        "migration-fix-hash-graphite-aws-es",
        &["graphite", "aws_es"],
    ),
];

#[async_trait::async_trait]
impl DatabaseCheck for QueryRunnerNotRegistered {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let modules = &hop.plan.to.modules;
        let setting = |name: &str| -> Option<Vec<String>> {
            hop.deployment
                .running_roles()
                .find_map(|role| role.var(name)?.value.clone())
                .map(|text| queue_list(&text))
        };
        let configured = !hop.deployment.roles.is_empty();
        let mut enabled = setting("REDASH_ENABLED_QUERY_RUNNERS")
            .unwrap_or_else(|| modules.default_enabled_runners.clone());
        enabled.extend(setting("REDASH_ADDITIONAL_QUERY_RUNNERS").unwrap_or_default());
        let disabled = setting("REDASH_DISABLED_QUERY_RUNNERS").unwrap_or_default();
        enabled.retain(|module| !disabled.contains(module));
        let registered: Vec<&str> = modules.types_of(&enabled).collect();
        let rows = database
            .fetch_all(
                "read the data-source types of queries",
                sqlx::query(
                    "SELECT ds.type, array_agg(q.id::bigint ORDER BY q.id) FROM queries q \
             JOIN data_sources ds ON ds.id = q.data_source_id GROUP BY ds.type ORDER BY ds.type",
                ),
            )
            .await?;
        let crashing = |kind: &str| {
            RUNNERS_CRASH_BUGS
                .iter()
                .filter(|(_, types)| types.contains(&kind))
                .find_map(|(id, _)| hop.plan.known_bugs.iter().find(|bug| bug.id == *id))
        };
        let mut reports = Vec::new();
        for row in rows {
            let kind: String = row.get(0);
            let ids: Vec<i64> = row.get(1);
            if !registered.contains(&kind.as_str()) {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "queries on {kind} data sources, a type no enabled runner of {} registers{}: {}",
                        hop.plan.to.version,
                        if configured { "" } else { " (default runners: no configuration given)" },
                        name_rows(&ids, ids.len())
                    ),
                    location: None,
                    help: format!("Enable the {kind} runner with REDASH_ADDITIONAL_QUERY_RUNNERS for the migration, or detach or archive these queries."),
                });
            } else if let Some(bug) = crashing(&kind) {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "queries on {kind} data sources crash {}'s re-hash migration: {}",
                        hop.plan.to.version,
                        name_rows(&ids, ids.len())
                    ),
                    location: None,
                    help: match &bug.fixed_in {
                        Some(fixed) => {
                            format!("Upgrade to {fixed} instead of {}.", hop.plan.to.version)
                        }
                        None => bug.workaround.clone(),
                    },
                });
            }
        }
        Ok(reports)
    }
}
