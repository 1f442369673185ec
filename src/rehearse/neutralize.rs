//! Making the restored copy reach no one, with every original value kept so that
//! `rehearse --restore-neutralized` puts it back.
//!
//! The originals live in a schema of ours, `redash_upgrade`, beside Redash's `public`: `detect`,
//! `check` and `verify` read only the current schema, `pg_dump` takes ours along into every
//! rollback point, and no upstream migration touches it.
//!
//! What is neutralized was chosen so that no hop's migration can lose or mistranslate it:
//! - alerts get `options.muted = true` (a JSON key: 25.1.0's retyping and 25.8.0's added
//!   selector leave it alone; releases before muting existed ignore it);
//! - every alert subscription (the link from an alert to an e-mail, Slack or webhook
//!   destination) is moved into our table, whole; no migration touches `alert_subscriptions`;
//! - organizations that turned on e-mail about failed scheduled queries have it turned off (a
//!   key of `organizations.settings`);
//! - the operator's own SQL (`--neutralize-sql`) runs with a trigger on every table of Redash
//!   that records the value of every column it changes and every row it deletes or inserts.
//!
//! Schedules are paused only after the last hop ([`pause_schedules`]): 7.0.0 rewrites every
//! schedule, and a rehearsal must run that rewrite on the real schedules. Until then no Redash
//! process but the migration command runs against the copy. (Pausing a data source would not
//! do: Redash keeps that flag in Redis, not in the database.)
//!
//! References (upstream):
//! - alerts are checked, and their subscriptions notified, after their query runs:
//!   `v4.0.2:redash/tasks/alerts.py:19-57`, `v10.1.0:redash/tasks/alerts.py:10-65`; a muted
//!   alert notifies no one: `v10.1.0:redash/models/__init__.py:1067-1068`,
//!   `v10.1.0:redash/tasks/alerts.py:61`;
//! - the organization setting read before e-mailing about failed scheduled queries:
//!   `v10.1.0:redash/tasks/failure_report.py:70`, looked up under `settings`:
//!   `v10.1.0:redash/models/organizations.py:69-71`;
//! - a data source's pause lives in Redis: `v4.0.2:redash/models.py:639-647`,
//!   `v26.3.0:redash/models/__init__.py:245-253`.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::staging::Staging;
use crate::db::DbError;
use crate::knowledge::model::DataEffect;
use crate::knowledge::KnowledgeBase;
use crate::snapshot::canonical::hex;

/// Our schema in the staging database.
pub const SCHEMA: &str = "redash_upgrade";

/// What one neutralization step did.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Neutralized {
    pub step: String,
    pub what: String,
    pub rows: u64,
}

const SETUP: &str = "
CREATE SCHEMA IF NOT EXISTS redash_upgrade;
CREATE TABLE IF NOT EXISTS redash_upgrade.neutralized (
    id bigserial PRIMARY KEY,
    step text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('value', 'json-key', 'deleted-row', 'inserted-row')),
    table_name text NOT NULL,
    row_id text NOT NULL,
    column_name text,
    json_path text[],
    original jsonb,
    release text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS redash_upgrade.neutralization (
    step text PRIMARY KEY,
    release text NOT NULL,
    rows bigint NOT NULL,
    sql_sha256 text,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION redash_upgrade.capture() RETURNS trigger LANGUAGE plpgsql AS $capture$
DECLARE
    before jsonb;
    after jsonb;
    name text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'TRUNCATE % cannot be put back: use DELETE in --neutralize-sql', TG_TABLE_NAME;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO redash_upgrade.neutralized (step, kind, table_name, row_id, release)
        VALUES ('operator-sql', 'inserted-row', TG_TABLE_NAME, to_jsonb(NEW) ->> 'id', TG_ARGV[0]);
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO redash_upgrade.neutralized (step, kind, table_name, row_id, original, release)
        VALUES ('operator-sql', 'deleted-row', TG_TABLE_NAME, to_jsonb(OLD) ->> 'id', to_jsonb(OLD), TG_ARGV[0]);
        RETURN OLD;
    END IF;
    before := to_jsonb(OLD);
    after := to_jsonb(NEW);
    IF before -> 'id' IS DISTINCT FROM after -> 'id' THEN
        RAISE EXCEPTION 'changing the id of a row of % cannot be put back', TG_TABLE_NAME;
    END IF;
    FOR name IN SELECT jsonb_object_keys(before) LOOP
        IF before -> name IS DISTINCT FROM after -> name THEN
            INSERT INTO redash_upgrade.neutralized (step, kind, table_name, row_id, column_name, original, release)
            VALUES ('operator-sql', 'value', TG_TABLE_NAME, before ->> 'id', name, before -> name, TG_ARGV[0]);
        END IF;
    END LOOP;
    RETURN NEW;
END
$capture$;
";

/// Redash's tables that have an `id`, which the capture trigger records rows by.
const TABLES_WITH_ID: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1";

fn column_type_sql(table: &str, column: &str) -> String {
    format!(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = '{table}' AND a.attname = '{column}' \
         AND NOT a.attisdropped"
    )
}

async fn column_type(
    staging: &mut Staging,
    table: &str,
    column: &str,
) -> Result<Option<String>, DbError> {
    Ok(staging
        .texts("read a column's type", &column_type_sql(table, column))
        .await?
        .into_iter()
        .flatten()
        .next())
}

async fn count(staging: &mut Staging, what: &str, sql: &str) -> Result<u64, DbError> {
    Ok(staging
        .texts(what, sql)
        .await?
        .into_iter()
        .flatten()
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0))
}

/// Whether `step` was already applied (its transaction committed).
pub async fn applied(staging: &mut Staging, step: &str) -> Result<Option<u64>, DbError> {
    let exists = staging
        .texts(
            "look for the neutralization table",
            &format!("SELECT to_regclass('{SCHEMA}.neutralization')::text"),
        )
        .await?;
    if exists.first().cloned().flatten().is_none() {
        return Ok(None);
    }
    Ok(staging
        .texts(
            "read the neutralization record",
            &format!("SELECT rows::text FROM {SCHEMA}.neutralization WHERE step = '{step}'"),
        )
        .await?
        .into_iter()
        .flatten()
        .next()
        .and_then(|text| text.parse().ok()))
}

/// A JSON key set in every row of `table` where it differs, its original kept.
#[allow(clippy::too_many_arguments)]
async fn set_json_key(
    staging: &mut Staging,
    step: &str,
    table: &str,
    column: &str,
    path: &[&str],
    value: &str,
    only_where: &str,
    release: &str,
) -> Result<u64, DbError> {
    let Some(column_type) = column_type(staging, table, column).await? else {
        return Ok(0);
    };
    let path_literal = format!("'{{{}}}'", path.join(","));
    let differs = format!(
        "({column}::jsonb #> {path_literal}) IS DISTINCT FROM '{value}'::jsonb {only_where}"
    );
    let rows = count(
        staging,
        "count the rows to neutralize",
        &format!("SELECT count(*)::text FROM {table} WHERE {differs}"),
    )
    .await?;
    staging
        .execute(
            &format!("neutralize {table}.{column}"),
            &format!(
                "INSERT INTO {SCHEMA}.neutralized \
                   (step, kind, table_name, row_id, column_name, json_path, original, release) \
                 SELECT '{step}', 'json-key', '{table}', id::text, '{column}', {path_literal}::text[], \
                        {column}::jsonb #> {path_literal}, '{release}' FROM {table} WHERE {differs}; \
                 UPDATE {table} SET {column} = \
                   jsonb_set({column}::jsonb, {path_literal}, '{value}'::jsonb, true)::text::{column_type} \
                 WHERE {differs};"
            ),
        )
        .await?;
    Ok(rows)
}

/// What a step of [`neutralize`] did, as the report says it (a resumed run finds the step in
/// our record and must say it in the same words).
pub fn description(step: &str, sql_sha256: Option<&str>) -> String {
    match step {
        "mute-alerts" => "alerts muted (options.muted = true)".into(),
        "detach-destinations" => {
            "alert subscriptions (e-mail, Slack, webhook destinations) detached".into()
        }
        "failure-emails" => {
            "organizations' e-mail about failed scheduled queries turned off".into()
        }
        "operator-sql" => format!("--neutralize-sql (SHA-256 {})", sql_sha256.unwrap_or("")),
        _ => String::new(),
    }
}

/// The steps of [`neutralize`], in the order it does them.
pub const STEPS: [&str; 4] = [
    "mute-alerts",
    "detach-destinations",
    "failure-emails",
    "operator-sql",
];

async fn mark(
    staging: &mut Staging,
    step: &str,
    release: &str,
    rows: u64,
    sql_sha256: Option<&str>,
) -> Result<(), DbError> {
    let sum = sql_sha256.map_or("NULL".to_owned(), |sum| format!("'{sum}'"));
    staging
        .execute(
            "record the neutralization",
            &format!(
                "INSERT INTO {SCHEMA}.neutralization (step, release, rows, sql_sha256) \
                 VALUES ('{step}', '{release}', {rows}, {sum})"
            ),
        )
        .await
}

/// The release as our records write it: digits, dots and dashes only.
fn checked_release(release: &str) -> &str {
    assert!(release
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '-')));
    release
}

/// Neutralizes the copy in one transaction; `operator_sql` runs last, under the capture trigger.
pub async fn neutralize(
    staging: &mut Staging,
    release: &str,
    operator_sql: Option<&str>,
) -> Result<Vec<Neutralized>, DbError> {
    let release = checked_release(release);
    staging.execute("start the neutralization", "BEGIN").await?;
    let result = neutralize_in_transaction(staging, release, operator_sql).await;
    match result {
        Ok(done) => {
            staging
                .execute("commit the neutralization", "COMMIT")
                .await?;
            Ok(done)
        }
        Err(error) => {
            let _ = staging.execute("roll back", "ROLLBACK").await;
            Err(error)
        }
    }
}

async fn neutralize_in_transaction(
    staging: &mut Staging,
    release: &str,
    operator_sql: Option<&str>,
) -> Result<Vec<Neutralized>, DbError> {
    staging.execute("create our schema", SETUP).await?;
    let mut done = Vec::new();
    let muted = set_json_key(
        staging,
        "mute-alerts",
        "alerts",
        "options",
        &["muted"],
        "true",
        "",
        release,
    )
    .await?;
    done.push(Neutralized {
        step: "mute-alerts".into(),
        what: description("mute-alerts", None),
        rows: muted,
    });
    let subscriptions = count(
        staging,
        "count alert subscriptions",
        "SELECT count(*)::text FROM alert_subscriptions",
    )
    .await?;
    staging
        .execute(
            "detach alert destinations",
            &format!(
                "INSERT INTO {SCHEMA}.neutralized (step, kind, table_name, row_id, original, release) \
                 SELECT 'detach-destinations', 'deleted-row', 'alert_subscriptions', id::text, \
                        to_jsonb(s), '{release}' FROM alert_subscriptions s; \
                 DELETE FROM alert_subscriptions;"
            ),
        )
        .await?;
    done.push(Neutralized {
        step: "detach-destinations".into(),
        what: description("detach-destinations", None),
        rows: subscriptions,
    });
    let mails = set_json_key(
        staging,
        "failure-emails",
        "organizations",
        "settings",
        &["settings", "send_email_on_failed_scheduled_queries"],
        "false",
        "AND settings::jsonb #> '{settings,send_email_on_failed_scheduled_queries}' = 'true'::jsonb",
        release,
    )
    .await?;
    done.push(Neutralized {
        step: "failure-emails".into(),
        what: description("failure-emails", None),
        rows: mails,
    });
    for (step, rows) in [
        ("mute-alerts", muted),
        ("detach-destinations", subscriptions),
        ("failure-emails", mails),
    ] {
        mark(staging, step, release, rows, None).await?;
    }
    if let Some(sql) = operator_sql {
        let rows = run_captured(staging, sql, release).await?;
        let sum = hex(&Sha256::digest(sql.as_bytes()));
        mark(staging, "operator-sql", release, rows, Some(&sum)).await?;
        done.push(Neutralized {
            step: "operator-sql".into(),
            what: description("operator-sql", Some(&sum)),
            rows,
        });
    }
    Ok(done)
}

/// Runs the operator's SQL with the capture trigger on every table that has an `id`, and
/// returns how many changes it recorded.
async fn run_captured(staging: &mut Staging, sql: &str, release: &str) -> Result<u64, DbError> {
    let tables: Vec<String> = staging
        .texts("list Redash's tables", TABLES_WITH_ID)
        .await?
        .into_iter()
        .flatten()
        .filter(|table| table != "alembic_version")
        .collect();
    let before = count(
        staging,
        "count our records",
        &format!("SELECT count(*)::text FROM {SCHEMA}.neutralized"),
    )
    .await?;
    let mut create = String::new();
    let mut drop = String::new();
    for table in &tables {
        let quoted = crate::db::quote_ident(table);
        create.push_str(&format!(
            "CREATE TRIGGER redash_upgrade_capture AFTER INSERT OR UPDATE OR DELETE ON {quoted} \
             FOR EACH ROW EXECUTE PROCEDURE {SCHEMA}.capture('{release}'); \
             CREATE TRIGGER redash_upgrade_no_truncate BEFORE TRUNCATE ON {quoted} \
             FOR EACH STATEMENT EXECUTE PROCEDURE {SCHEMA}.capture('{release}'); "
        ));
        drop.push_str(&format!(
            "DROP TRIGGER redash_upgrade_capture ON {quoted}; \
             DROP TRIGGER redash_upgrade_no_truncate ON {quoted}; "
        ));
    }
    staging
        .execute("install the capture triggers", &create)
        .await?;
    staging.execute("run --neutralize-sql", sql).await?;
    staging
        .execute("remove the capture triggers", &drop)
        .await?;
    let after = count(
        staging,
        "count our records",
        &format!("SELECT count(*)::text FROM {SCHEMA}.neutralized"),
    )
    .await?;
    Ok(after - before)
}

/// After the last hop: every schedule set to NULL, the original kept.
pub async fn pause_schedules(staging: &mut Staging, release: &str) -> Result<u64, DbError> {
    let release = checked_release(release);
    staging.execute("start pausing schedules", "BEGIN").await?;
    let result = async {
        staging.execute("create our schema", SETUP).await?;
        let rows = count(
            staging,
            "count scheduled queries",
            "SELECT count(*)::text FROM queries WHERE schedule IS NOT NULL",
        )
        .await?;
        staging
            .execute(
                "pause every schedule",
                &format!(
                    "INSERT INTO {SCHEMA}.neutralized \
                       (step, kind, table_name, row_id, column_name, original, release) \
                     SELECT 'pause-schedules', 'value', 'queries', id::text, 'schedule', \
                            to_jsonb(schedule), '{release}' FROM queries WHERE schedule IS NOT NULL; \
                     UPDATE queries SET schedule = NULL WHERE schedule IS NOT NULL;"
                ),
            )
            .await?;
        mark(staging, "pause-schedules", release, rows, None).await?;
        Ok(rows)
    }
    .await;
    match result {
        Ok(rows) => {
            staging.execute("commit", "COMMIT").await?;
            Ok(rows)
        }
        Err(error) => {
            let _ = staging.execute("roll back", "ROLLBACK").await;
            Err(error)
        }
    }
}

/// One kept original.
#[derive(Debug, Clone)]
struct Record {
    id: i64,
    step: String,
    kind: String,
    table: String,
    row_id: String,
    column: Option<String>,
    release: String,
}

/// What `--restore-neutralized` did or would do.
#[derive(Debug, Clone, Serialize)]
pub struct PutBack {
    pub database: String,
    pub dry_run: bool,
    /// Per step: how many values or rows.
    pub steps: Vec<Neutralized>,
    /// Originals that cannot be put back faithfully, and why; with any, nothing is written.
    pub refused: Vec<String>,
}

/// Why an original kept at `record.release` cannot be written back at `now`: a migration in
/// between rewrote, moved or dropped its column (a retyping is fine: the value is cast).
fn refusal(knowledge: &KnowledgeBase, record: &Record, now: &semver::Version) -> Option<String> {
    let kept_at = semver::Version::parse(&record.release).ok()?;
    for release in knowledge
        .releases
        .iter()
        .filter(|release| release.version > kept_at && &release.version <= now)
    {
        for revision in &release.migrations {
            for effect in &revision.data_effects {
                if effect.table() != record.table {
                    continue;
                }
                let harmless = matches!(
                    effect,
                    DataEffect::Retyped { .. }
                        | DataEffect::ColumnAdded { .. }
                        | DataEffect::TableAdded { .. }
                );
                let touches = match (&record.kind[..], &record.column) {
                    ("value", Some(column)) => effect.columns().contains(&column.as_str()),
                    ("deleted-row", _) => true,
                    _ => false,
                };
                if touches && !(harmless && record.kind == "value") {
                    return Some(format!(
                        "{}.{} of row {} ({}): kept at {}, and {} ({}) changed it since",
                        record.table,
                        record.column.as_deref().unwrap_or("*"),
                        record.row_id,
                        record.step,
                        record.release,
                        revision.revision,
                        release.version
                    ));
                }
            }
        }
    }
    None
}

/// Puts every kept original back, newest record first, in one transaction, then removes our
/// schema. `now` is the release the copy is at.
pub async fn restore_neutralized(
    knowledge: &KnowledgeBase,
    staging: &mut Staging,
    now: &semver::Version,
    dry_run: bool,
) -> Result<PutBack, DbError> {
    let database = staging.url().redacted();
    let exists = staging
        .texts(
            "look for our schema",
            &format!("SELECT to_regclass('{SCHEMA}.neutralized')::text"),
        )
        .await?;
    if exists.first().cloned().flatten().is_none() {
        return Ok(PutBack {
            database,
            dry_run,
            steps: Vec::new(),
            refused: Vec::new(),
        });
    }
    let rows = staging
        .texts(
            "read the kept originals",
            &format!(
                "SELECT json_build_array(id, step, kind, table_name, row_id, column_name, release)::text \
                 FROM {SCHEMA}.neutralized ORDER BY id DESC"
            ),
        )
        .await?;
    let mut records = Vec::new();
    for row in rows.into_iter().flatten() {
        let value: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
        let text = |index: usize| value[index].as_str().map(str::to_owned);
        records.push(Record {
            id: value[0].as_i64().unwrap_or(0),
            step: text(1).unwrap_or_default(),
            kind: text(2).unwrap_or_default(),
            table: text(3).unwrap_or_default(),
            row_id: text(4).unwrap_or_default(),
            column: text(5),
            release: text(6).unwrap_or_default(),
        });
    }
    let mut steps: Vec<Neutralized> = Vec::new();
    for record in &records {
        match steps.iter_mut().find(|step| step.step == record.step) {
            Some(step) => step.rows += 1,
            None => steps.push(Neutralized {
                step: record.step.clone(),
                what: String::new(),
                rows: 1,
            }),
        }
    }
    let refused: Vec<String> = records
        .iter()
        .filter_map(|record| refusal(knowledge, record, now))
        .collect();
    if dry_run || !refused.is_empty() {
        return Ok(PutBack {
            database,
            dry_run,
            steps,
            refused,
        });
    }
    let mut sql = String::from("BEGIN;");
    for record in &records {
        let table = crate::db::quote_ident(&record.table);
        let source = format!(
            "(SELECT * FROM {SCHEMA}.neutralized WHERE id = {})",
            record.id
        );
        let statement = match (&record.kind[..], &record.column) {
            ("value", Some(column)) => {
                let quoted = crate::db::quote_ident(column);
                format!(
                    "UPDATE {table} t SET {quoted} = (jsonb_populate_record(NULL::{table}, \
                       jsonb_build_object('{column}', n.original))).{quoted} \
                     FROM {source} n WHERE t.id::text = n.row_id;"
                )
            }
            ("json-key", Some(column)) => {
                let quoted = crate::db::quote_ident(column);
                let column_type = column_type(staging, &record.table, column)
                    .await?
                    .unwrap_or_else(|| "text".into());
                format!(
                    "UPDATE {table} t SET {quoted} = (CASE WHEN n.original IS NULL \
                       THEN t.{quoted}::jsonb #- n.json_path \
                       ELSE jsonb_set(t.{quoted}::jsonb, n.json_path, n.original, true) END)::text::{column_type} \
                     FROM {source} n WHERE t.id::text = n.row_id;"
                )
            }
            ("deleted-row", _) => format!(
                "INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, n.original)).* \
                 FROM {source} n;"
            ),
            ("inserted-row", _) => {
                format!("DELETE FROM {table} t USING {source} n WHERE t.id::text = n.row_id;")
            }
            _ => continue,
        };
        sql.push_str(&statement);
    }
    sql.push_str(&format!("DROP SCHEMA {SCHEMA} CASCADE; COMMIT;"));
    if let Err(error) = staging.execute("put the originals back", &sql).await {
        let _ = staging.execute("roll back", "ROLLBACK").await;
        return Err(error);
    }
    Ok(PutBack {
        database,
        dry_run,
        steps,
        refused,
    })
}
