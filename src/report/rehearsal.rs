//! The rehearsal's report: Markdown for the change ticket, JSON for tools, an HTML page with a
//! timeline, and a short text summary for the terminal. All are made from the journal alone,
//! so a resumed run reports exactly what an uninterrupted one would.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rehearse::{PutBack, Rehearsal, StepKind, StepRecord, StepState};

use super::Format;

pub const MARKDOWN_FILE: &str = "report.md";
pub const JSON_FILE: &str = "report.json";
pub const HTML_FILE: &str = "report.html";

/// Findings listed per hop; the counts are always complete.
const FINDINGS_SHOWN: usize = 25;

pub fn render(format: Format, rehearsal: &Rehearsal) -> Vec<u8> {
    match format {
        Format::Json => json(rehearsal),
        Format::Markdown => markdown(rehearsal).into_bytes(),
        _ => text(rehearsal).into_bytes(),
    }
}

/// Writes the three reports in the work directory (each atomically); returns their paths.
pub fn write_files(
    rehearsal: &mut Rehearsal,
    work: &Path,
) -> Result<(), (PathBuf, std::io::Error)> {
    rehearsal.report_files = [MARKDOWN_FILE, JSON_FILE, HTML_FILE]
        .iter()
        .map(|name| work.join(name).display().to_string())
        .collect();
    let rehearsal = &*rehearsal;
    for (name, bytes) in [
        (MARKDOWN_FILE, markdown(rehearsal).into_bytes()),
        (JSON_FILE, json(rehearsal)),
        (HTML_FILE, html(rehearsal).into_bytes()),
    ] {
        let path = work.join(name);
        crate::rehearse::journal::write_atomically(&path, &bytes)
            .map_err(|error| (path.clone(), error))?;
    }
    Ok(())
}

fn json(rehearsal: &Rehearsal) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(rehearsal).expect("a rehearsal serializes");
    bytes.push(b'\n');
    bytes
}

fn headline(rehearsal: &Rehearsal) -> String {
    let journal = &rehearsal.journal;
    let path = format!("{} -> {}", journal.from, journal.to);
    if rehearsal.dry_run {
        return format!("Rehearsal of {path}: dry run, nothing done");
    }
    match (rehearsal.succeeded(), rehearsal.failed_step()) {
        (true, _) => format!("Rehearsal of {path}: succeeded, every hop verified"),
        (false, Some(step)) => format!(
            "Rehearsal of {path}: FAILED at {} ({})",
            step.id,
            step.kind.title()
        ),
        (false, None) => format!("Rehearsal of {path}: not finished"),
    }
}

fn seconds(step: Option<&StepRecord>) -> Option<f64> {
    step.and_then(|step| step.seconds)
}

fn step<'a>(rehearsal: &'a Rehearsal, id: &str) -> Option<&'a StepRecord> {
    rehearsal.journal.step(id)
}

fn state_word(step: Option<&StepRecord>) -> &'static str {
    match step.map(|step| step.state) {
        Some(StepState::Done) => "done",
        Some(StepState::Failed) => "FAILED",
        Some(StepState::Started) => "interrupted",
        None => "not run",
    }
}

fn secs(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |value| format!("{value:.1}"))
}

/// The measured window of a hop: snapshot, migration and verification, the part production is
/// down for.
fn window(rehearsal: &Rehearsal, hop: usize) -> Option<f64> {
    let parts: Vec<Option<f64>> = ["snapshot", "migrate", "verify"]
        .iter()
        .map(|kind| seconds(step(rehearsal, &format!("hop-{hop}/{kind}"))))
        .collect();
    parts
        .iter()
        .all(Option::is_some)
        .then(|| parts.iter().flatten().sum())
}

fn text(rehearsal: &Rehearsal) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(rehearsal));
    let journal = &rehearsal.journal;
    let _ = writeln!(out, "snapshot: {}", journal.snapshot);
    let _ = writeln!(out, "staging:  {}", journal.staging);
    let _ = writeln!(out, "runner:   {}", journal.runner);
    if rehearsal.dry_run {
        let _ = writeln!(
            out,
            "restore: empty {} (or refuse it unless --clean), pg_restore the snapshot, compare the copy with its manifest",
            journal.staging_database
        );
        let _ = writeln!(out, "neutralize: mute alerts, detach alert subscriptions, turn off e-mail about failed scheduled queries, then --neutralize-sql if given (originals kept in redash_upgrade)");
    }
    for (index, hop) in journal.hops.iter().enumerate() {
        let number = index + 1;
        if rehearsal.dry_run {
            let command = rehearsal
                .commands
                .get(index)
                .map(|commands| commands.migrate_shown.as_str())
                .unwrap_or("");
            let _ = writeln!(out, "hop {number}: {} -> {}", hop.from, hop.to);
            let _ = writeln!(
                out,
                "  check: the database checks of {} -> {}, read-only",
                hop.from, hop.to
            );
            let _ = writeln!(
                out,
                "  snapshot: {}/snapshots/hop-{number}-before-{}",
                rehearsal.work_dir, hop.to
            );
            let _ = writeln!(
                out,
                "  migrate (REDASH_DATABASE_URL in the environment): {command}"
            );
            for (path, contents) in rehearsal
                .commands
                .get(index)
                .map(|commands| commands.migrate.files.as_slice())
                .unwrap_or_default()
            {
                let _ = writeln!(out, "    with {}:", path.display());
                for line in contents.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            let _ = writeln!(out, "  alembic: must hold {} ({})", hop.to_head, hop.to);
            let _ = writeln!(out, "  verify: against the hop's snapshot, expecting {}; on failure restore that snapshot unless --keep-failed", hop.to);
            continue;
        }
        let _ = writeln!(
            out,
            "hop {number}: {} -> {}: check {}, snapshot {}, migrate {}, verify {}; window {} s",
            hop.from,
            hop.to,
            state_word(step(rehearsal, &format!("hop-{number}/check"))),
            state_word(step(rehearsal, &format!("hop-{number}/snapshot"))),
            state_word(step(rehearsal, &format!("hop-{number}/migrate"))),
            state_word(step(rehearsal, &format!("hop-{number}/verify"))),
            secs(window(rehearsal, number)),
        );
    }
    if let Some(failed) = rehearsal.failed_step() {
        let _ = writeln!(
            out,
            "failed: {}: {}",
            failed.id,
            failed.error.as_deref().unwrap_or("")
        );
    }
    if rehearsal.dry_run {
        let _ = writeln!(
            out,
            "pause schedules: queries.schedule set to NULL at {}, originals kept",
            journal.to
        );
    }
    if !rehearsal.staging_environment.is_empty() {
        let _ = writeln!(out, "the copy's Redash roles run with:");
        for setting in &rehearsal.staging_environment {
            let _ = writeln!(
                out,
                "  {}={}    # {}",
                setting.name, setting.value, setting.why
            );
        }
    }
    for note in &rehearsal.staging_notes {
        if note.starts_with("Warning") {
            let _ = writeln!(out, "{note}");
        } else {
            let _ = writeln!(out, "  {note}");
        }
    }
    for file in &rehearsal.report_files {
        let _ = writeln!(out, "report: {file}");
    }
    out
}

fn markdown(rehearsal: &Rehearsal) -> String {
    let journal = &rehearsal.journal;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", headline(rehearsal));
    let _ = writeln!(
        out,
        "- Snapshot rehearsed: `{}` (manifest SHA-256 `{}`)",
        journal.snapshot, journal.snapshot_manifest_sha256
    );
    let _ = writeln!(out, "- Staging database: `{}`", journal.staging);
    let _ = writeln!(out, "- Runner: `{}`", journal.runner);
    if let Some(assumption) = &journal.assumption {
        let _ = writeln!(out, "- Assumed: {assumption}");
    }
    if !rehearsal.dry_run {
        let _ = writeln!(
            out,
            "- Runs: {} (a rehearsal interrupted and resumed counts once per run)",
            journal.runs
        );
    }
    let _ = writeln!(out);

    if !rehearsal.dry_run {
        let _ = writeln!(out, "## Hops\n");
        let _ = writeln!(
            out,
            "| hop | path | pre-flight | snapshot s | migrate s | verify s | window s | result |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for (index, hop) in journal.hops.iter().enumerate() {
            let number = index + 1;
            let check = step(rehearsal, &format!("hop-{number}/check"));
            let findings = check.map_or("-".to_owned(), |check| {
                format!(
                    "{} error(s), {} warning(s)",
                    check.detail["errors"].as_u64().unwrap_or(0),
                    check.detail["warnings"].as_u64().unwrap_or(0)
                )
            });
            let verify = step(rehearsal, &format!("hop-{number}/verify"));
            let result = match (
                verify.map(|step| step.state),
                step(rehearsal, &format!("hop-{number}/migrate")).map(|step| step.state),
            ) {
                (Some(StepState::Done), _) => "verified".to_owned(),
                (Some(StepState::Failed), _) => "NOT verified".to_owned(),
                (_, Some(StepState::Failed)) => "migration FAILED".to_owned(),
                _ => "not run".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {number} | {} -> {} | {findings} | {} | {} | {} | {} | {result} |",
                hop.from,
                hop.to,
                secs(seconds(step(rehearsal, &format!("hop-{number}/snapshot")))),
                secs(seconds(step(rehearsal, &format!("hop-{number}/migrate")))),
                secs(seconds(verify)),
                secs(window(rehearsal, number)),
            );
        }
        let _ = writeln!(out, "\nThe window is what production is down for: snapshot, migration and verification, measured on the copy.\n");
    }

    let _ = writeln!(out, "## The copy, neutralized\n");
    for id in ["neutralize", "pause-schedules"] {
        if let Some(record) = step(rehearsal, id) {
            for item in record.detail["neutralized"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let _ = writeln!(
                    out,
                    "- {}: {} row(s){}",
                    item["step"].as_str().unwrap_or(""),
                    item["rows"],
                    item["what"]
                        .as_str()
                        .filter(|what| !what.is_empty())
                        .map(|what| format!(" ({what})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    if rehearsal.dry_run {
        let _ = writeln!(out, "- alerts muted, alert subscriptions detached, e-mail about failed scheduled queries turned off, then `--neutralize-sql` when given; schedules paused after the last hop");
    }
    let _ = writeln!(out, "\nThe originals are kept in the copy's `redash_upgrade` schema; `redash-upgrade rehearse --restore-neutralized` puts them back.\n");
    let _ = writeln!(out, "Run the copy's Redash roles with:\n\n```");
    for setting in &rehearsal.staging_environment {
        let _ = writeln!(
            out,
            "{}={}    # {}",
            setting.name, setting.value, setting.why
        );
    }
    let _ = writeln!(out, "```\n");
    for note in &rehearsal.staging_notes {
        let _ = writeln!(out, "- {note}");
    }
    let _ = writeln!(out);

    for (index, hop) in journal.hops.iter().enumerate() {
        let number = index + 1;
        let _ = writeln!(out, "## Hop {number}: {} -> {}\n", hop.from, hop.to);
        if let Some(image) = &hop.image {
            let _ = writeln!(
                out,
                "Image `{image}`; alembic `{}` -> `{}`.\n",
                hop.from_head, hop.to_head
            );
        }
        if !rehearsal.dry_run {
            let _ = writeln!(
                out,
                "| step | state | attempts | seconds |\n|---|---|---|---|"
            );
            for record in journal
                .steps
                .iter()
                .filter(|record| record.hop == Some(number))
            {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    record.kind.title(),
                    state_word(Some(record)),
                    record.attempts,
                    secs(record.seconds)
                );
            }
            let _ = writeln!(out);
        }
        if let Some(snapshot) = step(rehearsal, &format!("hop-{number}/snapshot")) {
            let detail = &snapshot.detail;
            let tables: Vec<String> = detail["tables_rewritten"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|table| {
                    format!(
                        "{} ({} rows)",
                        table["table"].as_str().unwrap_or(""),
                        table["rows"]
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "Rollback point: `{}`, {} rows, {} bytes of dump. Tables this hop's migrations rewrite: {}.\n",
                detail["directory"].as_str().unwrap_or(""),
                detail["rows"],
                detail["dump_bytes"],
                if tables.is_empty() { "none".to_owned() } else { tables.join(", ") }
            );
        }
        if let Some(check) = step(rehearsal, &format!("hop-{number}/check")) {
            let findings = check.detail["findings"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if findings.is_empty() {
                let _ = writeln!(out, "Pre-flight checks of the copy's data: no finding.\n");
            } else {
                let _ = writeln!(
                    out,
                    "Pre-flight checks of the copy's data ({} finding(s)):\n",
                    findings.len()
                );
                for finding in findings.iter().take(FINDINGS_SHOWN) {
                    let _ = writeln!(
                        out,
                        "- {} `{}`: {}",
                        finding["severity"].as_str().unwrap_or(""),
                        finding["code"].as_str().unwrap_or(""),
                        finding["message"].as_str().unwrap_or("")
                    );
                }
                if findings.len() > FINDINGS_SHOWN {
                    let _ = writeln!(
                        out,
                        "- ... and {} more (report.json has them all)",
                        findings.len() - FINDINGS_SHOWN
                    );
                }
                let _ = writeln!(out);
            }
        }
        if let Some(migrate) = step(rehearsal, &format!("hop-{number}/migrate")) {
            let detail = &migrate.detail;
            let _ = writeln!(
                out,
                "Migration: exit code {}, alembic after: {}.",
                detail["exit_code"],
                list(&detail["alembic_after"])
            );
            if let Some(error) = &migrate.error {
                let _ = writeln!(out, "\n**Failed:** {error}\n\nThe runner's last lines (secrets masked; the whole output is in `{}`):\n\n```", detail["log"].as_str().unwrap_or(""));
                for line in detail["output_tail"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "{}", line.as_str().unwrap_or(""));
                }
                let _ = writeln!(out, "```");
            }
            let _ = writeln!(out);
        }
        if let Some(verify) = step(rehearsal, &format!("hop-{number}/verify")) {
            verification(&mut out, verify);
        }
        if let Some(rollback) = step(rehearsal, &format!("hop-{number}/rollback")) {
            let _ = writeln!(
                out,
                "Rolled back to the pre-hop snapshot: {}{}.\n",
                state_word(Some(rollback)),
                if rollback.detail["restore_tested"] == true {
                    ", the copy proven identical to it"
                } else {
                    ""
                }
            );
        }
        if let Some(commands) = rehearsal.commands.get(index) {
            let _ = writeln!(out, "In production:\n");
            for (position, command) in commands.production.iter().enumerate() {
                let _ = writeln!(out, "{}. {}", position + 1, code_if_command(command));
            }
            for (path, contents) in &commands.migrate.files {
                let _ = writeln!(out, "\n`{}`:\n\n```yaml\n{}```", path.display(), contents);
            }
            let _ = writeln!(out);
        }
    }
    out
}

fn code_if_command(line: &str) -> String {
    if line.starts_with("REDASH_DATABASE_URL=") {
        format!("`{line}`")
    } else {
        line.to_owned()
    }
}

fn list(value: &Value) -> String {
    let items: Vec<&str> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

fn verification(out: &mut String, verify: &StepRecord) {
    let detail = &verify.detail;
    if detail["verified"] == true {
        let _ = writeln!(
            out,
            "Verification against the pre-hop snapshot: verified (release now {}).",
            list(&detail["release_now"])
        );
    } else {
        let _ = writeln!(
            out,
            "Verification against the pre-hop snapshot: **NOT verified**, {} difference(s):",
            detail["differences"]
        );
        if let Some(problem) = detail["alembic_problem"].as_str() {
            let _ = writeln!(out, "- alembic: {problem}");
        }
        for line in detail["schema_differences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let _ = writeln!(out, "- schema: {}", line.as_str().unwrap_or(""));
        }
        for table in detail["tables"].as_array().into_iter().flatten() {
            let changed: Vec<String> = table["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    format!(
                        "{} ({})",
                        row["key"].as_str().unwrap_or(""),
                        list(&row["columns"])
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "- {}: {} missing {}, {} added {}, {} changed {}{}",
                table["table"].as_str().unwrap_or(""),
                table["missing_count"],
                list(&table["missing"]),
                table["added_count"],
                list(&table["added"]),
                table["changed_count"],
                if changed.is_empty() {
                    "nothing".to_owned()
                } else {
                    changed.join(", ")
                },
                table["problem"]
                    .as_str()
                    .map(|problem| format!("; {problem}"))
                    .unwrap_or_default()
            );
            for cause in table["known_causes"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "  - known cause: {}", cause.as_str().unwrap_or(""));
            }
        }
        for value in detail["invalid_values"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "- {}.{}: {} ({} rows)",
                value["table"].as_str().unwrap_or(""),
                value["column"].as_str().unwrap_or(""),
                value["problem"].as_str().unwrap_or(""),
                value["count"]
            );
        }
        if detail["broken_references"].as_u64().unwrap_or(0) > 0 {
            let _ = writeln!(out, "- {} broken reference(s)", detail["broken_references"]);
        }
    }
    for line in detail["not_compared"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "- not compared: {}", line.as_str().unwrap_or(""));
    }
    let _ = writeln!(out);
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page with the Markdown report's content and a timeline of every step, to scale.
fn html(rehearsal: &Rehearsal) -> String {
    let mut out = String::new();
    let title = escape(&headline(rehearsal));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}}\
.row{{display:flex;align-items:center;margin:2px 0;font-size:0.9em}}\
.label{{width:16em;flex:none}}.track{{flex:1;position:relative;height:1.2em;background:#f3f3f3}}\
.bar{{position:absolute;top:0;height:100%}}.done{{background:#4a8}}.failed{{background:#c44}}\
.interrupted{{background:#aaa}}.secs{{width:6em;text-align:right;flex:none}}\
pre{{background:#f6f6f6;padding:1em;overflow-x:auto;white-space:pre-wrap}}\
</style></head><body>\n<h1>{title}</h1>\n"
    );
    let total: f64 = rehearsal
        .journal
        .steps
        .iter()
        .filter_map(|record| record.seconds)
        .sum::<f64>()
        .max(0.001);
    if !rehearsal.dry_run {
        let _ = writeln!(out, "<h2>Timeline</h2>\n<p>Every step to scale ({total:.1} s of work in all; a resumed step shows its last attempt).</p>");
        let mut offset = 0.0;
        for record in &rehearsal.journal.steps {
            let length = record.seconds.unwrap_or(0.0);
            let class = match record.state {
                StepState::Done => "done",
                StepState::Failed => "failed",
                StepState::Started => "interrupted",
            };
            let label = match record.kind {
                StepKind::Restore | StepKind::Neutralize | StepKind::PauseSchedules => {
                    record.kind.title().to_owned()
                }
                _ => format!(
                    "{}: {}",
                    record.id.split('/').next().unwrap_or(""),
                    record.kind.title()
                ),
            };
            let _ = writeln!(
                out,
                "<div class=\"row\"><div class=\"label\">{}</div><div class=\"track\"><div class=\"bar {class}\" style=\"left:{:.3}%;width:{:.3}%\" title=\"{}\"></div></div><div class=\"secs\">{}</div></div>",
                escape(&label),
                offset / total * 100.0,
                (length / total * 100.0).max(0.2),
                escape(&record.id),
                secs(record.seconds)
            );
            offset += length;
        }
    }
    let _ = writeln!(
        out,
        "<h2>Report</h2>\n<pre>{}</pre>\n</body></html>",
        escape(&markdown(rehearsal))
    );
    out
}

/// `--restore-neutralized`'s result.
pub fn render_put_back(format: Format, put_back: &PutBack) -> Vec<u8> {
    if format == Format::Json {
        let mut bytes = serde_json::to_vec_pretty(put_back).expect("serializes");
        bytes.push(b'\n');
        return bytes;
    }
    let mut out = String::new();
    let total: u64 = put_back.steps.iter().map(|step| step.rows).sum();
    let verb = if put_back.dry_run || !put_back.refused.is_empty() {
        "would put back"
    } else {
        "put back"
    };
    if put_back.steps.is_empty() {
        let _ = writeln!(
            out,
            "{}: nothing neutralized to put back",
            put_back.database
        );
        return out.into_bytes();
    }
    if !put_back.refused.is_empty() {
        let _ = writeln!(
            out,
            "{}: REFUSED, nothing written: {} original(s) cannot be put back faithfully:",
            put_back.database,
            put_back.refused.len()
        );
        for line in &put_back.refused {
            let _ = writeln!(out, "- {line}");
        }
    }
    let _ = writeln!(out, "{}: {verb} {total} original(s):", put_back.database);
    for step in &put_back.steps {
        let _ = writeln!(out, "- {}: {}", step.step, step.rows);
    }
    out.into_bytes()
}
