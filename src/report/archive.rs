//! `archive`'s report: one line per row of the inventory that asked for something, with what was
//! (or, in a dry run, would be) done to it.

use crate::archive::{ArchiveOutcome, Mode};
use crate::report::{wrap, Format, TEXT_WIDTH};

/// Renders the outcome whole, in text, Markdown or JSON (`"type": "archive"`).
pub fn render(format: Format, outcome: &ArchiveOutcome) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut value = serde_json::json!({ "type": "archive" });
            let body = serde_json::to_value(outcome).expect("serializes");
            if let (Some(object), serde_json::Value::Object(fields)) = (value.as_object_mut(), body)
            {
                object.extend(fields);
                object.insert("changed".into(), outcome.changed().into());
                object.insert("refused".into(), outcome.refused().into());
            }
            let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(outcome).into_bytes(),
        _ => text(outcome).into_bytes(),
    }
}

fn verdict(outcome: &ArchiveOutcome) -> String {
    let what = match (outcome.mode, outcome.applied) {
        (Mode::Archive, true) => "changed",
        (Mode::Archive, false) => "would change (dry run)",
        (Mode::Undo, true) => "restored",
        (Mode::Undo, false) => "would restore (dry run)",
    };
    format!(
        "{}: {} {what}, {} refused",
        outcome.database,
        outcome.changed(),
        outcome.refused()
    )
}

fn text(outcome: &ArchiveOutcome) -> String {
    let mut out = verdict(outcome);
    out.push('\n');
    if let Some(note) = &outcome.note {
        out.push_str(note);
        out.push('\n');
    }
    if outcome.journal_written {
        if let Some(journal) = &outcome.journal {
            out.push_str(&format!("journal: {journal}\n"));
        }
    }
    out.push('\n');
    for row in &outcome.rows {
        let first = format!("  {:>7}  {:<24} ", row.id, row.action.label());
        let rest = " ".repeat(first.len());
        let detail = if row.name.is_empty() {
            row.detail.clone()
        } else {
            format!("{:?}: {}", row.name, row.detail)
        };
        for line in wrap(&detail, TEXT_WIDTH, &first, &rest) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn markdown(outcome: &ArchiveOutcome) -> String {
    let mut out = format!("# archive\n\n{}\n\n", verdict(outcome));
    if let Some(note) = &outcome.note {
        out.push_str(&format!("{note}\n\n"));
    }
    if outcome.journal_written {
        if let Some(journal) = &outcome.journal {
            out.push_str(&format!("Journal: `{journal}`\n\n"));
        }
    }
    out.push_str("| id | name | action | detail |\n|---|---|---|---|\n");
    for row in &outcome.rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.id,
            row.name.replace('|', "\\|"),
            row.action.label(),
            row.detail.replace('|', "\\|")
        ));
    }
    out
}
