//! `check --format markdown`: a checklist of fixes per hop, for the change ticket.

use std::io::Write;

use crate::checks::CheckReport;
use crate::report::describe::app_tag;

/// A change ticket: the title names both releases, the header when and with what the check ran
/// and what it read, then one checklist of fixes per hop.
pub fn findings_markdown(out: &mut dyn Write, report: &CheckReport) -> std::io::Result<()> {
    match (report.hops.first(), report.hops.last()) {
        (Some(first), Some(last)) => writeln!(
            out,
            "# Fixes before upgrading Redash from {} to {}",
            first.from, last.to
        )?,
        _ => writeln!(out, "# Fixes before the Redash upgrade")?,
    }
    writeln!(out)?;
    let tool = format!("redash-upgrade {}", env!("CARGO_PKG_VERSION"));
    match &report.date {
        Some(date) => writeln!(out, "- Checked: {date} (UTC) with {tool}")?,
        None => writeln!(out, "- Checked with {tool}")?,
    }
    writeln!(out, "- Inputs: {}", report.inputs.join(", "))?;
    for assumption in &report.assumptions {
        writeln!(out, "- Assumed: {assumption}.")?;
    }
    writeln!(
        out,
        "- Result: {}",
        super::super::describe::summary_line(report)
    )?;
    for (hop, list) in report.by_hop() {
        writeln!(out)?;
        writeln!(out, "## {} -> {}", hop.from, hop.to)?;
        writeln!(out)?;
        if list.is_empty() {
            writeln!(out, "Nothing to change.")?;
        }
        for finding in list {
            let place = finding
                .location
                .as_ref()
                .map(|location| format!(" (`{location}`)"))
                .unwrap_or_default();
            let effect = finding
                .effect
                .map(|effect| format!(" ({})", effect.phrase()))
                .unwrap_or_default();
            writeln!(
                out,
                "- [ ] {}**{}** `{}`{place}{effect}: {} Fix: {}",
                app_tag(finding),
                finding.severity,
                finding.code,
                finding.message,
                finding.help
            )?;
        }
    }
    if report.not_run() > 0 {
        writeln!(out)?;
        writeln!(out, "## Checks that could not run")?;
        writeln!(out)?;
        for finding in report.could_not_run() {
            writeln!(out, "- {}{}", app_tag(finding), finding.message)?;
        }
    }
    Ok(())
}
