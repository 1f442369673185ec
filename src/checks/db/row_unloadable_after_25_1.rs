//! `row-unloadable-after-25-1`: rows that survive the jsonb conversion of 25.1 but that the
//! 25.x models cannot load.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::migrated_columns::hop_applies;
use super::{copy_field, copy_fields, copy_id, jsonb_accepts, name_rows, LiveDatabase, Scan};

pub struct RowUnloadableAfter251;

static META: CheckMeta = CheckMeta {
    code: "row-unloadable-after-25-1",
    // Each row makes a page fail for everyone who opens it: the dashboard list, a dashboard, a
    // query. Nothing in the UI can repair it, because the UI cannot load the row.
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Misbehaves),
    summary: "dashboards, visualizations or widgets whose JSON the 25.x models cannot load",
    what: "On hops that convert dashboards.layout, visualizations.options and widgets.options \
           to jsonb (7205816877ec, 25.1.0), reads those columns. It lists the dashboards whose \
           layout is valid JSON but neither an array nor null, and the visualizations and widgets \
           whose options are valid JSON but neither an object nor null. Text that is not JSON \
           is json-invalid-for-jsonb's finding.",
    why: "Up to 10.1 these columns were plain text that the models never parsed (the serializers \
          took any JSON), and the API stored whatever the client sent. From 25.1 they are \
          MutableList (layout) and MutableDict (options) over jsonb. SQLAlchemy coerces every \
          loaded value that is not None, and Redash's coerce raises ValueError (`Attribute \
          'layout' does not accept objects of type <class 'dict'>`) for anything but a list or a \
          dict. The cast to jsonb succeeds, so the hop completes. Afterwards, every request that \
          loads such a row returns 500 for every user: the dashboard list page that includes the \
          dashboard, the dashboard itself, the page of a query with such a visualization, and \
          every dashboard that shows one. The UI cannot repair the row, because it cannot load it.",
    fix: "Before the hop, set a valid value: UPDATE dashboards SET layout = '[]' WHERE id IN \
          (...) (25.x places widgets by their own options.position, not by layout), or UPDATE \
          visualizations / widgets SET options = '{}' WHERE id IN (...), then set the options \
          again in the UI. You can also delete those rows.",
    references: &[
        "v10.1.0:redash/models/__init__.py:1094",
        "v10.1.0:redash/models/__init__.py:1214",
        "v10.1.0:redash/models/__init__.py:1245",
        "v25.1.0:redash/models/__init__.py:1081",
        "v25.1.0:redash/models/__init__.py:1200",
        "v25.1.0:redash/models/__init__.py:1227",
        "v25.1.0:redash/models/types.py:48-91",
        "v25.1.0:redash/models/__init__.py:1100-1117",
        "v25.1.0:redash/serializers/__init__.py:137-138",
        "v25.1.0:client/app/services/dashboard.js:40-80",
    ],
};

/// A column the 25.x models load as a mutable list or dict.
struct Loaded {
    table: &'static str,
    column: &'static str,
    /// `layout is` or `options are`, as the finding says it.
    whose: &'static str,
    /// The first character of the JSON the model takes besides `null`: `[` or `{`.
    opens: u8,
    /// What the finding says breaks, after "25.x cannot load them, so".
    breaks: &'static str,
}

const LOADED: [Loaded; 3] = [
    Loaded {
        table: "dashboards",
        column: "layout",
        whose: "layout is",
        opens: b'[',
        breaks: "these dashboards and every page of the dashboard list that includes one fail (500) for every user",
    },
    Loaded {
        table: "visualizations",
        column: "options",
        whose: "options are",
        opens: b'{',
        breaks: "the pages of their queries and the dashboards that show them fail (500)",
    },
    Loaded {
        table: "widgets",
        column: "options",
        whose: "options are",
        opens: b'{',
        breaks: "the dashboards that hold them fail to open (500)",
    },
];

/// The revision that converts the columns; the models that cannot load the rows come with it.
const CONVERTS: &str = "7205816877ec";

#[async_trait::async_trait]
impl DatabaseCheck for RowUnloadableAfter251 {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        hop_applies(hop, CONVERTS)
            && LOADED
                .iter()
                .any(|loaded| database.has_column(loaded.table, loaded.column))
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let present: Vec<&Loaded> = LOADED
            .iter()
            .filter(|loaded| database.has_column(loaded.table, loaded.column))
            .collect();
        let scans: Vec<Scan> = present
            .iter()
            .map(|loaded| Scan {
                what: format!("read {}", loaded.table),
                // The first byte of the expected JSON rides along, so that one inspector serves
                // every column.
                select: format!(
                    "SELECT id::bigint, \"{column}\"::text, '{opens}' FROM {table} WHERE \"{column}\" IS NOT NULL",
                    column = loaded.column,
                    opens = loaded.opens as char,
                    table = loaded.table
                ),
                estimate: database.row_estimate(loaded.table),
            })
            .collect();
        let passes = database.scan(&scans, unloadable).await?;
        let mut reports = Vec::new();
        for (loaded, pass) in present.iter().zip(passes) {
            let mut ids = pass.found;
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            let (table, column) = (loaded.table, loaded.column);
            let kind = if loaded.opens == b'[' {
                "an array"
            } else {
                "an object"
            };
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{table} whose {} JSON but not {kind} or null: {} cannot load them, so {}: {}",
                    loaded.whose,
                    hop.plan.to.version,
                    loaded.breaks,
                    name_rows(&ids, ids.len())
                ),
                location: None,
                help: format!(
                    "Set their {column} to {} (or delete them) before the hop.",
                    if loaded.opens == b'[' { "'[]'" } else { "'{}'" }
                ),
            });
        }
        Ok(reports)
    }
}

/// Whether `text`, which jsonb accepts, is of the kind that opens with `opens`, or null.
fn loads(text: &[u8], opens: u8) -> bool {
    let first = text
        .iter()
        .copied()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    // Valid JSON that starts with `n` is null.
    matches!(first, Some(byte) if byte == opens || byte == b'n')
}

/// The id of a row (a COPY row: id, the value, the first byte its kind opens with) whose value
/// jsonb accepts but the model cannot load.
fn unloadable(row: &[u8], found: &mut Vec<i64>) {
    let fields = copy_fields(row);
    let (Some(id), Some(text), Some(&[opens])) = (
        copy_id(&fields),
        fields.get(1).and_then(|raw| copy_field(raw)),
        fields.get(2).copied(),
    ) else {
        return;
    };
    if jsonb_accepts(&text) && !loads(&text, opens) {
        found.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::loads;

    #[test]
    fn only_the_models_own_kind_or_null_loads() {
        for (text, opens, expected) in [
            ("[]", b'[', true),
            (" [ {\"id\": 1} ]", b'[', true),
            ("null", b'[', true),
            ("{}", b'[', false),
            ("\"\"", b'[', false),
            ("0", b'[', false),
            ("false", b'[', false),
            ("{\"a\": 1}", b'{', true),
            ("\n null", b'{', true),
            ("[]", b'{', false),
            ("\"x\"", b'{', false),
            ("true", b'{', false),
        ] {
            assert_eq!(loads(text.as_bytes(), opens), expected, "{text} {opens}");
        }
    }
}
