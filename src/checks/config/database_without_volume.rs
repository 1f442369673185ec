//! `database-without-volume`: the metadata database keeps its data in no persistent volume.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::ServiceKind;

pub struct DatabaseWithoutVolume;

static META: CheckMeta = CheckMeta {
    code: "database-without-volume",
    severity: Severity::Error,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "the PostgreSQL service keeps its data in no persistent volume",
    what: "Looks at each PostgreSQL service beside Redash (by image: postgres, \
           bitnami/postgresql, pgautoupgrade, postgis) for a named volume, a bind mount or a \
           volume claim that holds its data directory (PGDATA when set; \
           /var/lib/postgresql/data, or /var/lib/postgresql/MAJOR/docker from 18; \
           /bitnami/postgresql/data). Before 18 the official image declares a VOLUME on \
           /var/lib/postgresql/data, which hides a mount of its parent /var/lib/postgresql: \
           such a mount does not count.",
    why: "Every query, dashboard, user and data-source credential lives in this database. Without \
          a volume of its own the data sits in the container's anonymous volume (the one the \
          image declares): it survives a restart, but `docker compose down` leaves it behind \
          unmounted, so the next `up` starts an empty database, and `down -v` deletes it; a pod \
          without a volume claim loses it when it is rescheduled. An upgrade is when containers \
          get recreated, and an empty metadata database on the new release looks like a fresh \
          install rather than an error.",
    fix: "Before the hop, copy the data out (`pg_dump` from the running container), then give the \
          service a named volume or a bind mount on its data directory (upstream's setup mounts \
          /opt/redash/postgres-data on /var/lib/postgresql/data), restore into it, and take the \
          snapshot the plan asks for before each hop.",
    references: &[
        "setup@5dbd05f:data/docker-compose.yml:38-43",
        "https://docs.docker.com/reference/cli/docker/compose/down/",
        "https://github.com/docker-library/docs/blob/master/postgres/content.md",
        "https://github.com/docker-library/postgres/pull/1259",
    ],
};

impl ConfigCheck for DatabaseWithoutVolume {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let mut reports = Vec::new();
        for service in &hop.deployment.services {
            if service.kind != ServiceKind::Postgres || service.storage.is_some() {
                continue;
            }
            let directory = service
                .settings
                .get("PGDATA")
                .map_or("its data directory", |pgdata| pgdata.value.as_str());
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "the PostgreSQL service {} keeps {directory} in no persistent volume: \
                     recreating it (`docker compose down` then `up`, a rescheduled pod) starts \
                     an empty metadata database",
                    service.name
                ),
                location: Some(service.location.clone()),
                help: format!(
                    "Dump the database, mount a named volume or a host directory on the data \
                     directory of {}, restore, and snapshot before the hop.",
                    service.name
                ),
            });
        }
        Ok(reports)
    }
}
