//! `redash-host-without-scheme`: multi_org with a REDASH_HOST that has no `https://` on 26.3.0.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct RedashHostWithoutScheme;

static META: CheckMeta = CheckMeta {
    code: "redash-host-without-scheme",
    severity: Severity::Warning,
    trigger: Trigger::NamedByHop,
    effect: None,
    summary: "multi_org REDASH_HOST without a scheme, which 26.3.0 no longer adds",
    what: "On hops crossing 26.3.0 with REDASH_MULTI_ORG on, looks at REDASH_HOST for a scheme \
           (https://).",
    why: "Before 26.3.0 multi_org links in e-mails (invitations, password resets, alerts) got \
          'https://' prepended; from 26.3.0 REDASH_HOST is used as it is, so a bare host name \
          gives links without a protocol that mail clients do not open.",
    fix: "Set REDASH_HOST with its scheme, e.g. https://redash.example.com, before the hop.",
    references: &[
        "v26.3.0:redash/utils/__init__.py:214",
        "v25.8.0:redash/utils/__init__.py:214",
    ],
};

impl ConfigCheck for RedashHostWithoutScheme {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        if super::setting_on(hop, "REDASH_MULTI_ORG").is_none() {
            return Ok(Vec::new());
        }
        let host = hop
            .deployment
            .running_roles()
            .find_map(|role| role.var("REDASH_HOST"));
        Ok(host
            .filter(|host| host.value.as_deref().is_some_and(|text| !text.contains("://")))
            .map(|host| Report {
                severity: None,
                effect: None,
                message: format!(
                    "REDASH_HOST is {} without a scheme: {} e-mails multi_org links without a protocol",
                    host.value.as_deref().unwrap_or_default(),
                    hop.plan.to.version
                ),
                location: Some(host.location.clone()),
                help: "Set REDASH_HOST to https://<host> (with the scheme).".into(),
            })
            .into_iter()
            .collect())
    }
}
