//! Data sources of several kinds, with credentials in the era's storage, and the groups that may
//! use them.

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::organizations::Groups;
use super::{iv_from, sorted_json, Generator, Org};

/// The org's data sources, ids `first..first + count`.
pub(super) struct Sources {
    pub(super) first: i64,
    pub(super) count: u64,
}

impl Generator<'_> {
    pub(super) fn data_sources(&mut self, org: &Org, groups: &Groups) -> Sources {
        let slug = org.slug;
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
        let first = self.ids.data_source.upcoming();
        for (name, kind, options) in kinds.iter() {
            let source_id = self.ids.data_source.next();
            let created = org.created + self.rng.below(60 * 86_400) as i64;
            let plaintext = sorted_json(options);
            let token =
                self.key
                    .encrypt_with(plaintext.as_bytes(), created as u64, iv_from(&mut self.rng));
            self.out.push(
                "data_sources",
                &[
                    ("id", Value::Int(source_id)),
                    ("org_id", Value::Int(org.id)),
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
            for (group, view_only) in [(groups.default, false), (groups.marketing, true)] {
                if group == groups.marketing && *kind == "python" {
                    continue;
                }
                self.out.push(
                    "data_source_groups",
                    &[
                        ("id", Value::Int(self.ids.data_source_group.next())),
                        ("data_source_id", Value::Int(source_id)),
                        ("group_id", Value::Int(group)),
                        ("view_only", Value::Bool(view_only)),
                    ],
                );
            }
        }
        Sources {
            first,
            count: kinds.len() as u64,
        }
    }
}
