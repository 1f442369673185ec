//! The JSON contract of `plan --format json` and `releases --format json`, documented in
//! README.md. Fields may be added; none may be renamed or removed.

use serde_json::{json, Value};

use crate::knowledge::model::Release;
use crate::knowledge::KnowledgeBase;
use crate::plan::UpgradePlan;
use crate::plan::{EnvChange, HopPlan};

use crate::report::describe::{memory_figures_text, shown_default};

pub fn plan_json(plan: &UpgradePlan<'_>) -> Value {
    let resolutions: Vec<&String> = [&plan.from.resolution, &plan.to.resolution]
        .into_iter()
        .flatten()
        .collect();
    json!({
        "type": "plan",
        "from": plan.from.version.to_string(),
        "to": plan.to.version.to_string(),
        "resolved": resolutions,
        "path": plan.path(),
        "skipped": plan.skipped.iter().map(|skipped| json!({
            "version": skipped.version.to_string(),
            "reason": skipped.reason,
            "source": skipped.source.0,
        })).collect::<Vec<_>>(),
        "hops": plan.hops.iter().map(hop_json).collect::<Vec<_>>(),
        "deployment": plan.deployment.as_ref().map(|fit| json!({
            "platform": fit.platform,
            "inputs": fit.inputs,
        })),
    })
}

fn notes_json(notes: &[&crate::knowledge::model::Note]) -> Vec<Value> {
    notes
        .iter()
        .map(|note| json!({"text": note.text, "source": note.source.0}))
        .collect()
}

fn hop_json(hop: &HopPlan<'_>) -> Value {
    json!({
        "from": hop.from.version.to_string(),
        "to": hop.to.version.to_string(),
        "from_image": hop.from.image.tag,
        "image": hop.to.image.tag,
        "image_note": hop.to.image.note,
        "why": {"text": hop.reason.text, "source": hop.reason.source.0},
        "job_system": {
            "from": hop.from.job_system,
            "to": hop.to.job_system,
        },
        "alembic": {
            "from_head": hop.from_head(),
            "to_head": hop.to_head(),
            "revisions": hop.revisions.iter().map(|revision| revision.revision.as_str()).collect::<Vec<_>>(),
            "details": hop.revisions.iter().map(|revision| json!({
                "revision": revision.revision,
                "parents": revision.parents,
                "description": revision.description,
                "downgrade": revision.downgrade,
                "rewrites_tables": revision.rewrites_tables,
                "source": revision.source.0,
            })).collect::<Vec<_>>(),
        },
        "irreversible": hop.is_irreversible(),
        "irreversible_revisions": hop.irreversible_revisions().iter().map(|revision| revision.revision.as_str()).collect::<Vec<_>>(),
        "rewrites_tables": hop.rewritten_tables(),
        "steps": hop.steps.iter().map(|step| json!({
            "phase": step.phase.name(),
            "text": step.text,
            "source": step.source.as_ref().map(|source| source.0.as_str()),
            "platform": step.platform,
        })).collect::<Vec<_>>(),
        "env_changes": hop.env_changes.iter().map(env_change_json).collect::<Vec<_>>(),
        "breaking_changes": notes_json(&hop.breaking_changes()),
        "process_changes": notes_json(&hop.process_changes()),
        "memory": {
            "figures": hop.memory_figures().map(memory_figures_json),
            "text": hop.memory_figures().map(memory_figures_text),
            "notes": notes_json(&hop.memory_notes()),
        },
        "multi_org": notes_json(&hop.multi_org_notes()),
        "user_notes": notes_json(&hop.user_notes()),
        "known_bugs": hop.known_bugs.iter().map(|bug| json!({
            "id": bug.id,
            "title": bug.title,
            "url": bug.url,
            "introduced_in": bug.introduced_in.to_string(),
            "fixed_in": bug.fixed_in.as_ref().map(ToString::to_string),
            "effect": bug.effect,
            "workaround": bug.workaround,
        })).collect::<Vec<_>>(),
        "rollback": {
            "snapshot": hop.snapshot_file,
            "command": hop.rollback_command(),
            "summary": hop.rollback_summary(),
        },
    })
}

/// A release's memory figures. `server_mib`, `worker_process_mib` and `scheduler_mib` keep the
/// contract's first shape: one container at the lowest count measured (the worker's is per
/// container, not per process). `roles` gives each role's measurements and the model the
/// `memory-insufficient` check applies.
fn memory_figures_json(figures: &crate::knowledge::model::MemoryFigures) -> Value {
    let lowest = |memory: &Option<crate::knowledge::model::RoleMemory>| {
        memory
            .as_ref()
            .map(|memory| memory.need(memory.measured_counts().first().copied().unwrap_or(1)))
    };
    let roles: serde_json::Map<String, Value> = figures
        .roles()
        .map(|(role, memory)| {
            (
                role.to_owned(),
                json!({
                    "processes": memory.processes,
                    "measured": memory.measured,
                    "model": memory.model(),
                    "text": memory.describe(),
                }),
            )
        })
        .collect();
    json!({
        "server_mib": lowest(&figures.server),
        "worker_process_mib": lowest(&figures.worker),
        "scheduler_mib": lowest(&figures.scheduler),
        "host_minimum_mib": figures.host_minimum_mib,
        "note": figures.note,
        "source": figures.source.0,
        "roles": roles,
    })
}

fn env_change_json(change: &EnvChange) -> Value {
    let mut value = env_change_fields(change);
    if let Value::Object(fields) = &mut value {
        fields.insert("act".into(), change.needs_action().into());
        if !matches!(change, EnvChange::Renamed { .. }) {
            fields.insert("meaning".into(), change.meaning().into());
        }
        if matches!(change, EnvChange::Added { .. }) {
            fields.insert(
                "wanted".into(),
                change
                    .wanted()
                    .map(|note| json!({"text": note.text, "source": note.source.0}))
                    .unwrap_or(Value::Null),
            );
        }
    }
    value
}

fn env_change_fields(change: &EnvChange) -> Value {
    match change {
        EnvChange::Added {
            name,
            default,
            secret,
            source,
            ..
        } => json!({
            "change": change.kind(), "name": name, "secret": secret,
            "default": default.as_ref().map(|_| shown_default(default, *secret)),
            "source": source.0,
        }),
        EnvChange::Removed {
            name,
            secret,
            source,
            ..
        } => json!({"change": change.kind(), "name": name, "secret": secret, "source": source.0}),
        EnvChange::DefaultChanged {
            name,
            old,
            new,
            secret,
            source,
            ..
        } => json!({
            "change": change.kind(), "name": name, "secret": secret,
            "old_default": old.as_ref().map(|_| shown_default(old, *secret)),
            "default": new.as_ref().map(|_| shown_default(new, *secret)),
            "source": source.0,
        }),
        EnvChange::Renamed {
            from,
            to,
            old_name_still_read,
            source,
        } => json!({
            "change": change.kind(), "name": from, "new_name": to,
            "old_name_still_read": old_name_still_read, "source": source.0,
        }),
    }
}

pub fn releases_json(knowledge: &KnowledgeBase) -> Value {
    json!({
        "type": "releases",
        "releases": knowledge.releases.iter().map(release_json).collect::<Vec<_>>(),
    })
}

fn release_json(release: &Release) -> Value {
    json!({
        "version": release.version.to_string(),
        "released_on": release.released_on,
        "prerelease": release.prerelease,
        "image": release.image.tag,
        "python": release.python.version,
        "postgresql_minimum": release.postgresql_minimum.version,
        "redis_minimum": release.redis_minimum.version,
        "job_system": release.job_system,
        "alembic_heads": release.alembic_heads,
        "skip": release.skip.as_ref().map(|note| note.text.as_str()),
    })
}
