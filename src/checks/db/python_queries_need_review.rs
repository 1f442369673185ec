//! `python-queries-need-review`: saved queries on Python data sources, which the hop moves from
//! Python 2 to Python 3.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct PythonQueriesNeedReview;

static META: CheckMeta = CheckMeta {
    code: "python-queries-need-review",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Misbehaves),
    summary: "saved queries on Python data sources, which run under Python 3 after the hop",
    what: "On a hop from a release whose image runs Python 2 to one that runs Python 3 (the \
           knowledge base's `python` of each release: 8.0.0 and older are 2.7, 9.0.0-beta and \
           later 3.x), lists the saved queries on data sources of type `python`.",
    why: "A Python data source runs each saved query's text as Python code inside the worker. \
          Code written for Python 2 (print statements, `unicode`, integer division, \
          `dict.iteritems`) fails or computes something else under Python 3, and nothing says so \
          until the query, its schedule or a dashboard runs it.",
    fix: "Review those queries before the hop: run each against a Python 3 interpreter (or on \
          a rehearsal copy) and port what fails; archive the ones nobody uses.",
    references: &["v8.0.0:Dockerfile:11", "v9.0.0-beta:Dockerfile:14"],
};

/// The major version of a release's Python (`2.7` -> 2).
fn python_major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

#[async_trait::async_trait]
impl DatabaseCheck for PythonQueriesNeedReview {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        python_major(&hop.plan.from.python.version) == Some(2)
            && python_major(&hop.plan.to.python.version) == Some(3)
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        super::rows_report(
            database,
            Some((META.code, "queries")),
            "read Python queries",
            "SELECT q.id::bigint FROM queries q JOIN data_sources ds ON ds.id = q.data_source_id \
             WHERE ds.type = 'python' ORDER BY q.id",
            &format!(
                "saved queries on Python data sources run under Python {} on {} (Python {} before)",
                hop.plan.to.python.version, hop.plan.to.version, hop.plan.from.python.version
            ),
            "Run each under Python 3 on a rehearsal copy and port what fails, before the hop.",
        )
        .await
    }
}
