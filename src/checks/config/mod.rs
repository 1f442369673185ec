//! Checks of the deployment's configuration: env files, compose services, ECS task definitions,
//! nginx. They run without a database.

pub mod connection_setting_not_read;
pub mod cookie_secret_missing;
pub mod csrf_enforced_with_multi_org;
pub mod database_without_volume;
pub mod gunicorn_binds_ipv6;
pub mod helm_chart_mismatches_image;
pub mod image_platform_unavailable;
pub mod image_tag_mismatch;
pub mod login_throttle_health_check;
pub mod memory_insufficient;
pub mod module_removed;
pub mod multi_org_static_images;
pub mod postgres_older_than_target;
pub mod queues_celery_obsolete;
pub mod queues_not_consumed;
pub mod redash_host_without_scheme;
pub mod redis_may_drop_jobs;
pub mod redis_older_than_target;
pub mod scheduler_not_single;
pub mod scheduler_queues_ignored;
pub mod scheduler_update_overlaps;
pub mod secret_in_plain_environment;
pub mod secret_key_differs_between_roles;
pub mod secret_key_unset;
pub mod service_image_floats;
mod service_images;
pub mod setting_differs_between_roles;
pub mod variable_removed;
pub mod workers_count_meaning_changed;

use super::HopContext;
use crate::inputs::{EnvValue, Role, RoleKind};
use crate::knowledge::model::JobSystem;

/// A role that consumes queues on the hop's target release, and the queues it consumes.
pub(crate) struct Consumer<'a> {
    pub role: &'a Role,
    pub queues: Vec<String>,
    /// The QUEUES value as the files give it, when set and not empty.
    pub listed: Option<&'a EnvValue>,
}

/// The roles that consume queues on the hop's target release: every worker and, while the
/// release runs Celery, every scheduler (its `scheduler` command starts a Celery worker with
/// beat over its QUEUES). Empty when the files name no such role.
pub(crate) fn consumers<'a>(hop: &HopContext<'a>) -> Vec<Consumer<'a>> {
    let target = hop.plan.to;
    let celery = !hop.plan.target_is_rq();
    hop.deployment
        .running_roles()
        .filter(|role| {
            role.kind == RoleKind::Worker || (celery && role.kind == RoleKind::Scheduler)
        })
        .map(|role| {
            let defaults = if role.kind == RoleKind::Scheduler {
                &target.queues.scheduler_default.queues
            } else {
                &target.queues.worker_default.queues
            };
            let listed = role.var("QUEUES").filter(|value| {
                value
                    .value
                    .as_deref()
                    .is_some_and(|text| !text.trim().is_empty())
            });
            // Unset and empty mean the same: `${QUEUES:-...}` on Celery, "all queues" on RQ.
            let queues = match listed.and_then(|value| value.value.as_deref()) {
                Some(text) => queue_names(text, target.job_system),
                None => defaults.clone(),
            };
            Consumer {
                role,
                queues,
                listed,
            }
        })
        .collect()
}

/// The queues the deployment consumes on the hop's target release, sorted; `None` when no role
/// consumes any (see [`consumers`]).
pub(crate) fn consumed_queues(hop: &HopContext<'_>) -> Option<Vec<String>> {
    let consumers = consumers(hop);
    if consumers.is_empty() {
        return None;
    }
    let mut consumed: Vec<String> = consumers
        .into_iter()
        .flat_map(|consumer| consumer.queues)
        .collect();
    consumed.sort();
    consumed.dedup();
    Some(consumed)
}

/// The queue names a worker of a release on `job_system` makes of a QUEUES value.
///
/// Celery releases run `celery worker -Q$QUEUES` from bash: quote characters inside the value
/// are not quoting there, they stay in the names (`"queries,celery"` consumes `"queries` and
/// `celery"`). RQ releases run `rq worker %(ENV_QUEUES)s` under supervisord, which splits the
/// command the way a shell would: quotes group words into one argument and are removed
/// (`"queries"` is `queries`, but `"schemas queries"` is one queue named `schemas queries`);
/// each argument is then split on commas.
pub(crate) fn queue_names(text: &str, job_system: JobSystem) -> Vec<String> {
    let words = match job_system {
        JobSystem::Celery => text.split_whitespace().map(str::to_owned).collect(),
        JobSystem::Rq => crate::inputs::shell_words(text),
    };
    words
        .iter()
        .flat_map(|word| word.split(','))
        .filter(|queue| !queue.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Role names as a sentence's subject (`server`, `server and worker`, `server, worker and
/// scheduler`) and whether the verb takes the plural: one finding for what every role shares.
pub(crate) fn role_list(names: &[&str]) -> (String, bool) {
    (crate::report::describe::and_list(names), names.len() > 1)
}

/// The first running role's value of a boolean setting, when it is on (`true`, `1`, `yes`, `on`).
pub(crate) fn setting_on<'a>(hop: &HopContext<'a>, name: &str) -> Option<&'a EnvValue> {
    hop.deployment.running_roles().find_map(|role| {
        let value = role.var(name)?;
        let on = value.value.as_deref().is_some_and(|text| {
            matches!(
                text.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        });
        on.then_some(value)
    })
}

/// The queues a QUEUES value names. RQ workers take them as arguments, each split on commas
/// (`manage.py rq worker $QUEUES`), so spaces and commas both separate; Celery takes one
/// comma-separated `-Q` list.
pub(crate) fn queue_list(text: &str) -> Vec<String> {
    text.split(|character: char| character == ',' || character.is_whitespace())
        .map(str::trim)
        .filter(|queue| !queue.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{queue_names, JobSystem};

    #[test]
    fn rq_workers_read_queues_as_supervisord_splits_them() {
        let rq = |text| queue_names(text, JobSystem::Rq);
        assert_eq!(
            rq("queries,scheduled_queries"),
            ["queries", "scheduled_queries"]
        );
        assert_eq!(
            rq("periodic emails default"),
            ["periodic", "emails", "default"]
        );
        assert_eq!(rq("\"queries\""), ["queries"]);
        assert_eq!(
            rq("\"schemas queries\" periodic"),
            ["schemas queries", "periodic"]
        );
        assert_eq!(rq("'a,b' c"), ["a", "b", "c"]);
    }

    #[test]
    fn celery_workers_keep_quote_characters_in_names() {
        let celery = |text| queue_names(text, JobSystem::Celery);
        assert_eq!(
            celery("queries,scheduled_queries,celery"),
            ["queries", "scheduled_queries", "celery"]
        );
        assert_eq!(celery("\"queries,celery\""), ["\"queries", "celery\""]);
    }
}
