//! The audit log (events: views, executions, logins) and the edit history of objects (changes).

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::queries::Queries;
use super::{Generator, Org, Users};

const ACTIONS: [(&str, &str); 5] = [
    ("view", "query"),
    ("execute", "query"),
    ("view", "dashboard"),
    ("login", "redash"),
    ("update", "query"),
];

impl Generator<'_> {
    pub(super) fn events(
        &mut self,
        org: &Org,
        users: &Users,
        queries: &Queries,
        dashboards: &[i64],
    ) {
        for _ in 0..self.scale.events_per_org() {
            let (action, object_type) = *self.rng.pick(&ACTIONS);
            let object_id = match object_type {
                "query" => Value::Text(
                    queries.ids[self.rng.below(queries.ids.len() as u64) as usize].to_string(),
                ),
                "dashboard" => Value::Text(
                    dashboards[self.rng.below(dashboards.len() as u64) as usize].to_string(),
                ),
                _ => Value::Null,
            };
            let user = users.pick(&mut self.rng);
            self.out.push(
                "events",
                &[
                    ("id", Value::Int(self.ids.event.next())),
                    ("org_id", Value::Int(org.id)),
                    ("user_id", Value::Int(user)),
                    ("action", Value::Text(action.into())),
                    ("object_type", Value::Text(object_type.into())),
                    ("object_id", object_id),
                    (
                        "additional_properties",
                        Value::Json(json!({"ip": format!("10.0.{}.{}", self.rng.below(255), self.rng.below(255)), "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"})),
                    ),
                    ("created_at", timestamp(self.clock.at(&mut self.rng))),
                ],
            );
        }
    }

    /// An edit of a query an hour after its creation; written by the query stage as each query
    /// is, so the history follows the queries' order.
    pub(super) fn query_change(&mut self, query_id: i64, text: &str, author: i64, created: i64) {
        self.out.push(
            "changes",
            &[
                ("id", Value::Int(self.ids.change.next())),
                ("object_type", Value::Text("queries".into())),
                ("object_id", Value::Int(query_id)),
                ("object_version", Value::Int(1)),
                ("user_id", Value::Int(author)),
                (
                    "change",
                    Value::Json(json!({"query": {"previous": "SELECT 1", "current": text}})),
                ),
                ("created_at", timestamp(created + 3600)),
            ],
        );
    }
}
