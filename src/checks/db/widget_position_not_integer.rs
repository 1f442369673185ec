//! `widget-position-not-integer`: widgets the 25.8 twelve-column migration cannot resize.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::name_rows;
use super::LiveDatabase;

pub struct WidgetPositionNotInteger;

static META: CheckMeta = CheckMeta {
    code: "widget-position-not-integer",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "widgets whose position.col or sizeX migration db0aca1ebd32 cannot double",
    what: "On hops crossing 25.8.0, reads widgets.options and lists widgets whose position has no \
           col or sizeX, or one that is not an integer (1.5, \"\", null), or one too large to \
           double within an int (above 1073741823).",
    why: "db0aca1ebd32 doubles both values with `(options->'position'->>'col')::int * 2`: a value \
          that is not an integer fails the cast, and a missing one turns options into NULL, \
          which the NOT NULL column refuses; a value above 1073741823 overflows `int` when \
          doubled. Each aborts the hop.",
    fix: "Give those widgets integer positions before the hop (re-save their dashboards, or set \
          col and sizeX in options), or delete widgets of deleted dashboards.",
    references: &["v25.8.0:migrations/versions/db0aca1ebd32_12_column_dashboard_layout.py"],
};

/// The largest magnitude that still fits an `int` once doubled.
const DOUBLES_WITHIN_INT: i64 = i32::MAX as i64 / 2;

/// Whether `value` survives PostgreSQL's `(value ->> '')::int * 2`: an integer (or a string
/// holding one, with ASCII spaces around it, as int4's input takes) that doubling keeps within
/// an `int`.
fn doubles_as_int(value: Option<&serde_json::Value>) -> bool {
    let number = match value {
        Some(serde_json::Value::Number(number)) => number.as_i64(),
        Some(serde_json::Value::String(text)) => text.trim_matches(' ').parse::<i64>().ok(),
        _ => None,
    };
    number.is_some_and(|n| (-DOUBLES_WITHIN_INT..=DOUBLES_WITHIN_INT).contains(&n))
}

#[async_trait::async_trait]
impl DatabaseCheck for WidgetPositionNotInteger {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.has_column("widgets", "options")
    }
    async fn run(
        &self,
        _hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let ids = database
            .ids_where(
                "read widgets",
                "SELECT id::bigint, options::text FROM widgets",
                "widgets",
                unresizable_widget,
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "widgets without integer position.col and sizeX: {}",
                name_rows(&ids, ids.len())
            ),
            location: None,
            help: "Set integer col and sizeX in these widgets' options before the hop.".into(),
        }])
    }
}

/// Whether widget options (JSON text) hold a position the migration cannot double. Text that is
/// not JSON at all is json-invalid-for-jsonb's finding.
fn unresizable_widget(text: &[u8]) -> bool {
    let Ok(options) = serde_json::from_slice::<serde_json::Value>(text) else {
        return false;
    };
    let position = options.get("position");
    !(doubles_as_int(position.and_then(|p| p.get("col")))
        && doubles_as_int(position.and_then(|p| p.get("sizeX"))))
}
