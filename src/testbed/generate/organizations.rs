//! Organizations, and the groups each one has.

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::timestamp;
use super::{Generator, Org};

pub(super) const ORGS: [(&str, &str); 5] = [
    ("Acme Analytics", "default"),
    ("Acme EU", "acme-eu"),
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("Umbrella Research", "umbrella"),
];

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

/// The org's groups by role, for memberships and data-source access.
pub(super) struct Groups {
    pub(super) admin: i64,
    pub(super) default: i64,
    pub(super) data_team: i64,
    pub(super) marketing: i64,
}

impl Generator<'_> {
    pub(super) fn organization(
        &mut self,
        index: usize,
        name: &'static str,
        slug: &'static str,
    ) -> Org {
        let org = Org {
            index,
            id: index as i64 + 1,
            name,
            slug,
            created: self.clock.start + index as i64 * 86_400 * 20,
        };
        let settings = if index == 0 {
            json!({"settings": {"auth_password_login_enabled": true, "date_format": "DD/MM/YY"}})
        } else {
            json!({})
        };
        self.out.push(
            "organizations",
            &[
                ("id", Value::Int(org.id)),
                ("name", Value::Text(name.into())),
                ("slug", Value::Text(slug.into())),
                ("settings", Value::Json(settings)),
                ("created_at", timestamp(org.created)),
                ("updated_at", timestamp(org.created)),
            ],
        );
        org
    }

    /// The two built-in groups every org gets, and two of its own.
    pub(super) fn groups(&mut self, org: &Org) -> Groups {
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
        let ids = groups.map(|(name, kind, permissions)| {
            let id = self.ids.group.next();
            self.out.push(
                "groups",
                &[
                    ("id", Value::Int(id)),
                    ("org_id", Value::Int(org.id)),
                    ("type", Value::Text(kind.into())),
                    ("name", Value::Text(name.into())),
                    (
                        "permissions",
                        Value::TextArray(permissions.iter().map(|p| (*p).to_owned()).collect()),
                    ),
                    ("created_at", timestamp(org.created)),
                ],
            );
            id
        });
        let [admin, default, data_team, marketing] = ids;
        Groups {
            admin,
            default,
            data_team,
            marketing,
        }
    }
}
