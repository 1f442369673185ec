//! `postgres-older-than-target`: the PostgreSQL image is older than the hop's target needs.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use super::service_images::older_than_target;
use crate::inputs::ServiceKind;

pub struct PostgresOlderThanTarget;

static META: CheckMeta = CheckMeta {
    code: "postgres-older-than-target",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "the PostgreSQL image is older than the hop's target release needs",
    what: "Reads the version in the tag of each PostgreSQL service's image (`postgres:9.5.6-alpine` \
           is 9.5.6) and compares it with the minimum the knowledge base gives for the hop's \
           target (`postgresql_minimum`, with its source). Reported on the first hop that needs \
           more. A tag that names no version (`latest`, `alpine`) is not compared: \
           service-image-floats reports it, and with --database-url postgres-version-too-old \
           reads the server's own version.",
    why: "From 25.1.0 Redash uses SQLAlchemy-Searchable 1.2, whose SQL functions slice arrays \
          with an omitted upper bound, syntax PostgreSQL accepts only from 9.6: on 9.5 and older \
          the search migration stops with a syntax error and the hop rolls back. Upstream's \
          compose files of those releases run much newer servers. Changing PostgreSQL's major \
          version is a project of its own (pg_upgrade, or a dump restored into the new server) \
          and must be done and verified before the Redash hop, not during it.",
    fix: "Before this hop, move the database to a PostgreSQL major at least the target's minimum \
          (dump and restore into a new volume, or pg_upgrade; the pgautoupgrade image does it in \
          place), pin that major in the image, check Redash still runs on the release it is at, \
          then run the hop.",
    references: &[
        "https://github.com/falcony-io/sqlalchemy-searchable/blob/1.2.0/sqlalchemy_searchable/expressions.sql#L209-L211",
        "https://github.com/getredash/redash/issues/7345",
        "v25.1.0:pyproject.toml:74",
    ],
};

impl ConfigCheck for PostgresOlderThanTarget {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let minimum = &hop.plan.to.postgresql_minimum;
        Ok(older_than_target(hop, ServiceKind::Postgres, |release| {
            &release.postgresql_minimum
        })
        .into_iter()
        .map(|(service, image, version)| Report {
            severity: None,
            effect: None,
            message: format!(
                "the PostgreSQL service {} runs {}, PostgreSQL {version}; {} needs {} \
                     or newer ({})",
                service.name, image.value, hop.plan.to.version, minimum.version, minimum.source
            ),
            location: Some(image.location.clone()),
            help: format!(
                "Move {} to PostgreSQL {} or newer (dump and restore, or pg_upgrade) before \
                     this hop.",
                service.name, minimum.version
            ),
        })
        .collect())
    }
}
