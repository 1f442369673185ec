//! `multi-org-static-images`: multi_org on a release that requests images under
//! `/<org_slug>/static/`, with no proxy rule serving them.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct MultiOrgStaticImages;

const BUG: &str = "multi-org-static-images-relative";

static META: CheckMeta = CheckMeta {
    code: "multi-org-static-images",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "multi_org icons requested under /<org_slug>/static/ are not served",
    what: "When REDASH_MULTI_ORG is on and the target release has the known bug \
           `multi-org-static-images-relative`, looks in the nginx config (--nginx) for a location \
           or rewrite that maps /<org_slug>/static/images/ to /static/images/.",
    why: "With multi_org the app's base href is /<org_slug>/ and image paths became relative, so \
          data-source and destination icons and illustrations are requested under the org's \
          path and answered with the login page instead of the image.",
    fix: "Add, before users log in after the hop: location ~ ^/.*/static/images/ { rewrite \
          ^/.*/static/images/(.*) /static/images/$1; } (keep it for destination icons on 25.8.0 \
          and later).",
    references: &[
        "https://github.com/getredash/redash/issues/5256",
        "v10.0.0:client/app/services/data-source.js:7",
    ],
};

impl ConfigCheck for MultiOrgStaticImages {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.knowledge
            .known_bugs_of(&hop.plan.to.version)
            .iter()
            .any(|bug| bug.id == BUG)
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let multi_org = super::setting_on(hop, "REDASH_MULTI_ORG");
        let Some(multi_org) = multi_org else {
            return Ok(Vec::new());
        };
        let Some(nginx) = &hop.deployment.nginx else {
            return Err(CannotRun(
                "REDASH_MULTI_ORG is on but no --nginx config was given to look for the rewrite"
                    .into(),
            ));
        };
        let served = nginx.all().iter().any(|directive| {
            let args = directive.args.join(" ");
            (directive.name == "location" || directive.name == "rewrite")
                && args.contains("static/images")
                && (args.contains(".*")
                    || args.contains("[^/]+")
                    || args.contains("/static/images/$"))
        });
        if served {
            return Ok(Vec::new());
        }
        Ok(vec![Report {
            severity: None,
            effect: None,
            message: format!(
                "REDASH_MULTI_ORG is on and the proxy has no rule for /<org_slug>/static/images/ ({} requests icons there)",
                hop.plan.to.version
            ),
            location: Some(multi_org.location.clone()),
            help: "Add to the server block: location ~ ^/.*/static/images/ { rewrite ^/.*/static/images/(.*) /static/images/$1; }".into(),
        }])
    }
}
