//! `queues-celery-obsolete`: a QUEUES list still names `celery` on an RQ release.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use super::queue_list;

pub struct QueuesCeleryObsolete;

static META: CheckMeta = CheckMeta {
    code: "queues-celery-obsolete",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "QUEUES names the Celery queue `celery` on an RQ release",
    what: "Looks for `celery` in the QUEUES of any role when the target release runs its jobs on \
           RQ (10.0.0 and later).",
    why: "Up to 9.0.0-beta the scheduler was a Celery worker on the `celery` queue and setups set \
          QUEUES=celery on it. RQ releases send nothing to `celery`: a worker that only lists it \
          idles, and the queues it should consume (periodic, emails, default, schemas) pile up.",
    fix: "Replace `celery` with the RQ queues the role should consume, or drop QUEUES from the \
          scheduler, which ignores it on RQ.",
    references: &["v8.0.0:bin/docker-entrypoint", "v10.1.0:redash/worker.py"],
};

impl ConfigCheck for QueuesCeleryObsolete {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.target_is_rq()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        Ok(hop
            .deployment
            .roles
            .iter()
            .filter_map(|role| {
                let queues = role.var("QUEUES")?;
                let listed = queue_list(queues.value.as_deref()?);
                listed
                    .iter()
                    .any(|queue| queue == "celery")
                    .then(|| Report {
                        severity: None,
                        effect: None,
                        message: format!(
                        "{} lists the Celery queue `celery` in QUEUES ({}), which {} never uses",
                        role.name,
                        listed.join(","),
                        hop.plan.to.version
                    ),
                        location: Some(queues.location.clone()),
                        help:
                            "Remove `celery`; list RQ queues (periodic, emails, default, schemas, \
                           queries, scheduled_queries) or leave QUEUES empty for all."
                                .into(),
                    })
            })
            .collect())
    }
}
