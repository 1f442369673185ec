//! `secret-key-unset`: the hop runs an encryption migration and REDASH_SECRET_KEY is unset.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct SecretKeyUnset;

static META: CheckMeta = CheckMeta {
    code: "secret-key-unset",
    severity: Severity::Warning,
    trigger: Trigger::NamedByHop,
    effect: None,
    summary: "REDASH_SECRET_KEY is unset while the hop encrypts stored credentials",
    what: "On hops whose migrations encrypt stored credentials (the knowledge base names them: \
           data-source options in 7.0.0, alert-destination options in 10.0.0), looks for \
           REDASH_SECRET_KEY on every role.",
    why: "The encryption migrations and the application take the key from REDASH_SECRET_KEY and \
          fall back to REDASH_COOKIE_SECRET. A deployment relying on the fallback ties its stored \
          credentials to the cookie secret: rotating that secret later, or running the migration \
          with a different environment than the app (8.0.0's copy of the 7.0 migration used the \
          cookie secret only), leaves data sources that cannot be decrypted.",
    fix: "Before the hop, set REDASH_SECRET_KEY explicitly on every role, to the value of \
          REDASH_COOKIE_SECRET that is in use now, and run the migration with the same \
          environment.",
    references: &[
        "v7.0.0:migrations/versions/98af61feea92_add_encrypted_options_to_data_sources.py",
        "v10.0.0:migrations/versions/d7d747033183_encrypt_alert_destinations.py",
        "v10.1.0:redash/settings/__init__.py",
    ],
};

impl ConfigCheck for SecretKeyUnset {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        if hop.deployment.roles.is_empty() {
            return Err(CannotRun("no roles to look at".into()));
        }
        let what = hop
            .plan
            .check_triggers(META.code)
            .iter()
            .map(|trigger| trigger.text.as_str())
            .collect::<Vec<_>>()
            .join(" and ");
        let unset: Vec<_> = hop
            .deployment
            .running_roles()
            .filter(|role| {
                role.var("REDASH_SECRET_KEY")
                    .is_none_or(|value| value.is_empty())
            })
            .collect();
        let Some(first) = unset.first() else {
            return Ok(Vec::new());
        };
        let names: Vec<&str> = unset.iter().map(|role| role.name.as_str()).collect();
        let (roles, plural) = super::role_list(&names);
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "{roles} {} no REDASH_SECRET_KEY: the {} hop runs the {what} with REDASH_COOKIE_SECRET instead",
                if plural { "have" } else { "has" },
                hop.plan.to.version
            ),
            location: Some(first.location.clone()),
            help: "Set REDASH_SECRET_KEY on every role to the current REDASH_COOKIE_SECRET value before migrating.".into(),
        }])
    }
}
