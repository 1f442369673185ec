//! `check` output: text grouped by hop then severity, a Markdown checklist for the ticket, and
//! JSON (the contract is in the README). `explain` and `checks` print the registry.

use std::io::Write;

use serde_json::{json, Value};

use super::{Finding, Severity, CHECKS};
use crate::report::{wrap, TEXT_WIDTH};

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings
        .iter()
        .filter(|finding| finding.severity == severity)
        .count()
}

fn summary_line(findings: &[Finding]) -> String {
    format!(
        "{} error(s), {} warning(s), {} note(s)",
        count(findings, Severity::Error),
        count(findings, Severity::Warning),
        count(findings, Severity::Info)
    )
}

/// Hops in plan order, each with its findings sorted by severity.
fn by_hop<'a>(hops: &'a [String], findings: &'a [Finding]) -> Vec<(&'a str, Vec<&'a Finding>)> {
    hops.iter()
        .map(|hop| {
            let mut list: Vec<&Finding> = findings
                .iter()
                .filter(|finding| &finding.hop == hop)
                .collect();
            list.sort_by_key(|finding| finding.severity);
            (hop.as_str(), list)
        })
        .collect()
}

pub fn findings_text(
    out: &mut dyn Write,
    hops: &[String],
    inputs: &[String],
    findings: &[Finding],
) -> std::io::Result<()> {
    writeln!(out, "Checked: {}", inputs.join(", "))?;
    for (hop, list) in by_hop(hops, findings) {
        writeln!(out)?;
        writeln!(out, "Hop {}", hop.replace("->", " -> "))?;
        if list.is_empty() {
            writeln!(out, "  nothing found")?;
        }
        for finding in list {
            let place = finding
                .location
                .as_ref()
                .map(|location| format!(" {location}"))
                .unwrap_or_default();
            writeln!(out, "  {}[{}]{place}", finding.severity, finding.code)?;
            for line in wrap(&finding.message, TEXT_WIDTH, "      ", "      ") {
                writeln!(out, "{line}")?;
            }
            for line in wrap(&finding.help, TEXT_WIDTH, "      fix: ", "           ") {
                writeln!(out, "{line}")?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "Summary: {}", summary_line(findings))
}

pub fn findings_markdown(
    out: &mut dyn Write,
    hops: &[String],
    findings: &[Finding],
) -> std::io::Result<()> {
    writeln!(out, "# Configuration fixes before the upgrade")?;
    writeln!(out)?;
    writeln!(out, "{}", summary_line(findings))?;
    for (hop, list) in by_hop(hops, findings) {
        writeln!(out)?;
        writeln!(out, "## {}", hop.replace("->", " -> "))?;
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
            writeln!(
                out,
                "- [ ] **{}** `{}`{place}: {} Fix: {}",
                finding.severity, finding.code, finding.message, finding.help
            )?;
        }
    }
    Ok(())
}

pub fn findings_json(hops: &[String], findings: &[Finding]) -> Value {
    json!({
        "type": "check",
        "hops": hops,
        "findings": findings,
        "summary": {
            "errors": count(findings, Severity::Error),
            "warnings": count(findings, Severity::Warning),
            "infos": count(findings, Severity::Info),
        },
    })
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

pub fn explain_text(out: &mut dyn Write, check: &dyn super::Check) -> std::io::Result<()> {
    let doc = check.meta();
    writeln!(
        out,
        "{} ({} by default)",
        check.code(),
        check.default_severity()
    )?;
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
