//! `smoke`'s report: the probes in the order they ran, then the findings.

use crate::report::{wrap, Format, TEXT_WIDTH};
use crate::smoke::SmokeReport;

/// Renders the report whole, in text, Markdown or JSON (`"type": "smoke"`).
pub fn render(format: Format, report: &SmokeReport) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut value = serde_json::json!({ "type": "smoke" });
            let body = serde_json::to_value(report).expect("serializes");
            if let (Some(object), serde_json::Value::Object(fields)) = (value.as_object_mut(), body)
            {
                object.extend(fields);
            }
            object_passed(&mut value, report.passed());
            let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(report).into_bytes(),
        _ => text(report).into_bytes(),
    }
}

fn object_passed(value: &mut serde_json::Value, passed: bool) {
    if let Some(object) = value.as_object_mut() {
        object.insert("passed".to_owned(), passed.into());
    }
}

fn verdict(report: &SmokeReport) -> String {
    let errors = report.findings.len();
    if report.passed() {
        format!(
            "{} answers as {}: every probe passed",
            report.url, report.expect
        )
    } else {
        format!(
            "{} failed the smoke test: {errors} failed probe{}",
            report.url,
            if errors == 1 { "" } else { "s" }
        )
    }
}

fn text(report: &SmokeReport) -> String {
    let mut out = String::new();
    out.push_str(&verdict(report));
    out.push_str("\n\n");
    for probe in &report.probes {
        let first = format!("  {:<7} {:<10} ", probe.outcome, probe.name);
        let rest = " ".repeat(first.len());
        for line in wrap(&probe.detail, TEXT_WIDTH, &first, &rest) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    for finding in &report.findings {
        out.push('\n');
        for line in wrap(
            &format!("error[{}]: {}", finding.code, finding.message),
            TEXT_WIDTH,
            "",
            "  ",
        ) {
            out.push_str(&line);
            out.push('\n');
        }
        for line in wrap(&finding.help, TEXT_WIDTH, "  help: ", "        ") {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn markdown(report: &SmokeReport) -> String {
    let mut out = format!(
        "## Smoke test of {} (expecting {})\n\n{}\n\n| probe | outcome | detail |\n|---|---|---|\n",
        report.url,
        report.expect,
        verdict(report)
    );
    for probe in &report.probes {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            probe.name,
            probe.outcome,
            probe.detail.replace('|', "\\|")
        ));
    }
    if !report.findings.is_empty() {
        out.push_str("\n### Failed probes\n\n");
        for finding in &report.findings {
            out.push_str(&format!(
                "- [ ] `{}`: {} ({})\n",
                finding.code, finding.message, finding.help
            ));
        }
    }
    out
}
