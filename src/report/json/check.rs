//! `check --format json`: the contract in the README (fields may be added, none renamed).

use serde_json::{json, Value};

use crate::checks::{CheckReport, Severity};

pub fn findings_json(report: &CheckReport) -> Value {
    json!({
        "type": "check",
        "hops": report.hops,
        "assumed": report.assumptions,
        "findings": report.findings,
        "summary": {
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "infos": report.count(Severity::Info),
            "not_run": report.not_run(),
        },
    })
}
