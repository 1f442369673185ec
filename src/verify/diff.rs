//! What a changed row held before and holds now: the old values come from the snapshot's own
//! dump (`pg_restore --data-only --table` to stdout; the manifest keeps digests only), the new
//! ones from the live database, and the two are shown as a unified diff, one line per column.

use std::collections::BTreeMap;
use std::process::Stdio;

use sqlx::Row as _;
use tokio::io::AsyncReadExt as _;

use super::compare::TableVerdict;
use crate::checks::db::copy_field;
use crate::checks::LiveDatabase;
use crate::db::quote_ident;
use crate::snapshot::canonical::{write_canonical_json, ColumnKind};
use crate::snapshot::manifest::{Manifest, TableManifest};
use crate::snapshot::stream::copy_header;
use crate::snapshot::tools;

/// Columns whose values are credentials: a diff shows only whether they changed, never the
/// value. Data-source and destination options hold passwords and tokens
/// in plain JSON before 7.0.0 and 10.0.0; the rest are hashes and API keys.
const SECRET_COLUMNS: &[(&str, &str)] = &[
    ("data_sources", "options"),
    ("data_sources", "encrypted_options"),
    ("notification_destinations", "options"),
    ("notification_destinations", "encrypted_options"),
    ("users", "password_hash"),
    ("users", "api_key"),
    ("queries", "api_key"),
    ("api_keys", "api_key"),
];

/// Changed rows shown as a diff per table; the rest are named by key only.
pub const ROWS_DIFFED: usize = 10;

/// Adds a diff to the first changed rows of every table that has them. Says in the returned
/// note why no diff could be made, if so.
pub async fn add_diffs(
    database: &LiveDatabase,
    baseline: &Manifest,
    directory: &std::path::Path,
    verdicts: &mut [TableVerdict],
) -> Option<String> {
    if verdicts.iter().all(|verdict| verdict.changed.is_empty()) {
        return None;
    }
    let pg_restore = match tools::find("pg_restore", None) {
        Ok(tool) => tool,
        Err(error) => return Some(format!("changed rows are shown without a diff: {error}")),
    };
    let dump = directory.join(&baseline.dump.path);
    for verdict in verdicts
        .iter_mut()
        .filter(|verdict| !verdict.changed.is_empty())
    {
        let Some(table) = baseline.table(&verdict.table) else {
            continue;
        };
        let [key_column] = table.primary_key.as_slice() else {
            continue;
        };
        let keys: Vec<String> = verdict
            .changed
            .iter()
            .take(ROWS_DIFFED)
            .map(|row| row.key.clone())
            .collect();
        let before = match rows_in_dump(&pg_restore, &dump, table, key_column, &keys).await {
            Ok(rows) => rows,
            Err(why) => return Some(format!("changed rows are shown without a diff: {why}")),
        };
        let now = match live_rows(database, table, key_column, &keys).await {
            Ok(rows) => rows,
            Err(why) => return Some(format!("changed rows are shown without a diff: {why}")),
        };
        for row in verdict.changed.iter_mut().take(ROWS_DIFFED) {
            let old = render(table, before.get(&row.key), now.get(&row.key), "before");
            let new = render(table, now.get(&row.key), before.get(&row.key), "now");
            row.diff = Some(
                similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .context_radius(1)
                    .header("snapshot", "now")
                    .to_string(),
            );
        }
    }
    None
}

/// `row` as one `column: value` line per column, values made canonical as the digests see them
/// (JSON with sorted keys); a credential is masked, and said to differ from `other` (the same row
/// on the diff's other side) when it does.
fn render(
    table: &TableManifest,
    row: Option<&BTreeMap<String, Option<String>>>,
    other: Option<&BTreeMap<String, Option<String>>>,
    side: &str,
) -> String {
    let Some(row) = row else {
        return String::new();
    };
    let mut text = String::new();
    let mut names: Vec<&String> = row.keys().collect();
    names.sort();
    for name in names {
        let kind = table
            .column(name)
            .map_or(ColumnKind::Text, |column| column.kind);
        if table
            .column(name)
            .is_some_and(|column| column.sql_type == "tsvector")
        {
            continue;
        }
        let secret = SECRET_COLUMNS.contains(&(table.name.as_str(), name.as_str()));
        let value = match row.get(name).and_then(Option::as_deref) {
            None => "NULL".to_owned(),
            // Not even a digest: a weak password's is easily reversed.
            Some(value) if secret => {
                let other_value = other.and_then(|other| other.get(name)).cloned().flatten();
                if other_value.as_deref() == Some(value) {
                    "***".to_owned()
                } else {
                    format!("*** (hidden, {side})")
                }
            }
            Some(value) if kind == ColumnKind::Json => {
                match serde_json::from_str::<serde_json::Value>(value) {
                    Ok(json) => {
                        let mut out = Vec::new();
                        write_canonical_json(&json, &mut out);
                        String::from_utf8_lossy(&out).into_owned()
                    }
                    Err(_) => value.to_owned(),
                }
            }
            Some(value) => value.to_owned(),
        };
        text.push_str(name);
        text.push_str(": ");
        text.push_str(&value.replace('\n', "\\n"));
        text.push('\n');
    }
    text
}

/// The rows of `table` with these keys as the snapshot's dump holds them.
async fn rows_in_dump(
    pg_restore: &tools::Tool,
    dump: &std::path::Path,
    table: &TableManifest,
    key_column: &str,
    keys: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, Option<String>>>, String> {
    let mut child = tokio::process::Command::new(&pg_restore.path)
        // It reads the snapshot's archive and connects nowhere.
        .env_remove("REDASH_DATABASE_URL")
        .env_remove("PGPASSWORD")
        .args(["--data-only", "--file=-"])
        .arg(format!("--table={}", table.name))
        .arg(dump)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("{}: {error}", pg_restore.path.display()))?;
    let mut script = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_end(&mut script)
            .await
            .map_err(|error| format!("reading pg_restore's output: {error}"))?;
    }
    let status = child.wait().await.map_err(|error| error.to_string())?;
    if !status.success() {
        return Err(format!("pg_restore could not read {}", dump.display()));
    }
    let mut rows = BTreeMap::new();
    let mut columns: Option<Vec<String>> = None;
    for line in script.split(|&byte| byte == b'\n') {
        match &columns {
            None => {
                // The one table asked for; its schema is whatever the dump's is.
                if let Some((_, _, names)) = copy_header(line) {
                    columns = Some(names);
                }
            }
            Some(names) => {
                if line == b"\\." {
                    break;
                }
                let fields: Vec<&[u8]> = line.split(|&byte| byte == b'\t').collect();
                let row: BTreeMap<String, Option<String>> = names
                    .iter()
                    .zip(&fields)
                    .map(|(name, raw)| {
                        (
                            name.clone(),
                            copy_field(raw)
                                .map(|value| String::from_utf8_lossy(&value).into_owned()),
                        )
                    })
                    .collect();
                if let Some(Some(key)) = row.get(key_column) {
                    if keys.contains(key) {
                        rows.insert(key.clone(), row);
                    }
                }
            }
        }
    }
    Ok(rows)
}

/// The rows of `table` with these keys as the live database holds them, every column as text.
async fn live_rows(
    database: &LiveDatabase,
    table: &TableManifest,
    key_column: &str,
    keys: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, Option<String>>>, String> {
    let columns: Vec<(String, String)> = database
        .fetch_all(
            "read the columns",
            sqlx::query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
            )
            .bind(quote_ident(&table.name)),
        )
        .await
        .map_err(|error| error.0)?
        .iter()
        .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
        .collect();
    let names: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
    if !names.iter().any(|name| name == key_column) {
        return Ok(BTreeMap::new());
    }
    let select = format!(
        "SELECT {} FROM {} WHERE {}::text = ANY($1)",
        columns
            .iter()
            // As the dump prints them (COPY's text output), not as a cast to text does.
            .map(|(name, sql_type)| match sql_type.as_str() {
                "boolean" => format!(
                    "CASE WHEN {0} THEN 't' WHEN NOT {0} THEN 'f' END",
                    quote_ident(name)
                ),
                _ => format!("{}::text", quote_ident(name)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        quote_ident(&table.name),
        quote_ident(key_column)
    );
    let rows = database
        .fetch_all(
            &format!("read the changed rows of {}", table.name),
            sqlx::query(sqlx::AssertSqlSafe(select)).bind(keys.to_vec()),
        )
        .await
        .map_err(|error| error.0)?;
    let key_index = names
        .iter()
        .position(|name| name == key_column)
        .unwrap_or_default();
    Ok(rows
        .iter()
        .filter_map(|row| {
            let key: Option<String> = row.get(key_index);
            let values = names
                .iter()
                .enumerate()
                .map(|(index, name)| (name.clone(), row.get::<Option<String>, _>(index)))
                .collect();
            key.map(|key| (key, values))
        })
        .collect())
}
