//! Checks of the deployment's configuration: env files, compose services, ECS task definitions,
//! nginx. They run without a database.

pub mod cookie_secret_missing;
pub mod csrf_enforced_with_multi_org;
pub mod gunicorn_binds_ipv6;
pub mod image_tag_mismatch;
pub mod login_throttle_health_check;
pub mod memory_insufficient;
pub mod module_removed;
pub mod multi_org_static_images;
pub mod queues_celery_obsolete;
pub mod queues_not_consumed;
pub mod redash_host_without_scheme;
pub mod scheduler_not_single;
pub mod scheduler_queues_ignored;
pub mod secret_in_plain_environment;
pub mod secret_key_differs_between_roles;
pub mod secret_key_unset;
pub mod variable_removed;
pub mod workers_count_meaning_changed;

use super::HopContext;
use crate::inputs::{EnvValue, RoleKind};

/// The queues the deployment's workers (and, on Celery, its scheduler) consume on the hop's
/// target release; `None` when the files name no worker at all.
pub(crate) fn consumed_queues(hop: &HopContext<'_>) -> Option<Vec<String>> {
    let deployment = hop.deployment;
    deployment.roles_of(RoleKind::Worker).next()?;
    let target = hop.plan.to;
    let mut consumers: Vec<_> = deployment.roles_of(RoleKind::Worker).collect();
    if !hop.plan.target_is_rq() {
        // A Celery scheduler runs a worker on its QUEUES too.
        consumers.extend(deployment.roles_of(RoleKind::Scheduler));
    }
    let mut consumed = Vec::new();
    for role in consumers {
        let defaults = if role.kind == RoleKind::Scheduler {
            &target.queues.scheduler_default.queues
        } else {
            &target.queues.worker_default.queues
        };
        let listed = role
            .var("QUEUES")
            .and_then(|value| value.value.as_deref())
            .map(queue_list);
        // Unset and empty mean the same: `${QUEUES:-...}` on Celery, "all queues" on RQ.
        match listed {
            Some(list) if !list.is_empty() => consumed.extend(list),
            _ => consumed.extend(defaults.iter().cloned()),
        }
    }
    consumed.sort();
    consumed.dedup();
    Some(consumed)
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
