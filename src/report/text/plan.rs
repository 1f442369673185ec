//! Text for a terminal: 80 columns, styled with ANSI codes that the caller's stream strips when
//! colour is off (not a terminal, NO_COLOR, `--color never`).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::knowledge::model::Note;
use crate::knowledge::KnowledgeBase;
use crate::plan::UpgradePlan;
use crate::plan::{HopPlan, Phase};

use crate::report::describe::{
    deployment_text, describe_env_added, describe_env_to_act_on, env_added_title, fixed_in_text,
    image_text, memory_figures_text, platform_label,
};
use crate::report::{wrap, TEXT_WIDTH};

const HEADING: Style = Style::new().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();

fn styled(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn paragraph(out: &mut dyn Write, text: &str, first: &str, rest: &str) -> io::Result<()> {
    for line in wrap(text, TEXT_WIDTH, first, rest) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn bullets(out: &mut dyn Write, title: &str, notes: &[&Note]) -> io::Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(out, "  {}", styled(HEADING, title))?;
    for note in notes {
        paragraph(out, &note.text, "    - ", "      ")?;
    }
    Ok(())
}

pub fn plan_text(out: &mut dyn Write, plan: &UpgradePlan<'_>) -> io::Result<()> {
    let hop_count = plan.hops.len();
    writeln!(
        out,
        "{}",
        styled(
            HEADING,
            &format!(
                "Upgrade plan: Redash {} -> {} ({} hop{})",
                plan.from.version,
                plan.to.version,
                hop_count,
                if hop_count == 1 { "" } else { "s" }
            )
        )
    )?;
    for resolution in [&plan.from.resolution, &plan.to.resolution]
        .into_iter()
        .flatten()
    {
        paragraph(out, &format!("{resolution}."), "  ", "  ")?;
    }
    let path = plan.path();
    paragraph(out, &format!("Path: {}", path.join(" -> ")), "", "  ")?;
    paragraph(
        out,
        &format!("Deployment: {}", deployment_text(plan)),
        "",
        "  ",
    )?;
    if !plan.skipped.is_empty() {
        writeln!(out, "Skipped releases:")?;
        for skipped in &plan.skipped {
            let head = format!("  {:<11} ", skipped.version.to_string());
            paragraph(out, &skipped.reason, &head, &" ".repeat(head.len()))?;
        }
    }
    for (index, hop) in plan.hops.iter().enumerate() {
        writeln!(out)?;
        hop_text(out, hop, index + 1, hop_count, plan.platform().is_none())?;
    }
    Ok(())
}

fn field(out: &mut dyn Write, name: &str, value: &str) -> io::Result<()> {
    let head = format!("  {name:<12} ");
    paragraph(out, value, &head, &" ".repeat(head.len()))
}

/// `mark`: whether steps written for one kind of deployment say so (the plan is not fitted to
/// one kind).
fn hop_text(
    out: &mut dyn Write,
    hop: &HopPlan<'_>,
    number: usize,
    count: usize,
    mark: bool,
) -> io::Result<()> {
    let title = format!(
        "Hop {number} of {count}: {} -> {}",
        hop.from.version, hop.to.version
    );
    writeln!(out, "{}", styled(HEADING, &title))?;
    writeln!(out, "{}", styled(DIM, &"-".repeat(title.len())))?;
    field(
        out,
        "Image",
        &format!("{} (was {})", image_text(hop.to), image_text(hop.from)),
    )?;
    field(out, "Why stop", &hop.reason.text)?;
    if hop.from.job_system != hop.to.job_system {
        field(
            out,
            "Jobs",
            &format!(
                "{} -> {}",
                hop.from.job_system.name(),
                hop.to.job_system.name()
            ),
        )?;
    }
    let migrations = if hop.revisions.is_empty() {
        format!("none; the alembic head stays {}", hop.to_head())
    } else {
        format!(
            "{} revision(s), {} -> {}",
            hop.revisions.len(),
            hop.from_head(),
            hop.to_head()
        )
    };
    field(out, "Migrations", &migrations)?;
    for revision in &hop.revisions {
        let marker = if revision.downgrade.is_irreversible() {
            " [irreversible]"
        } else {
            ""
        };
        paragraph(
            out,
            &format!("{} {}{marker}", revision.revision, revision.description),
            "               ",
            "                            ",
        )?;
    }
    let tables = hop.rewritten_tables();
    if !tables.is_empty() {
        field(
            out,
            "Rewrites",
            &format!(
                "{}: plan the window and disk for a full rewrite of these tables",
                tables.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )?;
    }
    if hop.is_irreversible() {
        let ids: Vec<&str> = hop
            .irreversible_revisions()
            .iter()
            .map(|revision| revision.revision.as_str())
            .collect();
        let text = format!(
            "IRREVERSIBLE: the downgrade of {} does not undo it; the only way back is the snapshot",
            ids.join(", ")
        );
        for line in wrap(&text, TEXT_WIDTH, "  ", "  ") {
            writeln!(out, "{}", styled(WARNING, &line))?;
        }
    }
    field(out, "Rollback", &hop.rollback_summary())?;
    writeln!(out)?;
    bullets(out, "Breaking changes", &hop.breaking_changes())?;
    let act = describe_env_to_act_on(hop);
    if !act.is_empty() {
        let title = format!("Environment: {} to act on", act.len());
        writeln!(out, "  {}", styled(HEADING, &title))?;
        for line in &act {
            paragraph(out, line, "    - ", "      ")?;
        }
    }
    let added = describe_env_added(hop);
    if !added.is_empty() {
        let (title, rule) = env_added_title(hop);
        writeln!(out, "  {}", styled(HEADING, &title))?;
        if let Some(rule) = rule {
            paragraph(out, &rule, "    ", "    ")?;
        }
        for line in &added {
            paragraph(out, line, "    - ", "      ")?;
        }
    }
    bullets(out, "Process and queues", &hop.process_changes())?;
    let mut memory: Vec<String> = Vec::new();
    if let Some(figures) = hop.memory_figures() {
        memory.push(memory_figures_text(figures));
    }
    memory.extend(hop.memory_notes().iter().map(|note| note.text.clone()));
    if !memory.is_empty() {
        writeln!(out, "  {}", styled(HEADING, "Memory"))?;
        for text in &memory {
            paragraph(out, text, "    - ", "      ")?;
        }
    }
    bullets(out, "multi_org and proxy", &hop.multi_org_notes())?;
    writeln!(out, "  {}", styled(HEADING, "Steps"))?;
    let mut number = 0;
    for phase in Phase::ALL {
        for step in hop.steps.iter().filter(|step| step.phase == phase) {
            number += 1;
            let mut head = format!("    {number:>2}. [{}] ", phase.name());
            if let Some(platform) = step.platform.filter(|_| mark) {
                head.push_str(&format!("({}) ", platform_label(platform)));
            }
            paragraph(out, &step.text, &head, "        ")?;
        }
    }
    // Kept whole as a shell command, continued on a second line to fit 80 columns.
    let rollback = hop
        .rollback_command()
        .replacen(" --dbname", " \\\n          --dbname", 1);
    writeln!(out, "    rollback:\n        {rollback}")?;
    if !hop.known_bugs.is_empty() {
        writeln!(
            out,
            "  {}",
            styled(HEADING, &format!("Known bugs of {}", hop.to.version))
        )?;
        for bug in &hop.known_bugs {
            let fixed = fixed_in_text(bug);
            paragraph(
                out,
                &format!("{} ({fixed}; {})", bug.title, bug.url),
                "    - ",
                "      ",
            )?;
            paragraph(
                out,
                &format!("Workaround: {}", bug.workaround),
                "      ",
                "      ",
            )?;
        }
    }
    bullets(out, "Tell your users", &hop.user_notes())?;
    Ok(())
}

pub fn releases_text(out: &mut dyn Write, knowledge: &KnowledgeBase) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        styled(
            HEADING,
            &format!(
                "{:<11} {:<32} {:<7} {:<6} {}",
                "RELEASE", "IMAGE", "PYTHON", "JOBS", "ALEMBIC HEAD"
            )
        )
    )?;
    for release in &knowledge.releases {
        let image = release.image.tag.as_deref().unwrap_or("-");
        let mut line = format!(
            "{:<11} {:<32} {:<7} {:<6} {}",
            release.version.to_string(),
            image,
            release.python.version,
            release.job_system.name(),
            release.alembic_heads.join(",")
        );
        if release.skip.is_some() {
            line.push_str(" (skipped)");
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
