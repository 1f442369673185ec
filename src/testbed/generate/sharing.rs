//! Objects shared beyond their author: API keys of public dashboard links, and access
//! permissions of queries shared with another editor. Called from the dashboard and query stages,
//! as each object is written.

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::{Generator, Org, Users};

impl Generator<'_> {
    pub(super) fn share_dashboard_publicly(
        &mut self,
        org: &Org,
        dashboard_id: i64,
        author: i64,
        created: i64,
    ) {
        self.out.push(
            "api_keys",
            &[
                ("id", Value::Int(self.ids.api_key.next())),
                ("org_id", Value::Int(org.id)),
                ("api_key", Value::Text(self.rng.token(40))),
                ("active", Value::Bool(true)),
                ("object_type", Value::Text("dashboards".into())),
                ("object_id", Value::Int(dashboard_id)),
                ("created_by_id", Value::Int(author)),
                ("created_at", timestamp(created)),
                ("updated_at", timestamp(created)),
            ],
        );
    }

    pub(super) fn share_query_for_editing(&mut self, query_id: i64, author: i64, users: &Users) {
        self.out.push(
            "access_permissions",
            &[
                ("id", Value::Int(self.ids.access_permission.next())),
                ("object_type", Value::Text("queries".into())),
                ("object_id", Value::Int(query_id)),
                ("access_type", Value::Text("modify".into())),
                ("grantor_id", Value::Int(author)),
                ("grantee_id", Value::Int(users.pick(&mut self.rng))),
            ],
        );
    }
}
