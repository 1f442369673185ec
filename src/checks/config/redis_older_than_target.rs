//! `redis-older-than-target`: the Redis image is older than the hop's target needs.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use super::service_images::older_than_target;
use crate::inputs::ServiceKind;

pub struct RedisOlderThanTarget;

static META: CheckMeta = CheckMeta {
    code: "redis-older-than-target",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "the Redis image is older than the hop's target release needs",
    what: "Reads the version in the tag of each Redis service's image (`redis:2.8-alpine` is 2.8) \
           and compares it with the minimum the knowledge base gives for the hop's target \
           (`redis_minimum`, with its source). Reported on the first hop that needs more. A tag \
           that names no version is not compared (service-image-floats reports it).",
    why: "Redash's job queue needs what its queue library needs: RQ, which releases from 9.0 \
          use, states it needs Redis 3.0 or newer, and the Celery releases before were only run \
          upstream on Redis 3.0 and later. On an older server the workers or the scheduler fail \
          on commands the server does not have, after the hop, when jobs start to run.",
    fix:
        "Run a Redis at least the target's minimum (upstream runs redis:7-alpine) before the hop; \
          a Redis holding only queues can be replaced empty while Redash is stopped.",
    references: &[
        "https://github.com/rq/rq/blob/0027ccdd79546b26a1d3b25730227c1dc3242c7b/README.md",
        "v10.1.0:requirements.txt:36",
        "v4.0.1:docker-compose.production.yml:37",
    ],
};

impl ConfigCheck for RedisOlderThanTarget {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let minimum = &hop.plan.to.redis_minimum;
        Ok(
            older_than_target(hop, ServiceKind::Redis, |release| &release.redis_minimum)
                .into_iter()
                .map(|(service, image, version)| Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "the Redis service {} runs {}, Redis {version}; {} needs {} or \
                         newer ({})",
                        service.name,
                        image.value,
                        hop.plan.to.version,
                        minimum.version,
                        minimum.source
                    ),
                    location: Some(image.location.clone()),
                    help: format!(
                        "Run {} on Redis {} or newer before this hop.",
                        service.name, minimum.version
                    ),
                })
                .collect(),
        )
    }
}
