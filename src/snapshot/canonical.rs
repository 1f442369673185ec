//! The canonical form of stored values, and the digests of rows and columns built from it.
//!
//! A value hashes the same on any server and in any of the types a release stores it in:
//! JSON as text, `json` or `jsonb` (key order, spacing, escapes and number spelling do not
//! matter; 25.1.0 converts such columns), floating-point numbers whatever digits the server
//! prints. Everything else is hashed as PostgreSQL's text output, read with fixed `TimeZone`,
//! `DateStyle`, `IntervalStyle` and `bytea_output` (set by every session).

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes kept of a row's or a column's SHA-256: enough that two different rows of one table
/// never share one, half the size in the manifest.
pub const DIGEST_BYTES: usize = 16;

/// A row's or a column's digest.
pub type RowDigest = [u8; DIGEST_BYTES];

/// How a column's values are made canonical before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnKind {
    /// PostgreSQL's text output, byte for byte.
    Text,
    /// JSON, whatever its type: parsed and written back with sorted keys; text that does not
    /// parse is hashed as it is (and so differs from any JSON).
    Json,
    /// `real` and `double precision`: the number, not the digits printed.
    Float,
}

impl ColumnKind {
    /// The kind of a column of SQL type `sql_type` (as `format_type` prints it); `holds_json`
    /// when the knowledge base says the column holds JSON as text in some release.
    pub fn of(sql_type: &str, holds_json: bool) -> ColumnKind {
        match sql_type {
            "json" | "jsonb" => ColumnKind::Json,
            "real" | "double precision" => ColumnKind::Float,
            _ if holds_json => ColumnKind::Json,
            _ => ColumnKind::Text,
        }
    }
}

/// A NULL, told apart from every value (even the text `\N`).
const NULL_MARK: &[u8] = b"\x00NULL";

/// Feeds the canonical form of one decoded value (`None` for NULL) of `kind` to `hasher`.
pub fn feed_value(hasher: &mut Sha256, kind: ColumnKind, value: Option<&[u8]>) {
    let Some(value) = value else {
        hasher.update(NULL_MARK);
        return;
    };
    match kind {
        ColumnKind::Text => {
            hasher.update(b"t");
            hasher.update(value);
        }
        ColumnKind::Json => match serde_json::from_slice::<Node<'_>>(value) {
            Ok(json) => {
                hasher.update(b"j");
                let mut text = Vec::with_capacity(value.len());
                json.write(&mut text);
                hasher.update(&text);
            }
            Err(_) => {
                hasher.update(b"t");
                hasher.update(value);
            }
        },
        ColumnKind::Float => match std::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
        {
            Some(number) => {
                hasher.update(b"f");
                hasher.update(format_number(number).as_bytes());
            }
            None => {
                hasher.update(b"t");
                hasher.update(value);
            }
        },
    }
}

/// The digest of one column's value, as the per-row records keep it: the column's name is part
/// of it, so a value moved to another column is compared under the name it had.
pub fn column_digest(name: &str, kind: ColumnKind, value: Option<&[u8]>) -> RowDigest {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x1f]);
    feed_value(&mut hasher, kind, value);
    truncate(hasher.finalize().as_slice())
}

/// Builds the digest of several columns of one row, fed in the order of their names.
pub struct RowHasher {
    hasher: Sha256,
}

impl Default for RowHasher {
    fn default() -> RowHasher {
        RowHasher {
            hasher: Sha256::new(),
        }
    }
}

impl RowHasher {
    pub fn column(&mut self, name: &str, kind: ColumnKind, value: Option<&[u8]>) {
        self.hasher.update(name.as_bytes());
        self.hasher.update([0x1f]);
        feed_value(&mut self.hasher, kind, value);
        self.hasher.update([0x1e]);
    }

    pub fn finish(self) -> RowDigest {
        truncate(self.hasher.finalize().as_slice())
    }
}

/// The digest of a whole table, built row by row in constant memory: the rows' digests are
/// added up (as 128-bit numbers, wrapping) and counted, so neither the order rows are read in
/// nor the order of columns in the table matters, and a table of a hundred million events needs
/// no more memory than one of ten. Parts read on different threads are merged with
/// [`ContentSum::merge`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentSum {
    sum: u128,
    rows: u64,
}

impl ContentSum {
    pub fn add(&mut self, row: &RowDigest) {
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(*row));
        self.rows += 1;
    }

    pub fn merge(&mut self, other: &ContentSum) {
        self.sum = self.sum.wrapping_add(other.sum);
        self.rows += other.rows;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// SHA-256 of the count and the sum, in hex.
    pub fn finish(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"redash-upgrade table content 1\x00");
        hasher.update(self.rows.to_le_bytes());
        hasher.update(self.sum.to_le_bytes());
        hex(hasher.finalize().as_slice())
    }
}

fn truncate(digest: &[u8]) -> RowDigest {
    let mut out = [0u8; DIGEST_BYTES];
    out.copy_from_slice(&digest[..DIGEST_BYTES]);
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// Parses lower- or upper-case hex of exactly `DIGEST_BYTES` bytes.
pub fn parse_digest(text: &str) -> Option<RowDigest> {
    let bytes = text.as_bytes();
    if bytes.len() != DIGEST_BYTES * 2 {
        return None;
    }
    let mut out = [0u8; DIGEST_BYTES];
    for (index, pair) in bytes.chunks(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[index] = (high * 16 + low) as u8;
    }
    Some(out)
}

/// JSON with object keys sorted, no spacing, numbers as the shortest text of their value.
pub fn write_canonical_json(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => match number.as_f64() {
            Some(float) => out.extend_from_slice(format_number(float).as_bytes()),
            None => out.extend_from_slice(number.to_string().as_bytes()),
        },
        Value::String(text) => {
            out.extend_from_slice(serde_json::to_string(text).unwrap_or_default().as_bytes());
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(serde_json::to_string(key).unwrap_or_default().as_bytes());
                out.push(b':');
                write_canonical_json(item, out);
            }
            out.push(b'}');
        }
    }
}

/// JSON parsed only as far as writing it canonically needs: strings borrowed where they have no
/// escapes, objects as sorted entry lists (the last of duplicate keys kept, as `jsonb` does),
/// numbers as their value. Writes exactly what [`write_canonical_json`] writes for the same text,
/// several times faster than going through `serde_json::Value`.
enum Node<'a> {
    Null,
    Bool(bool),
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl Node<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::Number(number) => out.extend_from_slice(format_number(*number).as_bytes()),
            Node::String(text) => {
                let _ = serde_json::to_writer(&mut *out, text.as_ref());
            }
            Node::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Node::Object(entries) => {
                out.push(b'{');
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut *out, key.as_ref());
                    out.push(b':');
                    item.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Node<'de>, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Node<'de>, E> {
                Ok(Node::Bool(value))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Node<'de>, E> {
                Ok(Node::Number(value as f64))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Node<'de>, E> {
                Ok(Node::Number(value as f64))
            }
            fn visit_f64<E>(self, value: f64) -> Result<Node<'de>, E> {
                Ok(Node::Number(value))
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Node<'de>, E> {
                Ok(Node::String(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Node<'de>, E> {
                Ok(Node::String(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Node<'de>, E> {
                Ok(Node::String(Cow::Owned(text)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
                let mut entries: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                // A stable sort keeps duplicates in order: the last one wins.
                entries.sort_by(|left, right| left.0.cmp(&right.0));
                let mut unique: Vec<(Cow<'de, str>, Node<'de>)> = Vec::with_capacity(entries.len());
                for entry in entries {
                    match unique.last_mut() {
                        Some(last) if last.0 == entry.0 => *last = entry,
                        _ => unique.push(entry),
                    }
                }
                Ok(Node::Object(unique))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// `100` for 100.0 and for 1e2, `0.1` for 0.1: Rust's shortest round-trip text.
fn format_number(number: f64) -> String {
    if number == 0.0 {
        // -0 and 0 are one value to a user.
        return "0".to_owned();
    }
    format!("{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(kind: ColumnKind, value: Option<&str>) -> RowDigest {
        column_digest("options", kind, value.map(str::as_bytes))
    }

    #[test]
    fn json_hashes_the_same_as_text_json_and_jsonb() {
        let text = r#"{"b": [1, 2.0, 1e2], "a": {"y": "\u00e9", "x": null}}"#;
        let jsonb = r#"{"a": {"x": null, "y": "é"}, "b": [1, 2.0, 100]}"#;
        assert_eq!(
            digest(ColumnKind::Json, Some(text)),
            digest(ColumnKind::Json, Some(jsonb))
        );
        assert_ne!(
            digest(ColumnKind::Json, Some(text)),
            digest(
                ColumnKind::Json,
                Some(r#"{"a": {"x": null, "y": "e"}, "b": [1, 2, 100]}"#)
            )
        );
    }

    #[test]
    fn null_text_and_unparsable_json_are_all_different() {
        let values = [
            digest(ColumnKind::Json, None),
            digest(ColumnKind::Json, Some("\\N")),
            digest(ColumnKind::Json, Some("null")),
            digest(ColumnKind::Json, Some("{not json")),
            digest(ColumnKind::Text, Some("null")),
        ];
        for (index, left) in values.iter().enumerate() {
            for right in &values[index + 1..] {
                assert_ne!(left, right);
            }
        }
        assert_ne!(
            column_digest("a", ColumnKind::Text, Some(b"1")),
            column_digest("b", ColumnKind::Text, Some(b"1"))
        );
    }

    #[test]
    fn the_fast_json_form_is_the_value_form() {
        for text in [
            r#"{"b": [1, 2.0, 1e2, -0.0, 12345678901234567890], "a": {"y": "\u00e9\n\"", "x": null}}"#,
            r#"{"a": 1, "a": 2, "c": [], "b": {}}"#,
            r#"[true, false, null, "x", 0.1]"#,
            r#""just a string""#,
            "3.5",
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let mut slow = Vec::new();
            write_canonical_json(&value, &mut slow);
            let node: Node<'_> = serde_json::from_str(text).unwrap();
            let mut fast = Vec::new();
            node.write(&mut fast);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap(),
                "{text}"
            );
        }
        assert_eq!(
            digest(ColumnKind::Json, Some(r#"{"a": 1, "a": 2}"#)),
            digest(ColumnKind::Json, Some(r#"{"a": 2}"#))
        );
    }

    #[test]
    fn floats_compare_by_value() {
        assert_eq!(
            digest(ColumnKind::Float, Some("0.10000000000000001")),
            digest(ColumnKind::Float, Some("0.1"))
        );
        assert_ne!(
            digest(ColumnKind::Float, Some("0.1")),
            digest(ColumnKind::Float, Some("0.2"))
        );
    }

    #[test]
    fn content_ignores_row_order_and_digests_round_trip() {
        let one = column_digest("id", ColumnKind::Text, Some(b"1"));
        let two = column_digest("id", ColumnKind::Text, Some(b"2"));
        let content = |rows: &[RowDigest]| {
            let mut sum = ContentSum::default();
            for row in rows {
                sum.add(row);
            }
            sum.finish()
        };
        assert_eq!(content(&[one, two]), content(&[two, one]));
        assert_ne!(content(&[one, two]), content(&[one, one]));
        assert_ne!(content(&[one]), content(&[one, one]));
        assert_ne!(content(&[]), content(&[one]));
        let (mut left, mut right) = (ContentSum::default(), ContentSum::default());
        left.add(&one);
        right.add(&two);
        left.merge(&right);
        assert_eq!(left.finish(), content(&[two, one]));
        assert_eq!(parse_digest(&hex(&one)), Some(one));
        assert_eq!(parse_digest("zz"), None);
    }
}
