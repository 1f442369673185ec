//! The columns that the hops' migrations retype or drop. Each entry names the revision that does
//! it and the upstream lines that say so. The catalog checks (dependent views, defaults) and the
//! encoding check read this list.

use super::super::HopContext;

/// What a migration does to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// `ALTER TABLE ... ALTER COLUMN ... TYPE jsonb`: PostgreSQL re-parses every value as jsonb
    /// and casts the column's default.
    ToJsonb,
    /// `ALTER TABLE ... DROP COLUMN`, without CASCADE.
    Dropped,
}

pub(super) struct MigratedColumn {
    pub revision: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    pub change: Change,
    /// Where the migration does it, as `TAG:path:lines`.
    pub source: &'static str,
}

/// 7205816877ec and fd4fc850d7ea are unchanged from 25.1.0 to 26.3.0. The three files that drop
/// columns changed between 7.0.0 and 26.3.0, but every version still drops the same column
/// (`git diff` between the tags).
pub(super) const MIGRATED_COLUMNS: &[MigratedColumn] = &[
    MigratedColumn {
        revision: "640888ce445d",
        table: "queries",
        column: "schedule",
        change: Change::Dropped,
        source: "v7.0.0:migrations/versions/640888ce445d_.py:39",
    },
    MigratedColumn {
        revision: "98af61feea92",
        table: "data_sources",
        column: "options",
        change: Change::Dropped,
        source: "v7.0.0:migrations/versions/98af61feea92_add_encrypted_options_to_data_sources.py:43",
    },
    MigratedColumn {
        revision: "d7d747033183",
        table: "notification_destinations",
        column: "options",
        change: Change::Dropped,
        source: "v10.0.0:migrations/versions/d7d747033183_encrypt_alert_destinations.py:59",
    },
    MigratedColumn {
        revision: "fd4fc850d7ea",
        table: "users",
        column: "details",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/fd4fc850d7ea_.py:25-29",
    },
    MigratedColumn {
        revision: "fd4fc850d7ea",
        table: "users",
        column: "profile_image_url",
        change: Change::Dropped,
        source: "v25.1.0:migrations/versions/fd4fc850d7ea_.py:38",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "queries",
        column: "options",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:22-27",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "queries",
        column: "schedule",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:28-33",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "events",
        column: "additional_properties",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:34-39",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "organizations",
        column: "settings",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:40-45",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "alerts",
        column: "options",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:46-51",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "dashboards",
        column: "options",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:52-56",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "dashboards",
        column: "layout",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:57-61",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "changes",
        column: "change",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:62-66",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "visualizations",
        column: "options",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:67-71",
    },
    MigratedColumn {
        revision: "7205816877ec",
        table: "widgets",
        column: "options",
        change: Change::ToJsonb,
        source: "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:72-76",
    },
];

/// Whether the hop applies migration `revision`.
pub(super) fn hop_applies(hop: &HopContext<'_>, revision: &str) -> bool {
    hop.plan
        .revisions
        .iter()
        .any(|applied| applied.revision == revision)
}

/// The columns that the hop's own migrations retype or drop, in the order of
/// [`MIGRATED_COLUMNS`].
pub(super) fn migrated_by(hop: &HopContext<'_>) -> Vec<&'static MigratedColumn> {
    MIGRATED_COLUMNS
        .iter()
        .filter(|migrated| hop_applies(hop, migrated.revision))
        .collect()
}

/// The hop's jsonb conversions of columns that the live database has and that are not jsonb
/// yet.
pub(super) fn jsonb_conversions_pending(
    hop: &HopContext<'_>,
    database: &super::LiveDatabase,
) -> Vec<&'static MigratedColumn> {
    migrated_by(hop)
        .into_iter()
        .filter(|migrated| migrated.change == Change::ToJsonb)
        .filter(|migrated| {
            database
                .column_type(migrated.table, migrated.column)
                .is_some_and(|sql_type| sql_type != "jsonb")
        })
        .collect()
}

pub(super) use crate::report::describe::and_list;

#[cfg(test)]
mod tests {
    use super::{and_list, MIGRATED_COLUMNS};
    use crate::knowledge::citation::Citation;

    #[test]
    fn every_source_is_a_citation_of_its_own_revision() {
        for migrated in MIGRATED_COLUMNS {
            let citation = Citation::parse(migrated.source)
                .unwrap_or_else(|| panic!("{} is no citation", migrated.source));
            assert!(
                citation
                    .path
                    .starts_with(&format!("migrations/versions/{}", migrated.revision)),
                "{}",
                migrated.source
            );
            assert!(citation.lines.is_some(), "{}", migrated.source);
        }
    }

    #[test]
    fn lists_read_as_english() {
        let items = |names: &[&str]| {
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(and_list(&items(&["a"])), "a");
        assert_eq!(and_list(&items(&["a", "b"])), "a and b");
        assert_eq!(and_list(&items(&["a", "b", "c"])), "a, b and c");
    }
}
