//! An on-call checklist: one section per hop, `- [ ]` items per phase, the rollback beside it.

use std::io::{self, Write};

use crate::knowledge::model::Note;
use crate::plan::UpgradePlan;
use crate::plan::{HopPlan, Phase};

use crate::report::describe::{
    deployment_text, describe_env_added, describe_env_to_act_on, env_added_title, fixed_in_text,
    image_text, memory_figures_text, platform_label,
};

fn notes(out: &mut dyn Write, title: &str, notes: &[&Note]) -> io::Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n#### {title}\n")?;
    for note in notes {
        writeln!(out, "- {}", note.text)?;
    }
    Ok(())
}

/// A change ticket: the title names both releases, the header when and with what the plan was
/// made and the deployment files it was fitted to, then one checklist per hop.
pub fn plan_markdown(out: &mut dyn Write, plan: &UpgradePlan<'_>) -> io::Result<()> {
    writeln!(
        out,
        "# Upgrade Redash from {} to {}\n",
        plan.from.version, plan.to.version
    )?;
    let tool = format!("redash-upgrade {}", env!("CARGO_PKG_VERSION"));
    match &plan.date {
        Some(date) => writeln!(out, "- Prepared: {date} (UTC) with {tool}")?,
        None => writeln!(out, "- Prepared with {tool}")?,
    }
    writeln!(out, "- Deployment files checked: {}", deployment_text(plan))?;
    let path = plan.path();
    writeln!(
        out,
        "- Path: {} ({} hop{})",
        path.join(" -> "),
        plan.hops.len(),
        if plan.hops.len() == 1 { "" } else { "s" }
    )?;
    for resolution in [&plan.from.resolution, &plan.to.resolution]
        .into_iter()
        .flatten()
    {
        writeln!(out, "- {resolution}.")?;
    }
    if !plan.skipped.is_empty() {
        writeln!(out, "\nSkipped releases:\n")?;
        for skipped in &plan.skipped {
            writeln!(out, "- {}: {}", skipped.version, skipped.reason)?;
        }
    }
    for (index, hop) in plan.hops.iter().enumerate() {
        hop_markdown(out, hop, index + 1, plan.platform().is_none())?;
    }
    Ok(())
}

/// `mark`: whether steps written for one kind of deployment say so.
fn hop_markdown(
    out: &mut dyn Write,
    hop: &HopPlan<'_>,
    number: usize,
    mark: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "\n## Hop {number}: {} -> {}\n",
        hop.from.version, hop.to.version
    )?;
    let image = match (hop.image(), hop.to.image.note.as_deref()) {
        (Some(image), _) => format!("`{image}`"),
        (None, Some(note)) => format!("{}: {}", image_text(hop.to), note.trim()),
        (None, None) => image_text(hop.to),
    };
    writeln!(out, "- Image: {image}")?;
    writeln!(out, "- Why this stop: {}", hop.reason.text)?;
    let revisions: Vec<String> = hop
        .revisions
        .iter()
        .map(|revision| format!("`{}`", revision.revision))
        .collect();
    if revisions.is_empty() {
        writeln!(out, "- Migrations: none (head stays `{}`)", hop.to_head())?;
    } else {
        writeln!(
            out,
            "- Migrations: {} (`{}` -> `{}`)",
            revisions.join(", "),
            hop.from_head(),
            hop.to_head()
        )?;
    }
    if hop.is_irreversible() {
        let ids: Vec<String> = hop
            .irreversible_revisions()
            .iter()
            .map(|revision| format!("`{}`", revision.revision))
            .collect();
        writeln!(
            out,
            "- **Irreversible:** {} cannot be downgraded; the snapshot is the only way back",
            ids.join(", ")
        )?;
    }
    let tables = hop.rewritten_tables();
    if !tables.is_empty() {
        let tables: Vec<String> = tables.iter().map(|table| format!("`{table}`")).collect();
        writeln!(out, "- Rewrites: {}", tables.join(", "))?;
    }
    writeln!(
        out,
        "- **Rollback:** {}: `{}`",
        hop.rollback_summary(),
        hop.rollback_command()
    )?;
    for phase in Phase::ALL {
        let title = match phase {
            Phase::PreFlight => "Pre-flight",
            Phase::Rehearse => "Rehearse on a restored copy (before the window)",
            Phase::Snapshot => "Snapshot",
            Phase::Migrate => "Migrate",
            Phase::Verify => "Verify",
        };
        writeln!(out, "\n### {title}\n")?;
        for step in hop.steps.iter().filter(|step| step.phase == phase) {
            match step.platform.filter(|_| mark) {
                Some(platform) => {
                    writeln!(out, "- [ ] _({})_ {}", platform_label(platform), step.text)?
                }
                None => writeln!(out, "- [ ] {}", step.text)?,
            }
        }
    }
    notes(out, "Breaking changes", &hop.breaking_changes())?;
    let act = describe_env_to_act_on(hop);
    if !act.is_empty() {
        writeln!(out, "\n#### Environment: {} to act on\n", act.len())?;
        for line in &act {
            writeln!(out, "- {line}")?;
        }
    }
    let added = describe_env_added(hop);
    if !added.is_empty() {
        let (title, rule) = env_added_title(hop);
        writeln!(out, "\n#### {title}\n")?;
        if let Some(rule) = rule {
            writeln!(out, "{rule}\n")?;
        }
        for line in &added {
            writeln!(out, "- {line}")?;
        }
    }
    notes(out, "Process and queues", &hop.process_changes())?;
    let mut memory: Vec<String> = hop
        .memory_figures()
        .map(memory_figures_text)
        .into_iter()
        .collect();
    memory.extend(hop.memory_notes().iter().map(|note| note.text.clone()));
    if !memory.is_empty() {
        writeln!(out, "\n#### Memory\n")?;
        for text in memory {
            writeln!(out, "- {text}")?;
        }
    }
    notes(out, "multi_org and proxy", &hop.multi_org_notes())?;
    if !hop.known_bugs.is_empty() {
        writeln!(out, "\n#### Known bugs of {}\n", hop.to.version)?;
        for bug in &hop.known_bugs {
            let fixed = fixed_in_text(bug);
            writeln!(
                out,
                "- [{}]({}) ({fixed}). Workaround: {}",
                bug.title, bug.url, bug.workaround
            )?;
        }
    }
    notes(out, "Tell your users before the hop", &hop.user_notes())?;
    Ok(())
}
