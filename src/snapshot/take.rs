//! `snapshot`: `pg_dump` and the manifest, at one instant, written atomically.
//!
//! The run's read-only transaction exports its snapshot before reading anything; `pg_dump
//! --snapshot` dumps exactly that instant while other connections, importing the same snapshot,
//! read every table for the manifest. Everything is written in a directory beside `--out` whose
//! name says it is unfinished, each file fsynced; the manifest (with every file's size and
//! SHA-256) comes last, then the directory is renamed to `--out`. A run stopped at any moment
//! leaves either nothing at `--out` or a complete snapshot.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::canonical::hex;
use super::content::{read_identity, read_tables, snapshot_plans, TableContent, TablePlan};
use super::manifest::{
    self, Alembic, Dump, FileEntry, Manifest, ReleaseAtSnapshot, RowDigests, TableManifest,
    MANIFEST_FILE, MANIFEST_SUM_FILE,
};
use super::stream;
use super::tools::{self, Tool};
use super::{sync_directory, SnapshotError};
use crate::checks::LiveDatabase;
use crate::db::{DatabaseUrl, ReadOnlySession, Timeouts};
use crate::detect::{self, DriftBaseline};
use crate::knowledge::KnowledgeBase;
use crate::report::Progress;

/// The manifest's format; a reader refuses a newer one.
pub const FORMAT_VERSION: u32 = 1;

/// What `snapshot` needs.
pub struct SnapshotRequest {
    pub url: DatabaseUrl,
    pub timeouts: Timeouts,
    pub out: PathBuf,
    /// 1: one custom-format file. More: directory format, dumped by that many connections.
    pub jobs: u32,
    /// Where `pg_dump` is, when not on PATH or in the usual places.
    pub pg_bindir: Option<PathBuf>,
    pub progress: Progress,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    pub directory: PathBuf,
    pub manifest: Manifest,
    pub pg_dump: PathBuf,
    /// Wall time of `pg_dump` alone, and of the whole snapshot.
    pub dump_time: Duration,
    pub total_time: Duration,
}

/// Takes a snapshot of the database at `request.url` into `request.out`.
pub async fn take(
    knowledge: &KnowledgeBase,
    request: SnapshotRequest,
) -> Result<SnapshotSummary, SnapshotError> {
    let started = Instant::now();
    let out = request.out.clone();
    if occupied(&out) {
        return Err(SnapshotError::Exists(out));
    }
    let parent = out
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    if !parent.is_dir() {
        return Err(SnapshotError::ParentMissing(parent));
    }
    let pg_dump = tools::find("pg_dump", request.pg_bindir.as_deref())?;
    let pg_dump_path = pg_dump.path.clone();
    let pg_dump_version = pg_dump.version_text.clone();

    let (mut session, exported) =
        ReadOnlySession::open_exporting(&request.url, request.timeouts).await?;
    let Some(snapshot_id) = exported else {
        session.close().await;
        return Err(SnapshotError::NoExportedSnapshot(
            "a standby before PostgreSQL 10, or a server that forbids it".into(),
        ));
    };
    let detection = detect::detect(knowledge, &mut session).await?;
    let identity = read_identity(&mut session).await?;
    let taken_at = read_instant(&mut session).await?;
    tools::require_at_least_server(&pg_dump, detection.server.server_version_num)?;

    let partial = manifest::partial_directory(&out);
    std::fs::create_dir(&partial).map_err(|source| SnapshotError::Io {
        path: partial.clone(),
        source,
    })?;
    let cleanup = RemoveUnlessKept::new(partial.clone());

    let plans = snapshot_plans(knowledge, &detection.catalog);
    let source = manifest::Source {
        database_url: request.url.redacted(),
        database: identity.1.clone(),
        server_version: detection.server.server_version.clone(),
        server_version_num: detection.server.server_version_num,
        system_identifier: identity.0.clone(),
    };
    let release = ReleaseAtSnapshot {
        candidates: detection.candidates.clone(),
        drift: DriftBaseline::accepting(&detection.drift, &request.url.redacted()),
        other_drift: {
            let mut rest = detection.drift.clone();
            rest.extra_tables.clear();
            rest.extra_columns.clear();
            rest.extra_indexes.clear();
            rest.extra_constraints.clear();
            rest.extra_triggers.clear();
            crate::verify::describe_drift(&rest)
        },
    };
    let alembic = Alembic {
        revisions: detection.stamp_revisions.clone(),
    };

    let (dump_files, contents, dump_time) = if request.jobs > 1 {
        // Directory format: pg_dump's connections write the files while ours read the tables
        // at the same snapshot.
        let database = LiveDatabase::new(
            session,
            Some(snapshot_id.clone()),
            detection,
            None,
            false,
            request.progress.clone(),
        );
        let dump = run_pg_dump(&pg_dump, &request, &partial, &snapshot_id);
        let reading = read_tables(&database, &plans);
        let (dumped, read) = tokio::join!(dump, reading);
        database.close().await;
        let (files, dump_time) = dumped?;
        (files, read?, dump_time)
    } else {
        // One custom-format file: the manifest is read from the dump's own data, so the
        // database is read once. The exporting transaction stays open until pg_dump is done.
        let pg_restore = companion(&pg_dump, "pg_restore")?;
        let schema = current_schema(&mut session).await?;
        let (url, progress) = (request.url.clone(), request.progress.clone());
        let (file, plans_for_dump) = (partial.join(DUMP_NAME), plans.clone());
        let id = snapshot_id.clone();
        let streamed = tokio::task::spawn_blocking(move || {
            stream::dump_and_digest(
                &pg_dump,
                &pg_restore,
                &url,
                &id,
                &schema,
                &plans_for_dump,
                &file,
                DUMP_NAME,
                &progress,
            )
        })
        .await
        .map_err(|error| SnapshotError::Read(format!("the dump stopped: {error}")))?;
        session.close().await;
        let streamed = streamed?;
        (vec![streamed.dump], streamed.contents, streamed.dump_time)
    };

    let mut files = dump_files;
    let mut tables = Vec::with_capacity(plans.len());
    for (plan, content) in plans.iter().zip(contents) {
        let (table, rows_file) = table_manifest(plan, content);
        if let Some((relative, text)) = rows_file {
            files.push(write_synced(&partial, &relative, text.as_bytes())?);
        }
        tables.push(table);
    }
    let manifest = Manifest {
        kind: manifest::KIND.to_owned(),
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        taken_at,
        source,
        alembic,
        release,
        dump: Dump {
            format: if request.jobs > 1 {
                "directory"
            } else {
                "custom"
            }
            .to_owned(),
            path: DUMP_NAME.to_owned(),
            pg_dump_version,
            jobs: request.jobs.max(1),
        },
        files,
        tables,
    };
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|error| SnapshotError::Io {
        path: partial.join(MANIFEST_FILE),
        source: error.into(),
    })?;
    text.push(b'\n');
    write_synced(&partial, MANIFEST_FILE, &text)?;
    let sum = format!(
        "{}  {MANIFEST_FILE}\n",
        hex(Sha256::digest(&text).as_slice())
    );
    write_synced(&partial, MANIFEST_SUM_FILE, sum.as_bytes())?;
    sync_directory(&partial)?;
    if occupied(&out) {
        return Err(SnapshotError::Exists(out));
    }
    // rename(2) will not replace a directory that has anything in it: a snapshot that appeared
    // at `out` meanwhile survives.
    std::fs::rename(&partial, &out).map_err(|source| SnapshotError::Io {
        path: out.clone(),
        source,
    })?;
    cleanup.keep();
    sync_directory(&parent)?;
    Ok(SnapshotSummary {
        directory: out,
        manifest,
        pg_dump: pg_dump_path,
        dump_time,
        total_time: started.elapsed(),
    })
}

/// `name` (pg_restore) from the directory of `tool` (pg_dump), so their versions match; else
/// the newest found.
fn companion(tool: &Tool, name: &str) -> Result<Tool, SnapshotError> {
    match tool.path.parent() {
        Some(directory) if directory.join(name).is_file() => {
            tools::find(name, Some(directory)).or_else(|_| tools::find(name, None))
        }
        _ => tools::find(name, None),
    }
}

async fn current_schema(session: &mut ReadOnlySession) -> Result<String, SnapshotError> {
    let row = session
        .fetch_one(
            "read the current schema",
            sqlx::query("SELECT current_schema()::text"),
        )
        .await?;
    Ok(sqlx::Row::get(&row, 0))
}

/// Whether anything is at `path`, a dangling symbolic link included.
fn occupied(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The dump's name in the snapshot: a file (custom format) or a directory (directory format).
pub const DUMP_NAME: &str = "dump";

/// The table's manifest entry and, for a table of users' work, its rows file.
fn table_manifest(
    plan: &TablePlan,
    content: TableContent,
) -> (TableManifest, Option<(String, String)>) {
    let row_digests = plan.stable.as_ref().map(|stable| RowDigests {
        path: format!("rows/{}.tsv", plan.table),
        stable: stable
            .iter()
            .map(|&index| plan.columns[index].name.clone())
            .collect(),
        separate: plan
            .separate
            .iter()
            .map(|digest| digest.name.clone())
            .collect(),
    });
    let rows_file = match (&row_digests, content.records) {
        (Some(digests), Some(records)) => {
            let mut rows: Vec<_> = records
                .into_iter()
                .map(|(key, record)| (key, record.to_record()))
                .collect();
            Some((
                digests.path.clone(),
                manifest::rows_file_text(digests, &mut rows),
            ))
        }
        _ => None,
    };
    (
        TableManifest {
            name: plan.table.clone(),
            rows: content.rows,
            content_sha256: content.content_sha256,
            columns: plan.columns.clone(),
            primary_key: plan
                .key
                .iter()
                .map(|&index| plan.columns[index].name.clone())
                .collect(),
            row_digests,
        },
        rows_file,
    )
}

/// Runs `pg_dump` at the exported snapshot. The custom format is streamed from its stdout into
/// the file and hashed on the way; the directory format's files are hashed after.
async fn run_pg_dump(
    pg_dump: &Tool,
    request: &SnapshotRequest,
    partial: &Path,
    snapshot_id: &str,
) -> Result<(Vec<FileEntry>, Duration), SnapshotError> {
    let started = Instant::now();
    let (command, _password_file) = tools::command(pg_dump, &request.url)?;
    let mut command = tokio::process::Command::from(command);
    // The dump's values in the text our sessions read (verify's diffs quote them).
    command.env("PGOPTIONS", stream::VALUE_OPTIONS);
    command
        .arg(format!("--snapshot={snapshot_id}"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let directory_format = request.jobs > 1;
    if directory_format {
        command
            .arg("--format=directory")
            .arg(format!("--jobs={}", request.jobs))
            .arg("--file")
            .arg(partial.join(DUMP_NAME))
            .stdout(Stdio::null());
    } else {
        command.arg("--format=custom").stdout(Stdio::piped());
    }
    let failed = |source: std::io::Error| SnapshotError::Io {
        path: pg_dump.path.clone(),
        source,
    };
    let mut child = command.spawn().map_err(failed)?;
    let mut stderr = child.stderr.take();
    let read_errors = async {
        let mut text = String::new();
        if let Some(stderr) = &mut stderr {
            let _ = stderr.read_to_string(&mut text).await;
        }
        text
    };
    let stream = async {
        let Some(mut stdout) = child.stdout.take() else {
            return Ok(None);
        };
        let path = partial.join(DUMP_NAME);
        let io = |source| SnapshotError::Io {
            path: path.clone(),
            source,
        };
        let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let read = stdout.read(&mut buffer).await.map_err(io)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read]).await.map_err(io)?;
            bytes += read as u64;
        }
        file.sync_all().await.map_err(io)?;
        Ok::<_, SnapshotError>(Some(FileEntry {
            path: DUMP_NAME.to_owned(),
            bytes,
            sha256: hex(hasher.finalize().as_slice()),
        }))
    };
    let (streamed, errors) = tokio::join!(stream, read_errors);
    let status = child.wait().await.map_err(failed)?;
    if !status.success() {
        return Err(SnapshotError::ToolFailed {
            tool: "pg_dump".into(),
            status: status.to_string(),
            output: crate::db::redact(errors.trim()),
        });
    }
    let streamed = streamed?;
    let dump_time = started.elapsed();
    let files = match streamed {
        Some(entry) => vec![entry],
        None => {
            let root = partial.join(DUMP_NAME);
            let mut names: Vec<String> = std::fs::read_dir(&root)
                .map_err(|source| SnapshotError::Io {
                    path: root.clone(),
                    source,
                })?
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let mut entries = Vec::with_capacity(names.len());
            for name in names {
                let relative = format!("{DUMP_NAME}/{name}");
                let path = partial.join(&relative);
                std::fs::File::open(&path)
                    .and_then(|file| file.sync_all())
                    .map_err(|source| SnapshotError::Io {
                        path: path.clone(),
                        source,
                    })?;
                entries.push(manifest::file_entry(partial, &relative)?);
            }
            sync_directory(&root)?;
            entries
        }
    };
    Ok((files, dump_time))
}

/// Writes `bytes` to `relative` under `root` (creating its directory), fsynced, and returns its
/// entry for the manifest.
fn write_synced(root: &Path, relative: &str, bytes: &[u8]) -> Result<FileEntry, SnapshotError> {
    use std::io::Write as _;
    let path = root.join(relative);
    let io = |source| SnapshotError::Io {
        path: path.clone(),
        source,
    };
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    if let Some(directory) = path.parent() {
        sync_directory(directory)?;
    }
    Ok(FileEntry {
        path: relative.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex(Sha256::digest(bytes).as_slice()),
    })
}

/// The instant the transaction sees (its start), in UTC.
async fn read_instant(session: &mut ReadOnlySession) -> Result<String, SnapshotError> {
    let row = session
        .fetch_one(
            "read the time",
            sqlx::query(
                "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            ),
        )
        .await?;
    Ok(sqlx::Row::get(&row, 0))
}

/// Removes an unfinished snapshot directory when the run fails or is interrupted (a `kill -9`
/// leaves it, under its unfinished name).
struct RemoveUnlessKept {
    path: Option<PathBuf>,
}

impl RemoveUnlessKept {
    fn new(path: PathBuf) -> RemoveUnlessKept {
        RemoveUnlessKept { path: Some(path) }
    }

    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveUnlessKept {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}
