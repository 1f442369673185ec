//! `user-details-will-be-lost`: users whose `details` migration fd4fc850d7ea sets to NULL.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct UserDetailsWillBeLost;

static META: CheckMeta = CheckMeta {
    code: "user-details-will-be-lost",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::LosesData),
    summary: "users whose details migration fd4fc850d7ea replaces, drops or turns into an array",
    what: "On hops crossing 25.1.0, lists users whose profile_image_url is NULL (their details \
           become NULL); users whose details are JSON but not an object while they have a URL \
           (their details become an array, an error); users whose details are NULL while they \
           have a URL (the URL is dropped).",
    why: "fd4fc850d7ea runs `details = details::jsonb || ('{\"profile_image_url\": \"' || url \
          || '\"}')::jsonb` and drops the column. With a NULL URL the result is NULL, losing \
          active_at and the invitation-pending flag (invited users can then no longer accept \
          their invitation). With details NULL the URL is lost. With details that are an array, \
          a scalar or JSON null, `||` makes an array, which 25.x refuses to load: that user can \
          no longer log in, and every page that lists the user fails.",
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
        let target = &hop.plan.to.version;
        if !database.has_column("users", "details") {
            return super::rows_report(
                database,
                None,
                "read users",
                "SELECT id::bigint FROM users WHERE profile_image_url IS NULL ORDER BY id",
                &format!("users without profile_image_url lose their details in {target}"),
                "Set profile_image_url for them before the hop, or restore details afterwards.",
            )
            .await;
        }
        let mut reports = super::rows_report(
            database,
            None,
            "read users",
            "SELECT id::bigint FROM users WHERE profile_image_url IS NULL \
             AND details IS NOT NULL AND details::text NOT IN ('{}', 'null') ORDER BY id",
            &format!("users without profile_image_url lose their details in {target}"),
            "Set profile_image_url for them before the hop, or restore details afterwards.",
        )
        .await?;
        let mut not_objects = super::rows_report(
            database,
            None,
            "read user details",
            "SELECT id::bigint FROM users WHERE profile_image_url IS NOT NULL \
             AND details IS NOT NULL AND json_typeof(details::text::json) <> 'object' ORDER BY id",
            &format!(
                "users whose details are not a JSON object get an array as details, which {target} cannot load (they cannot log in)"
            ),
            "Set their details to an object ('{}' keeps nothing but is loadable) before the hop.",
        )
        .await?;
        for report in &mut not_objects {
            report.effect = Some(Effect::Misbehaves);
        }
        reports.append(&mut not_objects);
        reports.extend(
            super::rows_report(
                database,
                None,
                "read user details",
                "SELECT id::bigint FROM users WHERE details IS NULL \
                 AND profile_image_url IS NOT NULL ORDER BY id",
                &format!("users whose details are NULL lose their profile image URL in {target}"),
                "Set their details to '{}' before the hop to keep the URL.",
            )
            .await?,
        );
        Ok(reports)
    }
}
