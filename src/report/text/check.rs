//! `check` as text, grouped by hop then severity; `checks` and `explain` print the registry.

use std::io::Write;

use crate::checks::{CheckMeta, CheckReport, Finding, CHECKS};
use crate::report::describe::app_tag;
use crate::report::{wrap, TEXT_WIDTH};

pub fn findings_text(out: &mut dyn Write, report: &CheckReport) -> std::io::Result<()> {
    writeln!(out, "Checked: {}", report.inputs.join(", "))?;
    for assumption in &report.assumptions {
        for line in wrap(assumption, TEXT_WIDTH, "Assumed: ", "         ") {
            writeln!(out, "{line}")?;
        }
    }
    for (hop, list) in report.by_hop() {
        writeln!(out)?;
        writeln!(out, "Hop {} -> {}", hop.from, hop.to)?;
        if list.is_empty() {
            writeln!(out, "  nothing found")?;
        }
        for finding in list {
            write_finding(out, finding)?;
        }
    }
    if report.not_run() > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Could not run (give the input, or see `redash-upgrade explain CODE`):"
        )?;
        for finding in report.could_not_run() {
            writeln!(out, "  {}{}", app_tag(finding), finding.message)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Summary: {}",
        super::super::describe::summary_line(report)
    )
}

/// One finding: severity, code, place and effect, then the message and the fix, wrapped.
pub fn write_finding(out: &mut dyn Write, finding: &Finding) -> std::io::Result<()> {
    let place = finding
        .location
        .as_ref()
        .map(|location| format!(" {location}"))
        .unwrap_or_default();
    let effect = finding
        .effect
        .map(|effect| format!(" ({})", effect.phrase()))
        .unwrap_or_default();
    writeln!(
        out,
        "  {}{}[{}]{place}{effect}",
        app_tag(finding),
        finding.severity,
        finding.code
    )?;
    for line in wrap(&finding.message, TEXT_WIDTH, "      ", "      ") {
        writeln!(out, "{line}")?;
    }
    for line in wrap(&finding.help, TEXT_WIDTH, "      fix: ", "           ") {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn checks_text(out: &mut dyn Write) -> std::io::Result<()> {
    for check in CHECKS {
        writeln!(
            out,
            "{:<34} {:<8} {}",
            check.code(),
            check.default_severity().to_string(),
            check.meta().summary
        )?;
    }
    Ok(())
}

pub fn explain_text(out: &mut dyn Write, doc: &CheckMeta) -> std::io::Result<()> {
    writeln!(out, "{} ({} by default)", doc.code, doc.severity)?;
    writeln!(out, "{}", doc.summary)?;
    for (title, text) in [
        ("What it checks", doc.what),
        ("Why it matters", doc.why),
        ("How to fix", doc.fix),
    ] {
        writeln!(out)?;
        writeln!(out, "{title}")?;
        for line in wrap(text, TEXT_WIDTH, "  ", "  ") {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "References")?;
    for reference in doc.references {
        writeln!(out, "  {reference}")?;
    }
    Ok(())
}
