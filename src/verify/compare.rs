//! Table by table and row by row: the live database against the snapshot's records, through
//! the data effects of the migrations in between.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::neutralized::Neutralizations;
use super::Mode;
use crate::checks::LiveDatabase;
use crate::db::introspect::Catalog;
use crate::fernet::FernetKey;
use crate::knowledge::model::{DataEffect, Revision, RewriteRule};
use crate::knowledge::KnowledgeBase;
use crate::snapshot::canonical::ColumnKind;
use crate::snapshot::content::{
    columns_of, read_tables, Derivation, MapBack, SeparateDigest, TableContent, TablePlan,
    BOOKKEEPING_TABLES,
};
use crate::snapshot::manifest::{self, compare_keys, Manifest, TableManifest};
use crate::snapshot::SnapshotError;

/// Keys named in a verdict; the counts are always complete.
const KEYS_SHOWN: usize = 50;

/// What one table's comparison found.
#[derive(Debug, Clone, Serialize)]
pub struct TableVerdict {
    pub table: String,
    /// Compared row by row (it holds users' work).
    pub user_work: bool,
    pub rows_before: u64,
    pub rows_now: Option<u64>,
    /// Keys of rows gone, added, and changed beyond the declared effects (first 50 each).
    pub missing: Vec<String>,
    pub missing_count: usize,
    pub added: Vec<String>,
    pub added_count: usize,
    pub changed: Vec<ChangedRow>,
    pub changed_count: usize,
    /// For a table compared by content only: whether the content hash is the same.
    pub content_same: Option<bool>,
    /// Why the table could not be compared, or what else is wrong with it.
    pub problem: Option<String>,
    /// What a migration in between is known to do to these columns, when rows changed.
    pub known_causes: Vec<String>,
    /// Rows a rehearsal neutralized (their originals kept in `redash_upgrade.neutralized`),
    /// differing only in what was neutralized: set apart, not counted.
    pub neutralized: usize,
    /// A column of the stable digest is gone: that digest cannot be compared (the problem says
    /// so once, instead of every row).
    #[serde(skip)]
    stable_lost: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangedRow {
    pub key: String,
    /// `stable` for the columns no migration touches, else the column's name at the snapshot.
    pub columns: Vec<String>,
    /// The row before (from the snapshot's dump) and now, one line per column, as a unified
    /// diff; for the first rows of a table only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A value a hop transformed that the new release cannot use.
#[derive(Debug, Clone, Serialize)]
pub struct ValueNote {
    pub table: String,
    pub column: String,
    pub problem: String,
    pub keys: Vec<String>,
    pub count: usize,
}

impl TableVerdict {
    /// Whether this verdict is a difference in `mode` (in a hop, tables that hold no users' work
    /// may change: logs and caches grow).
    pub fn counts(&self, mode: Mode) -> bool {
        let differs = self.problem.is_some()
            || self.missing_count > 0
            || self.added_count > 0
            || self.changed_count > 0
            || self.content_same == Some(false)
            || self.rows_now.is_none();
        differs && (self.user_work || mode == Mode::Restore)
    }

    fn new(baseline: &TableManifest) -> TableVerdict {
        TableVerdict {
            table: baseline.name.clone(),
            user_work: baseline.row_digests.is_some(),
            rows_before: baseline.rows,
            rows_now: None,
            missing: Vec::new(),
            missing_count: 0,
            added: Vec::new(),
            added_count: 0,
            changed: Vec::new(),
            changed_count: 0,
            content_same: None,
            problem: None,
            known_causes: Vec::new(),
            neutralized: 0,
            stable_lost: false,
        }
    }
}

/// The verdicts, the invalid values and what was not compared.
pub type Comparison = (Vec<TableVerdict>, Vec<ValueNote>, Vec<String>);

#[allow(clippy::too_many_arguments)]
pub async fn compare_tables(
    knowledge: &KnowledgeBase,
    baseline: &Manifest,
    directory: &Path,
    catalog: &Catalog,
    database: &LiveDatabase,
    between: &[&Revision],
    key: Option<Arc<FernetKey>>,
    mode: Mode,
    neutralized: &Neutralizations,
) -> Result<Comparison, SnapshotError> {
    let mut not_compared = Vec::new();
    let mut verdicts = Vec::new();
    let mut plans = Vec::new();
    let mut planned = Vec::new();
    for table in &baseline.tables {
        if mode == Mode::Hop && BOOKKEEPING_TABLES.contains(&table.name.as_str()) {
            continue;
        }
        let mut verdict = TableVerdict::new(table);
        if catalog.table(&table.name).is_none() {
            verdict.problem = Some("the table is gone".into());
            verdict.missing_count = table.rows as usize;
            verdicts.push(verdict);
            continue;
        }
        let plan = live_plan(
            knowledge,
            catalog,
            table,
            between,
            key.clone(),
            mode,
            &mut verdict,
            &mut not_compared,
        );
        plans.push(plan);
        planned.push(verdict);
    }
    let contents = read_tables(database, &plans).await?;
    for ((plan, content), mut verdict) in plans.iter().zip(contents).zip(planned) {
        let baseline_table = baseline
            .table(&plan.table)
            .expect("planned from the baseline");
        verdict.rows_now = Some(content.rows);
        let effects_touch = between
            .iter()
            .flat_map(|revision| revision.data_effects.iter())
            .any(|effect| {
                effect.table() == plan.table && !matches!(effect, DataEffect::Retyped { .. })
            });
        // After a hop, users' work is compared row by row (which sees past declared effects);
        // other tables by content where no migration in between changed them.
        if mode == Mode::Restore || (!effects_touch && baseline_table.row_digests.is_none()) {
            verdict.content_same = Some(
                content.content_sha256 == baseline_table.content_sha256
                    && content.rows == baseline_table.rows,
            );
        }
        if let Some(digests) = &baseline_table.row_digests {
            let records = manifest::read_rows_file(&directory.join(&digests.path), digests)?;
            compare_rows(
                &mut verdict,
                &records,
                &content,
                plan,
                neutralized,
                &digests.stable,
            );
            if verdict.changed_count > 0 {
                verdict.known_causes = known_causes(between, &plan.table, &verdict);
            }
        }
        verdicts.push(verdict);
    }
    let invalid = super::references::transformed_values(database, catalog, between, key).await?;
    verdicts.sort_by(|left, right| left.table.cmp(&right.table));
    Ok((verdicts, invalid, not_compared))
}

/// How to read `baseline`'s table now: its live columns hashed as the snapshot hashed them,
/// and each separate digest derived through the effects in between.
#[allow(clippy::too_many_arguments)]
fn live_plan(
    knowledge: &KnowledgeBase,
    catalog: &Catalog,
    baseline: &TableManifest,
    between: &[&Revision],
    key: Option<Arc<FernetKey>>,
    mode: Mode,
    verdict: &mut TableVerdict,
    not_compared: &mut Vec<String>,
) -> TablePlan {
    let mut columns = columns_of(knowledge, catalog, &baseline.name);
    for column in &mut columns {
        if let Some(before) = baseline.column(&column.name) {
            column.kind = before.kind;
        }
    }
    let position = |name: &str| columns.iter().position(|column| column.name == name);
    let key_positions: Vec<usize> = baseline
        .primary_key
        .iter()
        .filter_map(|name| position(name))
        .collect();
    let Some(digests) = &baseline.row_digests else {
        return TablePlan {
            table: baseline.name.clone(),
            columns,
            key: key_positions,
            stable: None,
            separate: Vec::new(),
        };
    };
    if key_positions.len() != baseline.primary_key.len() {
        verdict.problem = Some(format!(
            "its key ({}) is gone",
            baseline.primary_key.join(", ")
        ));
    }
    let missing_stable: Vec<&String> = digests
        .stable
        .iter()
        .filter(|name| position(name).is_none())
        .collect();
    let stable = if missing_stable.is_empty() {
        digests
            .stable
            .iter()
            .filter_map(|name| position(name))
            .collect()
    } else {
        verdict.stable_lost = true;
        let names = missing_stable
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        verdict.problem = Some(if missing_stable.len() == 1 {
            format!(
                "column {names} is gone, which no migration in between drops: its values are lost"
            )
        } else {
            format!("columns {names} are gone, which no migration in between drops: their values are lost")
        });
        Vec::new()
    };
    let effects: Vec<&DataEffect> = between
        .iter()
        .flat_map(|revision| revision.data_effects.iter())
        .filter(|effect| effect.table() == baseline.name)
        .collect();
    let mut separate = Vec::new();
    for name in &digests.separate {
        let kind = baseline
            .column(name)
            .map_or(ColumnKind::Text, |column| column.kind);
        let derivation = if mode == Mode::Restore {
            position(name).map(Derivation::Column)
        } else {
            derive_through(
                name,
                &effects,
                &position,
                key.clone(),
                not_compared,
                &baseline.name,
            )
        };
        match derivation {
            Some(derivation) => separate.push(SeparateDigest {
                name: name.clone(),
                kind,
                derivation,
            }),
            None if position(name).is_none() && !declared_gone(name, &effects) => {
                verdict.problem = Some(format!(
                    "column {name} is gone, which no migration in between drops: its values are lost"
                ));
                separate.push(SeparateDigest {
                    name: name.clone(),
                    kind,
                    derivation: Derivation::Missing,
                });
            }
            None => separate.push(SeparateDigest {
                name: name.clone(),
                kind,
                derivation: Derivation::NotCompared,
            }),
        }
    }
    TablePlan {
        table: baseline.name.clone(),
        columns,
        key: key_positions,
        stable: Some(stable),
        separate,
    }
}

fn declared_gone(name: &str, effects: &[&DataEffect]) -> bool {
    effects.iter().any(|effect| match effect {
        DataEffect::ColumnDropped { column, .. } => column == name,
        DataEffect::Encrypted { from, .. } | DataEffect::MovedIntoJsonKey { from, .. } => {
            from == name
        }
        _ => false,
    })
}

/// How the value a column had at the snapshot is found now, through `effects` (oldest first);
/// `None` when it cannot be compared (said in `not_compared`, unless the column is simply gone).
fn derive_through(
    name: &str,
    effects: &[&DataEffect],
    position: &dyn Fn(&str) -> Option<usize>,
    key: Option<Arc<FernetKey>>,
    not_compared: &mut Vec<String>,
    table: &str,
) -> Option<Derivation> {
    let mut steps = Vec::new();
    for effect in effects {
        match effect {
            DataEffect::Rewritten {
                column,
                rule,
                source,
                ..
            } if column == name => match rule {
                RewriteRule::ScheduleToJson => steps.push(MapBack::ScheduleFromJson),
                RewriteRule::EmptyScheduleToNull => steps.push(MapBack::NullScheduleToEmpty),
                RewriteRule::WidgetGridDoubled => steps.push(MapBack::WidgetGridHalved),
                RewriteRule::SelectorFirstWhereMissing => {
                    steps.push(MapBack::SelectorFirstMaybeAdded)
                }
                RewriteRule::Recomputed => {
                    not_compared.push(format!(
                        "{table}.{name}: recomputed by a migration in between ({source})"
                    ));
                    return None;
                }
            },
            DataEffect::MovedIntoJsonKey {
                from,
                to,
                key: json_key,
                ..
            } if to == name => {
                let _ = from;
                steps.push(MapBack::WithoutJsonKey(json_key.clone()));
            }
            DataEffect::MovedIntoJsonKey {
                from,
                to,
                key: json_key,
                ..
            } if from == name => {
                return Some(Derivation::JsonKey {
                    column: position(to)?,
                    key: json_key.clone(),
                });
            }
            DataEffect::Encrypted {
                from, to, source, ..
            } if from == name => {
                return match key {
                    Some(key) => Some(Derivation::Decrypted {
                        column: position(to)?,
                        key,
                    }),
                    None => {
                        not_compared.push(format!(
                            "{table}.{name}: encrypted into {to} by a migration in between ({source}); give --secret-key-env to compare it"
                        ));
                        None
                    }
                };
            }
            DataEffect::ColumnDropped { column, source, .. } if column == name => {
                not_compared.push(format!(
                    "{table}.{name}: dropped by a migration in between ({source})"
                ));
                return None;
            }
            _ => {}
        }
    }
    let column = position(name)?;
    if steps.is_empty() {
        Some(Derivation::Column(column))
    } else {
        steps.reverse();
        Some(Derivation::MappedBack { column, steps })
    }
}

fn compare_rows(
    verdict: &mut TableVerdict,
    records: &BTreeMap<String, manifest::RowRecord>,
    content: &TableContent,
    plan: &TablePlan,
    neutralized: &Neutralizations,
    stable_columns: &[String],
) {
    let Some(live) = &content.records else {
        return;
    };
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    let mut set_apart = 0;
    for (key, before) in records {
        let marks = neutralized.get(&plan.table, key);
        let Some(now) = live.get(key) else {
            if marks.is_some_and(|marks| marks.deleted) {
                set_apart += 1;
            } else {
                missing.push(key.clone());
            }
            continue;
        };
        let mut columns = Vec::new();
        if !verdict.stable_lost && now.stable != Some(before.stable) {
            columns.push("stable".to_owned());
        }
        for ((digest, before), candidates) in plan
            .separate
            .iter()
            .zip(&before.separate)
            .zip(&now.separate)
        {
            if matches!(
                digest.derivation,
                Derivation::NotCompared | Derivation::Missing
            ) {
                continue;
            }
            if !candidates.contains(before) {
                columns.push(digest.name.clone());
            }
        }
        if let Some(marks) = marks {
            let before_count = columns.len();
            columns.retain(|column| {
                let neutralized = if column == "stable" {
                    marks
                        .columns
                        .iter()
                        .any(|marked| stable_columns.contains(marked))
                } else {
                    marks.columns.contains(column)
                };
                !neutralized
            });
            if columns.is_empty() && before_count > 0 {
                set_apart += 1;
            }
        }
        if !columns.is_empty() {
            changed.push(ChangedRow {
                key: key.clone(),
                columns,
                diff: None,
            });
        }
    }
    let mut added: Vec<String> = live
        .keys()
        .filter(|key| !records.contains_key(*key))
        .filter(|key| {
            let inserted = neutralized
                .get(&plan.table, key)
                .is_some_and(|marks| marks.inserted);
            set_apart += usize::from(inserted);
            !inserted
        })
        .cloned()
        .collect();
    verdict.neutralized = set_apart;
    missing.sort_by(|left, right| compare_keys(left, right));
    added.sort_by(|left, right| compare_keys(left, right));
    changed.sort_by(|left, right| compare_keys(&left.key, &right.key));
    verdict.missing_count = missing.len();
    verdict.added_count = added.len();
    verdict.changed_count = changed.len();
    missing.truncate(KEYS_SHOWN);
    added.truncate(KEYS_SHOWN);
    changed.truncate(KEYS_SHOWN);
    verdict.missing = missing;
    verdict.added = added;
    verdict.changed = changed;
    if !content.duplicate_keys.is_empty() {
        verdict.problem = Some(format!(
            "{} key(s) appear more than once (its primary key is gone)",
            content.duplicate_keys.len()
        ));
    }
}

/// The data risks of migrations in between that change the columns found changed: what may
/// explain the difference (25.1.0's nulled `users.details`).
fn known_causes(between: &[&Revision], table: &str, verdict: &TableVerdict) -> Vec<String> {
    let columns: BTreeSet<&str> = verdict
        .changed
        .iter()
        .flat_map(|row| row.columns.iter().map(String::as_str))
        .collect();
    between
        .iter()
        .filter(|revision| {
            revision.data_effects.iter().any(|effect| {
                effect.table() == table
                    && effect
                        .columns()
                        .iter()
                        .any(|column| columns.contains(column))
            })
        })
        .flat_map(|revision| {
            revision
                .data_risks
                .iter()
                .map(move |risk| format!("{}: {} ({})", revision.revision, risk.text, risk.source))
        })
        .collect()
}
