//! The difference between a live catalog and the expected schema of a release. Column order is
//! never compared; constraints and indexes are matched by what they cover, not by name; a column
//! in a shape that upgraded databases are known to have is upstream variance, not drift.

use serde::Serialize;

use crate::db::introspect::{Catalog, LiveTable};
use crate::knowledge::schema::{ColumnShape, ReleaseSchema, Table};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drift {
    pub extra_tables: Vec<String>,
    pub missing_tables: Vec<String>,
    pub extra_columns: Vec<ColumnRef>,
    pub missing_columns: Vec<ColumnRef>,
    pub changed_columns: Vec<ChangedColumn>,
    pub missing_indexes: Vec<ObjectRef>,
    pub extra_indexes: Vec<ObjectRef>,
    pub missing_constraints: Vec<ObjectRef>,
    pub extra_constraints: Vec<ObjectRef>,
    pub missing_triggers: Vec<ObjectRef>,
    pub extra_triggers: Vec<ObjectRef>,
    pub missing_functions: Vec<String>,
    pub missing_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub sql_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedColumn {
    pub table: String,
    pub column: String,
    pub expected: ColumnShape,
    pub found: ColumnShape,
}

/// An index, constraint or trigger: its table, its name and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub table: String,
    pub name: String,
    pub definition: String,
}

/// A column found in a shape that upstream's own upgrade path produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variance {
    pub table: String,
    pub column: String,
    pub found: ColumnShape,
    pub applies_to: String,
    pub why: String,
    pub source: String,
}

impl Drift {
    pub fn count(&self) -> usize {
        self.extra_tables.len()
            + self.missing_tables.len()
            + self.extra_columns.len()
            + self.missing_columns.len()
            + self.changed_columns.len()
            + self.missing_indexes.len()
            + self.extra_indexes.len()
            + self.missing_constraints.len()
            + self.extra_constraints.len()
            + self.missing_triggers.len()
            + self.extra_triggers.len()
            + self.missing_functions.len()
            + self.missing_types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The indexes, constraints and triggers, missing or extra, each list with its label.
    pub fn labelled_objects(&self) -> [(&'static str, &Vec<ObjectRef>); 6] {
        [
            ("missing index", &self.missing_indexes),
            ("extra index", &self.extra_indexes),
            ("missing constraint", &self.missing_constraints),
            ("extra constraint", &self.extra_constraints),
            ("missing trigger", &self.missing_triggers),
            ("extra trigger", &self.extra_triggers),
        ]
    }
}

/// Compares `live` with `expected`.
pub fn compare(expected: &ReleaseSchema, live: &Catalog) -> (Drift, Vec<Variance>) {
    let mut drift = Drift::default();
    let mut variance = Vec::new();
    for table in &live.tables {
        if expected.table(&table.name).is_none() {
            drift.extra_tables.push(table.name.clone());
        }
    }
    for table in &expected.tables {
        match live.table(&table.name) {
            None => drift.missing_tables.push(table.name.clone()),
            Some(found) => compare_table(expected, table, found, &mut drift, &mut variance),
        }
    }
    for function in &expected.functions {
        if !live.functions.contains(function) {
            drift.missing_functions.push(function.to_string());
        }
    }
    for type_name in &expected.types {
        if !live.types.contains(type_name) {
            drift.missing_types.push(type_name.clone());
        }
    }
    (drift, variance)
}

fn compare_table(
    schema: &ReleaseSchema,
    expected: &Table,
    found: &LiveTable,
    drift: &mut Drift,
    variance: &mut Vec<Variance>,
) {
    let table = expected.name.as_str();
    for column in &found.columns {
        if expected.column(&column.name).is_none() {
            drift.extra_columns.push(ColumnRef {
                table: table.to_owned(),
                column: column.name.clone(),
                sql_type: column.sql_type.clone(),
            });
        }
    }
    for column in &expected.columns {
        let Some(live) = found.column(&column.name) else {
            drift.missing_columns.push(ColumnRef {
                table: table.to_owned(),
                column: column.name.clone(),
                sql_type: column.sql_type.clone(),
            });
            continue;
        };
        let (want, have) = (column.shape(), live.shape());
        if want == have {
            continue;
        }
        match schema
            .variants_of(table, &column.name)
            .find(|variant| variant.upgraded == have)
        {
            Some(known) => variance.push(Variance {
                table: table.to_owned(),
                column: column.name.clone(),
                found: have,
                applies_to: known.applies_to.clone(),
                why: known.why.clone(),
                source: known.source.to_string(),
            }),
            None => drift.changed_columns.push(ChangedColumn {
                table: table.to_owned(),
                column: column.name.clone(),
                expected: want,
                found: have,
            }),
        }
    }

    // alembic_version's key comes from the alembic release that first stamped the database, not
    // from Redash; databases stamped by old alembic releases have none.
    let keys_compared = table != "alembic_version";
    let mut expected_constraints = Vec::new();
    let mut found_constraints = Vec::new();
    if keys_compared {
        if let Some(key) = &expected.primary_key {
            expected_constraints.push((
                key.name.clone(),
                format!("PRIMARY KEY ({})", key.columns.join(", ")),
            ));
        }
        if let Some(key) = &found.primary_key {
            found_constraints.push((
                key.name.clone(),
                format!("PRIMARY KEY ({})", key.columns.join(", ")),
            ));
        }
    }
    for unique in &expected.unique {
        expected_constraints.push((
            unique.name.clone(),
            format!("UNIQUE ({})", unique.columns.join(", ")),
        ));
    }
    for unique in &found.unique {
        found_constraints.push((
            unique.name.clone(),
            format!("UNIQUE ({})", unique.columns.join(", ")),
        ));
    }
    let foreign = |key: &crate::knowledge::schema::ForeignKey| {
        format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            key.columns.join(", "),
            key.references,
            key.referenced_columns.join(", ")
        )
    };
    for key in &expected.foreign_keys {
        expected_constraints.push((key.name.clone(), foreign(key)));
    }
    for key in &found.foreign_keys {
        found_constraints.push((key.name.clone(), foreign(key)));
    }
    one_sided(
        table,
        &expected_constraints,
        &found_constraints,
        &mut drift.missing_constraints,
        &mut drift.extra_constraints,
    );

    let index_definition = |index: &crate::knowledge::schema::Index| {
        format!(
            "{}{} ({})",
            if index.unique { "UNIQUE " } else { "" },
            index.method,
            index.columns.join(", ")
        )
    };
    let expected_indexes: Vec<(String, String)> = expected
        .indexes
        .iter()
        .map(|index| (index.name.clone(), index_definition(index)))
        .collect();
    let found_indexes: Vec<(String, String)> = found
        .indexes
        .iter()
        .map(|index| (index.name.clone(), index_definition(index)))
        .collect();
    one_sided(
        table,
        &expected_indexes,
        &found_indexes,
        &mut drift.missing_indexes,
        &mut drift.extra_indexes,
    );

    let triggers = |list: &[crate::knowledge::schema::Trigger]| -> Vec<(String, String)> {
        list.iter()
            .map(|trigger| {
                (
                    trigger.name.clone(),
                    format!("EXECUTE FUNCTION {}()", trigger.function),
                )
            })
            .collect()
    };
    one_sided(
        table,
        &triggers(&expected.triggers),
        &triggers(&found.triggers),
        &mut drift.missing_triggers,
        &mut drift.extra_triggers,
    );
}

/// Objects given as (name, definition), matched by definition: those only expected are
/// missing, those only found are extra.
fn one_sided(
    table: &str,
    expected: &[(String, String)],
    found: &[(String, String)],
    missing: &mut Vec<ObjectRef>,
    extra: &mut Vec<ObjectRef>,
) {
    let object = |(name, definition): &(String, String)| ObjectRef {
        table: table.to_owned(),
        name: name.clone(),
        definition: definition.clone(),
    };
    let has = |list: &[(String, String)], definition: &str| {
        list.iter().any(|(_, other)| other == definition)
    };
    missing.extend(
        expected
            .iter()
            .filter(|entry| !has(found, &entry.1))
            .map(object),
    );
    extra.extend(
        found
            .iter()
            .filter(|entry| !has(expected, &entry.1))
            .map(object),
    );
}
