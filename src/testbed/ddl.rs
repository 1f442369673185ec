//! SQL that builds a release's schema from its typed description in `upgrade-paths/schemas/`.
//!
//! Two parts so that data loads fast: [`schema_sql`] creates sequences, types, functions, tables
//! and triggers (the search trigger must fire while rows are copied in); [`finish_sql`] adds keys,
//! indexes, sequence positions and the alembic stamp afterwards.

use std::fmt::Write as _;

use crate::knowledge::schema::{Function, ReleaseSchema};

use crate::db::quote_ident;

#[derive(Debug, thiserror::Error)]
pub enum DdlError {
    #[error("the test bed has no body for function {0}")]
    UnknownFunction(String),
    #[error("the test bed has no definition for type {0}")]
    UnknownType(String),
}

pub fn schema_sql(schema: &ReleaseSchema) -> Result<String, DdlError> {
    let mut sql = String::new();
    for type_name in &schema.types {
        sql.push_str(&type_sql(type_name)?);
    }
    // Helper functions first: the trigger function of 25.x calls none, but the parsers call each other.
    let mut functions: Vec<&Function> = schema.functions.iter().collect();
    functions.sort_by_key(|function| function_rank(&function.name));
    for function in functions {
        sql.push_str(&function_sql(schema, function)?);
    }
    for table in &schema.tables {
        for column in &table.columns {
            if let Some(sequence) = column.default.as_deref().and_then(sequence_of) {
                let _ = writeln!(sql, "CREATE SEQUENCE {};", quote_ident(sequence));
            }
        }
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|column| {
                let mut text = format!("  {} {}", quote_ident(&column.name), column.sql_type);
                if let Some(default) = &column.default {
                    let _ = write!(text, " DEFAULT {default}");
                }
                if !column.nullable {
                    text.push_str(" NOT NULL");
                }
                text
            })
            .collect();
        let _ = writeln!(
            sql,
            "CREATE TABLE {} (\n{}\n);",
            quote_ident(&table.name),
            columns.join(",\n")
        );
        for column in &table.columns {
            if let Some(sequence) = column.default.as_deref().and_then(sequence_of) {
                let _ = writeln!(
                    sql,
                    "ALTER SEQUENCE {} OWNED BY {}.{};",
                    quote_ident(sequence),
                    quote_ident(&table.name),
                    quote_ident(&column.name)
                );
            }
        }
        for trigger in &table.triggers {
            let _ = writeln!(
                sql,
                "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}();",
                quote_ident(&trigger.name),
                quote_ident(&table.name),
                quote_ident(&trigger.function)
            );
        }
    }
    Ok(sql)
}

pub fn finish_sql(schema: &ReleaseSchema, alembic_heads: &[String]) -> Result<String, DdlError> {
    let mut sql = String::new();
    let list = |columns: &[String]| {
        columns
            .iter()
            .map(|column| quote_ident(column))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for table in &schema.tables {
        let name = quote_ident(&table.name);
        if let Some(key) = &table.primary_key {
            let _ = writeln!(
                sql,
                "ALTER TABLE {name} ADD CONSTRAINT {} PRIMARY KEY ({});",
                quote_ident(&key.name),
                list(&key.columns)
            );
        }
        for unique in &table.unique {
            let _ = writeln!(
                sql,
                "ALTER TABLE {name} ADD CONSTRAINT {} UNIQUE ({});",
                quote_ident(&unique.name),
                list(&unique.columns)
            );
        }
        for index in &table.indexes {
            let _ = writeln!(
                sql,
                "CREATE {}INDEX {} ON {name} USING {} ({});",
                if index.unique { "UNIQUE " } else { "" },
                quote_ident(&index.name),
                index.method,
                list(&index.columns)
            );
        }
    }
    // Foreign keys last: they need the referenced keys.
    for table in &schema.tables {
        for foreign_key in &table.foreign_keys {
            let _ = writeln!(
                sql,
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({});",
                quote_ident(&table.name),
                quote_ident(&foreign_key.name),
                list(&foreign_key.columns),
                quote_ident(&foreign_key.references),
                list(&foreign_key.referenced_columns)
            );
        }
    }
    for table in &schema.tables {
        for column in &table.columns {
            if let Some(sequence) = column.default.as_deref().and_then(sequence_of) {
                let _ = writeln!(
                    sql,
                    "SELECT setval('{sequence}', coalesce((SELECT max({}) FROM {}), 0) + 1, false);",
                    quote_ident(&column.name),
                    quote_ident(&table.name)
                );
            }
        }
    }
    for head in alembic_heads {
        let _ = writeln!(
            sql,
            "INSERT INTO alembic_version (version_num) VALUES ('{head}');"
        );
    }
    sql.push_str("ANALYZE;\n");
    Ok(sql)
}

/// `nextval('queries_id_seq'::regclass)` -> `queries_id_seq`.
fn sequence_of(default: &str) -> Option<&str> {
    default
        .strip_prefix("nextval('")?
        .strip_suffix("'::regclass)")
}

fn function_rank(name: &str) -> u8 {
    match name {
        "tsq_append_current_token" | "tsq_tokenize_character" | "array_nremove" => 0,
        "tsq_tokenize" => 1,
        "tsq_process_tokens" => 2,
        "tsq_parse" => 3,
        _ => 4,
    }
}

// The fields of tsq_state are ours: `detect` compares types by name, and no fixture row uses it.
pub(super) fn type_sql(name: &str) -> Result<String, DdlError> {
    match name {
        "tsq_state" => Ok(
            "CREATE TYPE tsq_state AS (search_query text, current_index integer, \
             current_token text, tokens text[]);\n"
                .to_owned(),
        ),
        other => Err(DdlError::UnknownType(other.to_owned())),
    }
}

/// Bodies written for the test bed: the search trigger computes what upstream's computes (a
/// weighted tsvector of id, name, description and query); the search-parser helpers of the 25.x
/// schema only need the right names and arguments.
pub(super) fn function_sql(
    schema: &ReleaseSchema,
    function: &Function,
) -> Result<String, DdlError> {
    let signature = format!("{}({})", function.name, function.arguments);
    let body = match (function.name.as_str(), function.arguments.as_str()) {
        ("queries_search_vector_update", "") => {
            // SQLAlchemy-Searchable 0.10 (up to 10.x) turned '-', '@' and '.' into spaces first.
            let strips_punctuation = !schema.types.iter().any(|name| name == "tsq_state");
            let part = |expression: &str, weight: char| {
                let value = format!("coalesce({expression}, '')");
                let value = if strips_punctuation {
                    format!("regexp_replace({value}, '[-@.]', ' ', 'g')")
                } else {
                    value
                };
                format!("setweight(to_tsvector('pg_catalog.simple', {value}), '{weight}')")
            };
            return Ok(format!(
                "CREATE FUNCTION queries_search_vector_update() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 BEGIN\n  NEW.search_vector = {} || {} || {} || {};\n  RETURN NEW;\nEND\n$$;\n",
                part("CAST(NEW.id AS TEXT)", 'B'),
                part("NEW.name", 'A'),
                part("NEW.description", 'C'),
                part("NEW.query", 'D'),
            ));
        }
        ("tsq_append_current_token", "state tsq_state") => {
            "RETURNS tsq_state AS $$ SELECT state $$"
        }
        ("tsq_tokenize_character", "state tsq_state") => "RETURNS tsq_state AS $$ SELECT state $$",
        ("array_nremove", "anyarray, anyelement, integer") => {
            "RETURNS anyarray AS $$ SELECT array_remove($1, $2) $$"
        }
        ("tsq_tokenize", "search_query text") => {
            "RETURNS text[] AS $$ SELECT regexp_split_to_array(trim(search_query), '\\s+') $$"
        }
        ("tsq_process_tokens", "config regconfig, tokens text[]") => {
            "RETURNS tsquery AS $$ SELECT plainto_tsquery(config, array_to_string(tokens, ' ')) $$"
        }
        ("tsq_process_tokens", "tokens text[]") => {
            "RETURNS tsquery AS $$ SELECT tsq_process_tokens(get_current_ts_config(), tokens) $$"
        }
        ("tsq_parse", "config regconfig, search_query text") => {
            "RETURNS tsquery AS $$ SELECT tsq_process_tokens(config, tsq_tokenize(search_query)) $$"
        }
        ("tsq_parse", "config text, search_query text") => {
            "RETURNS tsquery AS $$ SELECT tsq_parse(config::regconfig, search_query) $$"
        }
        ("tsq_parse", "search_query text") => {
            "RETURNS tsquery AS $$ SELECT tsq_parse(get_current_ts_config(), search_query) $$"
        }
        _ => return Err(DdlError::UnknownFunction(signature)),
    };
    Ok(format!(
        "CREATE FUNCTION {signature} {body} LANGUAGE sql;\n"
    ))
}
