//! What the live database holds, read from `pg_catalog` in the session's current schema and
//! described with the same types as the expected schemas in `upgrade-paths/schemas/`.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::knowledge::schema::{Column, Constraint, ForeignKey, Function, Index, Trigger};

use super::{DbError, ReadOnlySession};

/// A table as found in the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveTable {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Option<Constraint>,
    pub unique: Vec<Constraint>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
    pub triggers: Vec<Trigger>,
}

impl LiveTable {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

/// The catalog of the current schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Sorted by name.
    pub tables: Vec<LiveTable>,
    pub functions: Vec<Function>,
    pub types: Vec<String>,
}

impl Catalog {
    pub fn table(&self, name: &str) -> Option<&LiveTable> {
        self.tables.iter().find(|table| table.name == name)
    }
}

pub async fn read_catalog(session: &mut ReadOnlySession) -> Result<Catalog, DbError> {
    let mut tables: BTreeMap<String, LiveTable> = BTreeMap::new();
    let rows = session
        .fetch_all(
            "read the tables and columns",
            sqlx::query(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             ORDER BY c.relname, a.attnum",
            ),
        )
        .await?;
    for row in rows {
        let table: String = row.get(0);
        let entry = tables.entry(table.clone()).or_insert_with(|| LiveTable {
            name: table,
            ..LiveTable::default()
        });
        entry.columns.push(Column {
            name: row.get(1),
            sql_type: row.get(2),
            nullable: !row.get::<bool, _>(3),
            default: row.get(4),
        });
    }

    let rows = session
        .fetch_all(
            "read the constraints",
            sqlx::query("SELECT cl.relname::text, con.conname::text, con.contype::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, i) \
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.i), \
                    fcl.relname::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, i) \
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.i) \
             FROM pg_constraint con \
             JOIN pg_class cl ON cl.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = cl.relnamespace \
             LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid \
             WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f') \
             ORDER BY cl.relname, con.conname"),
        )
        .await?;
    for row in rows {
        let Some(table) = tables.get_mut(&row.get::<String, _>(0)) else {
            continue;
        };
        let name: String = row.get(1);
        let columns: Vec<String> = row.get(3);
        match row.get::<String, _>(2).as_str() {
            "p" => table.primary_key = Some(Constraint { name, columns }),
            "u" => table.unique.push(Constraint { name, columns }),
            _ => table.foreign_keys.push(ForeignKey {
                name,
                columns,
                references: row.get::<Option<String>, _>(4).unwrap_or_default(),
                referenced_columns: row.get(5),
            }),
        }
    }

    // Indexes that back a primary key or unique constraint are part of that constraint.
    let rows = session
        .fetch_all(
            "read the indexes",
            sqlx::query("SELECT t.relname::text, i.relname::text, ix.indisunique, am.amname::text, \
                    ARRAY(SELECT coalesce(a.attname::text, pg_get_indexdef(ix.indexrelid, k.i::int, true)) \
                          FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(num, i) \
                          LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num \
                          ORDER BY k.i) \
             FROM pg_index ix \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_am am ON am.oid = i.relam \
             WHERE n.nspname = current_schema() \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                               WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid \
                                 AND c.contype IN ('p', 'u', 'x')) \
             ORDER BY t.relname, i.relname"),
        )
        .await?;
    for row in rows {
        if let Some(table) = tables.get_mut(&row.get::<String, _>(0)) {
            table.indexes.push(Index {
                name: row.get(1),
                unique: row.get(2),
                method: row.get(3),
                columns: row.get(4),
            });
        }
    }

    let rows = session
        .fetch_all(
            "read the triggers",
            sqlx::query(
                "SELECT c.relname::text, t.tgname::text, p.proname::text \
             FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal \
             ORDER BY c.relname, t.tgname",
            ),
        )
        .await?;
    for row in rows {
        if let Some(table) = tables.get_mut(&row.get::<String, _>(0)) {
            table.triggers.push(Trigger {
                name: row.get(1),
                function: row.get(2),
            });
        }
    }

    let functions = session
        .fetch_all(
            "read the functions",
            sqlx::query("SELECT p.proname::text, pg_get_function_identity_arguments(p.oid) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = current_schema() \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
             ORDER BY 1, 2"),
        )
        .await?
        .into_iter()
        .map(|row| Function {
            name: row.get(0),
            arguments: row.get(1),
        })
        .collect();

    let types = session
        .fetch_all(
            "read the types",
            sqlx::query(
                "SELECT t.typname::text FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace \
             JOIN pg_class c ON c.oid = t.typrelid \
             WHERE n.nspname = current_schema() AND c.relkind = 'c' ORDER BY 1",
            ),
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();

    Ok(Catalog {
        tables: tables.into_values().collect(),
        functions,
        types,
    })
}

/// Server, size and use facts shown next to the detection.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerFacts {
    pub server_version: String,
    pub server_version_num: i32,
    pub database_bytes: i64,
    pub largest_tables: Vec<TableSize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSize {
    pub table: String,
    /// Table, indexes and TOAST.
    pub bytes: i64,
    /// The planner's estimate; -1 when the table was never analysed.
    pub rows_estimate: i64,
}

pub async fn read_server_facts(session: &mut ReadOnlySession) -> Result<ServerFacts, DbError> {
    let row = session
        .fetch_one(
            "read the server version and database size",
            sqlx::query("SELECT current_setting('server_version'), current_setting('server_version_num')::int, \
                    pg_database_size(current_database())"),
        )
        .await?;
    let largest_tables = session
        .fetch_all(
            "read the table sizes",
            sqlx::query(
                "SELECT c.relname::text, pg_total_relation_size(c.oid), c.reltuples::bigint \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             ORDER BY 2 DESC, 1 LIMIT 8",
            ),
        )
        .await?
        .into_iter()
        .map(|row| TableSize {
            table: row.get(0),
            bytes: row.get(1),
            rows_estimate: row.get(2),
        })
        .collect();
    Ok(ServerFacts {
        server_version: row.get(0),
        server_version_num: row.get(1),
        database_bytes: row.get(2),
        largest_tables,
    })
}
