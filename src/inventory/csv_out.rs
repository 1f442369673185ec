//! The inventory as CSV, the form a reviewer edits: one row per query, the `class` column to
//! change. `id`, `class`, `org_id`, `updated_at`, `version` and `is_archived` are what `archive`
//! reads back (the rest is for the reviewer); `updated_at` and `version` let it refuse rows
//! edited since.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Inventory, QueryEntry};
use crate::archive::csv as contract;
use crate::plan::format_instant;

/// The header, in order.
pub const COLUMNS: [&str; 27] = [
    contract::ID,
    contract::CLASS,
    "reason",
    contract::ORG_ID,
    "org_slug",
    "name",
    "owner_id",
    "owner_name",
    "owner_state",
    "data_source_id",
    "data_source_name",
    "data_source_type",
    "runs_on_target",
    "created_at",
    contract::UPDATED_AT,
    contract::VERSION,
    "last_run_at",
    "last_viewed_at",
    "dashboards",
    "alerts",
    "schedule",
    "scheduled_runs_per_day",
    "schedule_failures",
    "tags",
    contract::IS_ARCHIVED,
    "is_draft",
    "migration_issues",
];

fn ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
}

fn record(query: &QueryEntry) -> Vec<String> {
    let optional = |value: Option<i64>| value.map(|value| value.to_string()).unwrap_or_default();
    let instant = |value: Option<i64>| value.map(format_instant).unwrap_or_default();
    vec![
        query.id.to_string(),
        query.class.name().to_owned(),
        query.reason.clone(),
        query.org_id.to_string(),
        query.org_slug.clone(),
        query.name.clone(),
        optional(query.owner_id),
        query.owner_name.clone().unwrap_or_default(),
        query.owner_state.name().to_owned(),
        optional(query.data_source_id),
        query.data_source_name.clone().unwrap_or_default(),
        query.data_source_type.clone().unwrap_or_default(),
        query.runs_on_target.name().to_owned(),
        format_instant(query.created_at),
        query.updated_at.clone(),
        query.version.to_string(),
        instant(query.last_run_at),
        instant(query.last_viewed_at),
        ids(&query.dashboards),
        ids(&query.alerts),
        query.schedule.clone().unwrap_or_default(),
        super::rules::format_rate(query.scheduled_runs_per_day),
        query.schedule_failures.to_string(),
        query.tags.join(" "),
        query.is_archived.to_string(),
        query.is_draft.to_string(),
        query.migration_issues.join(" "),
    ]
}

/// The CSV of `queries`, header first.
pub fn to_csv<'a>(queries: impl IntoIterator<Item = &'a QueryEntry>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS).expect("writes to memory");
    for query in queries {
        writer
            .write_record(record(query))
            .expect("writes to memory");
    }
    writer.into_inner().expect("writes to memory")
}

/// How `--split` groups the rows into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// One file per owner (`owner-ID-NAME.csv`; `owner-none.csv` for queries without one).
    Owner,
    /// One file per tag (`tag-NAME.csv`; a query with several tags is in each of their files,
    /// `untagged.csv` for the rest).
    Tag,
}

/// A name safe in any file system: letters, digits, `-` and `_`, lower case.
fn file_part(text: &str) -> String {
    let part: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let part = part.trim_matches('-').to_owned();
    if part.is_empty() {
        "unnamed".to_owned()
    } else {
        part.chars().take(60).collect()
    }
}

/// The files `--split` writes: name and content, in name order.
pub fn split(inventory: &Inventory, by: Split) -> Vec<(String, Vec<u8>)> {
    let mut groups: BTreeMap<String, Vec<&QueryEntry>> = BTreeMap::new();
    for query in &inventory.queries {
        match by {
            Split::Owner => {
                let name = match (query.owner_id, &query.owner_name) {
                    (Some(id), Some(name)) => format!("owner-{id}-{}.csv", file_part(name)),
                    (Some(id), None) => format!("owner-{id}.csv"),
                    (None, _) => "owner-none.csv".to_owned(),
                };
                groups.entry(name).or_default().push(query);
            }
            Split::Tag if query.tags.is_empty() => {
                groups
                    .entry("untagged.csv".to_owned())
                    .or_default()
                    .push(query);
            }
            Split::Tag => {
                for tag in &query.tags {
                    groups
                        .entry(format!("tag-{}.csv", file_part(tag)))
                        .or_default()
                        .push(query);
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(name, queries)| (name, to_csv(queries)))
        .collect()
}

/// Writes each file into `dir` (created if missing) through a temp file and a rename.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        crate::rehearse::journal::write_atomically(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_holds_every_column_archive_reads() {
        for required in contract::REQUIRED_COLUMNS {
            assert!(COLUMNS.contains(&required), "{required}");
        }
    }
}
