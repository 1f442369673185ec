//! `detect` as text.

use std::io::Write;

use crate::detect::{Basis, Detection, Drift, StampState};
use crate::report::{wrap, TEXT_WIDTH};

const INDENT: &str = "           ";

/// Writes `text` wrapped, the first line after `label` (padded to the indent), the rest indented.
fn field(out: &mut dyn Write, label: &str, text: &str) -> std::io::Result<()> {
    let first = format!("{label:<11}");
    for line in wrap(text, TEXT_WIDTH, &first, INDENT) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn versions(list: &[semver::Version]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn either(list: &[semver::Version]) -> String {
    let names = versions(list);
    match names.as_slice() {
        [] => "none".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn size(bytes: i64) -> String {
    crate::report::describe::byte_size(bytes.max(0) as u64)
}

pub fn detection_text(out: &mut dyn Write, detection: &Detection) -> std::io::Result<()> {
    writeln!(out, "Database:  {}", detection.database)?;
    writeln!(
        out,
        "Server:    PostgreSQL {}",
        detection.server.server_version
    )?;
    let stamp = match detection.stamp_state {
        StampState::Ok => detection.stamp_revisions.join(", "),
        StampState::Missing => "no alembic_version table".to_owned(),
        StampState::Empty => "alembic_version is empty".to_owned(),
        StampState::Multiple => format!(
            "alembic_version has {} rows: {}",
            detection.stamp_revisions.len(),
            detection.stamp_revisions.join(", ")
        ),
        StampState::Unknown => format!(
            "{} (no known release ships this revision: a fork's own migration, or a newer release than this tool knows)",
            detection.stamp_revisions.join(", ")
        ),
    };
    field(out, "Stamp:", &stamp)?;
    if let Some(release) = &detection.revision_shipped_in {
        field(
            out,
            "",
            &format!("This revision ships with {release} but is no release's head: an upgrade stopped part-way, or a development build."),
        )?;
    }
    let release_line = match detection.basis {
        Basis::Stamp => either(&detection.candidates),
        Basis::Schema => format!("{} (by its schema)", either(&detection.candidates)),
    };
    field(out, "Release:", &release_line)?;
    if detection.indistinguishable() {
        field(
            out,
            "",
            "The database alone cannot tell these apart: they share the alembic head and the schema. Check the image tag the deployment runs.",
        )?;
    }
    if let Some(disagreement) = &detection.disagreement {
        field(
            out,
            "",
            &format!(
                "The stamp and the schema disagree: the schema matches {} ({} differences) better than the stamped release ({} differences); the schema is {} of the stamp.",
                either(&disagreement.schema_matches),
                disagreement.differences_from_match,
                disagreement.differences_from_stamped,
                disagreement.direction
            ),
        )?;
    }
    match detection.orgs {
        Some(orgs) => writeln!(
            out,
            "Orgs:      {orgs} ({})",
            if orgs > 1 {
                "multi_org in use"
            } else {
                "single org"
            }
        )?,
        None => writeln!(out, "Orgs:      no organizations table")?,
    }
    writeln!(out, "Size:      {}", size(detection.server.database_bytes))?;
    for table in &detection.server.largest_tables {
        writeln!(
            out,
            "           {:<28} {:>10}  ~{} rows",
            table.table,
            size(table.bytes),
            table.rows_estimate.max(0)
        )?;
    }
    writeln!(out)?;
    // A schema is shared by several releases: name them all, never one as if it were the match.
    let names = versions(&detection.compared_schema_of);
    let compared = match names.as_slice() {
        [] => "no known schema".to_owned(),
        [one] => format!("the schema of {one}"),
        [init @ .., last] => format!("the schema {} and {last} share", init.join(", ")),
    };
    if detection.drift.is_empty() {
        writeln!(out, "Schema:    matches {compared} (no drift)")?;
    } else {
        writeln!(
            out,
            "Schema:    {} difference(s) from {compared}:",
            detection.drift.count()
        )?;
        drift_items(out, &detection.drift)?;
    }
    let accepted = &detection.accepted_drift;
    if !accepted.is_empty() {
        writeln!(
            out,
            "Accepted by the baseline, not drift ({} object(s)):",
            accepted.count()
        )?;
        drift_items(out, accepted)?;
    }
    if !detection.variance.is_empty() {
        writeln!(
            out,
            "Upstream variance, not drift (the shape upgraded databases have):"
        )?;
        for variance in &detection.variance {
            let text = format!(
                "{}.{} is {}: {}. {} ({})",
                variance.table,
                variance.column,
                variance.found,
                variance.applies_to,
                variance.why,
                variance.source
            );
            for line in wrap(&text, TEXT_WIDTH, "  - ", "    ") {
                writeln!(out, "{line}")?;
            }
        }
    }
    writeln!(out)?;
    let verdict = if detection.needs_attention() {
        "needs attention (exit 1): fix the stamp or explain the drift before planning a hop"
    } else {
        "detected, no drift"
    };
    field(out, "Result:", verdict)
}

/// One line per drifted object, as `detect` lists them (accepted drift has extras only).
fn drift_items(out: &mut dyn Write, drift: &Drift) -> std::io::Result<()> {
    for table in &drift.extra_tables {
        writeln!(out, "  extra table       {table}")?;
    }
    for table in &drift.missing_tables {
        writeln!(out, "  missing table     {table}")?;
    }
    for column in &drift.extra_columns {
        writeln!(
            out,
            "  extra column      {}.{} {}",
            column.table, column.column, column.sql_type
        )?;
    }
    for column in &drift.missing_columns {
        writeln!(
            out,
            "  missing column    {}.{} {}",
            column.table, column.column, column.sql_type
        )?;
    }
    for column in &drift.changed_columns {
        writeln!(
            out,
            "  changed column    {}.{}: expected {}, found {}",
            column.table, column.column, column.expected, column.found
        )?;
    }
    for (label, list) in drift.labelled_objects() {
        for object in list {
            writeln!(
                out,
                "  {label:<17} {}.{} {}",
                object.table, object.name, object.definition
            )?;
        }
    }
    for function in &drift.missing_functions {
        writeln!(out, "  missing function  {function}")?;
    }
    for type_name in &drift.missing_types {
        writeln!(out, "  missing type      {type_name}")?;
    }
    Ok(())
}
