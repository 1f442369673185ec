//! `query-text-breaks-rehash`: SQL queries whose text the re-hash migration cannot limit.

use serde_json::Value;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{copy_field, copy_fields, copy_id, name_rows, LiveDatabase, Scan};

pub struct QueryTextBreaksRehash;

static META: CheckMeta = CheckMeta {
    code: "query-text-breaks-rehash",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "SQL queries with auto-limit on whose text the re-hash migration cannot limit",
    what: "On hops whose migrations re-hash every query (25.1.0), takes the queries whose options \
           turn auto-limit on (Python truth of `apply_auto_limit`) and lists, on SQL data \
           sources, those whose text holds no statement once comments and semicolons are gone, \
           where the target has the known bug migration-25-1-empty-query-auto-limit (25.1.0), \
           and, on SQL Server data sources (`mssql`, `mssql_odbc`) of every 25.x and 26.x \
           target, those whose last statement is the bare word SELECT.",
    why: "Migration 9e8c841d1a30 hashes each query as its runner would run it, limit included. \
          25.1.0's `query_is_select_no_limit` takes `sqlparse.parse('')[0]` and raises \
          IndexError on an empty statement; SQL Server's `add_limit_to_query` puts TOP after the \
          last SELECT and reads the token after it, which a bare SELECT does not have. One such \
          query rolls the whole hop back.",
    fix: "Give those queries a statement, or delete them, before the hop (or run the hop with \
          the 25.8.0 image, which fixes the empty case).",
    references: &[
        "v25.1.0:redash/query_runner/__init__.py:290-291",
        "v25.1.0:redash/query_runner/__init__.py:310-313",
        "v25.1.0:redash/query_runner/mssql.py:39",
        "https://github.com/getredash/redash/issues/7305",
    ],
};

/// The known bug of targets that crash on an empty statement.
const EMPTY_STATEMENT_BUG: &str = "migration-25-1-empty-query-auto-limit";

/// Data-source types whose runner is a SQL runner in 25.1.0 (its class derives from
/// BaseSQLQueryRunner in `redash/query_runner/*.py` at v25.1.0).
const SQL_RUNNER_TYPES: [&str; 30] = [
    "clickhouse",
    "cockroach",
    "databricks",
    "db2",
    "google_analytics",
    "google_search_console",
    "hive",
    "hive_http",
    "ignite",
    "impala",
    "memsql",
    "mssql",
    "mssql_odbc",
    "mysql",
    "nz",
    "oracle",
    "pg",
    "rds_mysql",
    "redshift",
    "redshift_iam",
    "risingwave",
    "rockset",
    "snowflake",
    "sqlite",
    "tinybird",
    "uptycs",
    "vertica",
    "yandex_appmetrika",
    "yandex_disk",
    "yandex_metrika",
];

/// Types whose runner puts the limit right after the last SELECT.
const LIMIT_AFTER_SELECT_TYPES: [&str; 2] = ["mssql", "mssql_odbc"];

/// Why a query fails the re-hash.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Breakage {
    EmptyStatement,
    BareSelect,
}

#[async_trait::async_trait]
impl DatabaseCheck for QueryTextBreaksRehash {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.has_column("queries", "options")
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let empty_breaks = hop
            .plan
            .known_bugs
            .iter()
            .any(|bug| bug.id == EMPTY_STATEMENT_BUG);
        let scan = Scan {
            what: "read query texts".into(),
            select: "SELECT q.id::bigint, ds.type, q.options::text, q.query FROM queries q \
                     JOIN data_sources ds ON ds.id = q.data_source_id"
                .into(),
            estimate: database.row_estimate("queries"),
        };
        let inspect = move |row: &[u8], found: &mut Vec<(i64, Breakage)>| {
            let fields = copy_fields(row);
            let (Some(id), Some(kind), Some(options), Some(text)) = (
                copy_id(&fields),
                fields.get(1).and_then(|raw| copy_field(raw)),
                fields.get(2).and_then(|raw| copy_field(raw)),
                fields.get(3).and_then(|raw| copy_field(raw)),
            ) else {
                return;
            };
            if !auto_limit_on(&options) {
                return;
            }
            let kind = String::from_utf8_lossy(&kind);
            let statements = strip_comments(&String::from_utf8_lossy(&text));
            if empty_breaks
                && SQL_RUNNER_TYPES.contains(&kind.as_ref())
                && statements.chars().all(|c| c.is_whitespace() || c == ';')
            {
                found.push((id, Breakage::EmptyStatement));
            } else if LIMIT_AFTER_SELECT_TYPES.contains(&kind.as_ref())
                && ends_with_bare_select(&statements)
            {
                found.push((id, Breakage::BareSelect));
            }
        };
        let mut passes = database.scan(&[scan], inspect).await?;
        let found = passes.pop().map(|pass| pass.found).unwrap_or_default();
        let target = &hop.plan.to.version;
        let mut reports = Vec::new();
        for (breakage, what) in [
            (Breakage::EmptyStatement, "SQL queries with auto-limit on and no statement (empty, comments or semicolons only)"),
            (Breakage::BareSelect, "SQL Server queries with auto-limit on whose last statement is a bare SELECT"),
        ] {
            let mut ids: Vec<i64> = found
                .iter()
                .filter(|(_, found)| *found == breakage)
                .map(|(id, _)| *id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            database.note_rows(META.code, "queries", &ids);
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{what} abort {target}'s re-hash migration: {}",
                    name_rows(&ids, ids.len())
                ),
                location: None,
                help: "Give these queries a statement (or delete them) before the hop.".into(),
            });
        }
        Ok(reports)
    }
}

/// Python's truth of `options.get("apply_auto_limit")` on options that are a JSON object.
fn auto_limit_on(options: &[u8]) -> bool {
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(options) else {
        return false;
    };
    match members.get("apply_auto_limit") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(members)) => !members.is_empty(),
    }
}

/// The text without the comments sqlparse drops: `-- ...` and `# ...` to the end of a line, and
/// `/* ... */`.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if rest.starts_with("--") || rest.starts_with("# ") {
            rest = rest.find(['\n', '\r']).map_or("", |end| &rest[end..]);
        } else {
            let mut characters = rest.chars();
            let character = characters.next().expect("not empty");
            out.push(character);
            rest = characters.as_str();
        }
    }
    out
}

/// Whether the last statement is the word SELECT alone.
fn ends_with_bare_select(statements: &str) -> bool {
    statements
        .trim_end_matches(|c: char| c.is_whitespace() || c == ';')
        .rsplit(';')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("select"))
}

#[cfg(test)]
mod tests {
    use super::{auto_limit_on, ends_with_bare_select, strip_comments};

    #[test]
    fn statements_are_read_as_sqlparse_reads_them() {
        assert_eq!(strip_comments("-- todo\n;  /* x */ "), "\n;   ");
        assert_eq!(strip_comments("select 1 -- one\n"), "select 1 \n");
        assert!(ends_with_bare_select("select 1;\nSELECT "));
        assert!(!ends_with_bare_select("select 1"));
        assert!(auto_limit_on(br#"{"apply_auto_limit": true}"#));
        assert!(auto_limit_on(br#"{"apply_auto_limit": "false"}"#));
        assert!(!auto_limit_on(br#"{"apply_auto_limit": 0}"#));
        assert!(!auto_limit_on(br#"[]"#));
    }
}
