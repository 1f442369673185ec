//! `query-options-break-rehash`: queries whose options the 25.x re-hash migration cannot read.

use serde_json::Value;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{name_rows, LiveDatabase};

pub struct QueryOptionsBreakRehash;

static META: CheckMeta = CheckMeta {
    code: "query-options-break-rehash",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "queries whose options are not an object or whose parameters are not named objects",
    what: "On hops whose migrations re-hash every query (25.1.0), reads queries.options and lists \
           the queries on which migration 9e8c841d1a30's Python fails: options that are truthy \
           but not an object (a non-empty array or string, a number other than 0, true), or \
           `parameters` that is null, a number or boolean, a non-empty string or object, or a \
           list holding something other than objects with a `name` that is not a list or object. \
           Text that is not JSON is json-invalid-for-jsonb's finding.",
    why: "The migration computes `{p[\"name\"]: p.get(\"value\") for p in \
          options.get(\"parameters\", [])}` and `options.get(\"apply_auto_limit\")` for every \
          query: one row where those raise (AttributeError, TypeError, KeyError) rolls the whole \
          hop back. 10.x never read `parameters` when saving, so API clients and scripts could \
          store any of these.",
    fix: "Fix those queries' options before the hop: `parameters` must be a list of objects, each \
          with a `name` (open the query in the UI and save it, or correct the JSON), and options \
          must be an object.",
    references: &["v25.1.0:migrations/versions/9e8c841d1a30_fix_hash.py:24-29"],
};

#[async_trait::async_trait]
impl DatabaseCheck for QueryOptionsBreakRehash {
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
        let ids = database
            .ids_where(
                "read query options",
                "SELECT id::bigint, options::text FROM queries WHERE options IS NOT NULL",
                "queries",
                |text| {
                    serde_json::from_slice::<Value>(text)
                        .is_ok_and(|options| breaks_rehash(&options))
                },
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        database.note_rows(META.code, "queries", &ids);
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "queries whose options {}'s re-hash migration cannot read (not an object, or parameters that are not named objects): {}",
                hop.plan.to.version,
                name_rows(&ids, ids.len())
            ),
            location: None,
            help: "Make each one's options an object whose parameters are a list of objects with a name, before the hop.".into(),
        }])
    }
}

/// Python's truth value of a JSON value as `json.loads` gives it.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
    }
}

/// Whether the migration's two expressions raise on these options.
fn breaks_rehash(options: &Value) -> bool {
    if !truthy(options) {
        return false;
    }
    let Value::Object(members) = options else {
        // `.get` on a list, a string or a number.
        return true;
    };
    match members.get("parameters") {
        None => false,
        Some(Value::Null | Value::Bool(_) | Value::Number(_)) => true,
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Object(keys)) => !keys.is_empty(),
        Some(Value::Array(items)) => items.iter().any(|item| match item {
            Value::Object(parameter) => {
                matches!(
                    parameter.get("name"),
                    None | Some(Value::Array(_) | Value::Object(_))
                )
            }
            _ => true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::breaks_rehash;
    use serde_json::json;

    #[test]
    fn the_migrations_python_fails_on_these_options_and_no_others() {
        for fine in [
            json!({}),
            json!([]),
            json!(null),
            json!(""),
            json!(0),
            json!(false),
            json!({"parameters": []}),
            json!({"parameters": ""}),
            json!({"parameters": {}}),
            json!({"parameters": [{"name": "day", "value": "2024-01-01"}]}),
            json!({"parameters": [{"name": 3}]}),
            json!({"apply_auto_limit": true}),
        ] {
            assert!(!breaks_rehash(&fine), "{fine}");
        }
        for broken in [
            json!([1]),
            json!("x"),
            json!(5),
            json!(true),
            json!({"parameters": null}),
            json!({"parameters": 3}),
            json!({"parameters": "a"}),
            json!({"parameters": {"name": "day"}}),
            json!({"parameters": ["day"]}),
            json!({"parameters": [{"title": "Start"}]}),
            json!({"parameters": [{"name": ["a"]}]}),
        ] {
            assert!(breaks_rehash(&broken), "{broken}");
        }
    }
}
