//! SARIF 2.1.0 for `check`, so findings show up in code-scanning UIs next to the compose file or
//! task definition and line they point at. Every check is a rule (its `explain` text is the
//! rule's help); each finding is a result with its hop as a property. Findings about the
//! database or the whole deployment have no file, so they carry no location.

use std::io::Write;

use serde_json::{json, Value};

use super::{Document, Format, ReportError, Reporter};
use crate::checks::{CheckReport, Finding, Severity, CANNOT_RUN, CHECKS};
use crate::report::describe::app_tag;

pub struct SarifReporter;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

impl Reporter for SarifReporter {
    fn format(&self) -> Format {
        Format::Sarif
    }

    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError> {
        let Document::Check(report) = document else {
            return Err(self.unsupported(document));
        };
        serde_json::to_writer_pretty(&mut *out, &sarif_log(report))
            .map_err(std::io::Error::from)?;
        writeln!(out)?;
        Ok(())
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The rules in registry order, then the engine's own code for checks that could not run.
fn rules() -> Vec<Value> {
    let mut rules: Vec<Value> = CHECKS
        .iter()
        .map(|check| {
            let meta = check.meta();
            json!({
                "id": meta.code,
                "shortDescription": {"text": meta.summary},
                "fullDescription": {"text": meta.what},
                "help": {
                    "text": format!("{}\n\nHow to fix: {}\n\nRun `redash-upgrade explain {}` for references.", meta.why, meta.fix, meta.code),
                },
                "defaultConfiguration": {"level": level(meta.severity)},
            })
        })
        .collect();
    rules.push(json!({
        "id": CANNOT_RUN,
        "shortDescription": {"text": "a check could not run for want of input"},
        "defaultConfiguration": {"level": "note"},
    }));
    rules
}

fn rule_index(code: &str) -> usize {
    CHECKS
        .iter()
        .position(|check| check.code() == code)
        .unwrap_or(CHECKS.len())
}

/// A path as a relative URI reference: `/` kept, anything outside RFC 3986's unreserved
/// characters percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn result(finding: &Finding) -> Value {
    let mut result = json!({
        "ruleId": finding.code,
        "ruleIndex": rule_index(finding.code),
        "level": level(finding.severity),
        "message": {"text": format!("{}{} Fix: {}", app_tag(finding), finding.message, finding.help)},
        "properties": {"hop": finding.hop, "effect": finding.effect},
    });
    if let Some(app) = &finding.app {
        result["properties"]["app"] = json!(app);
    }
    if let Some(location) = &finding.location {
        result["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": {"uri": uri(&location.file)},
                "region": {"startLine": location.line.max(1)},
            }
        }]);
    }
    result
}

fn sarif_log(report: &CheckReport) -> Value {
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "redash-upgrade",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules(),
                }
            },
            "results": report.findings.iter().map(result).collect::<Vec<_>>(),
            "properties": {"hops": report.hops, "assumed": report.assumptions},
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_relative_uri_references() {
        assert_eq!(uri("deploy/compose.yml"), "deploy/compose.yml");
        assert_eq!(uri("my env/.env"), "my%20env/.env");
        assert_eq!(uri("a#b"), "a%23b");
    }
}
