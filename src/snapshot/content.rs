//! Reading what a database holds, table by table, as digests: every row of every table for the
//! table's content hash, and for the tables that hold users' work a record per row (its key, the
//! digest of the columns no migration touches, and one digest per column a migration may
//! change), made under the column's name at the snapshot even when the value now lives
//! elsewhere.
//!
//! Tables are streamed with COPY on several connections that share one exported snapshot
//! ([`LiveDatabase::scan`]); rows are hashed on every core.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::checks::db::{copy_field, Scan};
use crate::checks::{CannotRun, LiveDatabase};
use crate::db::introspect::Catalog;
use crate::db::{quote_ident, ReadOnlySession};
use crate::fernet::FernetKey;
use crate::knowledge::model::DataEffect;
use crate::knowledge::KnowledgeBase;

use super::canonical::{column_digest, ColumnKind, ContentSum, RowDigest, RowHasher};
use super::manifest::{ColumnManifest, RowRecord};

/// The tables that hold what users made or configured, compared row by row. Logs, caches and
/// sessions (`events`, `query_results`, `changes`, `api_keys` of users are here; `alembic_version`
/// is not) are compared by content hash only. A name absent from a release is skipped.
pub const USER_TABLES: &[&str] = &[
    "access_permissions",
    "alert_subscriptions",
    "alerts",
    "api_keys",
    "dashboards",
    "data_source_groups",
    "data_sources",
    "favorites",
    "groups",
    "notification_destinations",
    "organizations",
    "queries",
    "query_snippets",
    "users",
    "visualizations",
    "widgets",
];

/// Tables whose content says where the schema is, not what users hold: compared by `verify`'s
/// alembic check instead.
pub const BOOKKEEPING_TABLES: &[&str] = &["alembic_version"];

/// Types whose values the database derives from other columns (search vectors): never a
/// column of their own in a row record.
const DERIVED_TYPES: &[&str] = &["tsvector"];

/// How one table is read.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: String,
    /// Sorted by name: the order of the COPY's select list and of the full-row digest.
    pub columns: Vec<ColumnManifest>,
    /// Positions (in `columns`) of the primary key's columns; empty without one.
    pub key: Vec<usize>,
    /// Positions of the columns hashed together into a row record's stable digest; `None` when
    /// the table gets no row records.
    pub stable: Option<Vec<usize>>,
    /// The separate digests of a row record, in order.
    pub separate: Vec<SeparateDigest>,
}

impl TablePlan {
    /// The `SELECT` of the table's columns in the plan's order, for COPY.
    pub fn select(&self) -> String {
        format!(
            "SELECT {} FROM {}",
            self.columns
                .iter()
                .map(|column| quote_ident(&column.name))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(&self.table)
        )
    }
}

/// One separate digest of a row record: made from `derivation` of the live row, under `name`
/// and `kind` as the column had them at the snapshot.
#[derive(Debug, Clone)]
pub struct SeparateDigest {
    pub name: String,
    pub kind: ColumnKind,
    pub derivation: Derivation,
}

/// Where a separate digest's value comes from in the row read now.
#[derive(Debug, Clone)]
pub enum Derivation {
    /// The column at this position, as it is.
    Column(usize),
    /// The column at this position mapped back through the rewrites in between (newest first);
    /// any of the candidate values may match.
    MappedBack { column: usize, steps: Vec<MapBack> },
    /// The Fernet token in the column at this position, decrypted.
    Decrypted { column: usize, key: Arc<FernetKey> },
    /// The text under `key` of the JSON column at this position.
    JsonKey { column: usize, key: String },
    /// Not compared: a migration in between may change it freely, or nothing can read it back.
    NotCompared,
    /// The column is gone without a migration that says so (reported for the table).
    Missing,
}

/// One rewrite undone, value by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapBack {
    /// `{"interval": .., "time": ..}` back to the legacy schedule string.
    ScheduleFromJson,
    /// NULL back to the schedule object of nulls.
    NullScheduleToEmpty,
    /// Halve `position.col` and `position.sizeX`.
    WidgetGridHalved,
    /// Either as it is, or without `selector` when it is `"first"`.
    SelectorFirstMaybeAdded,
    /// Without `key` (a value moved in from a dropped column).
    WithoutJsonKey(String),
}

/// What reading one table gave.
#[derive(Debug, Clone)]
pub struct TableContent {
    pub rows: u64,
    pub content_sha256: String,
    /// Per key, the row record's stable digest (`None` when a stable column is gone) and the
    /// candidates of each separate digest.
    pub records: Option<BTreeMap<String, LiveRecord>>,
    /// Rows whose key was seen twice (a table whose primary key was lost).
    pub duplicate_keys: Vec<String>,
}

/// One row as read now, for comparison with a [`RowRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRecord {
    pub stable: Option<RowDigest>,
    pub separate: Vec<Vec<RowDigest>>,
}

impl LiveRecord {
    /// The record as a snapshot keeps it (first candidate of each separate digest).
    pub fn to_record(&self) -> RowRecord {
        RowRecord {
            stable: self.stable.unwrap_or_default(),
            separate: self
                .separate
                .iter()
                .map(|candidates| candidates.first().copied().unwrap_or_default())
                .collect(),
        }
    }
}

/// Whether `table.column` holds JSON as text in some release (the knowledge base says a
/// migration converts it to jsonb, encrypts it as JSON or moves JSON into it).
pub fn holds_json(knowledge: &KnowledgeBase, table: &str, column: &str) -> bool {
    all_effects(knowledge).any(|effect| match effect {
        DataEffect::Retyped {
            table: effect_table,
            column: effect_column,
            to,
            ..
        } => effect_table == table && effect_column == column && to.starts_with("json"),
        DataEffect::Encrypted {
            table: effect_table,
            from,
            ..
        } => effect_table == table && from == column,
        DataEffect::MovedIntoJsonKey {
            table: effect_table,
            to,
            ..
        } => effect_table == table && to == column,
        _ => false,
    })
}

/// Every data effect of every migration the knowledge base knows.
pub fn all_effects(knowledge: &KnowledgeBase) -> impl Iterator<Item = &DataEffect> {
    knowledge
        .releases
        .iter()
        .flat_map(|release| release.migrations.iter())
        .flat_map(|revision| revision.data_effects.iter())
}

/// The columns of `table` that some migration changes: recorded one by one.
fn changing_columns(knowledge: &KnowledgeBase, table: &str) -> BTreeSet<String> {
    all_effects(knowledge)
        .filter(|effect| effect.table() == table)
        .flat_map(|effect| effect.columns())
        .map(str::to_owned)
        .collect()
}

/// The columns of `table` in `catalog`, sorted by name, with how each is hashed.
pub fn columns_of(
    knowledge: &KnowledgeBase,
    catalog: &Catalog,
    table: &str,
) -> Vec<ColumnManifest> {
    let Some(live) = catalog.table(table) else {
        return Vec::new();
    };
    let mut columns: Vec<ColumnManifest> = live
        .columns
        .iter()
        .map(|column| ColumnManifest {
            name: column.name.clone(),
            sql_type: column.sql_type.clone(),
            kind: ColumnKind::of(&column.sql_type, holds_json(knowledge, table, &column.name)),
        })
        .collect();
    columns.sort_by(|left, right| left.name.cmp(&right.name));
    columns
}

/// How a snapshot reads every table of `catalog`.
pub fn snapshot_plans(knowledge: &KnowledgeBase, catalog: &Catalog) -> Vec<TablePlan> {
    catalog
        .tables
        .iter()
        .map(|live| {
            let columns = columns_of(knowledge, catalog, &live.name);
            let position = |name: &str| columns.iter().position(|column| column.name == name);
            let key: Vec<usize> = live
                .primary_key
                .iter()
                .flat_map(|constraint| constraint.columns.iter())
                .filter_map(|name| position(name))
                .collect();
            let user_work = USER_TABLES.contains(&live.name.as_str()) && !key.is_empty();
            let (stable, separate) = if user_work {
                let changing = changing_columns(knowledge, &live.name);
                let mut stable = Vec::new();
                let mut separate = Vec::new();
                for (index, column) in columns.iter().enumerate() {
                    if DERIVED_TYPES.contains(&column.sql_type.as_str()) {
                        continue;
                    }
                    if changing.contains(&column.name) {
                        separate.push(SeparateDigest {
                            name: column.name.clone(),
                            kind: column.kind,
                            derivation: Derivation::Column(index),
                        });
                    } else if !key.contains(&index) {
                        stable.push(index);
                    }
                }
                (Some(stable), separate)
            } else {
                (None, Vec::new())
            };
            TablePlan {
                table: live.name.clone(),
                columns,
                key,
                stable,
                separate,
            }
        })
        .collect()
}

/// Reads every table of `plans` through `database`'s snapshot, in parallel.
pub async fn read_tables(
    database: &LiveDatabase,
    plans: &[TablePlan],
) -> Result<Vec<TableContent>, CannotRun> {
    let mut results = Vec::with_capacity(plans.len());
    // One scan per table, each with its own row handler: scanned in parallel a few at a time.
    let scans: Vec<(Scan, Arc<TablePlan>)> = plans
        .iter()
        .map(|plan| {
            let select = plan.select();
            (
                Scan {
                    what: format!("read {}", plan.table),
                    select,
                    estimate: database.row_estimate(&plan.table),
                },
                Arc::new(plan.clone()),
            )
        })
        .collect();
    let plan_of: Arc<BTreeMap<String, Arc<TablePlan>>> = Arc::new(
        scans
            .iter()
            .map(|(scan, plan)| (scan.what.clone(), plan.clone()))
            .collect(),
    );
    let only_scans: Vec<Scan> = scans.iter().map(|(scan, _)| scan.clone()).collect();
    let scanned = database
        .scan_each(&only_scans, move |what: &str| {
            let plan = plan_of.get(what).cloned();
            // A scan hands each block's rows the same vector: one partial sum per block, so a
            // table's memory is its row records, never one entry per row of a log table.
            Arc::new(move |row: &[u8], found: &mut Vec<Partial>| {
                if let Some(plan) = &plan {
                    if found.is_empty() {
                        found.push(Partial::default());
                    }
                    found[0].add(digest_row(plan, row));
                }
            })
        })
        .await?;
    for (plan, pass) in plans.iter().zip(scanned) {
        results.push(summarise(plan, pass.rows, pass.found));
    }
    Ok(results)
}

/// What one row gave.
pub struct RowOutput {
    full: RowDigest,
    key: Option<String>,
    record: Option<LiveRecord>,
}

/// Rows of one table summed up: the content so far and the row records (for users' work).
#[derive(Default)]
pub struct Partial {
    content: ContentSum,
    records: Vec<(String, LiveRecord)>,
}

impl Partial {
    pub(crate) fn add(&mut self, output: RowOutput) {
        self.content.add(&output.full);
        if let (Some(key), Some(record)) = (output.key, output.record) {
            self.records.push((key, record));
        }
    }
}

/// The table's content from its partial sums (in any order).
pub(crate) fn summarise(plan: &TablePlan, rows: u64, partials: Vec<Partial>) -> TableContent {
    let mut content = ContentSum::default();
    let mut records = plan.stable.as_ref().map(|_| BTreeMap::new());
    let mut duplicate_keys = Vec::new();
    for partial in partials {
        content.merge(&partial.content);
        if let Some(records) = &mut records {
            for (key, record) in partial.records {
                if let Some(_earlier) = records.insert(key.clone(), record) {
                    duplicate_keys.push(key);
                }
            }
        }
    }
    TableContent {
        rows,
        content_sha256: content.finish(),
        records,
        duplicate_keys,
    }
}

pub(crate) fn digest_row(plan: &TablePlan, row: &[u8]) -> RowOutput {
    let raw: Vec<&[u8]> = row.split(|&byte| byte == b'\t').collect();
    let value = |index: usize| -> Option<Cow<'_, [u8]>> {
        let field = raw.get(index).copied().unwrap_or(b"\\N");
        if field == b"\\N" {
            None
        } else if field.contains(&b'\\') {
            copy_field(field).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(field))
        }
    };
    let values: Vec<Option<Cow<'_, [u8]>>> = (0..plan.columns.len()).map(value).collect();
    let mut full = RowHasher::default();
    for (column, value) in plan.columns.iter().zip(&values) {
        full.column(&column.name, column.kind, value.as_deref());
    }
    let full = full.finish();
    let Some(stable_columns) = &plan.stable else {
        return RowOutput {
            full,
            key: None,
            record: None,
        };
    };
    let key = plan
        .key
        .iter()
        .map(|&index| {
            values[index]
                .as_deref()
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",");
    let mut stable = RowHasher::default();
    for &index in stable_columns {
        let column = &plan.columns[index];
        stable.column(&column.name, column.kind, values[index].as_deref());
    }
    let separate = plan
        .separate
        .iter()
        .map(|digest| {
            derive(&digest.derivation, &values)
                .into_iter()
                .map(|candidate| column_digest(&digest.name, digest.kind, candidate.as_deref()))
                .collect()
        })
        .collect();
    RowOutput {
        full,
        key: Some(key),
        record: Some(LiveRecord {
            stable: Some(stable.finish()),
            separate,
        }),
    }
}

/// The candidate values a derivation gives for one row.
fn derive(derivation: &Derivation, values: &[Option<Cow<'_, [u8]>>]) -> Vec<Option<Vec<u8>>> {
    let get = |index: usize| values.get(index).and_then(|value| value.as_deref());
    match derivation {
        Derivation::Column(index) => vec![get(*index).map(<[u8]>::to_vec)],
        Derivation::MappedBack { column, steps } => {
            let mut candidates = vec![get(*column).map(<[u8]>::to_vec)];
            for step in steps {
                candidates = candidates
                    .into_iter()
                    .flat_map(|candidate| map_back(step, candidate))
                    .collect();
            }
            candidates
        }
        Derivation::Decrypted { column, key } => {
            let Some(stored) = get(*column) else {
                return vec![None];
            };
            match decode_bytea(stored).and_then(|token| key.decrypt(&token).ok()) {
                Some(plain) => vec![Some(plain)],
                // Kept as it is: it will not match, and says the value could not be read back.
                None => vec![Some(stored.to_vec())],
            }
        }
        Derivation::NotCompared | Derivation::Missing => vec![None],
        Derivation::JsonKey { column, key } => {
            let text = get(*column)
                .and_then(|json| serde_json::from_slice::<serde_json::Value>(json).ok())
                .and_then(|json| json.get(key).cloned())
                .and_then(|value| match value {
                    serde_json::Value::String(text) => Some(text.into_bytes()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string().into_bytes()),
                });
            vec![text]
        }
    }
}

/// `\x` hex text of a bytea, as the server prints it with `bytea_output = hex`.
pub fn decode_bytea(text: &[u8]) -> Option<Vec<u8>> {
    let hex = text.strip_prefix(b"\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

fn map_back(step: &MapBack, value: Option<Vec<u8>>) -> Vec<Option<Vec<u8>>> {
    use serde_json::Value;
    let parse = |bytes: &Option<Vec<u8>>| {
        bytes
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
    };
    let write = |json: &Value| Some(json.to_string().into_bytes());
    match step {
        MapBack::ScheduleFromJson => {
            let Some(Value::Object(schedule)) = parse(&value) else {
                return vec![value];
            };
            let field = |name: &str| schedule.get(name).filter(|value| !value.is_null());
            let legacy = match (field("time"), field("interval")) {
                (Some(Value::String(time)), _) => Some(time.clone().into_bytes()),
                (_, Some(Value::String(interval))) => Some(interval.clone().into_bytes()),
                (_, Some(Value::Number(interval))) => Some(interval.to_string().into_bytes()),
                (None, None) => None,
                _ => return vec![value],
            };
            vec![legacy]
        }
        MapBack::NullScheduleToEmpty => match value {
            None => vec![Some(
                br#"{"interval": null, "until": null, "day_of_week": null, "time": null}"#.to_vec(),
            )],
            some => vec![some],
        },
        MapBack::WidgetGridHalved => {
            let Some(mut options) = parse(&value) else {
                return vec![value];
            };
            for name in ["col", "sizeX"] {
                if let Some(number) = options
                    .pointer(&format!("/position/{name}"))
                    .and_then(Value::as_i64)
                {
                    if let Some(slot) = options.pointer_mut(&format!("/position/{name}")) {
                        *slot = Value::from(number / 2);
                    }
                }
            }
            vec![write(&options)]
        }
        MapBack::SelectorFirstMaybeAdded => {
            let Some(mut options) = parse(&value) else {
                return vec![value];
            };
            let added = options.get("selector").and_then(Value::as_str) == Some("first");
            if !added {
                return vec![value];
            }
            if let Some(map) = options.as_object_mut() {
                map.remove("selector");
            }
            vec![value, write(&options)]
        }
        MapBack::WithoutJsonKey(key) => {
            let Some(mut json) = parse(&value) else {
                return vec![value];
            };
            if let Some(map) = json.as_object_mut() {
                map.remove(key);
            }
            vec![write(&json)]
        }
    }
}

/// Reads facts the manifest records about the server: its system identifier and the database.
pub async fn read_identity(session: &mut ReadOnlySession) -> Result<(String, String), CannotRun> {
    let row = session
        .fetch_one(
            "read the system identifier",
            sqlx::query(
                "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text",
            ),
        )
        .await?;
    use sqlx::Row as _;
    Ok((
        row.try_get::<Option<String>, _>(0)
            .ok()
            .flatten()
            .unwrap_or_default(),
        row.get(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_schedules_map_back() {
        let back =
            |json: &str| map_back(&MapBack::ScheduleFromJson, Some(json.as_bytes().to_vec()));
        assert_eq!(
            back(r#"{"interval": "3600", "until": null, "day_of_week": null, "time": null}"#),
            vec![Some(b"3600".to_vec())]
        );
        assert_eq!(
            back(r#"{"interval": 3600, "until": null, "day_of_week": null, "time": null}"#),
            vec![Some(b"3600".to_vec())]
        );
        assert_eq!(
            back(r#"{"interval": 86400, "until": null, "day_of_week": null, "time": "14:30"}"#),
            vec![Some(b"14:30".to_vec())]
        );
        assert_eq!(
            back(r#"{"interval": null, "until": null, "day_of_week": null, "time": null}"#),
            vec![None]
        );
        let null_first = map_back(&MapBack::NullScheduleToEmpty, None);
        assert_eq!(
            null_first
                .into_iter()
                .flat_map(|value| map_back(&MapBack::ScheduleFromJson, value))
                .collect::<Vec<_>>(),
            vec![None]
        );
    }

    #[test]
    fn widget_positions_are_halved_and_selectors_may_have_been_added() {
        let halved = map_back(
            &MapBack::WidgetGridHalved,
            Some(br#"{"position": {"col": 4, "sizeX": 6, "row": 2}}"#.to_vec()),
        );
        let json: serde_json::Value =
            serde_json::from_slice(halved[0].as_deref().unwrap()).unwrap();
        assert_eq!(json["position"]["col"], 2);
        assert_eq!(json["position"]["sizeX"], 3);
        assert_eq!(json["position"]["row"], 2);
        let selector = map_back(
            &MapBack::SelectorFirstMaybeAdded,
            Some(br#"{"op": ">", "selector": "first"}"#.to_vec()),
        );
        assert_eq!(selector.len(), 2);
        assert_eq!(selector[1].as_deref(), Some(br#"{"op":">"}"#.as_slice()));
    }

    #[test]
    fn bytea_hex_decodes() {
        assert_eq!(decode_bytea(b"\\x6162"), Some(b"ab".to_vec()));
        assert_eq!(decode_bytea(b"6162"), None);
    }
}
