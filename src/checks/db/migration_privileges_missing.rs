//! `migration-privileges-missing`: the connected role cannot run the hop's migrations.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;
use sqlx::Row as _;

pub struct MigrationPrivilegesMissing;

static META: CheckMeta = CheckMeta {
    code: "migration-privileges-missing",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Aborts),
    summary: "the role does not own the tables the hop alters, or cannot create in the schema",
    what: "For the tables the hop's migrations alter, checks that the connected role owns them \
           (or is a member of their owner), and that it may CREATE in the schema. It checks the \
           role this run connected as: run it with the role the migration will use.",
    why: "ALTER TABLE needs ownership and new tables and indexes need CREATE; a migration that \
          stops half-way on `must be owner of table` leaves the hop to be rolled back. \
          Databases restored from another server, or set up with a separate migration role, hit \
          this.",
    fix: "Run the migration as the owner (`ALTER TABLE ... OWNER TO redash` for each table, or \
          grant the owner role to the migrating role), and GRANT CREATE ON SCHEMA to it.",
    references: &["https://www.postgresql.org/docs/current/sql-altertable.html"],
};

#[async_trait::async_trait]
impl DatabaseCheck for MigrationPrivilegesMissing {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, _database: &LiveDatabase) -> bool {
        !hop.plan.rewritten_tables().is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let tables: Vec<String> = hop
            .plan
            .rewritten_tables()
            .iter()
            .map(|table| table.to_string())
            .collect();
        let rows = database
            .fetch_all(
            "read table owners",
            sqlx::query("SELECT c.relname::text, pg_get_userbyid(c.relowner)::text, \
                    pg_has_role(current_user, c.relowner, 'MEMBER'), current_user::text, \
                    has_schema_privilege(current_schema(), 'CREATE') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
             ORDER BY 1").bind(tables),
        ).await?;
        let mut reports = Vec::new();
        let not_owned: Vec<String> = rows
            .iter()
            .filter(|row| !row.get::<bool, _>(2))
            .map(|row| {
                format!(
                    "{} (owner {})",
                    row.get::<String, _>(0),
                    row.get::<String, _>(1)
                )
            })
            .collect();
        let role = rows
            .first()
            .map(|row| row.get::<String, _>(3))
            .unwrap_or_default();
        if !not_owned.is_empty() {
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!("role {role} does not own {} that {} alters", not_owned.join(", "), hop.plan.to.version),
                location: None,
                help: "Run the migration as the tables' owner, or make the migrating role a member of it.".into(),
            });
        }
        if rows.first().is_some_and(|row| !row.get::<bool, _>(4)) {
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!("role {role} may not CREATE in the schema"),
                location: None,
                help: "GRANT CREATE ON SCHEMA to the role the migration runs as.".into(),
            });
        }
        Ok(reports)
    }
}
