//! `converted-column-has-default`: a column default that the 25.1 jsonb conversions cannot
//! cast.

use sqlx::Row as _;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::migrated_columns::{jsonb_conversions_pending, MigratedColumn};
use super::LiveDatabase;

pub struct ConvertedColumnHasDefault;

static META: CheckMeta = CheckMeta {
    code: "converted-column-has-default",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "a column default that the 25.1 jsonb conversions cannot cast to jsonb",
    what: "On hops whose migrations convert columns to jsonb (25.1.0: the ten JSON text columns \
           of 7205816877ec and users.details of fd4fc850d7ea), reads the defaults of those \
           columns from pg_attrdef and works out the type of each one as ALTER COLUMN ... TYPE \
           does. PostgreSQL first removes the implicit casts it added when the default was set, \
           which pg_get_expr does not print either. The check then lists the defaults whose type \
           has no implicit or assignment cast to jsonb. A text default such as '{}' fails. A \
           json or jsonb default passes, even on a text column.",
    why: "ALTER COLUMN ... TYPE jsonb USING col::jsonb converts the values with the USING \
          expression, but it converts the default only with an assignment cast. Text has no \
          assignment cast to jsonb, so the statement fails with `default for column \"...\" \
          cannot be cast automatically to type jsonb`, and the hop rolls back. Redash sets no \
          default on these text columns; such a default was added in-house or by a DBA.",
    fix: "Drop the default before the hop (ALTER TABLE events ALTER COLUMN \
          additional_properties DROP DEFAULT), or replace it with a json one \
          (SET DEFAULT '{}'::json). After the hop, set a jsonb default if you still need one.",
    references: &[
        "v25.1.0:migrations/versions/7205816877ec_change_type_of_json_fields_from_varchar_.py:22-76",
        "v25.1.0:migrations/versions/fd4fc850d7ea_.py:25-29",
    ],
};

/// The defaults of columns in the current schema that are not jsonb yet: table, column, the
/// default as pg_get_expr prints it, and its stored expression tree.
const DEFAULTS: &str = "SELECT c.relname::text, a.attname::text, pg_get_expr(d.adbin, d.adrelid), \
        d.adbin::text \
    FROM pg_attrdef d \
    JOIN pg_class c ON c.oid = d.adrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
      AND a.atttypid <> 'jsonb'::regtype \
      AND c.relname::text = ANY($1) AND a.attname::text = ANY($2) \
    ORDER BY 1, 2";

/// Which of the types `$1` PostgreSQL coerces to jsonb in assignment context: jsonb itself, a
/// type with an implicit or assignment cast to it (json), and domains over those.
const ASSIGNABLE_TO_JSONB: &str = "WITH RECURSIVE base(source, type) AS ( \
        SELECT t.oid, t.oid FROM pg_type t WHERE t.oid::bigint = ANY($1) \
        UNION ALL \
        SELECT b.source, t.typbasetype FROM base b JOIN pg_type t ON t.oid = b.type \
        WHERE t.typtype = 'd') \
    SELECT DISTINCT b.source::bigint FROM base b JOIN pg_type t ON t.oid = b.type \
    WHERE t.typtype <> 'd' AND (b.type = 'jsonb'::regtype OR EXISTS ( \
        SELECT 1 FROM pg_cast c WHERE c.castsource = b.type \
          AND c.casttarget = 'jsonb'::regtype AND c.castcontext IN ('a', 'i')))";

#[async_trait::async_trait]
impl DatabaseCheck for ConvertedColumnHasDefault {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        !jsonb_conversions_pending(hop, database).is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let columns = jsonb_conversions_pending(hop, database);
        let tables: Vec<String> = columns.iter().map(|c| c.table.to_owned()).collect();
        let names: Vec<String> = columns.iter().map(|c| c.column.to_owned()).collect();
        let rows = database
            .fetch_all(
                "read the defaults of the columns converted to jsonb",
                sqlx::query(DEFAULTS).bind(tables).bind(names),
            )
            .await?;
        // Column, default as printed, type of the default once implicit casts are removed.
        let mut defaults: Vec<(&MigratedColumn, String, Option<u32>)> = Vec::new();
        for row in &rows {
            let (table, column): (String, String) = (row.get(0), row.get(1));
            let Some(migrated) = columns
                .iter()
                .find(|migrated| migrated.table == table && migrated.column == column)
            else {
                continue;
            };
            let tree: String = row.get(3);
            defaults.push((migrated, row.get(2), stripped_type(&tree)));
        }
        if defaults.is_empty() {
            return Ok(Vec::new());
        }
        let types: Vec<i64> = defaults
            .iter()
            .filter_map(|(_, _, found)| found.map(i64::from))
            .collect();
        let assignable: Vec<i64> = database
            .fetch_all(
                "read which types cast to jsonb",
                sqlx::query(ASSIGNABLE_TO_JSONB).bind(types),
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut reports = Vec::new();
        for (migrated, shown, found) in defaults {
            let (table, column) = (migrated.table, migrated.column);
            let error = format!(
                "default for column \"{column}\" cannot be cast automatically to type jsonb"
            );
            let migration = format!("{}'s migration {}", hop.plan.to.version, migrated.revision);
            match found {
                Some(found) if assignable.contains(&i64::from(found)) => {}
                Some(_) => reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "{table}.{column} has DEFAULT {shown}, which has no automatic cast to jsonb: {migration} fails with: {error}"
                    ),
                    location: None,
                    help: format!(
                        "Drop the default before the hop (ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT); the migration's statement: {}.",
                        migrated.source
                    ),
                }),
                None => reports.push(Report {
                    severity: Some(Severity::Warning),
                    effect: None,
                    message: format!(
                        "{table}.{column} has DEFAULT {shown}, whose type this check cannot read: unless it is json or jsonb, {migration} fails with: {error}"
                    ),
                    location: None,
                    help: format!(
                        "Drop the default before the hop (ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT), or make sure it is json; the migration's statement: {}.",
                        migrated.source
                    ),
                }),
            }
        }
        Ok(reports)
    }
}

/// A value in the text form of a stored expression (`pg_node_tree`).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Node(Node),
    List(Vec<Value>),
    Token(String),
}

/// `{NAME :field value ...}`. A field can hold more than one value: a constant's datum is its
/// length and then its bytes in brackets.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    name: String,
    fields: Vec<(String, Vec<Value>)>,
}

impl Node {
    fn first(&self, field: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .and_then(|(_, values)| values.first())
    }

    fn scalar(&self, field: &str) -> Option<&str> {
        match self.first(field)? {
            Value::Token(token) => Some(token),
            _ => None,
        }
    }
}

/// The tokens of a node tree, split as PostgreSQL's `pg_strtok` splits them: on whitespace and
/// around `(`, `)`, `{` and `}`, where a backslash makes the next character ordinary. A token
/// that began with an escaped character is marked, so that it is never taken for a field name.
fn tokens(text: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&next) = chars.peek() {
        if next.is_whitespace() {
            chars.next();
            continue;
        }
        if matches!(next, '(' | ')' | '{' | '}') {
            chars.next();
            found.push((next.to_string(), false));
            continue;
        }
        let mut token = String::new();
        let escaped = next == '\\';
        while let Some(&next) = chars.peek() {
            if next.is_whitespace() || matches!(next, '(' | ')' | '{' | '}') {
                break;
            }
            chars.next();
            if next == '\\' {
                if let Some(escaped) = chars.next() {
                    token.push(escaped);
                }
            } else {
                token.push(next);
            }
        }
        found.push((token, escaped));
    }
    found
}

struct Reader {
    tokens: Vec<(String, bool)>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<&(String, bool)> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<(String, bool)> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > 200 {
            return None;
        }
        let (token, escaped) = self.next()?;
        if escaped {
            return Some(Value::Token(token));
        }
        match token.as_str() {
            "{" => self.node(depth).map(Value::Node),
            "(" => {
                let mut items = Vec::new();
                loop {
                    if self.peek()?.0 == ")" && !self.peek()?.1 {
                        self.at += 1;
                        return Some(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            ")" | "}" => None,
            _ => Some(Value::Token(token)),
        }
    }

    /// The rest of a node, after its `{`.
    fn node(&mut self, depth: usize) -> Option<Node> {
        let (name, _) = self.next()?;
        let mut node = Node {
            name,
            fields: Vec::new(),
        };
        loop {
            let (token, escaped) = self.peek()?.clone();
            if token == "}" && !escaped {
                self.at += 1;
                return Some(node);
            }
            match token.strip_prefix(':').filter(|_| !escaped) {
                Some(field) => {
                    self.at += 1;
                    node.fields.push((field.to_owned(), Vec::new()));
                }
                None => {
                    let value = self.value(depth + 1)?;
                    node.fields.last_mut()?.1.push(value);
                }
            }
        }
    }
}

fn parse(text: &str) -> Option<Node> {
    let mut reader = Reader {
        tokens: tokens(text),
        at: 0,
    };
    match reader.value(0)? {
        Value::Node(node) => Some(node),
        _ => None,
    }
}

/// `COERCE_IMPLICIT_CAST` of PostgreSQL's `CoercionForm`, as a node tree writes it.
const IMPLICIT_CAST: &str = "2";

/// The type (oid) of a stored default once the implicit casts at its top are removed, as
/// `strip_implicit_coercions` does before ALTER COLUMN ... TYPE casts the default; `None` when
/// the tree is not one this reads.
fn stripped_type(tree: &str) -> Option<u32> {
    let mut node = parse(tree)?;
    loop {
        let (format, argument) = match node.name.as_str() {
            "FUNCEXPR" => ("funcformat", "args"),
            "RELABELTYPE" => ("relabelformat", "arg"),
            "COERCEVIAIO" | "ARRAYCOERCEEXPR" => ("coerceformat", "arg"),
            "CONVERTROWTYPEEXPR" => ("convertformat", "arg"),
            "COERCETODOMAIN" => ("coercionformat", "arg"),
            _ => break,
        };
        if node.scalar(format) != Some(IMPLICIT_CAST) {
            break;
        }
        let inner = match node.first(argument)? {
            Value::List(items) => items.first()?,
            other => other,
        };
        let Value::Node(inner) = inner else {
            return None;
        };
        node = inner.clone();
    }
    let field = match node.name.as_str() {
        "CONST" => "consttype",
        "FUNCEXPR" => "funcresulttype",
        "OPEXPR" | "NULLIFEXPR" | "DISTINCTEXPR" => "opresulttype",
        "RELABELTYPE" | "COERCEVIAIO" | "ARRAYCOERCEEXPR" | "CONVERTROWTYPEEXPR"
        | "COERCETODOMAIN" => "resulttype",
        "CASEEXPR" => "casetype",
        "COALESCEEXPR" => "coalescetype",
        "MINMAXEXPR" => "minmaxtype",
        "ARRAYEXPR" => "array_typeid",
        "SQLVALUEFUNCTION" => "type",
        _ => return None,
    };
    node.scalar(field)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::stripped_type;

    const TEXT: u32 = 25;
    const JSON: u32 = 114;
    const VARCHAR: u32 = 1043;
    const NAME: u32 = 19;

    /// Stored defaults of a text column, as PostgreSQL 15 wrote them (`adbin::text`), and the
    /// type ALTER COLUMN ... TYPE jsonb then casts from. Whether the ALTER failed is noted.
    #[test]
    fn implicit_casts_are_removed_and_explicit_ones_kept() {
        let cases: [(&str, Option<u32>); 9] = [
            // DEFAULT '{}': fails.
            ("{CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 6 [ 24 0 0 0 123 125 ]}", Some(TEXT)),
            // DEFAULT '{}'::json: passes.
            ("{COERCEVIAIO :arg {CONST :consttype 114 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 6 [ 24 0 0 0 123 125 ]} :resulttype 25 :resultcollid 100 :coerceformat 2 :location -1}", Some(JSON)),
            // DEFAULT ('{}'::json)::text: fails.
            ("{COERCEVIAIO :arg {CONST :consttype 114 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull false :location 67 :constvalue 6 [ 24 0 0 0 123 125 ]} :resulttype 25 :resultcollid 100 :coerceformat 1 :location 78}", Some(TEXT)),
            // DEFAULT '{}'::varchar: fails.
            ("{RELABELTYPE :arg {CONST :consttype 1043 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 6 [ 24 0 0 0 123 125 ]} :resulttype 25 :resulttypmod -1 :resultcollid 100 :relabelformat 2 :location -1}", Some(VARCHAR)),
            // DEFAULT json_build_object(): passes.
            ("{COERCEVIAIO :arg {FUNCEXPR :funcid 3201 :funcresulttype 114 :funcretset false :funcvariadic false :funcformat 0 :funccollid 0 :inputcollid 0 :args <> :location 66} :resulttype 25 :resultcollid 100 :coerceformat 2 :location -1}", Some(JSON)),
            // DEFAULT coalesce(NULL, '{}'::json): passes.
            ("{COERCEVIAIO :arg {COALESCEEXPR :coalescetype 114 :coalescecollid 0 :args ({CONST :consttype 114 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull true :location 75 :constvalue <>} {CONST :consttype 114 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull false :location 81 :constvalue 6 [ 24 0 0 0 123 125 ]}) :location 66} :resulttype 25 :resultcollid 100 :coerceformat 2 :location -1}", Some(JSON)),
            // DEFAULT '{}'::character varying(10): fails.
            ("{RELABELTYPE :arg {FUNCEXPR :funcid 669 :funcresulttype 1043 :funcretset false :funcvariadic false :funcformat 1 :funccollid 100 :inputcollid 100 :args ({CONST :consttype 1043 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 6 [ 24 0 0 0 123 125 ]} {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location -1 :constvalue 4 [ 14 0 0 0 0 0 0 0 ]} {CONST :consttype 16 :consttypmod -1 :constcollid 0 :constlen 1 :constbyval true :constisnull false :location -1 :constvalue 1 [ 1 0 0 0 0 0 0 0 ]}) :location 70} :resulttype 25 :resulttypmod -1 :resultcollid 100 :relabelformat 2 :location -1}", Some(VARCHAR)),
            // DEFAULT '{}'::a_domain_over_json: passes (the domain's base type is json).
            ("{COERCEVIAIO :arg {COERCETODOMAIN :arg {CONST :consttype 114 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 6 [ 24 0 0 0 123 125 ]} :resulttype 19684 :resulttypmod -1 :resultcollid 0 :coercionformat 1 :location 70} :resulttype 25 :resultcollid 100 :coerceformat 2 :location -1}", Some(19684)),
            // DEFAULT current_user: fails.
            ("{FUNCEXPR :funcid 406 :funcresulttype 25 :funcretset false :funcvariadic false :funcformat 2 :funccollid 950 :inputcollid 950 :args ({SQLVALUEFUNCTION :op 10 :type 19 :typmod -1 :location 66}) :location -1}", Some(NAME)),
        ];
        for (tree, expected) in cases {
            assert_eq!(stripped_type(tree), expected, "{tree}");
        }
    }

    #[test]
    fn what_it_cannot_read_is_none() {
        assert_eq!(stripped_type(""), None);
        assert_eq!(stripped_type("{CONST :consttype"), None);
        assert_eq!(
            stripped_type("{SUBLINK :subLinkType 4 :subLinkId 0 :testexpr <>}"),
            None
        );
        // Escaped braces in a string do not end the node early.
        assert_eq!(
            stripped_type("{FUNCEXPR :funcresulttype 25 :funcformat 0 :note a\\}b :args <>}"),
            Some(TEXT)
        );
    }
}
