//! Queries with their results, visualizations and tags: scheduled, archived, drafted, failing and
//! parameterised ones. Each query's edit history and sharing are written as it is (see `events`
//! and `sharing`), because they draw from the same random sequence in between.

use serde_json::json;

use crate::testbed::copy::Value;
use crate::testbed::rng::Rng;

use super::clock::{format_timestamp, timestamp};
use super::data_sources::Sources;
use super::{Era, Generator, Org, Users, TOPICS};

const TAGS: [&str; 7] = [
    "finance",
    "weekly",
    "kpi",
    "marketing",
    "ops",
    "legacy",
    "exec",
];

/// What dashboards, alerts, favorites and events of the org refer to.
pub(super) struct Queries {
    pub(super) ids: Vec<i64>,
    pub(super) visualizations: Vec<i64>,
}

/// A query before its row is written, so results can reference its hash and text.
struct PlannedQuery {
    id: i64,
    source: i64,
    text: String,
    hash: String,
}

impl Generator<'_> {
    pub(super) fn queries(&mut self, org: &Org, users: &Users, sources: &Sources) -> Queries {
        let planned = self.plan_queries(sources);
        let latest_result = self.query_results(org, &planned);

        let mut queries = Queries {
            ids: Vec::with_capacity(planned.len()),
            visualizations: Vec::new(),
        };
        for (index, query) in planned.iter().enumerate() {
            let author = users.pick(&mut self.rng);
            let created = self.clock.at(&mut self.rng);
            let archived = index % 10 == 9;
            let draft = index % 10 == 8;
            let failing = index % 13 == 6;
            let parameterised = query.text.contains("{{");
            let schedule = schedule_for(&self.era, index, archived || draft, &mut self.rng);
            let options = if parameterised {
                json!({"parameters": [{"name": "start_date", "title": "Start date", "type": "date", "value": "2018-01-01", "global": false}]})
            } else {
                json!({})
            };
            let tags: Vec<String> = (0..self.rng.below(3))
                .map(|_| (*self.rng.pick(&TAGS)).to_owned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            self.out.push(
                "queries",
                &[
                    ("id", Value::Int(query.id)),
                    ("version", Value::Int(1 + self.rng.below(6) as i64)),
                    ("org_id", Value::Int(org.id)),
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
                    ("api_key", Value::Text(self.rng.token(40))),
                    ("user_id", Value::Int(author)),
                    ("last_modified_by_id", Value::Int(users.pick(&mut self.rng))),
                    ("is_archived", Value::Bool(archived)),
                    ("is_draft", Value::Bool(draft)),
                    ("schedule", schedule),
                    (
                        "schedule_failures",
                        Value::Int(if failing {
                            1 + self.rng.below(40) as i64
                        } else {
                            0
                        }),
                    ),
                    ("options", Value::Json(options)),
                    ("tags", Value::TextArray(tags)),
                    ("created_at", timestamp(created)),
                    (
                        "updated_at",
                        timestamp(created + self.rng.below(90 * 86_400) as i64),
                    ),
                ],
            );
            queries.ids.push(query.id);
            self.visualizations(index, query.id, created, &mut queries.visualizations);
            if index % 5 == 0 {
                self.query_change(query.id, &query.text, author, created);
            }
            if index % 11 == 2 {
                self.share_query_for_editing(query.id, author, users);
            }
        }
        queries
    }

    fn plan_queries(&mut self, sources: &Sources) -> Vec<PlannedQuery> {
        let mut planned = Vec::with_capacity(self.scale.queries_per_org());
        for index in 0..self.scale.queries_per_org() {
            let topic = TOPICS[index % TOPICS.len()];
            // Only runners every release enables by default and whose queries the 25.1 hash
            // migration can parse: python and elasticsearch sources exist but hold no queries.
            let source = sources.first + self.rng.below(sources.count.min(3)) as i64;
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
                id: self.ids.query.next(),
                source,
                hash: self.rng.hex(32),
                text,
            });
        }
        planned
    }

    /// Most queries have several results, some none; returns each query's latest.
    fn query_results(&mut self, org: &Org, planned: &[PlannedQuery]) -> Vec<Option<i64>> {
        let mut latest_result: Vec<Option<i64>> = vec![None; planned.len()];
        for _ in 0..self.scale.results_per_org() {
            let query_index = self.rng.below(planned.len() as u64) as usize;
            let query = &planned[query_index];
            let retrieved = self.clock.at(&mut self.rng);
            let rows: Vec<serde_json::Value> = (0..3 + self.rng.below(12))
                .map(|row| json!({"week": format_timestamp(retrieved - row as i64 * 604_800), "count": self.rng.below(10_000)}))
                .collect();
            let data = json!({
                "columns": [
                    {"name": "week", "friendly_name": "week", "type": "datetime"},
                    {"name": "count", "friendly_name": "count", "type": "integer"}
                ],
                "rows": rows
            });
            let result_id = self.ids.query_result.next();
            self.out.push(
                "query_results",
                &[
                    ("id", Value::Int(result_id)),
                    ("org_id", Value::Int(org.id)),
                    ("data_source_id", Value::Int(query.source)),
                    ("query_hash", Value::Text(query.hash.clone())),
                    ("query", Value::Text(query.text.clone())),
                    ("data", Value::Json(data)),
                    (
                        "runtime",
                        Value::Float((self.rng.below(90_000) as f64) / 1000.0),
                    ),
                    ("retrieved_at", timestamp(retrieved)),
                ],
            );
            latest_result[query_index] = Some(result_id);
        }
        latest_result
    }

    /// Redash gives every query a table visualization; many get a chart too.
    fn visualizations(&mut self, index: usize, query_id: i64, created: i64, ids: &mut Vec<i64>) {
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
            let visualization_id = self.ids.visualization.next();
            self.out.push(
                "visualizations",
                &[
                    ("id", Value::Int(visualization_id)),
                    ("type", Value::Text((*kind).into())),
                    ("query_id", Value::Int(query_id)),
                    ("name", Value::Text((*name).into())),
                    ("description", Value::Text(String::new())),
                    ("options", Value::Json(options)),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created)),
                ],
            );
            ids.push(visualization_id);
        }
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
