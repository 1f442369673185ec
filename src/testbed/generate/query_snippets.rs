//! Query snippets, two per org, owned by its first user.

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::{Generator, Org, Users};

impl Generator<'_> {
    pub(super) fn query_snippets(&mut self, org: &Org, users: &Users) {
        for (index, (trigger, snippet)) in [
            ("last7", "created_at >= now() - interval '7 days'"),
            ("orgfilter", "org_id = {{ org_id }}"),
        ]
        .iter()
        .enumerate()
        {
            let created = self.clock.at(&mut self.rng);
            self.out.push(
                "query_snippets",
                &[
                    ("id", Value::Int(self.ids.snippet.next())),
                    ("org_id", Value::Int(org.id)),
                    // The trigger is unique across all orgs.
                    ("trigger", Value::Text(format!("{trigger}_{}", org.slug))),
                    (
                        "description",
                        Value::Text(format!("Snippet {} of {}", index + 1, org.name)),
                    ),
                    ("user_id", Value::Int(users.first)),
                    ("snippet", Value::Text((*snippet).into())),
                    ("created_at", timestamp(created)),
                    ("updated_at", timestamp(created)),
                ],
            );
        }
    }
}
