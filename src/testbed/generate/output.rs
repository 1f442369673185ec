//! The rows written so far, one COPY table per table the release has.

use crate::knowledge::schema::ReleaseSchema;

use crate::testbed::copy::{CopyTable, Value};

/// The tables the release has, filled in foreign-key order.
pub(super) struct Output {
    tables: Vec<CopyTable>,
}

const LOAD_ORDER: [&str; 19] = [
    "organizations",
    "groups",
    "users",
    "data_sources",
    "data_source_groups",
    "query_results",
    "queries",
    "visualizations",
    "changes",
    "access_permissions",
    "dashboards",
    "widgets",
    "api_keys",
    "notification_destinations",
    "alerts",
    "alert_subscriptions",
    "favorites",
    "query_snippets",
    "events",
];

impl Output {
    pub(super) fn new(schema: &ReleaseSchema) -> Output {
        Output {
            tables: LOAD_ORDER
                .iter()
                .filter_map(|name| CopyTable::for_table(schema, name))
                .collect(),
        }
    }

    /// Rows of a table the release does not have are dropped: the stages still draw their random
    /// values, so every release's data set comes from the same sequence.
    pub(super) fn push(&mut self, table: &str, fields: &[(&str, Value)]) {
        if let Some(copy) = self.tables.iter_mut().find(|copy| copy.name == table) {
            copy.push(fields);
        }
    }

    pub(super) fn finish(self) -> Vec<CopyTable> {
        self.tables
    }
}
