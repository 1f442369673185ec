//! The deterministic data set of a Redash metadata database after some years of use: several
//! orgs, users in every state, data sources of several kinds, queries scheduled, archived,
//! drafted, failing and parameterised, dashboards with text widgets, alerts with destinations,
//! events and the rest. Values take the era's format from the release's schema: a legacy
//! `schedule` string while the column is `character varying(10)`, a JSON object after; plain JSON
//! `options` on data sources before 7.0, Fernet tokens after.

use serde_json::json;

use crate::fernet::FernetKey;
use crate::knowledge::schema::ReleaseSchema;

use super::copy::{CopyTable, Value};
use super::rng::Rng;

/// The secret the fixtures encrypt data-source and destination options with (public test data).
pub const FIXTURE_SECRET_KEY: &str = "fixture-secret-key-for-tests-only";

const SEED: u64 = 0x5EDA_5400_0000_0001;

/// How much data: `Small` for tests, `Large` for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Small,
    Large,
}

impl Scale {
    fn orgs(self) -> usize {
        match self {
            Scale::Small => 3,
            Scale::Large => 5,
        }
    }
    fn users_per_org(self) -> usize {
        match self {
            Scale::Small => 12,
            Scale::Large => 120,
        }
    }
    fn queries_per_org(self) -> usize {
        match self {
            Scale::Small => 40,
            Scale::Large => 3_000,
        }
    }
    fn results_per_org(self) -> usize {
        match self {
            Scale::Small => 60,
            Scale::Large => 40_000,
        }
    }
    fn events_per_org(self) -> usize {
        match self {
            Scale::Small => 300,
            Scale::Large => 200_000,
        }
    }
    fn dashboards_per_org(self) -> usize {
        match self {
            Scale::Small => 6,
            Scale::Large => 300,
        }
    }
}

impl std::str::FromStr for Scale {
    type Err = String;
    fn from_str(text: &str) -> Result<Scale, String> {
        match text {
            "small" => Ok(Scale::Small),
            "large" => Ok(Scale::Large),
            other => Err(format!("unknown scale {other:?} (expected small or large)")),
        }
    }
}

/// Every table's rows, in an order that satisfies the foreign keys.
pub struct Dataset {
    pub tables: Vec<CopyTable>,
}

struct Era<'a> {
    schema: &'a ReleaseSchema,
}

impl Era<'_> {
    fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        self.schema
            .table(table)?
            .column(column)
            .map(|column| column.sql_type.as_str())
    }
    fn legacy_schedule(&self) -> bool {
        self.column_type("queries", "schedule")
            .is_some_and(|sql_type| sql_type.starts_with("character varying"))
    }
}

struct Clock {
    start: i64,
    span: i64,
}

impl Clock {
    /// Two years of use ending at the release's date (a fixed one: data must not depend on today).
    fn for_schema(schema: &ReleaseSchema) -> Clock {
        let first = &schema.releases[0];
        // Days since 1970 of January 1st of the release year, close enough for plausible dates.
        let year = match first.major {
            4 => 2018,
            5 | 6 => 2018,
            7 => 2019,
            8 => 2019,
            9 => 2020,
            10 => 2021,
            25 => 2025,
            _ => 2026,
        };
        let end = days_from_civil(year, 1, 1) * 86_400;
        Clock {
            start: end - 2 * 365 * 86_400,
            span: 2 * 365 * 86_400,
        }
    }
    fn at(&self, rng: &mut Rng) -> i64 {
        self.start + rng.below(self.span as u64) as i64
    }
}

fn timestamp(seconds: i64) -> Value {
    Value::Timestamp(format_timestamp(seconds))
}

fn format_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const DEFAULT_PERMISSIONS: [&str; 12] = [
    "create_dashboard",
    "create_query",
    "edit_dashboard",
    "edit_query",
    "view_query",
    "view_source",
    "execute_query",
    "list_users",
    "schedule_query",
    "list_dashboards",
    "list_alerts",
    "list_data_sources",
];

const ORGS: [(&str, &str); 5] = [
    ("Acme Analytics", "default"),
    ("Acme EU", "acme-eu"),
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("Umbrella Research", "umbrella"),
];

const FIRST_NAMES: [&str; 12] = [
    "Ana", "Ben", "Chloe", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam",
];
const LAST_NAMES: [&str; 10] = [
    "Silva", "Okafor", "Nguyen", "Ivanova", "Schmidt", "Haddad", "Kowalski", "Tanaka", "Moreau",
    "Brown",
];

const TOPICS: [&str; 10] = [
    "signups",
    "revenue",
    "churn",
    "orders",
    "sessions",
    "refunds",
    "tickets",
    "inventory",
    "deploys",
    "latency",
];

const TAGS: [&str; 7] = [
    "finance",
    "weekly",
    "kpi",
    "marketing",
    "ops",
    "legacy",
    "exec",
];

/// Generates the data set for `schema`'s releases.
pub fn generate(schema: &ReleaseSchema, scale: Scale) -> Dataset {
    let era = Era { schema };
    let clock = Clock::for_schema(schema);
    let mut rng = Rng::new(SEED);
    let key = FernetKey::from_secret(FIXTURE_SECRET_KEY);
    let mut out = Output::new(schema);

    let mut next_user_id = 1i64;
    let mut next_group_id = 1i64;
    let mut next_source_id = 1i64;
    let mut next_query_id = 1i64;
    let mut next_result_id = 1i64;
    let mut next_visualization_id = 1i64;
    let mut next_dashboard_id = 1i64;
    let mut next_widget_id = 1i64;
    let mut next_alert_id = 1i64;
    let mut next_destination_id = 1i64;
    let mut next_subscription_id = 1i64;
    let mut next_event_id = 1i64;
    let mut next_change_id = 1i64;
    let mut next_api_key_id = 1i64;
    let mut next_permission_id = 1i64;
    let mut next_favorite_id = 1i64;
    let mut next_snippet_id = 1i64;
    let mut next_dsg_id = 1i64;

    for (org_index, (org_name, slug)) in ORGS.iter().take(scale.orgs()).enumerate() {
        let org_id = org_index as i64 + 1;
        let org_created = clock.start + org_index as i64 * 86_400 * 20;
        let settings = if org_index == 0 {
            json!({"settings": {"auth_password_login_enabled": true, "date_format": "DD/MM/YY"}})
        } else {
            json!({})
        };
        out.push(
            "organizations",
            &[
                ("id", Value::Int(org_id)),
                ("name", Value::Text((*org_name).into())),
                ("slug", Value::Text((*slug).into())),
                ("settings", Value::Json(settings)),
                ("created_at", timestamp(org_created)),
                ("updated_at", timestamp(org_created)),
            ],
        );

        // Groups: the two built-in ones every org gets, and two of its own.
        let admin_group = next_group_id;
        let default_group = next_group_id + 1;
        let groups: [(&str, &str, Vec<&str>); 4] = [
            ("admin", "builtin", vec!["admin", "super_admin"]),
            ("default", "builtin", DEFAULT_PERMISSIONS.to_vec()),
            ("Data Team", "regular", DEFAULT_PERMISSIONS.to_vec()),
            (
                "Marketing",
                "regular",
                vec!["view_query", "list_dashboards"],
            ),
        ];
        for (name, kind, permissions) in groups {
            out.push(
                "groups",
                &[
                    ("id", Value::Int(next_group_id)),
                    ("org_id", Value::Int(org_id)),
                    ("type", Value::Text(kind.into())),
                    ("name", Value::Text(name.into())),
                    (
                        "permissions",
                        Value::TextArray(permissions.iter().map(|p| (*p).to_owned()).collect()),
                    ),
                    ("created_at", timestamp(org_created)),
                ],
            );
            next_group_id += 1;
        }
        let data_team_group = admin_group + 2;
        let marketing_group = admin_group + 3;

        // Users: an admin, active members, a few disabled and a few invited.
        let first_user = next_user_id;
        let user_count = scale.users_per_org();
        for index in 0..user_count {
            let user_id = next_user_id;
            next_user_id += 1;
            let first = FIRST_NAMES[index % FIRST_NAMES.len()];
            let last = LAST_NAMES[(index / FIRST_NAMES.len() + org_index) % LAST_NAMES.len()];
            let email = format!(
                "{}.{}{}@{}.example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                index,
                slug
            );
            let invited = index % 9 == 5;
            let disabled = index % 11 == 7;
            let created = org_created + rng.below(300 * 86_400) as i64;
            let groups = match index {
                0 => vec![admin_group, default_group],
                _ if index % 3 == 0 => vec![default_group, marketing_group],
                _ => vec![default_group, data_team_group],
            };
            let mut details = json!({"active_at": format_timestamp(created + 86_400 * 30)});
            if invited {
                details = json!({"is_invitation_pending": true});
            }
            let password_hash = if invited {
                Value::Null
            } else {
                Value::Text(format!(
                    "$6$rounds=656000${}${}",
                    rng.token(16),
                    rng.token(86)
                ))
            };
            out.push(
                "users",
                &[
                    ("id", Value::Int(user_id)),
                    ("org_id", Value::Int(org_id)),
                    ("name", Value::Text(format!("{first} {last}"))),
                    ("email", Value::Text(email)),
                    (
                        "profile_image_url",
                        Value::Text(format!(
                            "https://www.gravatar.com/avatar/{}?s=40&d=identicon",
                            rng.hex(32)
                        )),
                    ),
                    ("password_hash", password_hash),
                    ("groups", Value::IntArray(groups)),
                    ("api_key", Value::Text(rng.token(40))),
                    (
                        "disabled_at",
                        if disabled {
                            timestamp(created + 200 * 86_400)
                        } else {
                            Value::Null
                        },
                    ),
                    ("details", Value::Json(details)),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created + 86_400)),
                ],
            );
        }
        let user_of = |rng: &mut Rng| first_user + rng.below(user_count as u64) as i64;

        // Data sources of several kinds, with credentials in the era's storage.
        let kinds: [(&str, &str, serde_json::Value); 5] = [
            (
                "Warehouse (PostgreSQL)",
                "pg",
                json!({"host": "warehouse.internal", "port": 5432, "user": "redash_ro", "password": format!("pg-{}", slug), "dbname": "analytics"}),
            ),
            (
                "Orders (MySQL)",
                "mysql",
                json!({"host": "orders-db.internal", "port": 3306, "user": "redash", "passwd": format!("my-{}", slug), "db": "orders"}),
            ),
            (
                "BigQuery",
                "bigquery",
                json!({"projectId": format!("{slug}-analytics"), "jsonKeyFile": "eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCJ9", "loadSchema": true}),
            ),
            (
                "Logs (Elasticsearch)",
                "elasticsearch",
                json!({"server": "http://logs.internal:9200", "basic_auth_user": "kibana"}),
            ),
            (
                "Python",
                "python",
                json!({"allowedImportModules": "math,datetime,json", "additionalModulesPaths": ""}),
            ),
        ];
        let first_source = next_source_id;
        for (name, kind, options) in kinds.iter() {
            let source_id = next_source_id;
            next_source_id += 1;
            let created = org_created + rng.below(60 * 86_400) as i64;
            let plaintext = sorted_json(options);
            let token = key.encrypt_with(plaintext.as_bytes(), created as u64, iv_from(&mut rng));
            out.push(
                "data_sources",
                &[
                    ("id", Value::Int(source_id)),
                    ("org_id", Value::Int(org_id)),
                    ("name", Value::Text((*name).into())),
                    ("type", Value::Text((*kind).into())),
                    ("options", Value::Json(options.clone())),
                    ("encrypted_options", Value::Bytes(token.into_bytes())),
                    ("queue_name", Value::Text("queries".into())),
                    (
                        "scheduled_queue_name",
                        Value::Text("scheduled_queries".into()),
                    ),
                    ("created_at", timestamp(created)),
                ],
            );
            for (group, view_only) in [(default_group, false), (marketing_group, true)] {
                if group == marketing_group && *kind == "python" {
                    continue;
                }
                out.push(
                    "data_source_groups",
                    &[
                        ("id", Value::Int(next_dsg_id)),
                        ("data_source_id", Value::Int(source_id)),
                        ("group_id", Value::Int(group)),
                        ("view_only", Value::Bool(view_only)),
                    ],
                );
                next_dsg_id += 1;
            }
        }
        let source_count = kinds.len() as u64;

        // Queries first as plans, so results can reference their hash and text.
        struct PlannedQuery {
            id: i64,
            source: i64,
            text: String,
            hash: String,
        }
        let mut planned = Vec::with_capacity(scale.queries_per_org());
        for index in 0..scale.queries_per_org() {
            let topic = TOPICS[index % TOPICS.len()];
            // Only runners every release enables by default and whose queries the 25.1 hash
            // migration can parse: python and elasticsearch sources exist but hold no queries.
            let source = first_source + rng.below(source_count.min(3)) as i64;
            let parameterised = index % 7 == 3;
            let text = if parameterised {
                format!(
                    "SELECT date_trunc('day', created_at) AS day, count(*) AS {topic}\nFROM {topic}\nWHERE created_at >= '{{{{ start_date }}}}'\nGROUP BY 1\nORDER BY 1"
                )
            } else {
                format!(
                    "-- {topic} by week, query {index}\nSELECT date_trunc('week', created_at) AS week, count(*) AS {topic}\nFROM {topic}\nGROUP BY 1\nORDER BY 1 DESC\nLIMIT {}",
                    10 + index % 90
                )
            };
            planned.push(PlannedQuery {
                id: next_query_id,
                source,
                hash: rng.hex(32),
                text,
            });
            next_query_id += 1;
        }

        // Results: most queries have several, some none.
        let mut latest_result: Vec<Option<i64>> = vec![None; planned.len()];
        for _ in 0..scale.results_per_org() {
            let query_index = rng.below(planned.len() as u64) as usize;
            let query = &planned[query_index];
            let retrieved = clock.at(&mut rng);
            let rows: Vec<serde_json::Value> = (0..3 + rng.below(12))
                .map(|row| json!({"week": format_timestamp(retrieved - row as i64 * 604_800), "count": rng.below(10_000)}))
                .collect();
            let data = json!({
                "columns": [
                    {"name": "week", "friendly_name": "week", "type": "datetime"},
                    {"name": "count", "friendly_name": "count", "type": "integer"}
                ],
                "rows": rows
            });
            out.push(
                "query_results",
                &[
                    ("id", Value::Int(next_result_id)),
                    ("org_id", Value::Int(org_id)),
                    ("data_source_id", Value::Int(query.source)),
                    ("query_hash", Value::Text(query.hash.clone())),
                    ("query", Value::Text(query.text.clone())),
                    ("data", Value::Json(data)),
                    ("runtime", Value::Float((rng.below(90_000) as f64) / 1000.0)),
                    ("retrieved_at", timestamp(retrieved)),
                ],
            );
            latest_result[query_index] = Some(next_result_id);
            next_result_id += 1;
        }

        let mut query_ids = Vec::with_capacity(planned.len());
        let mut visualizations_of_org = Vec::new();
        for (index, query) in planned.iter().enumerate() {
            let author = user_of(&mut rng);
            let created = clock.at(&mut rng);
            let archived = index % 10 == 9;
            let draft = index % 10 == 8;
            let failing = index % 13 == 6;
            let parameterised = query.text.contains("{{");
            let schedule = schedule_for(&era, index, archived || draft, &mut rng);
            let options = if parameterised {
                json!({"parameters": [{"name": "start_date", "title": "Start date", "type": "date", "value": "2018-01-01", "global": false}]})
            } else {
                json!({})
            };
            let tags: Vec<String> = (0..rng.below(3))
                .map(|_| (*rng.pick(&TAGS)).to_owned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            out.push(
                "queries",
                &[
                    ("id", Value::Int(query.id)),
                    ("version", Value::Int(1 + rng.below(6) as i64)),
                    ("org_id", Value::Int(org_id)),
                    // A query whose data source was deleted keeps a NULL data_source_id.
                    (
                        "data_source_id",
                        if index == 17 {
                            Value::Null
                        } else {
                            Value::Int(query.source)
                        },
                    ),
                    (
                        "latest_query_data_id",
                        latest_result[index].map_or(Value::Null, Value::Int),
                    ),
                    (
                        "name",
                        Value::Text(format!(
                            "{} {}",
                            TOPICS[index % TOPICS.len()].to_uppercase(),
                            if parameterised {
                                "by day (parameterised)"
                            } else {
                                "weekly"
                            }
                        )),
                    ),
                    (
                        "description",
                        if index % 4 == 0 {
                            Value::Null
                        } else {
                            Value::Text(format!(
                                "Owned by the data team; see ticket DATA-{}",
                                100 + index
                            ))
                        },
                    ),
                    ("query", Value::Text(query.text.clone())),
                    ("query_hash", Value::Text(query.hash.clone())),
                    ("api_key", Value::Text(rng.token(40))),
                    ("user_id", Value::Int(author)),
                    ("last_modified_by_id", Value::Int(user_of(&mut rng))),
                    ("is_archived", Value::Bool(archived)),
                    ("is_draft", Value::Bool(draft)),
                    ("schedule", schedule),
                    (
                        "schedule_failures",
                        Value::Int(if failing { 1 + rng.below(40) as i64 } else { 0 }),
                    ),
                    ("options", Value::Json(options)),
                    ("tags", Value::TextArray(tags)),
                    ("created_at", timestamp(created)),
                    (
                        "updated_at",
                        timestamp(created + rng.below(90 * 86_400) as i64),
                    ),
                ],
            );
            query_ids.push(query.id);

            // Redash gives every query a table visualization; many get a chart too.
            let kinds: &[(&str, &str)] = if index % 3 == 0 {
                &[("TABLE", "Table")]
            } else if index % 3 == 1 {
                &[("TABLE", "Table"), ("CHART", "Chart")]
            } else {
                &[("TABLE", "Table"), ("CHART", "Trend"), ("COUNTER", "Total")]
            };
            for (kind, name) in kinds {
                let options = match *kind {
                    "CHART" => {
                        json!({"globalSeriesType": "line", "columnMapping": {"week": "x", "count": "y"}, "legend": {"enabled": true}})
                    }
                    "COUNTER" => json!({"counterColName": "count", "rowNumber": 1}),
                    _ => json!({}),
                };
                out.push(
                    "visualizations",
                    &[
                        ("id", Value::Int(next_visualization_id)),
                        ("type", Value::Text((*kind).into())),
                        ("query_id", Value::Int(query.id)),
                        ("name", Value::Text((*name).into())),
                        ("description", Value::Text(String::new())),
                        ("options", Value::Json(options)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
                visualizations_of_org.push(next_visualization_id);
                next_visualization_id += 1;
            }

            // Edit history of some queries.
            if index % 5 == 0 {
                out.push(
                    "changes",
                    &[
                        ("id", Value::Int(next_change_id)),
                        ("object_type", Value::Text("queries".into())),
                        ("object_id", Value::Int(query.id)),
                        ("object_version", Value::Int(1)),
                        ("user_id", Value::Int(author)),
                        (
                            "change",
                            Value::Json(
                                json!({"query": {"previous": "SELECT 1", "current": query.text}}),
                            ),
                        ),
                        ("created_at", timestamp(created + 3600)),
                    ],
                );
                next_change_id += 1;
            }
            // Shared with another user who may edit it.
            if index % 11 == 2 {
                out.push(
                    "access_permissions",
                    &[
                        ("id", Value::Int(next_permission_id)),
                        ("object_type", Value::Text("queries".into())),
                        ("object_id", Value::Int(query.id)),
                        ("access_type", Value::Text("modify".into())),
                        ("grantor_id", Value::Int(author)),
                        ("grantee_id", Value::Int(user_of(&mut rng))),
                    ],
                );
                next_permission_id += 1;
            }
        }

        // Dashboards with chart and text widgets; some archived, some drafts, one shared publicly.
        let mut dashboards_of_org = Vec::new();
        for index in 0..scale.dashboards_per_org() {
            let dashboard_id = next_dashboard_id;
            next_dashboard_id += 1;
            let created = clock.at(&mut rng);
            let author = user_of(&mut rng);
            let name = format!("{} overview {}", TOPICS[index % TOPICS.len()], index + 1);
            out.push(
                "dashboards",
                &[
                    ("id", Value::Int(dashboard_id)),
                    ("version", Value::Int(1 + rng.below(20) as i64)),
                    ("org_id", Value::Int(org_id)),
                    ("slug", Value::Text(name.to_lowercase().replace(' ', "-"))),
                    ("name", Value::Text(name)),
                    ("user_id", Value::Int(author)),
                    ("layout", Value::Json(json!([]))),
                    ("dashboard_filters_enabled", Value::Bool(index % 4 == 1)),
                    ("is_archived", Value::Bool(index % 6 == 5)),
                    ("is_draft", Value::Bool(index % 6 == 4)),
                    (
                        "tags",
                        Value::TextArray(if index % 2 == 0 {
                            vec!["kpi".into()]
                        } else {
                            Vec::new()
                        }),
                    ),
                    ("options", Value::Json(json!({}))),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created + 86_400)),
                ],
            );
            dashboards_of_org.push(dashboard_id);
            let widget_count = 3 + rng.below(5) as i64;
            for position in 0..widget_count {
                let is_text = position == 0;
                let visualization = if is_text || visualizations_of_org.is_empty() {
                    Value::Null
                } else {
                    Value::Int(*rng.pick(&visualizations_of_org))
                };
                out.push(
                    "widgets",
                    &[
                        ("id", Value::Int(next_widget_id)),
                        ("visualization_id", visualization),
                        (
                            "text",
                            if is_text {
                                Value::Text("## Read me\nNumbers refresh nightly. Ask #data for help.".into())
                            } else {
                                Value::Null
                            },
                        ),
                        ("width", Value::Int(1)),
                        (
                            "options",
                            Value::Json(json!({"isHidden": false, "position": {"col": (position % 2) * 3, "row": position / 2 * 8, "sizeX": 3, "sizeY": 8}})),
                        ),
                        ("dashboard_id", Value::Int(dashboard_id)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
                next_widget_id += 1;
            }
            if index == 0 {
                out.push(
                    "api_keys",
                    &[
                        ("id", Value::Int(next_api_key_id)),
                        ("org_id", Value::Int(org_id)),
                        ("api_key", Value::Text(rng.token(40))),
                        ("active", Value::Bool(true)),
                        ("object_type", Value::Text("dashboards".into())),
                        ("object_id", Value::Int(dashboard_id)),
                        ("created_by_id", Value::Int(author)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
                next_api_key_id += 1;
            }
        }

        // Destinations: e-mail, Slack and a webhook with a password.
        let destinations: [(&str, &str, serde_json::Value); 3] = [
            (
                "Ops e-mail",
                "email",
                json!({"addresses": format!("ops@{slug}.example.com")}),
            ),
            (
                "#alerts",
                "slack",
                json!({"url": format!("https://hooks.slack.com/services/T000/B000/{}", rng.token(24)), "channel": "#alerts"}),
            ),
            (
                "PagerDuty bridge",
                "webhook",
                json!({"url": "https://hooks.internal/redash", "username": "redash", "password": format!("wh-{slug}")}),
            ),
        ];
        let first_destination = next_destination_id;
        for (name, kind, options) in destinations.iter() {
            let created = clock.at(&mut rng);
            let token = key.encrypt_with(
                sorted_json(options).as_bytes(),
                created as u64,
                iv_from(&mut rng),
            );
            out.push(
                "notification_destinations",
                &[
                    ("id", Value::Int(next_destination_id)),
                    ("org_id", Value::Int(org_id)),
                    ("user_id", Value::Int(first_user)),
                    ("name", Value::Text((*name).into())),
                    ("type", Value::Text((*kind).into())),
                    ("options", Value::Json(options.clone())),
                    ("encrypted_options", Value::Bytes(token.into_bytes())),
                    ("created_at", timestamp(created)),
                ],
            );
            next_destination_id += 1;
        }

        // Alerts on some queries, each subscribed to by e-mail (no destination) and a destination.
        let alert_count = (scale.queries_per_org() / 8).max(2);
        for index in 0..alert_count {
            let query_id = query_ids[(index * 7) % query_ids.len()];
            let author = user_of(&mut rng);
            let created = clock.at(&mut rng);
            let state = ["ok", "triggered", "unknown"][index % 3];
            out.push(
                "alerts",
                &[
                    ("id", Value::Int(next_alert_id)),
                    (
                        "name",
                        Value::Text(format!("{} too high", TOPICS[index % TOPICS.len()])),
                    ),
                    ("query_id", Value::Int(query_id)),
                    ("user_id", Value::Int(author)),
                    (
                        "options",
                        Value::Json(
                            json!({"op": ">", "column": "count", "value": 100 * (index + 1)}),
                        ),
                    ),
                    ("state", Value::Text(state.into())),
                    (
                        "last_triggered_at",
                        if state == "triggered" {
                            timestamp(created + 86_400)
                        } else {
                            Value::Null
                        },
                    ),
                    (
                        "rearm",
                        if index % 2 == 0 {
                            Value::Int(3600)
                        } else {
                            Value::Null
                        },
                    ),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created)),
                ],
            );
            for destination in [
                Value::Null,
                Value::Int(first_destination + (index % 3) as i64),
            ] {
                out.push(
                    "alert_subscriptions",
                    &[
                        ("id", Value::Int(next_subscription_id)),
                        ("user_id", Value::Int(author)),
                        ("destination_id", destination),
                        ("alert_id", Value::Int(next_alert_id)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
                next_subscription_id += 1;
            }
            next_alert_id += 1;
        }

        // Favorites: each of the first users stars a query and a dashboard.
        for offset in 0..(user_count.min(8) as i64) {
            let user = first_user + offset;
            let query = query_ids[(offset as usize * 3) % query_ids.len()];
            let dashboard = dashboards_of_org[offset as usize % dashboards_of_org.len()];
            for (kind, object) in [("Query", query), ("Dashboard", dashboard)] {
                let created = clock.at(&mut rng);
                out.push(
                    "favorites",
                    &[
                        ("id", Value::Int(next_favorite_id)),
                        ("org_id", Value::Int(org_id)),
                        ("object_type", Value::Text(kind.into())),
                        ("object_id", Value::Int(object)),
                        ("user_id", Value::Int(user)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
                next_favorite_id += 1;
            }
        }

        for (index, (trigger, snippet)) in [
            ("last7", "created_at >= now() - interval '7 days'"),
            ("orgfilter", "org_id = {{ org_id }}"),
        ]
        .iter()
        .enumerate()
        {
            let created = clock.at(&mut rng);
            out.push(
                "query_snippets",
                &[
                    ("id", Value::Int(next_snippet_id)),
                    ("org_id", Value::Int(org_id)),
                    // The trigger is unique across all orgs.
                    ("trigger", Value::Text(format!("{trigger}_{slug}"))),
                    (
                        "description",
                        Value::Text(format!("Snippet {} of {org_name}", index + 1)),
                    ),
                    ("user_id", Value::Int(first_user)),
                    ("snippet", Value::Text((*snippet).into())),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created)),
                ],
            );
            next_snippet_id += 1;
        }

        // The audit log: views, executions, logins.
        const ACTIONS: [(&str, &str); 5] = [
            ("view", "query"),
            ("execute", "query"),
            ("view", "dashboard"),
            ("login", "redash"),
            ("update", "query"),
        ];
        for _ in 0..scale.events_per_org() {
            let (action, object_type) = *rng.pick(&ACTIONS);
            let object_id = match object_type {
                "query" => {
                    Value::Text(query_ids[rng.below(query_ids.len() as u64) as usize].to_string())
                }
                "dashboard" => Value::Text(
                    dashboards_of_org[rng.below(dashboards_of_org.len() as u64) as usize]
                        .to_string(),
                ),
                _ => Value::Null,
            };
            let user = user_of(&mut rng);
            out.push(
                "events",
                &[
                    ("id", Value::Int(next_event_id)),
                    ("org_id", Value::Int(org_id)),
                    ("user_id", Value::Int(user)),
                    ("action", Value::Text(action.into())),
                    ("object_type", Value::Text(object_type.into())),
                    ("object_id", object_id),
                    (
                        "additional_properties",
                        Value::Json(json!({"ip": format!("10.0.{}.{}", rng.below(255), rng.below(255)), "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"})),
                    ),
                    ("created_at", timestamp(clock.at(&mut rng))),
                ],
            );
            next_event_id += 1;
        }
    }

    Dataset {
        tables: out.finish(),
    }
}

/// The era's schedule value: a legacy string (`"3600"`, `"14:30"`) while the column is
/// `character varying(10)`, a JSON object later; interval numbers as the API writes them, and as a
/// string on some rows, as the 7.0 migration left them.
fn schedule_for(era: &Era<'_>, index: usize, unscheduled: bool, rng: &mut Rng) -> Value {
    if unscheduled || index % 3 == 0 {
        return Value::Null;
    }
    let daily = index % 4 == 1;
    let interval = *rng.pick(&[300i64, 3600, 21_600, 86_400]);
    let time = format!("{:02}:{:02}", rng.below(24), 15 * rng.below(4));
    if era.legacy_schedule() {
        return Value::Text(if daily { time } else { interval.to_string() });
    }
    let migrated_string = index % 5 == 2;
    let mut schedule =
        json!({"interval": interval, "time": null, "day_of_week": null, "until": null});
    if daily {
        schedule["interval"] = json!(86_400);
        schedule["time"] = json!(time);
    } else if migrated_string {
        schedule["interval"] = json!(interval.to_string());
    }
    if index % 17 == 4 {
        schedule["interval"] = json!(604_800);
        schedule["day_of_week"] = json!("Monday");
        schedule["time"] = json!("08:00");
    }
    Value::Json(schedule)
}

/// Options as Redash encrypts them: `json.dumps(..., sort_keys=True)`.
fn sorted_json(value: &serde_json::Value) -> String {
    let sorted: std::collections::BTreeMap<&String, &serde_json::Value> = value
        .as_object()
        .map(|map| map.iter().collect())
        .unwrap_or_default();
    serde_json::to_string(&sorted).expect("JSON values serialise")
}

fn iv_from(rng: &mut Rng) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    iv[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    iv
}

/// The tables the release has, filled in foreign-key order.
struct Output {
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
    fn new(schema: &ReleaseSchema) -> Output {
        Output {
            tables: LOAD_ORDER
                .iter()
                .filter_map(|name| CopyTable::for_table(schema, name))
                .collect(),
        }
    }

    fn push(&mut self, table: &str, fields: &[(&str, Value)]) {
        if let Some(copy) = self.tables.iter_mut().find(|copy| copy.name == table) {
            copy.push(fields);
        }
    }

    fn finish(self) -> Vec<CopyTable> {
        self.tables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 60, 365, 10_957, 20_000, 20_454] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00+00");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00+00");
    }
}
