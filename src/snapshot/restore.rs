//! `restore`: a snapshot into a staging database with the real `pg_restore`, then the manifest
//! recomputed on the copy and compared with the snapshot's. Only then is the snapshot
//! restore-tested.
//!
//! It refuses a target that is not empty (the classic failure: a new install's `create_db`
//! already made Redash's tables there) unless `--clean`, and the very database the snapshot
//! came from unless told it really is meant.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Row as _;
use tokio::io::AsyncReadExt as _;

use super::content::read_identity;
use super::manifest;
use super::tools;
use super::SnapshotError;
use crate::db::{DatabaseUrl, ReadOnlySession, Timeouts};
use crate::knowledge::KnowledgeBase;
use crate::report::Progress;
use crate::verify::{self, Mode, VerifyReport};

/// Lines of `pg_restore`'s own messages kept in an error.
const OUTPUT_LINES_KEPT: usize = 20;

pub struct RestoreRequest {
    pub directory: PathBuf,
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    /// Drop what the target holds first (`pg_restore --clean --if-exists`).
    pub clean: bool,
    pub jobs: u32,
    /// Restore even into the database the snapshot was taken from.
    pub production_ok: bool,
    /// Say what would be done, and do nothing.
    pub dry_run: bool,
    pub pg_bindir: Option<PathBuf>,
    pub progress: Progress,
}

/// What was restored and what the comparison found.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub snapshot: String,
    pub database: String,
    /// What the target held before (`empty`, or what `--clean` dropped).
    pub target_before: String,
    /// The `pg_restore` command line (no secret on it).
    pub command: String,
    pub dry_run: bool,
    #[serde(skip)]
    pub restore_time: Duration,
    #[serde(skip)]
    pub check_time: Duration,
    /// The comparison of the restored copy with the manifest; `None` on a dry run.
    pub comparison: Option<VerifyReport>,
}

impl RestoreOutcome {
    /// Restored and identical to the manifest.
    pub fn restore_tested(&self) -> bool {
        self.comparison.as_ref().is_some_and(VerifyReport::verified)
    }
}

/// Restores `request.directory` into `request.url`. `confirm` is asked (with what will be done)
/// after every check passed and before anything is written; it says whether to go on.
pub async fn restore(
    knowledge: &KnowledgeBase,
    request: RestoreRequest,
    confirm: &(dyn Fn(&str) -> bool + Sync),
) -> Result<RestoreOutcome, SnapshotError> {
    let (baseline, problems) = manifest::open(&request.directory)?;
    if !problems.is_empty() {
        return Err(SnapshotError::SnapshotDamaged(
            request.directory.display().to_string(),
        ));
    }
    let pg_restore = tools::find("pg_restore", request.pg_bindir.as_deref())?;
    let dump_major = tools::major_in(&baseline.dump.pg_dump_version).unwrap_or(0);
    if pg_restore.major < dump_major {
        let wanted = baseline.dump.pg_dump_version.clone();
        return Err(SnapshotError::ToolTooOld {
            tool: pg_restore.path.display().to_string(),
            version: pg_restore.major_text(),
            needed: format!("the pg_dump that made this snapshot ({wanted})"),
            hint:
                "install a PostgreSQL client at least as new as that pg_dump, or give --pg-bindir"
                    .into(),
        });
    }

    let mut session = ReadOnlySession::open(&request.url, request.timeouts).await?;
    let (system_identifier, database) = read_identity(&mut session).await?;
    let server = session
        .fetch_one(
            "read the server version",
            sqlx::query("SELECT current_setting('server_version_num')::int"),
        )
        .await?
        .get::<i32, _>(0);
    let contents = target_contents(&mut session).await?;
    session.close().await;
    tools::require_at_least_server(&pg_restore, server)?;

    let redacted = request.url.redacted();
    if system_identifier == baseline.source.system_identifier
        && database == baseline.source.database
        && !request.production_ok
    {
        return Err(SnapshotError::TargetIsSource { database: redacted });
    }
    let target_before = match (&contents, request.clean) {
        (None, _) => "empty".to_owned(),
        (Some(found), true) => format!("{found}, dropped by --clean"),
        (Some(found), false) => {
            return Err(SnapshotError::TargetNotEmpty {
                database: redacted,
                found: found.clone(),
            })
        }
    };

    let dump_path = request.directory.join(&baseline.dump.path);
    let (command, _password_file) = tools::command(&pg_restore, &request.url)?;
    let mut command = tokio::process::Command::from(command);
    // Staging has its own roles: objects belong to whoever restores, and grants of
    // production's roles are not replayed.
    command.args(["--no-owner", "--no-privileges"]);
    command.arg(format!("--jobs={}", request.jobs.max(1)));
    if request.clean {
        command.args(["--clean", "--if-exists"]);
    }
    command.arg(format!("--dbname={database}")).arg(&dump_path);
    let shown = format!(
        "{} --no-password --no-owner --no-privileges --jobs={}{} --dbname={database} {}",
        pg_restore.path.display(),
        request.jobs.max(1),
        if request.clean {
            " --clean --if-exists"
        } else {
            ""
        },
        dump_path.display()
    );
    if request.dry_run {
        return Ok(RestoreOutcome {
            kind: "restore",
            snapshot: request.directory.display().to_string(),
            database: redacted,
            target_before,
            command: shown,
            dry_run: true,
            restore_time: Duration::ZERO,
            check_time: Duration::ZERO,
            comparison: None,
        });
    }
    let question = format!(
        "Restore the snapshot {} (taken {} from {}) into {redacted} ({target_before})?",
        request.directory.display(),
        baseline.taken_at,
        baseline.source.database_url
    );
    if !confirm(&question) {
        return Err(SnapshotError::NotConfirmed);
    }

    let started = Instant::now();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| SnapshotError::Io {
        path: pg_restore.path.clone(),
        source,
    })?;
    let mut output = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut output).await;
    }
    let status = child.wait().await.map_err(|source| SnapshotError::Io {
        path: pg_restore.path.clone(),
        source,
    })?;
    if !status.success() {
        let lines: Vec<&str> = output.lines().collect();
        let kept = lines[lines.len().saturating_sub(OUTPUT_LINES_KEPT)..].join("\n");
        return Err(SnapshotError::ToolFailed {
            tool: "pg_restore".into(),
            status: status.to_string(),
            output: crate::db::redact(&kept),
        });
    }
    let restore_time = started.elapsed();
    let checked = Instant::now();
    let comparison = verify::compare_live(
        knowledge,
        &baseline,
        &request.directory,
        &request.url,
        request.timeouts,
        None,
        None,
        Mode::Restore,
        request.progress,
    )
    .await?;
    Ok(RestoreOutcome {
        kind: "restore",
        snapshot: request.directory.display().to_string(),
        database: redacted,
        target_before,
        command: shown,
        dry_run: false,
        restore_time,
        check_time: checked.elapsed(),
        comparison: Some(comparison),
    })
}

/// `None` when the database has no table, view, sequence or function of its own; else what it
/// has, naming a Redash install's tables when it finds them.
async fn target_contents(session: &mut ReadOnlySession) -> Result<Option<String>, SnapshotError> {
    let row = session
        .fetch_one(
            "see whether the target is empty",
            sqlx::query(
                "SELECT \
                   (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'), \
                   (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')), \
                   to_regclass('alembic_version') IS NOT NULL, \
                   to_regclass('queries') IS NOT NULL",
            ),
        )
        .await?;
    let relations: i64 = row.get(0);
    let functions: i64 = row.get(1);
    let alembic: bool = row.get(2);
    let queries: bool = row.get(3);
    if relations == 0 && functions == 0 {
        return Ok(None);
    }
    let mut found = format!("{relations} tables, views or sequences and {functions} functions");
    if alembic || queries {
        let stamp = if alembic {
            session
                .fetch_all(
                    "read its alembic stamp",
                    sqlx::query("SELECT version_num::text FROM alembic_version"),
                )
                .await?
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        found.push_str(&format!(
            "; it already holds Redash's tables{}: a new install's create_db initialised it, and a restore on top of that fails or mixes two databases",
            if stamp.is_empty() { String::new() } else { format!(" (alembic at {stamp})") }
        ));
    }
    Ok(Some(found))
}
