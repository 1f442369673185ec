//! `alert-options-not-object`: alerts whose options migration 1655999df5e3 cannot give a selector.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{name_rows, LiveDatabase};

pub struct AlertOptionsNotObject;

static META: CheckMeta = CheckMeta {
    code: "alert-options-not-object",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "alerts whose options are JSON but not an object, which 1655999df5e3 aborts on",
    what: "On hops whose migrations give every alert a default value selector (25.8.0), reads \
           alerts.options and lists the alerts whose options are a JSON array, a scalar or JSON \
           null. (SQL NULL is left alone by the migration; text that is not JSON is \
           json-invalid-for-jsonb's finding.)",
    why: "1655999df5e3 runs `UPDATE alerts SET options = jsonb_set(options, '{selector}', \
          '\"first\"') WHERE options->>'selector' IS NULL`. On anything but an object `->>` gives \
          NULL, so the row matches, and jsonb_set then fails (`path element ... is not an \
          integer` on an array, `cannot set path in scalar` otherwise): the hop rolls back. Redash \
          itself writes objects; such rows come from direct SQL, old releases or restores.",
    fix: "Give those alerts an object as options before the hop (UPDATE alerts SET options = \
          '{}' WHERE id IN (...), then set their condition again in the UI), or delete them.",
    references: &["v25.8.0:migrations/versions/1655999df5e3_default_alert_selector.py:19-23"],
};

#[async_trait::async_trait]
impl DatabaseCheck for AlertOptionsNotObject {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.has_column("alerts", "options")
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let ids = database
            .ids_where(
                "read alerts",
                "SELECT id::bigint, options::text FROM alerts WHERE options IS NOT NULL",
                "alerts",
                json_but_not_an_object,
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "alerts whose options are not a JSON object abort {}'s alert-selector migration: {}",
                hop.plan.to.version,
                name_rows(&ids, ids.len())
            ),
            location: None,
            help: "Set these alerts' options to an object (or delete the alerts) before the hop."
                .into(),
        }])
    }
}

/// Whether alert options parse as JSON but not as an object.
fn json_but_not_an_object(text: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(text).is_ok_and(|options| !options.is_object())
}
