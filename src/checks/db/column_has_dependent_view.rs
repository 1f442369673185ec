//! `column-has-dependent-view`: views and rules that use a column which the hop's migrations
//! retype or drop.

use sqlx::Row as _;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::migrated_columns::{and_list, migrated_by, Change, MigratedColumn};
use super::LiveDatabase;

pub struct ColumnHasDependentView;

static META: CheckMeta = CheckMeta {
    code: "column-has-dependent-view",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "views or rules that use a column the hop's migrations retype or drop",
    what: "On hops whose migrations change a column's type or drop a column, reads pg_depend and \
           pg_rewrite and lists the views, materialized views and rules, in any schema, that use \
           one of those columns. The columns are: in 7.0.0, queries.schedule (640888ce445d \
           drops it and adds it again) and data_sources.options (98af61feea92 drops it); in \
           10.0.0, notification_destinations.options (d7d747033183 drops it); in 25.1.0, the \
           ten JSON text columns that 7205816877ec converts to jsonb, users.details (which \
           fd4fc850d7ea converts to jsonb) and users.profile_image_url (which fd4fc850d7ea \
           drops).",
    why: "PostgreSQL refuses ALTER COLUMN ... TYPE on a column that a view or rule uses (`cannot \
          alter type of a column used by a view or rule`). It also refuses DROP COLUMN without \
          CASCADE on a column that other objects depend on (`cannot drop column ... because \
          other objects depend on it`). The migration stops at that statement, and the whole \
          hop rolls back. Redash creates no views or rules, so these objects were added for \
          reporting, BI tools or replication.",
    fix: "Before the hop, save the definition of each named view or rule (pg_get_viewdef, \
          pg_get_ruledef) and drop it, together with the views built on it. After the hop, \
          create it again for the new column type (jsonb) or without the dropped column.",
    references: &[
        "v7.0.0:migrations/versions/640888ce445d_.py:39",
        "v7.0.0:migrations/versions/98af61feea92_add_encrypted_options_to_data_sources.py:43",
        "v10.0.0:migrations/versions/d7d747033183_encrypt_alert_destinations.py:59",
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:22-76",
        "v25.1.0:migrations/versions/fd4fc850d7ea_.py:25-38",
    ],
};

/// The views and rules that depend on a column of a table in the current schema, described as
/// PostgreSQL's own error detail names them. A view depends on a column through its `_RETURN`
/// rule. The dependent may live in any schema; it is qualified when that is not the current one.
const DEPENDENTS: &str = "SELECT DISTINCT t.relname::text, a.attname::text, \
        CASE WHEN r.rulename = '_RETURN' AND dep.relkind = 'v' THEN 'view ' \
             WHEN r.rulename = '_RETURN' AND dep.relkind = 'm' THEN 'materialized view ' \
             ELSE 'rule ' || quote_ident(r.rulename::text) || ' on ' \
                  || CASE dep.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' \
                                      ELSE 'table ' END END \
        || CASE WHEN dn.nspname = current_schema() THEN '' \
                ELSE quote_ident(dn.nspname::text) || '.' END \
        || quote_ident(dep.relname::text) \
    FROM pg_depend d \
    JOIN pg_rewrite r ON r.oid = d.objid \
    JOIN pg_class dep ON dep.oid = r.ev_class \
    JOIN pg_namespace dn ON dn.oid = dep.relnamespace \
    JOIN pg_class t ON t.oid = d.refobjid \
    JOIN pg_namespace n ON n.oid = t.relnamespace \
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
      AND d.refobjsubid > 0 AND n.nspname = current_schema() \
      AND t.relname::text = ANY($1) AND a.attname::text = ANY($2) \
    ORDER BY 1, 2, 3";

impl ColumnHasDependentView {
    /// The hop's retyped or dropped columns that the live database has.
    fn columns(hop: &HopContext<'_>, database: &LiveDatabase) -> Vec<&'static MigratedColumn> {
        migrated_by(hop)
            .into_iter()
            .filter(|migrated| database.has_column(migrated.table, migrated.column))
            .collect()
    }
}

#[async_trait::async_trait]
impl DatabaseCheck for ColumnHasDependentView {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        !ColumnHasDependentView::columns(hop, database).is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let columns = ColumnHasDependentView::columns(hop, database);
        let tables: Vec<String> = columns.iter().map(|c| c.table.to_owned()).collect();
        let names: Vec<String> = columns.iter().map(|c| c.column.to_owned()).collect();
        let rows = database
            .fetch_all(
                "read the views and rules over migrated columns",
                sqlx::query(DEPENDENTS).bind(tables).bind(names),
            )
            .await?;
        let dependents: Vec<(String, String, String)> = rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        let mut reports = Vec::new();
        for migrated in columns {
            let users: Vec<String> = dependents
                .iter()
                .filter(|(table, column, _)| table == migrated.table && column == migrated.column)
                .map(|(_, _, dependent)| dependent.clone())
                .collect();
            if users.is_empty() {
                continue;
            }
            let (table, column) = (migrated.table, migrated.column);
            let (cannot, error) = match migrated.change {
                Change::ToJsonb => (
                    "convert it to jsonb".to_owned(),
                    "cannot alter type of a column used by a view or rule".to_owned(),
                ),
                Change::Dropped => (
                    "drop it".to_owned(),
                    format!(
                        "cannot drop column {column} of table {table} because other objects depend on it"
                    ),
                ),
            };
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{table}.{column} is used by {}, so {}'s migration {} cannot {cannot} ({error})",
                    and_list(&users),
                    hop.plan.to.version,
                    migrated.revision
                ),
                location: None,
                help: format!(
                    "Save and drop these views and rules before the hop, and create them again after it (the migration's statement: {}).",
                    migrated.source
                ),
            });
        }
        Ok(reports)
    }
}
