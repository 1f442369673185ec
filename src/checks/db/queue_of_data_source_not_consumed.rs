//! `queue-of-data-source-not-consumed`: a data source sends its jobs to a queue no worker reads.

use super::super::config::consumed_queues;
use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::name_rows;
use super::LiveDatabase;
use sqlx::Row as _;

pub struct QueueOfDataSourceNotConsumed;

static META: CheckMeta = CheckMeta {
    code: "queue-of-data-source-not-consumed",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Misbehaves),
    summary: "data sources whose own queue no worker consumes on the target release",
    what: "Reads data_sources.queue_name and scheduled_queue_name and compares them with the \
           queues the given configuration's workers consume on the target release.",
    why: "A data source can name its own queues for ad-hoc and scheduled runs (a dedicated worker \
          for a slow warehouse, say). Configuration checks cannot see them: they live in the \
          database. When the hop changes the workers' queues, those data sources' queries wait \
          forever.",
    fix: "Add the data source's queues to a worker's QUEUES, or set the data source back to \
          queries / scheduled_queries.",
    references: &[
        "v10.1.0:redash/models/__init__.py",
        "v10.1.0:redash/cli/rq.py",
    ],
};

#[async_trait::async_trait]
impl DatabaseCheck for QueueOfDataSourceNotConsumed {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        consumed_queues(hop).is_some()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let consumed = consumed_queues(hop).unwrap_or_default();
        let rows = database
            .fetch_all(
                "read data-source queues",
                sqlx::query(
                    "SELECT queue, array_agg(id::bigint ORDER BY id) FROM ( \
               SELECT id, queue_name AS queue FROM data_sources \
               UNION ALL SELECT id, scheduled_queue_name FROM data_sources) AS named \
             WHERE queue IS NOT NULL GROUP BY queue ORDER BY queue",
                ),
            )
            .await?;
        Ok(rows
            .iter()
            .filter(|row| !consumed.contains(&row.get::<String, _>(0)))
            .map(|row| {
                let queue: String = row.get(0);
                let ids: Vec<i64> = row.get(1);
                Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "no worker consumes queue {queue} on {}, which data sources use: {}",
                        hop.plan.to.version,
                        name_rows(&ids, ids.len())
                    ),
                    location: None,
                    help: format!("Add {queue} to a worker's QUEUES, or move these data sources to the default queues."),
                }
            })
            .collect())
    }
}
