//! `user-details-will-be-lost`: users whose `details` migration fd4fc850d7ea sets to NULL.

use super::super::{CannotRun, CheckMeta, DatabaseCheck, HopContext, Report, Severity, Trigger};
use super::LiveDatabase;

pub struct UserDetailsWillBeLost;

static META: CheckMeta = CheckMeta {
    code: "user-details-will-be-lost",
    severity: Severity::Warning,
    trigger: Trigger::NamedByHop,
    summary: "users whose details migration fd4fc850d7ea replaces with NULL",
    what: "On hops crossing 25.1.0, lists users whose profile_image_url is NULL.",
    why: "fd4fc850d7ea moves profile_image_url into details by concatenating JSON text; with a \
          NULL URL the concatenation is NULL and so becomes details, losing active_at and the \
          invitation-pending flag (invited users can then no longer accept their invitation).",
    fix: "Before the hop, give those users a profile_image_url (the gravatar URL Redash would \
          use), or save their details and write them back after the hop.",
    references: &["v25.1.0:migrations/versions/fd4fc850d7ea_.py:33"],
};

#[async_trait::async_trait]
impl DatabaseCheck for UserDetailsWillBeLost {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.has_column("users", "profile_image_url")
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let sql = if database.has_column("users", "details") {
            "SELECT id::bigint FROM users WHERE profile_image_url IS NULL \
             AND details IS NOT NULL AND details::text NOT IN ('{}', 'null') ORDER BY id"
        } else {
            "SELECT id::bigint FROM users WHERE profile_image_url IS NULL ORDER BY id"
        };
        super::rows_report(
            database,
            "read users",
            sql,
            &format!(
                "users without profile_image_url lose their details in {}",
                hop.plan.to.version
            ),
            "Set profile_image_url for them before the hop, or restore details afterwards.",
        )
        .await
    }
}
