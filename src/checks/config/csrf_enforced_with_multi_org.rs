//! `csrf-enforced-with-multi-org`: REDASH_ENFORCE_CSRF on releases whose CSRF exemptions break
//! multi_org or login callbacks.

use crate::knowledge::model::KnownBug;

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct CsrfEnforcedWithMultiOrg;

static META: CheckMeta = CheckMeta {
    code: "csrf-enforced-with-multi-org",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "REDASH_ENFORCE_CSRF with multi_org on 10.x, or with SAML login on 25.1.0",
    what: "When REDASH_ENFORCE_CSRF is on and the target has one of the known bugs \
           enforce-csrf-multi-org-exception (10.x) or enforce-csrf-blocks-saml-login-25-1 \
           (25.1.0): an error with REDASH_MULTI_ORG on for the first, a warning that login \
           callbacks (SAML) are no longer exempt for the second.",
    why: "10.x's workaround for CSRF exemptions raises with multi_org; 25.1.0 removed it, so SAML \
          and other exempt login callbacks fail CSRF validation and users cannot log in. 25.8.0 \
          restored the exemptions safely.",
    fix: "Leave REDASH_ENFORCE_CSRF off until the deployment runs 25.8.0 or later, or go \
          straight to 25.8.0.",
    references: &[
        "https://github.com/getredash/redash/pull/6919",
        "https://github.com/getredash/redash/pull/7327",
    ],
};

impl ConfigCheck for CsrfEnforcedWithMultiOrg {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        known_bug(hop, MULTI_ORG_BUG).is_some() || known_bug(hop, LOGIN_CALLBACK_BUG).is_some()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(csrf) = super::setting_on(hop, "REDASH_ENFORCE_CSRF") else {
            return Ok(Vec::new());
        };
        let location = Some(csrf.location.clone());
        let until = |bug: &KnownBug| {
            bug.fixed_in
                .as_ref()
                .map_or_else(|| "a release that fixes it".to_owned(), ToString::to_string)
        };
        if let Some(bug) = known_bug(hop, MULTI_ORG_BUG) {
            if super::setting_on(hop, "REDASH_MULTI_ORG").is_some() {
                return Ok(vec![Report {
                    severity: None,
                    effect: None,
                    message: format!(
                        "REDASH_ENFORCE_CSRF is on with multi_org, which {} cannot serve",
                        hop.plan.to.version
                    ),
                    location,
                    help: format!("Turn REDASH_ENFORCE_CSRF off until {}.", until(bug)),
                }]);
            }
        }
        if let Some(bug) = known_bug(hop, LOGIN_CALLBACK_BUG) {
            return Ok(vec![Report {
                severity: Some(Severity::Warning),
                effect: None,
                message: format!(
                    "REDASH_ENFORCE_CSRF is on: {} no longer exempts login callbacks, so SAML logins fail",
                    hop.plan.to.version
                ),
                location,
                help: format!(
                    "Turn REDASH_ENFORCE_CSRF off for {}, or go to {}.",
                    hop.plan.to.version,
                    until(bug)
                ),
            }]);
        }
        Ok(Vec::new())
    }
}

/// The known bugs of the target release behind this check.
const MULTI_ORG_BUG: &str = "enforce-csrf-multi-org-exception";
const LOGIN_CALLBACK_BUG: &str = "enforce-csrf-blocks-saml-login-25-1";

fn known_bug<'k>(hop: &HopContext<'k>, id: &str) -> Option<&'k KnownBug> {
    hop.plan.known_bugs.iter().copied().find(|bug| bug.id == id)
}
