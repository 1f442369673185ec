//! Favorites: each of the first users stars a query and a dashboard.

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::queries::Queries;
use super::{Generator, Org, Users};

impl Generator<'_> {
    pub(super) fn favorites(
        &mut self,
        org: &Org,
        users: &Users,
        queries: &Queries,
        dashboards: &[i64],
    ) {
        for offset in 0..(users.count.min(8) as i64) {
            let user = users.first + offset;
            let query = queries.ids[(offset as usize * 3) % queries.ids.len()];
            let dashboard = dashboards[offset as usize % dashboards.len()];
            for (kind, object) in [("Query", query), ("Dashboard", dashboard)] {
                let created = self.clock.at(&mut self.rng);
                self.out.push(
                    "favorites",
                    &[
                        ("id", Value::Int(self.ids.favorite.next())),
                        ("org_id", Value::Int(org.id)),
                        ("object_type", Value::Text(kind.into())),
                        ("object_id", Value::Int(object)),
                        ("user_id", Value::Int(user)),
                        ("created_at", timestamp(created)),
                        ("updated_at", timestamp(created)),
                    ],
                );
            }
        }
    }
}
