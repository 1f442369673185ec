//! `helm-chart-mismatches-image`: the community Helm chart's generation does not run the hop's
//! target release.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::{Role, RoleKind};
use crate::knowledge::helm_chart::{ChartGeneration, HelmChart, ValuesLayout};
use crate::knowledge::model::JobSystem;

pub struct HelmChartMismatchesImage;

static META: CheckMeta = CheckMeta {
    code: "helm-chart-mismatches-image",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "the Helm chart's generation cannot run the release the hop goes to",
    what: "Recognises the Deployments of the community Helm chart (getredash/contrib-helm-chart) \
           by their names (`adhocworker`, `scheduledworker`, `genericworker`) in a values file \
           (--helm-values) or its rendered manifests (--k8s), and compares what they run with \
           the hop's target: the job system the chart's worker and scheduler commands are \
           written for, the workers' liveness probe, and how the chart passes the database URL.",
    why: "Each chart generation is written for one era of Redash images. Chart 2.x runs Celery: \
          its `scheduledworker` runs `scheduler` (on 9.0 and later an RQ scheduler that \
          consumes no queue) and no worker consumes RQ's `scheduled_queries`, `schemas`, \
          `periodic`, `emails` and `default`. Chart 3.x runs RQ roles that a Celery image does \
          not have. From 3.1 the workers' and scheduler's liveness probe runs \
          `docker-entrypoint workers_healthcheck`, which images before 25.1.0 do not have, so \
          Kubernetes restarts them in a loop. Chart 3.1 sets only the parts of the database \
          and Redis URLs, which no Redash release reads. Upgrading the image without the \
          chart (`--set image.tag=...`) gives a deployment that starts but does not work.",
    fix: "Change the chart version with the image: `helm upgrade --version <chart>` to the \
          generation the finding names, and carry your values over to its layout (chart 3.1 \
          and later use a `workers` map and `image.registry`/`image.repo`).",
    references: &[
        "https://github.com/getredash/contrib-helm-chart/blob/master/CHANGELOG.md",
        "helm@v2.4.0:templates/scheduledworker-deployment.yaml:41",
        "helm@v3.0.1:templates/genericworker-deployment.yaml:41",
        "helm@redash-4.0.1:charts/redash/values.yaml:460-465",
        "v25.1.0:bin/docker-entrypoint:25-37",
    ],
};

impl ConfigCheck for HelmChartMismatchesImage {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let chart = &hop.knowledge.helm_chart;
        let target = hop.plan.to;
        let version = &target.version;
        let workers: Vec<&Role> = hop
            .deployment
            .running_roles()
            .filter(|role| chart_worker_name(chart, &role.name).is_some())
            .collect();
        if workers.is_empty() {
            return Ok(Vec::new());
        }
        let fitting = chart.fitting(version);
        let use_chart = |fitting: Option<&ChartGeneration>| {
            match fitting {
            Some(generation) => format!(
                "Move to chart {} (`helm upgrade --version {}`), whose default image is {}, and carry your values over to its layout.",
                generation.name, generation.last, generation.image.value
            ),
            None => format!("No generation of the chart is written for {version}: run it some other way, or plan to a release a chart generation fits."),
        }
        };
        let mut reports = Vec::new();
        let scheduled_scheduler = workers.iter().find(|role| {
            role.kind == RoleKind::Scheduler
                && chart_worker_name(chart, &role.name) == Some("scheduledworker")
        });
        let celery_queues = workers.iter().find(|role| {
            role.var("QUEUES")
                .and_then(|value| value.value.as_deref())
                .is_some_and(|text| text.split([',', ' ']).any(|queue| queue.trim() == "celery"))
        });
        let rq_only = workers.iter().find(|role| {
            matches!(chart_worker_name(chart, &role.name), Some("genericworker"))
                || (role.kind == RoleKind::Worker
                    && chart_worker_name(chart, &role.name) == Some("scheduledworker"))
        });
        let celery = chart
            .generations
            .iter()
            .find(|generation| generation.job_system == JobSystem::Celery);
        match target.job_system {
            JobSystem::Rq => {
                if let Some(role) = scheduled_scheduler.or(celery_queues) {
                    let chart_name = celery.map_or("2.x", |generation| generation.name.as_str());
                    let what = if scheduled_scheduler.is_some() {
                        format!("{} runs `scheduler`, a Celery worker with beat", role.name)
                    } else {
                        format!("{} consumes the Celery queue `celery`", role.name)
                    };
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "the Helm chart's layout is chart {chart_name}'s, written for Celery ({what}), but {version} runs RQ: no role would consume scheduled_queries, schemas, periodic, emails or default"
                        ),
                        location: Some(role.location.clone()),
                        help: use_chart(fitting),
                    });
                }
            }
            JobSystem::Celery => {
                if let Some(role) = rq_only {
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "the Helm chart's layout is chart 3.0 or later's, written for RQ ({} runs `{}` over RQ queues), but {version} runs Celery",
                            role.name,
                            role.command
                                .as_ref()
                                .map_or("worker", |command| command.value.as_str())
                        ),
                        location: Some(role.location.clone()),
                        help: use_chart(fitting),
                    });
                }
            }
        }
        // Liveness probes that need `workers_healthcheck`.
        let probe_since = chart
            .generations
            .iter()
            .filter(|generation| generation.layout == ValuesLayout::WorkersMap)
            .map(|generation| &generation.fits.min)
            .min();
        if let Some(since) = probe_since.filter(|since| version < since) {
            let probed = hop.deployment.running_roles().find(|role| {
                role.kind != RoleKind::Server
                    && role
                        .health_check
                        .as_ref()
                        .is_some_and(|check| check.value.contains("workers_healthcheck"))
            });
            if let Some(role) = probed {
                let check = role.health_check.as_ref().expect("found by it");
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{}'s liveness probe runs `docker-entrypoint workers_healthcheck` (the Helm chart's from 3.1 on), which {version} does not have (it came with {since}): Kubernetes would restart the workers and the scheduler in a loop",
                        role.name
                    ),
                    location: Some(check.location.clone()),
                    help: use_chart(fitting),
                });
            }
        }
        // Connection parts without the URL Redash reads: the names only the generations that do
        // not build the URL set (chart 2.x and 3.0 build it in a sourced script the manifests
        // do not show, from parts named differently).
        let parts_only_names: Vec<&String> = chart
            .generations
            .iter()
            .filter(|generation| !generation.connection_urls.built_by_chart)
            .flat_map(|generation| generation.bundled_database_env.names.iter())
            .filter(|name| {
                !chart.generations.iter().any(|generation| {
                    generation.layout == ValuesLayout::PerRole
                        && generation.bundled_database_env.names.contains(name)
                })
            })
            .collect();
        let parts_only = workers.iter().find_map(|role| {
            let part = parts_only_names
                .iter()
                .find_map(|name| role.var(name.as_str()))?;
            role.var("REDASH_DATABASE_URL")
                .is_none()
                .then_some((role, part))
        });
        if let Some((role, part)) = parts_only {
            let location = Some(part.location.clone());
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{} gets REDASH_DATABASE_NAME and the other parts of the database URL but no REDASH_DATABASE_URL (the Helm chart 3.1 layout with its bundled PostgreSQL): {version} reads only REDASH_DATABASE_URL and REDASH_REDIS_URL",
                    role.name
                ),
                location,
                help: use_chart(fitting.or_else(|| chart.generations.last())),
            });
        }
        Ok(reports)
    }
}

/// The chart worker Deployment a role's name ends with (`redash-adhocworker` is
/// `adhocworker`), for the worker names any generation renders.
fn chart_worker_name<'k>(chart: &'k HelmChart, name: &str) -> Option<&'k str> {
    let base = name.split('/').next().unwrap_or(name);
    chart
        .generations
        .iter()
        .flat_map(|generation| generation.roles.iter())
        .filter(|role| role.name.ends_with("worker"))
        .map(|role| role.name.as_str())
        .find(|worker| {
            base == *worker
                || base
                    .strip_suffix(worker)
                    .is_some_and(|prefix| prefix.ends_with('-'))
        })
}
