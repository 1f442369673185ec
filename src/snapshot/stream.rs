//! The manifest read from the dump itself: `pg_dump`'s custom-format output is written to the
//! snapshot's file (hashed on the way) and, at the same time, fed to `pg_restore --data-only`,
//! whose `COPY ... FROM stdin` blocks are digested table by table. The database is read once,
//! and the manifest describes exactly what the dump holds.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::canonical::hex;
use super::content::{digest_row, summarise, Partial, TableContent, TablePlan};
use super::manifest::FileEntry;
use super::tools::{self, Tool};
use super::SnapshotError;
use crate::db::DatabaseUrl;
use crate::report::Progress;

/// Values in the text every read-only session of ours prints them in (pg_dump sets DateStyle,
/// IntervalStyle and extra_float_digits itself).
pub const VALUE_OPTIONS: &str = "-c TimeZone=UTC -c bytea_output=hex";

/// Rows between two updates of a table's progress bar.
const PROGRESS_EVERY: u64 = 4096;

/// How much pg_restore and the digesting thread yield to pg_dump when the cores are busy.
const YIELDING_NICENESS: libc::c_int = 10;

/// Lowers this thread's priority (Linux: a thread's own nice value); a thread of its own, so
/// nothing else of the run is slowed.
fn yield_to_the_dump() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on this thread's own id.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, YIELDING_NICENESS);
    }
}

/// A child process killed (and reaped) if the run ends before it does.
struct Reaped(Option<Child>);

impl Reaped {
    fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        let mut child = self.0.take().expect("waited once");
        child.wait()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the streamed dump gave: the dump file's entry, every planned table's content (in the
/// order of `plans`), and how long `pg_dump` ran.
pub struct Streamed {
    pub dump: FileEntry,
    pub contents: Vec<TableContent>,
    pub dump_time: Duration,
}

/// Runs `pg_dump --format=custom --snapshot=ID` into `file` and reads its table data through
/// `pg_restore --data-only`, digesting every table of `plans` (the current schema's tables).
#[allow(clippy::too_many_arguments)]
pub fn dump_and_digest(
    pg_dump: &Tool,
    pg_restore: &Tool,
    url: &DatabaseUrl,
    snapshot_id: &str,
    schema: &str,
    plans: &[TablePlan],
    file: &Path,
    relative: &str,
    progress: &Progress,
) -> Result<Streamed, SnapshotError> {
    let started = Instant::now();
    let spawn_failed = |tool: &Tool| {
        let path = tool.path.clone();
        move |source| SnapshotError::Io { path, source }
    };
    let (mut dump, _password) = tools::command(pg_dump, url)?;
    dump.env("PGOPTIONS", VALUE_OPTIONS)
        .arg(format!("--snapshot={snapshot_id}"))
        .arg("--format=custom")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut dump = dump.spawn().map_err(spawn_failed(pg_dump))?;
    let dump_out = dump.stdout.take().expect("piped");
    let dump_errors = dump.stderr.take().expect("piped");
    let dump = Reaped(Some(dump));
    let mut restore = std::process::Command::new(&pg_restore.path);
    // It reads the archive on stdin and connects nowhere: it needs no connection setting.
    for name in [
        "REDASH_DATABASE_URL",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGOPTIONS",
    ] {
        restore.env_remove(name);
    }
    restore
        .args(["--data-only", "--file=-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // pg_dump (one core compressing) sets the pace: what reads its output yields to it.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: nice(2) is async-signal-safe and touches nothing of the parent.
        unsafe {
            restore.pre_exec(|| {
                libc::nice(YIELDING_NICENESS);
                Ok(())
            });
        }
    }
    let mut restore = restore.spawn().map_err(spawn_failed(pg_restore))?;
    let restore_in = restore.stdin.take().expect("piped");
    let restore_out = restore.stdout.take().expect("piped");
    let restore_errors = restore.stderr.take().expect("piped");
    let restore = Reaped(Some(restore));

    let read_all = |mut pipe: std::process::ChildStderr| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let dump_errors = read_all(dump_errors);
    let restore_errors = read_all(restore_errors);
    let tee = {
        let file = file.to_owned();
        let relative = relative.to_owned();
        std::thread::spawn(move || tee(dump_out, restore_in, &file, &relative))
    };

    let by_name: BTreeMap<&str, usize> = plans
        .iter()
        .enumerate()
        .map(|(index, plan)| (plan.table.as_str(), index))
        .collect();
    let mut found: Vec<Option<TableContent>> = vec![None; plans.len()];
    let parsed = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                yield_to_the_dump();
                read_copy_blocks(restore_out, schema, &by_name, plans, &mut found, progress)
            })
            .join()
            .expect("the digesting thread does not panic")
    });

    let dump_status = dump.wait();
    let dump_time = started.elapsed();
    let entry = tee.join().expect("the tee thread does not panic");
    let restore_status = restore.wait();
    let dump_errors = dump_errors.join().unwrap_or_default();
    let restore_errors = restore_errors.join().unwrap_or_default();
    let failed = |tool: &str, status: String, output: &str| SnapshotError::ToolFailed {
        tool: tool.to_owned(),
        status,
        output: crate::db::redact(output.trim()),
    };
    match dump_status {
        Ok(status) if status.success() => {}
        Ok(status) => return Err(failed("pg_dump", status.to_string(), &dump_errors)),
        Err(source) => return Err(spawn_failed(pg_dump)(source)),
    }
    let entry = entry?;
    match restore_status {
        Ok(status) if status.success() => {}
        Ok(status) => return Err(failed("pg_restore", status.to_string(), &restore_errors)),
        Err(source) => return Err(spawn_failed(pg_restore)(source)),
    }
    parsed.map_err(|source| SnapshotError::Io {
        path: pg_restore.path.clone(),
        source,
    })?;
    let contents = plans
        .iter()
        .zip(found)
        // A table pg_dump wrote no data for holds no rows.
        .map(|(plan, content)| content.unwrap_or_else(|| summarise(plan, 0, Vec::new())))
        .collect();
    Ok(Streamed {
        dump: entry,
        contents,
        dump_time,
    })
}

/// Copies the dump to `file` (fsynced, hashed) and to pg_restore.
fn tee(
    mut from: std::process::ChildStdout,
    mut to: std::process::ChildStdin,
    file: &PathBuf,
    relative: &str,
) -> Result<FileEntry, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: file.clone(),
        source,
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    let mut reader_gone = false;
    loop {
        let read = from.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(io)?;
        // If pg_restore stopped, the dump is still written whole; its failure is reported.
        if !reader_gone && to.write_all(&buffer[..read]).is_err() {
            reader_gone = true;
        }
        bytes += read as u64;
    }
    drop(to);
    out.sync_all().map_err(io)?;
    Ok(FileEntry {
        path: relative.to_owned(),
        bytes,
        sha256: hex(hasher.finalize().as_slice()),
    })
}

/// Reads pg_restore's script: every `COPY schema.table (columns) FROM stdin;` block of a
/// planned table is digested with its columns put in the plan's order.
fn read_copy_blocks(
    script: std::process::ChildStdout,
    schema: &str,
    by_name: &BTreeMap<&str, usize>,
    plans: &[TablePlan],
    found: &mut [Option<TableContent>],
    progress: &Progress,
) -> std::io::Result<()> {
    let reader = std::io::BufReader::with_capacity(1 << 20, script);
    let mut lines = reader.split(b'\n');
    let mut reordered: Vec<u8> = Vec::new();
    while let Some(line) = lines.next() {
        let line = line?;
        let Some((table_schema, table, columns)) = copy_header(&line) else {
            continue;
        };
        let plan_index = (table_schema == schema)
            .then(|| by_name.get(table.as_str()).copied())
            .flatten();
        let plan = plan_index.map(|index| &plans[index]);
        let order: Vec<Option<usize>> = plan
            .map(|plan| {
                plan.columns
                    .iter()
                    .map(|column| columns.iter().position(|name| *name == column.name))
                    .collect()
            })
            .unwrap_or_default();
        let bar = plan.map(|plan| progress.rows(&format!("read {}", plan.table), None));
        let mut partial = Partial::default();
        let mut rows = 0u64;
        for row in lines.by_ref() {
            let row = row?;
            if row == b"\\." {
                break;
            }
            let Some(plan) = plan else { continue };
            rows += 1;
            let fields: Vec<&[u8]> = row.split(|&byte| byte == b'\t').collect();
            reordered.clear();
            for (position, index) in order.iter().enumerate() {
                if position > 0 {
                    reordered.push(b'\t');
                }
                reordered.extend_from_slice(
                    index
                        .and_then(|index| fields.get(index).copied())
                        .unwrap_or(b"\\N"),
                );
            }
            partial.add(digest_row(plan, &reordered));
            if rows % PROGRESS_EVERY == 0 {
                if let Some(bar) = &bar {
                    bar.inc(PROGRESS_EVERY);
                }
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let (Some(index), Some(plan)) = (plan_index, plan) {
            found[index] = Some(summarise(plan, rows, vec![partial]));
        }
    }
    Ok(())
}

/// `COPY public.queries (id, "limit", ...) FROM stdin;` as its schema, table and columns.
pub(crate) fn copy_header(line: &[u8]) -> Option<(String, String, Vec<String>)> {
    let text = std::str::from_utf8(line.strip_prefix(b"COPY ")?).ok()?;
    let text = text.strip_suffix(" FROM stdin;")?;
    let (name, columns) = text.split_once(" (")?;
    let columns = columns.strip_suffix(')')?;
    let (schema, table) = split_qualified(name)?;
    Some((schema, table, columns.split(", ").map(unquote).collect()))
}

/// `public.queries`, `"My Schema"."t.x"` as (schema, table), unquoted.
fn split_qualified(name: &str) -> Option<(String, String)> {
    let mut in_quotes = false;
    for (index, character) in name.char_indices() {
        match character {
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => {
                return Some((unquote(&name[..index]), unquote(&name[index + 1..])));
            }
            _ => {}
        }
    }
    None
}

fn unquote(name: &str) -> String {
    match name
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_headers_are_read_with_quoting() {
        assert_eq!(
            copy_header(b"COPY public.queries (id, \"limit\", query) FROM stdin;"),
            Some((
                "public".into(),
                "queries".into(),
                vec!["id".into(), "limit".into(), "query".into()]
            ))
        );
        assert_eq!(
            copy_header(b"COPY \"My Schema\".\"t.x\" (a) FROM stdin;"),
            Some(("My Schema".into(), "t.x".into(), vec!["a".into()]))
        );
        assert_eq!(copy_header(b"SELECT pg_catalog.setval('x', 1);"), None);
    }
}
