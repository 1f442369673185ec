//! Alerts on some queries, the notification destinations they go to and their subscriptions.

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::queries::Queries;
use super::{iv_from, sorted_json, Generator, Org, Users, TOPICS};

/// The org's three destinations, ids `first..first + 3`.
pub(super) struct Destinations {
    first: i64,
}

impl Generator<'_> {
    /// E-mail, Slack and a webhook with a password.
    pub(super) fn notification_destinations(&mut self, org: &Org, users: &Users) -> Destinations {
        let slug = org.slug;
        let destinations: [(&str, &str, serde_json::Value); 3] = [
            (
                "Ops e-mail",
                "email",
                json!({"addresses": format!("ops@{slug}.example.com")}),
            ),
            (
                "#alerts",
                "slack",
                json!({"url": format!("https://hooks.slack.com/services/T000/B000/{}", self.rng.token(24)), "channel": "#alerts"}),
            ),
            (
                "PagerDuty bridge",
                "webhook",
                json!({"url": "https://hooks.internal/redash", "username": "redash", "password": format!("wh-{slug}")}),
            ),
        ];
        let first = self.ids.destination.upcoming();
        for (name, kind, options) in destinations.iter() {
            let created = self.clock.at(&mut self.rng);
            let token = self.key.encrypt_with(
                sorted_json(options).as_bytes(),
                created as u64,
                iv_from(&mut self.rng),
            );
            self.out.push(
                "notification_destinations",
                &[
                    ("id", Value::Int(self.ids.destination.next())),
                    ("org_id", Value::Int(org.id)),
                    ("user_id", Value::Int(users.first)),
                    ("name", Value::Text((*name).into())),
                    ("type", Value::Text((*kind).into())),
                    ("options", Value::Json(options.clone())),
                    ("encrypted_options", Value::Bytes(token.into_bytes())),
                    ("created_at", timestamp(created)),
                ],
            );
        }
        Destinations { first }
    }

    /// Each alert is subscribed to by e-mail (no destination) and through a destination.
    pub(super) fn alerts(&mut self, users: &Users, queries: &Queries, destinations: &Destinations) {
        let alert_count = (self.scale.queries_per_org() / 8).max(2);
        for index in 0..alert_count {
            let alert_id = self.ids.alert.next();
            let query_id = queries.ids[(index * 7) % queries.ids.len()];
            let author = users.pick(&mut self.rng);
            let created = self.clock.at(&mut self.rng);
            let state = ["ok", "triggered", "unknown"][index % 3];
            self.out.push(
                "alerts",
                &[
                    ("id", Value::Int(alert_id)),
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
                Value::Int(destinations.first + (index % 3) as i64),
            ] {
                self.out.push(
                    "alert_subscriptions",
                    &[
                        ("id", Value::Int(self.ids.subscription.next())),
                        ("user_id", Value::Int(author)),
                        ("destination_id", destination),
                        ("alert_id", Value::Int(alert_id)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
            }
        }
    }
}
