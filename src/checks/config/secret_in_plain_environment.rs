//! `secret-in-plain-environment`: a secret passed as plain environment in an ECS task definition.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct SecretInPlainEnvironment;

static META: CheckMeta = CheckMeta {
    code: "secret-in-plain-environment",
    severity: Severity::Warning,
    trigger: Trigger::OncePerPlan,
    effect: None,
    summary: "a secret is plain environment in an ECS task definition",
    what: "Looks in ECS task definitions for variables the knowledge base marks secret \
           (REDASH_COOKIE_SECRET, REDASH_SECRET_KEY, REDASH_DATABASE_URL, mail and LDAP passwords, \
           ...) under `environment` instead of `secrets`.",
    why: "`environment` values are stored in the task definition and shown to anyone who can \
          describe it, in the console, the API and every revision kept for rollback. An upgrade \
          registers new revisions, so the exposure spreads with each hop.",
    fix: "Move the variable to `secrets` with `valueFrom` pointing at SSM Parameter Store or \
          Secrets Manager, and rotate a secret that was exposed.",
    references: &["https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html"],
};

impl ConfigCheck for SecretInPlainEnvironment {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let mut reports = Vec::new();
        for role in hop.deployment.roles.iter().filter(|role| role.ecs) {
            for (name, value) in &role.env {
                let documented_secret = hop.knowledge.env_doc(name).is_some_and(|doc| doc.secret);
                // A URL is secret for its password; one without a password may stay plain.
                let holds_secret = match value.value.as_deref() {
                    Some(text) if name.ends_with("_URL") => url_has_password(text),
                    Some(text) => !text.trim().is_empty(),
                    None => false,
                };
                if documented_secret && !value.from_secret_store && holds_secret {
                    reports.push(Report {
                        severity: None,
                        effect: None,
                        message: format!(
                            "{} passes {name} as plain environment (value not shown)",
                            role.name
                        ),
                        location: Some(value.location.clone()),
                        help: format!("Move {name} to `secrets` with valueFrom."),
                    });
                }
            }
        }
        Ok(reports)
    }
}

fn url_has_password(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        || rest.contains("password=")
}
