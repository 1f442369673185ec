//! `check --format markdown`: a checklist of fixes per hop, for the change ticket.

use std::io::Write;

use crate::checks::CheckReport;

pub fn findings_markdown(out: &mut dyn Write, report: &CheckReport) -> std::io::Result<()> {
    writeln!(out, "# Configuration fixes before the upgrade")?;
    writeln!(out)?;
    writeln!(out, "{}", super::super::describe::summary_line(report))?;
    for assumption in &report.assumptions {
        writeln!(out)?;
        writeln!(out, "_Assumed: {assumption}._")?;
    }
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
                "- [ ] **{}** `{}`{place}{effect}: {} Fix: {}",
                finding.severity, finding.code, finding.message, finding.help
            )?;
        }
    }
    if report.not_run() > 0 {
        writeln!(out)?;
        writeln!(out, "## Checks that could not run")?;
        writeln!(out)?;
        for finding in report.could_not_run() {
            writeln!(out, "- {}", finding.message)?;
        }
    }
    Ok(())
}
