//! `csrf-enforced-with-multi-org`: REDASH_ENFORCE_CSRF on releases whose CSRF exemptions break
//! multi_org or login callbacks.

use semver::Version;

use super::{CannotRun, Check, CheckMeta, HopContext, Report, Severity};

pub struct CsrfEnforcedWithMultiOrg;

static META: CheckMeta = CheckMeta {
    code: "csrf-enforced-with-multi-org",
    severity: Severity::Error,
    summary: "REDASH_ENFORCE_CSRF with multi_org on 10.x-25.1.0, or with SAML login on 25.1.0",
    what: "When the target is 10.0.0 up to 25.1.0 and REDASH_ENFORCE_CSRF is on: an error with \
           REDASH_MULTI_ORG on; on 25.1.0 itself, a warning that login callbacks (SAML) are no \
           longer exempt.",
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

impl Check for CsrfEnforcedWithMultiOrg {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.to.version >= Version::new(10, 0, 0) && hop.to.version < Version::new(25, 8, 0)
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(csrf) = super::setting_on(hop, "REDASH_ENFORCE_CSRF") else {
            return Ok(Vec::new());
        };
        let location = Some(csrf.location.clone());
        if super::setting_on(hop, "REDASH_MULTI_ORG").is_some() {
            return Ok(vec![Report {
                severity: None,
                message: format!(
                    "REDASH_ENFORCE_CSRF is on with multi_org, which {} cannot serve",
                    hop.to.version
                ),
                location,
                help: "Turn REDASH_ENFORCE_CSRF off until 25.8.0.".into(),
            }]);
        }
        if hop.to.version == Version::new(25, 1, 0) {
            return Ok(vec![Report {
                severity: Some(Severity::Warning),
                message: "REDASH_ENFORCE_CSRF is on: 25.1.0 no longer exempts login callbacks, so SAML logins fail".into(),
                location,
                help: "Turn REDASH_ENFORCE_CSRF off for 25.1.0, or go to 25.8.0.".into(),
            }]);
        }
        Ok(Vec::new())
    }
}
