//! `options-not-json`: data-source or destination options the encryption migrations cannot read.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{copy_field, copy_fields, copy_id, name_rows, LiveDatabase, Scan};

pub struct OptionsNotJson;

static META: CheckMeta = CheckMeta {
    code: "options-not-json",
    severity: Severity::Error,
    trigger: Trigger::NamedByHop,
    effect: Some(Effect::Aborts),
    summary: "plain-text options the encryption migrations cannot parse as JSON",
    what: "On hops whose migrations encrypt stored credentials (data-source options in 7.0.0, \
           alert-destination options in 10.0.0), reads the plain `options` of the tables the \
           target release stores encrypted and lists the rows whose text is not JSON (empty text, \
           truncated JSON, raw control characters in strings). NaN and Infinity are accepted, as \
           simplejson accepts them.",
    why: "98af61feea92 and d7d747033183 load every row's options with simplejson before \
          encrypting them; one row it cannot parse raises JSONDecodeError and the hop rolls back. \
          Such a data source or destination is already unusable in the release you run, so \
          nobody notices until the upgrade.",
    fix: "Fix the options of those rows (re-enter the data source or destination in the UI, or \
          UPDATE them to valid JSON such as '{}'), or delete them, before the hop.",
    references: &[
        "v7.0.0:migrations/versions/98af61feea92_add_encrypted_options_to_data_sources.py:36-41",
        "v10.0.0:migrations/versions/d7d747033183_encrypt_alert_destinations.py:31-60",
        "v7.0.0:redash/utils/configuration.py:94-97",
    ],
};

const TABLES: [&str; 2] = ["data_sources", "notification_destinations"];

impl OptionsNotJson {
    /// The tables whose plain options the hop encrypts: the database still has `options` there,
    /// and the target release's schema has `encrypted_options`.
    fn encrypted_by_the_hop<'a>(hop: &HopContext<'_>, database: &LiveDatabase) -> Vec<&'a str> {
        let schema = hop.knowledge.schema_of(&hop.plan.to.version);
        TABLES
            .into_iter()
            .filter(|table| {
                database.has_column(table, "options")
                    && !database.has_column(table, "encrypted_options")
                    && schema
                        .and_then(|schema| schema.table(table))
                        .is_some_and(|found| found.column("encrypted_options").is_some())
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl DatabaseCheck for OptionsNotJson {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        !OptionsNotJson::encrypted_by_the_hop(hop, database).is_empty()
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let tables = OptionsNotJson::encrypted_by_the_hop(hop, database);
        let scans: Vec<Scan> = tables
            .iter()
            .map(|table| Scan {
                what: format!("read {table}"),
                select: format!("SELECT id::bigint, options::text FROM {table}"),
                estimate: database.row_estimate(table),
            })
            .collect();
        let passes = database.scan(&scans, not_json).await?;
        let mut reports = Vec::new();
        for (table, pass) in tables.iter().zip(passes) {
            let mut ids = pass.found;
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{table} rows whose options are not JSON abort {}'s encryption migration: {}",
                    hop.plan.to.version,
                    name_rows(&ids, ids.len())
                ),
                location: None,
                help: format!("Fix or delete these {table} rows before the hop."),
            });
        }
        Ok(reports)
    }
}

/// The id of a row (a COPY row: id, options) whose options simplejson cannot parse. SQL NULL is
/// read as an empty configuration and passes.
fn not_json(row: &[u8], found: &mut Vec<i64>) {
    let fields = copy_fields(row);
    let (Some(id), Some(text)) = (
        copy_id(&fields),
        fields.get(1).and_then(|raw| copy_field(raw)),
    ) else {
        return;
    };
    if serde_json::from_slice::<serde_json::Value>(&text).is_ok() {
        return;
    }
    // simplejson takes NaN and Infinity where JSON has none; do not call such text broken.
    let lenient = String::from_utf8_lossy(&text)
        .replace("-Infinity", "0")
        .replace("Infinity", "0")
        .replace("NaN", "0");
    if serde_json::from_str::<serde_json::Value>(&lenient).is_err() {
        found.push(id);
    }
}
