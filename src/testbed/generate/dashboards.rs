//! Dashboards with chart and text widgets; some archived, some drafts, one shared publicly (its
//! API key is written in `sharing`, between its widgets and the next dashboard).

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::queries::Queries;
use super::{Generator, Org, Users, TOPICS};

impl Generator<'_> {
    /// Returns the org's dashboard ids.
    pub(super) fn dashboards(&mut self, org: &Org, users: &Users, queries: &Queries) -> Vec<i64> {
        let mut dashboards = Vec::new();
        for index in 0..self.scale.dashboards_per_org() {
            let dashboard_id = self.ids.dashboard.next();
            let created = self.clock.at(&mut self.rng);
            let author = users.pick(&mut self.rng);
            let name = format!("{} overview {}", TOPICS[index % TOPICS.len()], index + 1);
            self.out.push(
                "dashboards",
                &[
                    ("id", Value::Int(dashboard_id)),
                    ("version", Value::Int(1 + self.rng.below(20) as i64)),
                    ("org_id", Value::Int(org.id)),
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
            dashboards.push(dashboard_id);
            self.widgets(dashboard_id, created, &queries.visualizations);
            if index == 0 {
                self.share_dashboard_publicly(org, dashboard_id, author, created);
            }
        }
        dashboards
    }

    /// A text widget first, then visualizations of the org's queries.
    fn widgets(&mut self, dashboard_id: i64, created: i64, visualizations: &[i64]) {
        let widget_count = 3 + self.rng.below(5) as i64;
        for position in 0..widget_count {
            let is_text = position == 0;
            let visualization = if is_text || visualizations.is_empty() {
                Value::Null
            } else {
                Value::Int(*self.rng.pick(visualizations))
            };
            self.out.push(
                "widgets",
                &[
                    ("id", Value::Int(self.ids.widget.next())),
                    ("visualization_id", visualization),
                    (
                        "text",
                        if is_text {
                            Value::Text(
                                "## Read me\nNumbers refresh nightly. Ask #data for help.".into(),
                            )
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
        }
    }
}
