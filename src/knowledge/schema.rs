//! The expected shape of the metadata database: `upgrade-paths/schemas/<first-release>.json`.
//!
//! One file describes the catalog that a fresh install creates (`create_tables`: the models'
//! `create_all` plus an alembic stamp) for every release that shares it, written the way
//! PostgreSQL's own catalog functions print it (`format_type`, `pg_get_expr`), so a live database
//! can be compared with it field by field. Databases that reached a release by upgrading differ
//! in known ways; those are listed as [`UpgradedVariant`]s and are not drift.

use semver::Version;
use serde::{Deserialize, Serialize};

use super::model::Source;

/// The schema a group of releases creates on a fresh install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSchema {
    /// Every release whose fresh install creates exactly this catalog.
    pub releases: Vec<Version>,
    /// The model files the schema is read from.
    pub sources: Vec<Source>,
    pub tables: Vec<Table>,
    /// Functions in the schema, by name and identity arguments (`pg_get_function_identity_arguments`).
    pub functions: Vec<Function>,
    /// Composite types that are not a table's row type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Known differences of a database that reached these releases by upgrading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgraded_variants: Vec<UpgradedVariant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    pub source: Source,
    /// In the order a fresh install creates them; order is never compared.
    pub columns: Vec<Column>,
    pub primary_key: Option<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes that no constraint owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it: `character varying(255)`, `integer[]`, `jsonb`.
    #[serde(rename = "type")]
    pub sql_type: String,
    pub nullable: bool,
    /// The server-side default as `pg_get_expr` prints it; ORM-side defaults are not in the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl Column {
    pub fn shape(&self) -> ColumnShape {
        ColumnShape {
            sql_type: self.sql_type.clone(),
            nullable: self.nullable,
            default: self.default.clone(),
        }
    }
}

/// What can differ about a column that exists on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnShape {
    #[serde(rename = "type")]
    pub sql_type: String,
    pub nullable: bool,
    #[serde(default)]
    pub default: Option<String>,
}

impl std::fmt::Display for ColumnShape {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.sql_type)?;
        formatter.write_str(if self.nullable { " NULL" } else { " NOT NULL" })?;
        if let Some(default) = &self.default {
            write!(formatter, " DEFAULT {default}")?;
        }
        Ok(())
    }
}

/// A primary key or unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub references: String,
    pub referenced_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// The access method: `btree`, `gin`.
    pub method: String,
}

/// A row-level trigger and the function it executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub name: String,
    pub function: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub name: String,
    pub arguments: String,
}

impl std::fmt::Display for Function {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}({})", self.name, self.arguments)
    }
}

/// A column that a database upgraded from an older release has in another shape than a fresh
/// install, because upstream changed a model without a migration (or a migration did more or less
/// than the model says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradedVariant {
    pub table: String,
    pub column: String,
    /// The shape the column has after upgrading.
    pub upgraded: ColumnShape,
    /// Which databases have it, in words an operator recognises.
    pub applies_to: String,
    pub why: String,
    pub source: Source,
}

impl ReleaseSchema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|table| table.name == name)
    }

    pub fn covers(&self, version: &Version) -> bool {
        self.releases.contains(version)
    }

    /// The accepted upgraded shapes of one column.
    pub fn variants_of<'a>(
        &'a self,
        table: &'a str,
        column: &'a str,
    ) -> impl Iterator<Item = &'a UpgradedVariant> + 'a {
        self.upgraded_variants
            .iter()
            .filter(move |variant| variant.table == table && variant.column == column)
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}
