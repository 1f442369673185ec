//! `database-encoding-not-utf8`: `\uXXXX` escapes that jsonb must decode into characters the
//! database's encoding cannot hold.

use std::collections::BTreeSet;

use sqlx::Row as _;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::migrated_columns::{jsonb_conversions_pending, MigratedColumn};
use super::{copy_field, copy_fields, copy_id, name_rows, LiveDatabase, Scan};

pub struct DatabaseEncodingNotUtf8;

static META: CheckMeta = CheckMeta {
    code: "database-encoding-not-utf8",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "a non-UTF8 database whose JSON holds \\u escapes that jsonb cannot decode into it",
    what: "On hops whose migrations convert columns to jsonb (25.1.0: the ten JSON text columns \
           of 7205816877ec and users.details of fd4fc850d7ea), reads the server_encoding of the \
           database. If it is not UTF8, the check reads those columns and collects every \\uXXXX \
           escape of a character outside ASCII, with surrogate pairs counted as one character. \
           It then asks the server which of those characters its own jsonb input refuses, \
           testing them in batches in savepoints, and lists the rows that hold a refused one. \
           In a SQL_ASCII database every such character is refused.",
    why: "json stores escapes as written, but jsonb decodes them. In a database that is not \
          UTF8, PostgreSQL must convert each escaped character into the server encoding. \
          SQL_ASCII has no conversion (`conversion between UTF8 and SQL_ASCII is not \
          supported`). Other encodings refuse characters they have no equivalent for (for \
          example `character with byte sequence 0xe4 0xb8 0xad in encoding \"UTF8\" has no \
          equivalent in encoding \"LATIN1\"`). PostgreSQL 12 and older refuse every escape \
          above U+007F outside UTF8. Redash writes JSON with simplejson's ensure_ascii, so every \
          non-ASCII character it stored is such an escape. One of them aborts the ALTER, and \
          the hop rolls back.",
    fix: "Move the metadata database to UTF8 before the hop: dump it, create a new database \
          with ENCODING 'UTF8' (TEMPLATE template0), restore the dump into it and point Redash \
          at the new database. Editing the named rows only helps when there are few of them and \
          their characters can go.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:22-76",
        "v25.1.0:migrations/versions/fd4fc850d7ea_.py:25-29",
        "v10.1.0:redash/utils/__init__.py:112-120",
    ],
};

/// Characters tested on the server in one statement at first; a batch the server refuses is
/// split in halves until each refused character is found.
const BATCH: usize = 256;

#[async_trait::async_trait]
impl DatabaseCheck for DatabaseEncodingNotUtf8 {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        !jsonb_conversions_pending(hop, database).is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let encoding: String = database
            .fetch_all(
                "read the server encoding",
                sqlx::query("SELECT current_setting('server_encoding')"),
            )
            .await?
            .first()
            .map(|row| row.get(0))
            .unwrap_or_default();
        if encoding == "UTF8" {
            return Ok(Vec::new());
        }
        let columns = jsonb_conversions_pending(hop, database);
        let mut tables: Vec<(&str, Vec<&MigratedColumn>)> = Vec::new();
        for migrated in &columns {
            match tables
                .iter_mut()
                .find(|(table, _)| *table == migrated.table)
            {
                Some((_, found)) => found.push(migrated),
                None => tables.push((migrated.table, vec![migrated])),
            }
        }
        let scans: Vec<Scan> = tables
            .iter()
            .map(|(table, migrated)| {
                let selected: Vec<String> = migrated
                    .iter()
                    .map(|column| format!("\"{}\"::text", column.column))
                    .collect();
                // Only rows holding a backslash followed by u can hold an escape.
                let holding: Vec<String> = migrated
                    .iter()
                    .map(|column| format!("strpos(\"{}\"::text, E'\\\\u') > 0", column.column))
                    .collect();
                Scan {
                    what: format!("read {table}"),
                    select: format!(
                        "SELECT id::bigint, {} FROM {table} WHERE {}",
                        selected.join(", "),
                        holding.join(" OR ")
                    ),
                    estimate: database.row_estimate(table),
                }
            })
            .collect();
        let passes = database.scan(&scans, escaped_characters).await?;
        // Column, row id, the characters it escapes.
        let mut found: Vec<(&MigratedColumn, i64, Vec<u32>)> = Vec::new();
        for ((_, migrated), pass) in tables.iter().zip(passes) {
            for (index, id, characters) in pass.found {
                found.push((migrated[index], id, characters));
            }
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let distinct: BTreeSet<u32> = found
            .iter()
            .flat_map(|(_, _, characters)| characters.iter().copied())
            .collect();
        let refused = if encoding == "SQL_ASCII" {
            distinct
        } else {
            refused_by_server(database, &distinct.into_iter().collect::<Vec<_>>()).await?
        };
        let mut reports = Vec::new();
        for migrated in columns {
            let mut ids = Vec::new();
            let mut characters = BTreeSet::new();
            for (column, id, escaped) in &found {
                if column.table != migrated.table || column.column != migrated.column {
                    continue;
                }
                let mine: Vec<u32> = escaped
                    .iter()
                    .copied()
                    .filter(|character| refused.contains(character))
                    .collect();
                if !mine.is_empty() {
                    ids.push(*id);
                    characters.extend(mine);
                }
            }
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            let named: Vec<String> = characters
                .iter()
                .take(5)
                .map(|character| format!("U+{character:04X}"))
                .collect();
            let more = characters.len().saturating_sub(named.len());
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "the database's encoding is {encoding}, not UTF8: {}.{} holds \\u escapes of characters that jsonb cannot convert to {encoding} ({}{}), so {}'s migration {} cannot cast it to jsonb: {}",
                    migrated.table,
                    migrated.column,
                    named.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    hop.plan.to.version,
                    migrated.revision,
                    name_rows(&ids, ids.len())
                ),
                location: None,
                help: "Move the metadata database to a UTF8 database (dump, create it with ENCODING 'UTF8', restore) before the hop.".into(),
            });
        }
        Ok(reports)
    }
}

/// Which of `characters` the server's jsonb input refuses to decode: each batch is one jsonb
/// cast in its own savepoint, and a batch that fails is split until the refused characters are
/// alone.
async fn refused_by_server(
    database: &LiveDatabase,
    characters: &[u32],
) -> Result<BTreeSet<u32>, CannotRun> {
    let mut refused = BTreeSet::new();
    let mut pending: Vec<&[u32]> = characters.chunks(BATCH).rev().collect();
    while let Some(batch) = pending.pop() {
        if decodes(database, batch).await {
            continue;
        }
        if let [character] = batch {
            refused.insert(*character);
        } else {
            let (first, second) = batch.split_at(batch.len() / 2);
            pending.push(second);
            pending.push(first);
        }
    }
    // A refusal is only one if the server still takes plain ASCII (the connection is fine).
    if !refused.is_empty() && !decodes(database, &[u32::from(b'a')]).await {
        return Err(CannotRun(
            "the server refused a plain jsonb cast while testing characters".into(),
        ));
    }
    Ok(refused)
}

/// Whether the server casts a JSON array of strings, one per character written as an escape,
/// to jsonb.
async fn decodes(database: &LiveDatabase, characters: &[u32]) -> bool {
    let strings: Vec<String> = characters
        .iter()
        .map(|&character| format!("\"{}\"", escape(character)))
        .collect();
    let text = format!("[{}]", strings.join(","));
    database
        .fetch_all(
            "test characters against the server encoding",
            sqlx::query("SELECT $1::text::jsonb IS NOT NULL").bind(text),
        )
        .await
        .is_ok()
}

/// `\u00e9`, or a surrogate pair above U+FFFF.
fn escape(character: u32) -> String {
    if character > 0xFFFF {
        let offset = character - 0x10000;
        format!(
            "\\u{:04x}\\u{:04x}",
            0xD800 + (offset >> 10),
            0xDC00 + (offset & 0x3FF)
        )
    } else {
        format!("\\u{character:04x}")
    }
}

fn hex4(text: &[u8], at: usize) -> Option<u32> {
    let digits = text.get(at..at + 4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// The characters above U+007F that the `\uXXXX` escapes of a JSON text stand for, a surrogate
/// pair as one character, sorted and each once. In valid JSON a backslash only ever starts an
/// escape inside a string. Unpaired surrogates are json-invalid-for-jsonb's finding.
fn escapes_outside_ascii(text: &[u8]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        if text[at] != b'\\' {
            at += 1;
            continue;
        }
        if text.get(at + 1) != Some(&b'u') {
            at += 2;
            continue;
        }
        let Some(code) = hex4(text, at + 2) else {
            at += 2;
            continue;
        };
        at += 6;
        let character = if (0xD800..0xDC00).contains(&code) {
            let low = (text.get(at) == Some(&b'\\') && text.get(at + 1) == Some(&b'u'))
                .then(|| hex4(text, at + 2))
                .flatten()
                .filter(|low| (0xDC00..0xE000).contains(low));
            let Some(low) = low else {
                continue;
            };
            at += 6;
            0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..0xE000).contains(&code) {
            continue;
        } else {
            code
        };
        if character > 0x7F {
            found.push(character);
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// A row's escaped characters: the index of its column after the id, the row id, and the
/// characters.
type Escaped = (usize, i64, Vec<u32>);

/// Collects the escaped characters outside ASCII of every non-NULL text of a COPY row (id, then
/// the texts).
fn escaped_characters(row: &[u8], found: &mut Vec<Escaped>) {
    let fields = copy_fields(row);
    let Some(id) = copy_id(&fields) else {
        return;
    };
    for (index, raw) in fields.iter().skip(1).enumerate() {
        let Some(text) = copy_field(raw) else {
            continue;
        };
        let characters = escapes_outside_ascii(&text);
        if !characters.is_empty() {
            found.push((index, id, characters));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, escapes_outside_ascii};

    #[test]
    fn escapes_are_read_as_jsonb_decodes_them() {
        let read = |text: &str| escapes_outside_ascii(text.as_bytes());
        assert_eq!(read(r#"{"a": "caf\u00e9 \u00E9"}"#), [0xE9]);
        assert_eq!(read(r#"{"\u4e2d": "\u0041\u007f"}"#), [0x4E2D]);
        // An escaped backslash followed by u is no escape.
        assert_eq!(read(r#"["\\u00e9", "\\\u00e9"]"#), [0xE9]);
        // A surrogate pair is one character; lone surrogates are another check's.
        assert_eq!(read(r#"["\ud83d\ude00", "\ud83d", "\ude00x"]"#), [0x1F600]);
        // Raw characters are stored as they are, in the database's own encoding.
        assert_eq!(read("[\"é\"]"), Vec::<u32>::new());
    }

    #[test]
    fn characters_are_written_back_as_escapes() {
        assert_eq!(escape(0xE9), "\\u00e9");
        assert_eq!(escape(0x4E2D), "\\u4e2d");
        assert_eq!(escape(0x1F600), "\\ud83d\\ude00");
    }
}
