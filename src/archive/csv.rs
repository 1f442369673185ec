//! The inventory CSV: the contract between `inventory`, which writes it, and `archive`, which
//! reads the reviewed copy. A header row, comma-separated, RFC 4180 quoting. Columns other than
//! the required ones (name, owner, reason, schedule, tags, ...) are for the reviewer and are
//! ignored here; their order does not matter.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// `queries.id`.
pub const ID: &str = "id";
/// What the reviewer decided: `keep`, `review` or `archive` (case-insensitive, trimmed).
pub const CLASS: &str = "class";
/// `queries.org_id`.
pub const ORG_ID: &str = "org_id";
/// `queries.updated_at` as [`UPDATED_AT_SQL`] formats it.
pub const UPDATED_AT: &str = "updated_at";
/// `queries.version`, an integer.
pub const VERSION: &str = "version";
/// `queries.is_archived`: `true` or `false`.
pub const IS_ARCHIVED: &str = "is_archived";

/// The columns `archive` needs; any other column is ignored.
pub const REQUIRED_COLUMNS: [&str; 6] = [ID, CLASS, ORG_ID, UPDATED_AT, VERSION, IS_ARCHIVED];

/// How the inventory writes `updated_at` (and how `archive` reads the database's to compare):
/// UTC, microseconds, always the same width.
pub const UPDATED_AT_SQL: &str =
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

/// The values of [`CLASS`]: the inventory's classes.
pub use crate::inventory::Class;

/// One row of the inventory, as the reviewer left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRow {
    /// The line of the file the row starts on (1 is the header).
    pub line: u64,
    pub id: i64,
    pub class: Class,
    pub org_id: i64,
    pub updated_at: String,
    pub version: i64,
    pub is_archived: bool,
}

/// Why the inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no `{column}` column (the inventory's columns include {})", path.display(), REQUIRED_COLUMNS.join(", "))]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        reason: String,
    },
}

/// Reads the inventory at `path` whole; the bytes are returned too, for the journal's digest.
pub fn read(path: &Path) -> Result<(Vec<InventoryRow>, Vec<u8>), InventoryError> {
    let bytes = std::fs::read(path).map_err(|source| InventoryError::Read {
        path: path.to_owned(),
        source,
    })?;
    let rows = parse(path, &bytes)?;
    Ok((rows, bytes))
}

/// Parses inventory bytes; `path` only names the file in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<InventoryRow>, InventoryError> {
    let malformed = |line: u64, reason: String| InventoryError::Malformed {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|error| malformed(line_of(&error).unwrap_or(1), error.to_string()))?
        .clone();
    let position = |column: &'static str| {
        headers
            .iter()
            .position(|header| header.trim().trim_start_matches('\u{feff}') == column)
            .ok_or_else(|| InventoryError::MissingColumn {
                path: path.to_owned(),
                column,
            })
    };
    let [id, class, org_id, updated_at, version, is_archived] = [
        position(ID)?,
        position(CLASS)?,
        position(ORG_ID)?,
        position(UPDATED_AT)?,
        position(VERSION)?,
        position(IS_ARCHIVED)?,
    ];
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record =
            record.map_err(|error| malformed(line_of(&error).unwrap_or(0), error.to_string()))?;
        let line = record.position().map(|at| at.line()).unwrap_or(0);
        let field = |index: usize| record.get(index).unwrap_or_default().trim();
        let integer = |index: usize, column: &str| {
            field(index).parse::<i64>().map_err(|_| {
                malformed(
                    line,
                    format!("{column} {:?} is not a whole number", field(index)),
                )
            })
        };
        let row = InventoryRow {
            line,
            id: integer(id, ID)?,
            class: Class::parse(field(class)).ok_or_else(|| {
                malformed(
                    line,
                    format!(
                        "class {:?} is not one of {}",
                        field(class),
                        Class::NAMES.join(", ")
                    ),
                )
            })?,
            org_id: integer(org_id, ORG_ID)?,
            updated_at: field(updated_at).to_owned(),
            version: integer(version, VERSION)?,
            is_archived: match field(is_archived).to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(malformed(
                        line,
                        format!("is_archived {other:?} is not true or false"),
                    ))
                }
            },
        };
        if !seen.insert(row.id) {
            return Err(malformed(line, format!("query {} is listed twice", row.id)));
        }
        rows.push(row);
    }
    Ok(rows)
}

fn line_of(error: &csv::Error) -> Option<u64> {
    error.position().map(|position| position.line())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<InventoryRow>, String> {
        parse(Path::new("inv.csv"), text.as_bytes()).map_err(|error| error.to_string())
    }

    #[test]
    fn reads_the_required_columns_in_any_order_and_ignores_the_others() {
        let rows = parsed(
            "name,class,id,org_id,version,is_archived,updated_at\n\
             \"a, b\",\" Archive \",7,1,3,false,2024-01-02T03:04:05.000006Z\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].class, Class::Archive);
        assert_eq!((rows[0].id, rows[0].version, rows[0].line), (7, 3, 2));
    }

    #[test]
    fn names_the_file_and_the_missing_column() {
        assert_eq!(
            parsed("id,class,org_id,updated_at,is_archived\n").unwrap_err(),
            "inv.csv: no `version` column (the inventory's columns include id, class, org_id, \
             updated_at, version, is_archived)"
        );
    }

    #[test]
    fn names_the_line_of_a_bad_class() {
        let text = "id,class,org_id,updated_at,version,is_archived\n\
                    1,keep,1,x,1,false\n\
                    2,delete,1,x,1,false\n";
        assert_eq!(
            parsed(text).unwrap_err(),
            "inv.csv:3: class \"delete\" is not one of keep, review, archive"
        );
    }
}
