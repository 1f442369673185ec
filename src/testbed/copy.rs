//! Rows in PostgreSQL's COPY text format, shaped by the release's schema: a value the generator
//! offers for a column the release does not have is left out, and a JSON value is written as text
//! whether the column is `text`, `json` or `jsonb` in that release.

use std::fmt::Write as _;

use crate::knowledge::schema::{ReleaseSchema, Table};

use super::{Client, TestbedError};
use crate::db::quote_ident;

/// One field value offered by the generator.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// Written as JSON text; the column may be `text`, `json` or `jsonb`.
    Json(serde_json::Value),
    TextArray(Vec<String>),
    IntArray(Vec<i64>),
    Bytes(Vec<u8>),
    /// `YYYY-MM-DD HH:MM:SS+00`.
    Timestamp(String),
}

/// The rows of one table, ready for `COPY ... FROM STDIN`.
#[derive(Debug)]
pub struct CopyTable {
    pub name: String,
    columns: Vec<String>,
    required: Vec<String>,
    buffer: String,
    rows: usize,
}

impl CopyTable {
    /// `None` when the release has no such table.
    pub fn for_table(schema: &ReleaseSchema, name: &str) -> Option<CopyTable> {
        let table: &Table = schema.table(name)?;
        Some(CopyTable {
            name: name.to_owned(),
            columns: table
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect(),
            required: table
                .columns
                .iter()
                .filter(|column| !column.nullable && column.default.is_none())
                .map(|column| column.name.clone())
                .collect(),
            buffer: String::new(),
            rows: 0,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds a row. Columns the release lacks are dropped; columns the generator does not offer are
    /// written as NULL, and a NOT NULL column without a default left out is a generator bug.
    pub fn push(&mut self, fields: &[(&str, Value)]) {
        for required in &self.required {
            assert!(
                fields.iter().any(|(name, _)| name == required),
                "the fixture generator gives no value for {}.{required}",
                self.name
            );
        }
        let mut first = true;
        for column in &self.columns {
            if !first {
                self.buffer.push('\t');
            }
            first = false;
            match fields.iter().find(|(name, _)| name == column) {
                Some((_, value)) => encode(value, &mut self.buffer),
                None => self.buffer.push_str("\\N"),
            }
        }
        self.buffer.push('\n');
        self.rows += 1;
    }

    fn copy_statement(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|name| quote_ident(name)).collect();
        format!(
            "COPY {} ({}) FROM STDIN",
            quote_ident(&self.name),
            columns.join(", ")
        )
    }

    pub fn copy_into(&self, client: &mut Client) -> Result<(), TestbedError> {
        if self.rows == 0 {
            return Ok(());
        }
        client.copy_in(&self.copy_statement(), self.buffer.as_bytes())
    }

    /// The rows as a `psql` script block.
    pub fn write_script(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        writeln!(out, "{};", self.copy_statement())?;
        out.write_all(self.buffer.as_bytes())?;
        writeln!(out, "\\.")
    }
}

fn encode(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("\\N"),
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Float(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Bool(flag) => out.push(if *flag { 't' } else { 'f' }),
        Value::Text(text) | Value::Timestamp(text) => escape(text, out),
        Value::Json(json) => escape(&json.to_string(), out),
        Value::IntArray(items) => {
            let items: Vec<String> = items.iter().map(i64::to_string).collect();
            let _ = write!(out, "{{{}}}", items.join(","));
        }
        Value::TextArray(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            escape(&format!("{{{}}}", items.join(",")), out);
        }
        Value::Bytes(bytes) => {
            // bytea hex input `\x..`, with COPY's own backslash doubled.
            out.push_str("\\\\x");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

fn escape(text: &str, out: &mut String) {
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
}
