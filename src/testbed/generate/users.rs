//! Users: an admin, active members, a few disabled and a few invited.

use serde_json::json;

use crate::testbed::copy::Value;

use super::clock::{format_timestamp, timestamp};
use super::organizations::Groups;
use super::{Generator, Org, Users};

const FIRST_NAMES: [&str; 12] = [
    "Ana", "Ben", "Chloe", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam",
];
const LAST_NAMES: [&str; 10] = [
    "Silva", "Okafor", "Nguyen", "Ivanova", "Schmidt", "Haddad", "Kowalski", "Tanaka", "Moreau",
    "Brown",
];

impl Generator<'_> {
    pub(super) fn users(&mut self, org: &Org, groups: &Groups) -> Users {
        let count = self.scale.users_per_org();
        let first = self.ids.user.upcoming();
        for index in 0..count {
            let user_id = self.ids.user.next();
            let first_name = FIRST_NAMES[index % FIRST_NAMES.len()];
            let last_name = LAST_NAMES[(index / FIRST_NAMES.len() + org.index) % LAST_NAMES.len()];
            let email = format!(
                "{}.{}{}@{}.example.com",
                first_name.to_lowercase(),
                last_name.to_lowercase(),
                index,
                org.slug
            );
            let invited = index % 9 == 5;
            let disabled = index % 11 == 7;
            let created = org.created + self.rng.below(300 * 86_400) as i64;
            let memberships = match index {
                0 => vec![groups.admin, groups.default],
                _ if index % 3 == 0 => vec![groups.default, groups.marketing],
                _ => vec![groups.default, groups.data_team],
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
                    self.rng.token(16),
                    self.rng.token(86)
                ))
            };
            self.out.push(
                "users",
                &[
                    ("id", Value::Int(user_id)),
                    ("org_id", Value::Int(org.id)),
                    ("name", Value::Text(format!("{first_name} {last_name}"))),
                    ("email", Value::Text(email)),
                    (
                        "profile_image_url",
                        Value::Text(format!(
                            "https://www.gravatar.com/avatar/{}?s=40&d=identicon",
                            self.rng.hex(32)
                        )),
                    ),
                    ("password_hash", password_hash),
                    ("groups", Value::IntArray(memberships)),
                    ("api_key", Value::Text(self.rng.token(40))),
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
        Users { first, count }
    }
}
