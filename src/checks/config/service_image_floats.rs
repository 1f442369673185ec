//! `service-image-floats`: a PostgreSQL or Redis image whose tag names no major version.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use super::service_images::{image_tag, major_text, service_version};
use crate::inputs::ServiceKind;

pub struct ServiceImageFloats;

static META: CheckMeta = CheckMeta {
    code: "service-image-floats",
    severity: Severity::Warning,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "a PostgreSQL or Redis image tag that can move to another major version",
    what: "Reads the tag of each PostgreSQL and Redis service's image: no tag, `latest`, or a tag \
           that names no major version (`alpine`, `bookworm`; for PostgreSQL before 10 the major \
           is two numbers, so `9` floats too) is reported. A tag with a major (`postgres:13`, \
           `13.4-alpine`, `redis:7.2`) is quiet.",
    why: "An upgrade pulls images and recreates containers, so a floating tag changes the \
          database server under you at the same moment as Redash. A PostgreSQL data directory \
          only starts under the major version that wrote it: a 9.6 directory does not start \
          under 13 (it needs pg_upgrade or a dump and restore), so the database stays down and \
          the hop cannot run. Upstream's setup pins PostgreSQL's major for this reason. A Redis \
          that moves to a newer major writes a snapshot format older servers cannot read, so \
          rolling its image back loses the queues.",
    fix: "Pin the major version that runs now (check it with `SHOW server_version` or `redis-cli \
          INFO server`): `postgres:<major>-alpine`, `redis:<major>-alpine`. Change a major as a \
          step of its own, with a dump or pg_upgrade, not during a Redash hop.",
    references: &[
        "setup@bd443f4:data/compose.yaml:41-45",
        "https://www.postgresql.org/docs/current/upgrading.html",
        "https://hub.docker.com/_/postgres",
    ],
};

impl ConfigCheck for ServiceImageFloats {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let mut reports = Vec::new();
        for service in &hop.deployment.services {
            let Some(image) = &service.image else {
                continue;
            };
            if major_text(service.kind, &service_version(service)).is_some() {
                continue;
            }
            let (what, consequence) = match service.kind {
                ServiceKind::Postgres => (
                    "PostgreSQL",
                    "a new major does not start on the existing data directory",
                ),
                ServiceKind::Redis => (
                    "Redis",
                    "a new major writes snapshots an older Redis cannot read if you roll back",
                ),
            };
            let how = match image_tag(&image.value) {
                None => "with no tag it runs latest, which follows every new major".to_owned(),
                Some("latest") => "latest follows every new major".to_owned(),
                Some(tag) => format!("the tag {tag} names no {what} major version"),
            };
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "the {what} service {} runs {}: {how}, so the next pull can change its \
                     major version, and {consequence}",
                    service.name, image.value
                ),
                location: Some(image.location.clone()),
                help: format!(
                    "Pin {} to the {what} major version it runs now.",
                    service.name
                ),
            });
        }
        Ok(reports)
    }
}
