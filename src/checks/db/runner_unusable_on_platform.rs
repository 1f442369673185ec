//! `runner-unusable-on-platform`: data sources whose type the target's image for the
//! deployment's platform cannot serve.

use sqlx::Row as _;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{name_rows, LiveDatabase};
use crate::knowledge::model::PlatformGap;

pub struct RunnerUnusableOnPlatform;

static META: CheckMeta = CheckMeta {
    code: "runner-unusable-on-platform",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Misbehaves),
    summary: "data sources of a type the target's image for this platform cannot serve",
    what: "When a role's platform is known (compose `platform`, ECS `runtimePlatform`, or \
           --host-arch), takes the target release's platform gaps from the knowledge base (from \
           25.1.0 the arm64 image has no Microsoft SQL Server ODBC or Databricks (Simba) ODBC \
           driver; in 26.3.0 the IBM DB2 driver is installed on x86_64 only) and lists the data \
           sources of those types.",
    why: "The image of each platform is built from the same Dockerfile, but some native drivers \
          are installed only on linux/amd64. On arm64 those data sources stop working after the \
          hop: their runner either is not registered at all (the data source shows no type) or \
          fails when a query runs. Nothing warns before users see their dashboards fail.",
    fix: "Run the worker roles on linux/amd64, or move those data sources' queries elsewhere, \
          before the hop.",
    references: &["v25.1.0:Dockerfile:79-93", "v26.3.0:pyproject.toml:94"],
};

impl RunnerUnusableOnPlatform {
    /// The target's gaps for the platforms the deployment's roles run on.
    fn gaps<'k>(hop: &HopContext<'k>) -> Vec<&'k PlatformGap> {
        let deployment = hop.deployment;
        let platforms: Vec<&str> = deployment
            .running_roles()
            .filter_map(|role| deployment.platform_of(role))
            .collect();
        hop.plan
            .to
            .modules
            .platform_gaps
            .iter()
            .filter(|gap| platforms.contains(&gap.platform.as_str()))
            .collect()
    }
}

#[async_trait::async_trait]
impl DatabaseCheck for RunnerUnusableOnPlatform {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        !RunnerUnusableOnPlatform::gaps(hop).is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let mut reports = Vec::new();
        for gap in RunnerUnusableOnPlatform::gaps(hop) {
            let rows = database
                .fetch_all(
                    "read data-source types",
                    sqlx::query(
                        "SELECT type, array_agg(id::bigint ORDER BY id) FROM data_sources \
                         WHERE type = ANY($1) GROUP BY type ORDER BY type",
                    )
                    .bind(gap.types.clone()),
                )
                .await?;
            for row in rows {
                let kind: String = row.get(0);
                let ids: Vec<i64> = row.get(1);
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{kind} data sources stop working on {}'s {} image ({}): {}",
                        hop.plan.to.version,
                        gap.platform,
                        gap.text,
                        name_rows(&ids, ids.len())
                    ),
                    location: None,
                    help: format!(
                        "Run the workers on linux/amd64, or move the queries of these {kind} data sources, before the hop."
                    ),
                });
            }
        }
        Ok(reports)
    }
}
