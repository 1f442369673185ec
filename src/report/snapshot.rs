//! `snapshot`, `snapshot verify`, `restore` and `verify`: one outline of each result (a headline
//! and sections of lines), written as text for a terminal and as Markdown for a change ticket;
//! JSON is the results themselves.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};

use crate::snapshot::{FileProblem, Manifest, RestoreOutcome, SnapshotSummary};
use crate::verify::{Mode, VerifyReport};

use super::describe::{and_list, byte_size};
use super::{wrap, TEXT_WIDTH};

/// `snapshot verify`: a snapshot's files against its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotCheck {
    pub directory: PathBuf,
    pub manifest: Manifest,
    pub problems: Vec<FileProblem>,
}

impl SnapshotCheck {
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A result as a headline and titled sections of lines.
pub struct Outline {
    pub headline: String,
    pub sections: Vec<(String, Vec<String>)>,
}

pub fn write_text(out: &mut dyn Write, outline: &Outline) -> std::io::Result<()> {
    for line in wrap(&outline.headline, TEXT_WIDTH, "", "  ") {
        writeln!(out, "{line}")?;
    }
    for (title, lines) in &outline.sections {
        writeln!(out)?;
        writeln!(out, "{title}")?;
        for line in lines {
            if let Some((head, block)) = line.split_once('\n') {
                // A block (a diff) is printed as it is, indented.
                writeln!(out, "  {head}")?;
                for block_line in block.lines() {
                    writeln!(out, "    {block_line}")?;
                }
                continue;
            }
            for wrapped in wrap(line, TEXT_WIDTH, "  ", "    ") {
                writeln!(out, "{wrapped}")?;
            }
        }
    }
    Ok(())
}

pub fn write_markdown(out: &mut dyn Write, outline: &Outline) -> std::io::Result<()> {
    writeln!(out, "# {}", outline.headline)?;
    for (title, lines) in &outline.sections {
        writeln!(out)?;
        writeln!(out, "## {title}")?;
        writeln!(out)?;
        for line in lines {
            match line.split_once('\n') {
                Some((head, block)) => {
                    writeln!(out, "- {head}")?;
                    writeln!(out)?;
                    writeln!(out, "  ```diff")?;
                    for block_line in block.lines() {
                        writeln!(out, "  {block_line}")?;
                    }
                    writeln!(out, "  ```")?;
                    writeln!(out)?;
                }
                None => writeln!(out, "- {line}")?,
            }
        }
    }
    Ok(())
}

fn versions(list: &[semver::Version]) -> String {
    match list {
        [] => "no known release".to_owned(),
        _ => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn manifest_lines(manifest: &Manifest) -> Vec<String> {
    let rows: u64 = manifest.tables.iter().map(|table| table.rows).sum();
    let recorded = manifest
        .tables
        .iter()
        .filter(|table| table.row_digests.is_some())
        .count();
    let drift = &manifest.release.drift;
    let accepted = drift.extra_tables.len()
        + drift.extra_columns.len()
        + drift.extra_indexes.len()
        + drift.extra_constraints.len()
        + drift.extra_triggers.len();
    vec![
        format!("database: {}", manifest.source.database_url),
        format!(
            "server: PostgreSQL {}, system identifier {}",
            manifest.source.server_version, manifest.source.system_identifier
        ),
        format!("taken at: {}", manifest.taken_at),
        format!(
            "release: {} (alembic {}){}",
            versions(&manifest.release.candidates),
            if manifest.alembic.revisions.is_empty() {
                "empty".to_owned()
            } else {
                manifest.alembic.revisions.join(", ")
            },
            match (accepted, manifest.release.other_drift.len()) {
                (0, 0) => String::new(),
                (extra, 0) => format!("; {extra} extra object(s) beyond the release's schema"),
                (extra, other) => format!(
                    "; {extra} extra object(s) and {other} other difference(s) from the release's schema"
                ),
            }
        ),
        format!(
            "dump: {} ({} format, {}, {})",
            manifest.dump.path,
            manifest.dump.format,
            byte_size(
                manifest
                    .files
                    .iter()
                    .filter(|file| file.path == manifest.dump.path
                        || file.path.starts_with(&format!("{}/", manifest.dump.path)))
                    .map(|file| file.bytes)
                    .sum()
            ),
            manifest.dump.pg_dump_version
        ),
        format!(
            "content: {} tables, {rows} rows; a record per row for the {recorded} tables of users' work",
            manifest.tables.len()
        ),
    ]
}

pub fn snapshot_outline(summary: &SnapshotSummary) -> Outline {
    let mut lines = manifest_lines(&summary.manifest);
    lines.push(format!(
        "files: {}, each with its size and SHA-256 in manifest.json",
        summary.manifest.files.len()
    ));
    lines.push(format!(
        "time: pg_dump {:.1} s, snapshot {:.1} s",
        summary.dump_time.as_secs_f64(),
        summary.total_time.as_secs_f64()
    ));
    Outline {
        headline: format!("Snapshot written: {}", summary.directory.display()),
        sections: vec![
            ("What it holds".into(), lines),
            (
                "Next".into(),
                vec![
                    format!(
                        "check its files any time: redash-upgrade snapshot verify {}",
                        summary.directory.display()
                    ),
                    format!(
                        "prove it restores: redash-upgrade restore {} --database-url STAGING_URL",
                        summary.directory.display()
                    ),
                ],
            ),
        ],
    }
}

pub fn snapshot_json(summary: &SnapshotSummary) -> Value {
    let manifest = &summary.manifest;
    json!({
        "type": "snapshot",
        "directory": summary.directory.display().to_string(),
        "taken_at": manifest.taken_at,
        "database": manifest.source.database_url,
        "server_version": manifest.source.server_version,
        "system_identifier": manifest.source.system_identifier,
        "release": manifest.release.candidates.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "alembic": manifest.alembic.revisions,
        "dump": manifest.dump,
        "tables": manifest.tables.len(),
        "rows": manifest.tables.iter().map(|table| table.rows).sum::<u64>(),
        "files": manifest.files.len(),
        "dump_seconds": summary.dump_time.as_secs_f64(),
        "total_seconds": summary.total_time.as_secs_f64(),
    })
}

pub fn snapshot_check_outline(check: &SnapshotCheck) -> Outline {
    let mut sections = vec![("What it holds".to_owned(), manifest_lines(&check.manifest))];
    if !check.problems.is_empty() {
        sections.insert(
            0,
            (
                "Files that do not match the manifest".to_owned(),
                check
                    .problems
                    .iter()
                    .map(|problem| format!("{}: {}", problem.path, problem.problem))
                    .collect(),
            ),
        );
    }
    Outline {
        headline: if check.complete() {
            format!(
                "Snapshot {}: complete, all {} files match the manifest",
                check.directory.display(),
                check.manifest.files.len()
            )
        } else {
            format!(
                "Snapshot {}: DAMAGED, {} of {} files do not match the manifest; do not restore it",
                check.directory.display(),
                check.problems.len(),
                check.manifest.files.len()
            )
        },
        sections,
    }
}

pub fn snapshot_check_json(check: &SnapshotCheck) -> Value {
    json!({
        "type": "snapshot-verify",
        "directory": check.directory.display().to_string(),
        "complete": check.complete(),
        "files": check.manifest.files.len(),
        "problems": check.problems,
        "taken_at": check.manifest.taken_at,
        "release": check.manifest.release.candidates.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

pub fn restore_outline(outcome: &RestoreOutcome) -> Outline {
    let mut sections = vec![(
        "Restore".to_owned(),
        vec![
            format!("snapshot: {}", outcome.snapshot),
            format!("into: {} ({})", outcome.database, outcome.target_before),
            format!("command: {}", outcome.command),
        ],
    )];
    let headline = match &outcome.comparison {
        None => format!(
            "Dry run: would restore {} into {}; nothing was written",
            outcome.snapshot, outcome.database
        ),
        Some(report) => {
            sections[0].1.push(format!(
                "time: pg_restore {:.1} s, comparison with the manifest {:.1} s",
                outcome.restore_time.as_secs_f64(),
                outcome.check_time.as_secs_f64()
            ));
            let outline = verify_outline(report);
            sections.extend(outline.sections);
            if report.verified() {
                format!(
                    "Restored and restore-tested: every table of {} matches the snapshot's manifest",
                    outcome.database
                )
            } else {
                format!(
                    "Restored, but the copy does NOT match the snapshot's manifest ({} difference(s)): the snapshot is not restore-tested",
                    report.difference_count()
                )
            }
        }
    };
    Outline { headline, sections }
}

pub fn restore_json(outcome: &RestoreOutcome) -> Value {
    let mut value = serde_json::to_value(outcome).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "restore_tested".into(),
            Value::Bool(outcome.restore_tested()),
        );
        map.insert(
            "restore_seconds".into(),
            json!(outcome.restore_time.as_secs_f64()),
        );
        map.insert(
            "check_seconds".into(),
            json!(outcome.check_time.as_secs_f64()),
        );
    }
    value
}

pub fn verify_json(report: &VerifyReport) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("verified".into(), Value::Bool(report.verified()));
        map.insert("differences".into(), json!(report.difference_count()));
    }
    value
}

pub fn verify_outline(report: &VerifyReport) -> Outline {
    let mut sections = Vec::new();
    let mut summary = vec![
        format!(
            "snapshot: {} (taken {}, at {})",
            report.baseline,
            report.baseline_taken_at,
            versions(&report.baseline_release)
        ),
        format!(
            "database: {} at {}{}",
            report.database,
            versions(&report.release_now),
            report
                .expected_release
                .as_ref()
                .map(|expected| format!(" (expected {expected})"))
                .unwrap_or_default()
        ),
    ];
    if report.mode == Mode::Hop {
        summary.push(if report.migrations_between.is_empty() {
            "migrations in between: none".to_owned()
        } else {
            format!(
                "migrations in between ({}): {}",
                report.migrations_between.len(),
                report.migrations_between.join(", ")
            )
        });
    }
    summary.push(match &report.alembic_problem {
        None => "alembic: at the expected head".to_owned(),
        Some(problem) => format!("alembic: {problem}"),
    });
    if report.schema_differences.is_empty() {
        summary.push("schema: the release's, plus the drift the snapshot already had".into());
    } else {
        summary.push(format!(
            "schema: {} difference(s) beyond the release's schema and the snapshot's drift: {}",
            report.schema_differences.len(),
            and_list(&report.schema_differences)
        ));
    }
    sections.push(("Summary".to_owned(), summary));

    let (user, other): (Vec<_>, Vec<_>) = report.tables.iter().partition(|table| table.user_work);
    let describe = |table: &crate::verify::TableVerdict| -> Vec<String> {
        let rows = match table.rows_now {
            Some(now) if now == table.rows_before => format!("{now} rows"),
            Some(now) => format!("{} -> {now} rows", table.rows_before),
            None => format!("{} rows before, none now", table.rows_before),
        };
        let mut parts = Vec::new();
        if let Some(problem) = &table.problem {
            parts.push(problem.clone());
        }
        if table.missing_count > 0 {
            parts.push(format!(
                "{} missing: {}",
                table.missing_count,
                keys(&table.missing, table.missing_count)
            ));
        }
        if table.added_count > 0 {
            parts.push(format!(
                "{} added: {}",
                table.added_count,
                keys(&table.added, table.added_count)
            ));
        }
        if table.changed_count > 0 {
            let shown: Vec<String> = table
                .changed
                .iter()
                .map(|row| format!("{} ({})", row.key, row.columns.join(", ")))
                .collect();
            parts.push(format!(
                "{} changed: {}",
                table.changed_count,
                keys(&shown, table.changed_count)
            ));
        }
        if table.content_same == Some(false) {
            parts.push("content differs".into());
        }
        let verdict = if parts.is_empty() {
            "unchanged".to_owned()
        } else {
            parts.join("; ")
        };
        let mut lines = vec![format!("{}: {rows}, {verdict}", table.table)];
        lines.extend(
            table
                .known_causes
                .iter()
                .map(|cause| format!("{}: known cause: {cause}", table.table)),
        );
        lines
    };
    let diffs: Vec<(String, String)> = report
        .tables
        .iter()
        .flat_map(|table| {
            table.changed.iter().filter_map(move |row| {
                row.diff
                    .as_ref()
                    .map(|diff| (format!("{} {}", table.table, row.key), diff.clone()))
            })
        })
        .collect();
    sections.push((
        format!("Users' work, row by row ({} tables)", user.len()),
        user.iter().flat_map(|table| describe(table)).collect(),
    ));
    if !other.is_empty() {
        let title = if report.mode == Mode::Restore {
            "Other tables, by content".to_owned()
        } else {
            "Other tables, by content (logs and caches: listed, not counted)".to_owned()
        };
        sections.push((
            title,
            other.iter().flat_map(|table| describe(table)).collect(),
        ));
    }
    sections.push((
        "References".to_owned(),
        if report.broken_references.is_empty() {
            vec!["intact: widgets, visualizations, queries, data sources, alerts, subscriptions and organisations all lead somewhere".into()]
        } else {
            report
                .broken_references
                .iter()
                .map(|broken| {
                    format!(
                        "{}.{} leads to no {}: {} row(s), ids {}",
                        broken.table,
                        broken.column,
                        broken.references,
                        broken.count,
                        broken
                            .ids
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect()
        },
    ));
    if !report.invalid_values.is_empty() {
        sections.push((
            "Transformed values the new release cannot use".to_owned(),
            report
                .invalid_values
                .iter()
                .map(|note| {
                    if note.count == 0 {
                        format!("{}.{} {}", note.table, note.column, note.problem)
                    } else {
                        format!(
                            "{}.{} {}: {}",
                            note.table,
                            note.column,
                            note.problem,
                            keys(&note.keys, note.count)
                        )
                    }
                })
                .collect(),
        ));
    }
    if !diffs.is_empty() {
        sections.push((
            "Changed rows, before and now".to_owned(),
            diffs
                .into_iter()
                .map(|(row, diff)| format!("{row}:\n{}", diff.trim_end()))
                .collect(),
        ));
    }
    if !report.not_compared.is_empty() {
        sections.push(("Not compared".to_owned(), report.not_compared.clone()));
    }
    let headline = if report.verified() {
        match report.mode {
            Mode::Hop => format!(
                "Verified: {} holds everything the snapshot held, changed only as the migrations in between declare",
                report.database
            ),
            Mode::Restore => "Every table matches the snapshot's manifest".to_owned(),
        }
    } else {
        format!(
            "NOT verified: {} difference(s) between {} and the snapshot beyond the declared effects",
            report.difference_count(),
            report.database
        )
    };
    Outline { headline, sections }
}

/// `ids 1, 2, 3` or `ids 1, 2, ... (120 in all)`.
fn keys(shown: &[String], count: usize) -> String {
    let list = shown.join(", ");
    if count > shown.len() {
        format!("{list} and {} more ({count} in all)", count - shown.len())
    } else {
        list
    }
}
