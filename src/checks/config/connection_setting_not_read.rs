//! `connection-setting-not-read`: a role describes its database or Redis with variables the
//! target release does not read, and sets no URL it does read.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::Role;

pub struct ConnectionSettingNotRead;

static META: CheckMeta = CheckMeta {
    code: "connection-setting-not-read",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a role gives its Redis or database connection in variables the release does not read",
    what:
        "For every role, whether it sets REDASH_REDIS_URL (or REDIS_URL) and REDASH_DATABASE_URL \
           (or DATABASE_URL), which are all the target release reads to connect; and whether it \
           sets instead variables that describe the same connection in parts (a host, port, \
           password or database number: REDIS_HOST, REDASH_REDIS_PASSWORD, POSTGRES_HOST, ...) \
           that the target release does not read. libpq's own PG* variables are read and not \
           counted.",
    why: "Older deployments (and chart generations) assembled the URL from such parts before \
          the process started; the target image does not. A role that gets only the parts \
          starts with the built-in default and connects to the Redis or PostgreSQL on \
          localhost: in a container, nothing, or a wrong, empty database.",
    fix: "Set the URL variable the release reads on the role (REDASH_REDIS_URL, \
          REDASH_DATABASE_URL), built from those parts.",
    references: &[
        "v10.1.0:redash/settings/__init__.py:19-21",
        "v10.1.0:redash/settings/__init__.py:32-34",
        "v26.3.0:redash/settings/__init__.py",
    ],
};

struct Connection {
    what: &'static str,
    urls: [&'static str; 2],
    /// Words a part's name holds (with one of [`PART_ENDINGS`] at its end).
    marker: &'static [&'static str],
}

const CONNECTIONS: [Connection; 2] = [
    Connection {
        what: "Redis",
        urls: ["REDASH_REDIS_URL", "REDIS_URL"],
        marker: &["REDIS"],
    },
    Connection {
        what: "database",
        urls: ["REDASH_DATABASE_URL", "DATABASE_URL"],
        marker: &["POSTGRES", "DATABASE", "_DB_"],
    },
];

const PART_ENDINGS: [&str; 9] = [
    "HOST", "HOSTNAME", "PORT", "PASSWORD", "USER", "USERNAME", "ADDR", "DB", "NAME",
];

fn is_part(connection: &Connection, name: &str) -> bool {
    if name.starts_with("PG") || connection.urls.contains(&name) {
        return false;
    }
    let padded = format!("_{name}_");
    connection
        .marker
        .iter()
        .any(|marker| padded.contains(marker) || name.starts_with(marker.trim_matches('_')))
        && PART_ENDINGS.iter().any(|ending| name.ends_with(ending))
}

impl ConfigCheck for ConnectionSettingNotRead {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.deployment.knows_roles()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let target = hop.plan.to;
        let read = |name: &str| target.env.iter().any(|variable| variable.name == name);
        let mut reports = Vec::new();
        let roles: Vec<&Role> = hop.deployment.running_roles().collect();
        for role in roles {
            for connection in &CONNECTIONS {
                if connection.urls.iter().any(|url| role.var(url).is_some()) {
                    continue;
                }
                let parts: Vec<(&String, _)> = role
                    .env
                    .iter()
                    .filter(|(name, _)| is_part(connection, name) && !read(name))
                    .collect();
                let Some((_, first)) = parts.first() else {
                    continue;
                };
                let default = target
                    .env
                    .iter()
                    .find(|variable| variable.name == connection.urls[0])
                    .and_then(|variable| variable.default.clone())
                    .map(|default| format!(" ({})", crate::db::redact(&default)))
                    .unwrap_or_default();
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{} gives its {} connection as {}, which {} does not read, and no {}: it will connect to the default{default}",
                        role.name,
                        connection.what,
                        parts
                            .iter()
                            .map(|(name, _)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        target.version,
                        connection.urls[0]
                    ),
                    location: Some(first.location.clone()),
                    help: format!(
                        "Set {} on {} (built from those parts).",
                        connection.urls[0], role.name
                    ),
                });
            }
        }
        Ok(reports)
    }
}
