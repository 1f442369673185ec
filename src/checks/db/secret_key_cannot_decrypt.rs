//! `secret-key-cannot-decrypt`: stored credentials that the given secret cannot decrypt.

use super::super::database::name_rows;
use super::super::{CannotRun, Check, CheckMeta, HopContext, Report, Severity};
use crate::fernet::FernetKey;

pub struct SecretKeyCannotDecrypt;

static META: CheckMeta = CheckMeta {
    code: "secret-key-cannot-decrypt",
    severity: Severity::Error,
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

impl Check for SecretKeyCannotDecrypt {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.database
            .is_some_and(|database| database.secret_key().is_some())
            && super::has_column(hop, "data_sources", "encrypted_options")
    }
    fn once_per_plan(&self) -> bool {
        true
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let database = hop.database.expect("applies");
        let key = FernetKey::from_secret(database.secret_key().expect("applies"));
        let mut reports = Vec::new();
        for table in ["data_sources", "notification_destinations"] {
            if !super::has_column(hop, table, "encrypted_options") {
                continue;
            }
            let rows = database.query(
                &format!("read {table}"),
                &format!("SELECT id::bigint, encrypted_options FROM {table} ORDER BY id"),
                &[],
            )?;
            let ids: Vec<i64> = rows
                .iter()
                .filter(|row| key.decrypt(&row.get::<_, Vec<u8>>(1)).is_err())
                .map(|row| row.get(0))
                .collect();
            if !ids.is_empty() {
                reports.push(Report {
                    severity: None,
                    message: format!(
                        "{table} rows the given secret cannot decrypt: {}",
                        name_rows(&ids, ids.len())
                    ),
                    location: None,
                    help: "Re-encrypt them with the secret the deployment uses before the hop."
                        .into(),
                });
            }
        }
        Ok(reports)
    }
}
