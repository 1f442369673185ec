//! `profile-image-url-breaks-migration`: profile image URLs that make migration fd4fc850d7ea fail.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;

pub struct ProfileImageUrlBreaksMigration;

static META: CheckMeta = CheckMeta {
    code: "profile-image-url-breaks-migration",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "profile image URLs with a quote, backslash or control character break migration fd4fc850d7ea",
    what:
        "On hops crossing 25.1.0, lists users whose profile_image_url contains a double quote, a \
           backslash or a control character (U+0001 to U+001F: tab, line feed, ...).",
    why: "fd4fc850d7ea builds JSON by pasting the URL between double quotes and casts it to \
          jsonb. A quote ends the string early (the cast fails, or worse, injects keys such as \
          is_invitation_pending into details); a control character is refused by the cast; a \
          backslash either makes an invalid escape (the cast fails) or a valid one that is \
          silently decoded (`\\n` becomes a line break). A failed cast rolls the whole hop back.",
    fix: "Percent-encode or clear those URLs before the hop.",
    references: &["v25.1.0:migrations/versions/fd4fc850d7ea_.py:33"],
};

#[async_trait::async_trait]
impl DatabaseCheck for ProfileImageUrlBreaksMigration {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.has_column("users", "profile_image_url")
    }
    async fn run(
        &self,
        _hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        super::rows_report(
            database,
            None,
            "read profile image URLs",
            "SELECT id::bigint FROM users WHERE strpos(profile_image_url, '\"') > 0 \
             OR strpos(profile_image_url, E'\\\\') > 0 \
             OR profile_image_url ~ '[\\x01-\\x1f]' ORDER BY id",
            "profile_image_url with a quote, backslash or control character",
            "Percent-encode or clear these URLs before the hop.",
        )
        .await
    }
}
