//! The values a rehearsal neutralized on a staging copy (`redash_upgrade.neutralized`, see
//! `rehearse::neutralize`): their originals are kept, so `verify` sets those rows apart instead
//! of counting them as damage. A row is set apart only for what was neutralized in it: a
//! neutralized alert whose query text also changed still counts.

use std::collections::{BTreeSet, HashMap};

use sqlx::Row as _;

use crate::checks::LiveDatabase;
use crate::snapshot::SnapshotError;

/// What was neutralized in one row.
#[derive(Debug, Default)]
pub struct Marks {
    pub deleted: bool,
    pub inserted: bool,
    pub columns: BTreeSet<String>,
}

/// Every neutralized row, by table and key.
#[derive(Debug, Default)]
pub struct Neutralizations {
    rows: HashMap<(String, String), Marks>,
}

impl Neutralizations {
    pub fn get(&self, table: &str, key: &str) -> Option<&Marks> {
        self.rows.get(&(table.to_owned(), key.to_owned()))
    }
}

/// Reads our records, when the database has them (a copy a rehearsal made).
pub async fn read(database: &LiveDatabase) -> Result<Neutralizations, SnapshotError> {
    let found = database
        .fetch_all(
            "look for a rehearsal's neutralization records",
            sqlx::query("SELECT to_regclass('redash_upgrade.neutralized') IS NOT NULL"),
        )
        .await?;
    let mut neutralizations = Neutralizations::default();
    if !found.first().is_some_and(|row| row.get::<bool, _>(0)) {
        return Ok(neutralizations);
    }
    let rows = database
        .fetch_all(
            "read a rehearsal's neutralization records",
            sqlx::query(
                "SELECT table_name, row_id, kind, coalesce(column_name, '') \
                 FROM redash_upgrade.neutralized",
            ),
        )
        .await?;
    for row in rows {
        let marks = neutralizations
            .rows
            .entry((row.get(0), row.get(1)))
            .or_default();
        match row.get::<String, _>(2).as_str() {
            "deleted-row" => marks.deleted = true,
            "inserted-row" => marks.inserted = true,
            _ => {
                marks.columns.insert(row.get(3));
            }
        }
    }
    Ok(neutralizations)
}
