//! `secret-key-cannot-decrypt`: stored credentials that the given secret cannot decrypt.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::name_rows;
use super::LiveDatabase;
use crate::fernet::FernetKey;
use sqlx::{AssertSqlSafe, Row as _};

pub struct SecretKeyCannotDecrypt;

static META: CheckMeta = CheckMeta {
    code: "secret-key-cannot-decrypt",
    severity: Severity::Error,
    trigger: Trigger::OncePerPlan,
    effect: Some(Effect::Misbehaves),
    summary: "encrypted data-source or destination options the given secret cannot decrypt",
    what: "With the secret the deployment uses (--secret-key-env NAME, or REDASH_SECRET_KEY / \
           REDASH_COOKIE_SECRET from --env-file), decrypts every data_sources.encrypted_options \
           and notification_destinations.encrypted_options the way Redash does (Fernet, key = \
           SHA-256 of the secret) and lists the rows it cannot.",
    why: "Rows encrypted with another secret (a migration run with a different environment, a \
          rotated cookie secret, 8.0.0's 7.0 migration that used the cookie secret) fail every \
          query on that data source after the hop, and `manage.py database reencrypt` cannot \
          help without the old secret.",
    fix: "Find the secret those rows were written with and re-encrypt them with `manage.py \
          database reencrypt OLD NEW` (9.0.0-beta and later), or re-enter their credentials in \
          the UI.",
    references: &[
        "v10.1.0:redash/models/types.py",
        "v10.0.0:redash/cli/database.py",
    ],
};

#[async_trait::async_trait]
impl DatabaseCheck for SecretKeyCannotDecrypt {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database.secret_key().is_some() && database.has_column("data_sources", "encrypted_options")
    }
    async fn run(
        &self,
        _hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let Some(secret) = database.secret_key() else {
            return Ok(Vec::new());
        };
        let key = FernetKey::from_secret(&secret.value);
        let mut failing: Vec<(&str, Vec<i64>)> = Vec::new();
        let mut encrypted_rows = 0;
        for table in ["data_sources", "notification_destinations"] {
            if !database.has_column(table, "encrypted_options") {
                continue;
            }
            let rows = database
                .fetch_all(
                    &format!("read {table}"),
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT id::bigint, encrypted_options FROM {table} ORDER BY id"
                    ))),
                )
                .await?;
            encrypted_rows += rows.len();
            let ids: Vec<i64> = rows
                .iter()
                .filter(|row| key.decrypt(&row.get::<Vec<u8>, _>(1)).is_err())
                .map(|row| row.get(0))
                .collect();
            if !ids.is_empty() {
                failing.push((table, ids));
            }
        }
        let failed: usize = failing.iter().map(|(_, ids)| ids.len()).sum();
        if failed > 0 && failed == encrypted_rows {
            // Not one row decrypts: the key is wrong, not the rows.
            return Ok(vec![Report {
                severity: None,
                effect: None,
                message: format!(
                    "none of the {encrypted_rows} encrypted rows ({}) decrypts with the secret from {}: it is probably not the key this deployment encrypts with",
                    failing
                        .iter()
                        .map(|(table, _)| *table)
                        .collect::<Vec<_>>()
                        .join(", "),
                    secret.origin
                ),
                location: None,
                help: "Give the secret the running deployment uses (REDASH_SECRET_KEY, or REDASH_COOKIE_SECRET where it is unset) and run the check again; re-encrypt nothing until then.".into(),
            }]);
        }
        let mut reports = Vec::new();
        for (table, ids) in failing {
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{table} rows the secret from {} cannot decrypt: {}",
                    secret.origin,
                    name_rows(&ids, ids.len())
                ),
                location: None,
                help: "Re-encrypt them with the secret the deployment uses before the hop.".into(),
            });
        }
        Ok(reports)
    }
}
