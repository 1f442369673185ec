//! `redis-server-too-old`: the running Redis is older than a release on the way needs.

use super::super::{CannotRun, CheckMeta, LiveCheck, LiveContext, Report, Severity, Trigger};
use super::report;

pub struct RedisServerTooOld;

static META: CheckMeta = CheckMeta {
    code: "redis-server-too-old",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "The running Redis is older than a release on the path needs",
    what: "Compares the server's `redis_version` (`INFO`) with `redis_minimum` of the release \
           running now, of the next hop's release, and of `--to`. `check` compares the image \
           tag of the deployment's Redis (`redis-older-than-target`); this reads the server that \
           answers.",
    why: "The job libraries call commands the server must have; an older server fails them at \
          run time, in the worker, not at start.",
    fix: "Upgrade Redis first (its data survives an upgrade of the server), then hop.",
    references: &[
        "https://github.com/rq/rq/blob/0027ccdd79546b26a1d3b25730227c1dc3242c7b/README.md",
    ],
};

fn numbers(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect()
}

impl LiveCheck for RedisServerTooOld {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn run(&self, live: &LiveContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let found = &live.observation.server.version;
        let have = numbers(found);
        if have.is_empty() {
            return Err(CannotRun(format!("Redis reported the version {found:?}")));
        }
        let mut releases = vec![live.running];
        releases.extend(live.next_hop.map(|hop| hop.to));
        releases.extend(live.target);
        releases.dedup_by(|a, b| a.version == b.version);
        Ok(releases
            .into_iter()
            .filter(|release| have < numbers(&release.redis_minimum.version))
            .map(|release| {
                report(
                    format!(
                        "Redis {found} is older than the {} Redis that {} needs ({})",
                        release.redis_minimum.version,
                        release.version,
                        release.redis_minimum.source
                    ),
                    format!(
                        "Upgrade Redis to {} or newer before the hop.",
                        release.redis_minimum.version
                    ),
                )
            })
            .collect())
    }
}
