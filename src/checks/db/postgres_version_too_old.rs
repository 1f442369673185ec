//! `postgres-version-too-old`: the server is older than the target release supports.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct PostgresVersionTooOld;

static META: CheckMeta = CheckMeta {
    code: "postgres-version-too-old",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Aborts),
    summary: "the PostgreSQL server is older than the target release needs",
    what: "Compares the server's version with the minimum the knowledge base gives for the \
           target release (with its source: what upstream ran, and what its libraries require).",
    why: "From 25.1.0 Redash uses SQLAlchemy-Searchable 1.2, whose SQL slices arrays with an \
          omitted upper bound, which PostgreSQL accepts only from 9.6: on 9.5 and older the \
          search migration fails with a syntax error and the hop rolls back. Upgrading \
          PostgreSQL is a project of its own and must come before the Redash hop, not during it.",
    fix: "Upgrade PostgreSQL first (pg_upgrade or dump and restore into a newer server), then \
          run the Redash hop.",
    references: &[
        "v25.1.0:pyproject.toml",
        "https://github.com/falcony-io/sqlalchemy-searchable/issues/70",
    ],
};

/// `9.6` -> 90600, `15` -> 150000, as `server_version_num` counts.
fn version_number(text: &str) -> Option<i32> {
    let mut parts = text.split('.');
    let major: i32 = parts.next()?.trim().parse().ok()?;
    let minor: i32 = parts
        .next()
        .map_or(Some(0), |part| part.trim().parse().ok())?;
    Some(if major >= 10 {
        major * 10_000
    } else {
        major * 10_000 + minor * 100
    })
}

fn too_old(server_version_num: i32, needed: i32) -> bool {
    server_version_num < needed
}

#[async_trait::async_trait]
impl DatabaseCheck for PostgresVersionTooOld {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let server = &database.detection().server;
        let minimum = &hop.plan.to.postgresql_minimum.version;
        let Some(needed) = version_number(minimum) else {
            return Err(CannotRun(format!(
                "cannot read the minimum version {minimum:?}"
            )));
        };
        if !too_old(server.server_version_num, needed) {
            return Ok(Vec::new());
        }
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "the server runs PostgreSQL {}; {} needs {minimum} or newer",
                server.server_version, hop.plan.to.version
            ),
            location: None,
            help: format!("Upgrade PostgreSQL to {minimum} or newer before this hop."),
        }])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_count_like_the_server() {
        assert_eq!(super::version_number("9.6"), Some(90_600));
        assert_eq!(super::version_number("9.5"), Some(90_500));
        assert_eq!(super::version_number("15"), Some(150_000));
        assert_eq!(super::version_number("x"), None);
    }

    #[test]
    fn older_servers_are_too_old_and_equal_ones_are_not() {
        assert!(super::too_old(90_513, 90_600));
        assert!(!super::too_old(90_600, 90_600));
        assert!(!super::too_old(150_018, 90_600));
    }
}
