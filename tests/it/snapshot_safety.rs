//! What `snapshot` and `restore` promise about safety, tested against a real throwaway
//! PostgreSQL with the real pg_dump and pg_restore: a run killed at any moment never leaves a
//! half-written snapshot where one is expected; damage to any file is found; the password is in
//! no output, no file, no command line and no `PGPASSWORD`; TLS is verified; and a restore
//! refuses the targets it must not touch.

/// What a run saw, in the test's captured output (shown with `--nocapture` or on failure).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, Client, PgServer, Scale, Tls};
use semver::Version;
use serde_json::Value;

use crate::pg::{empty_db, fixture_db, TestDb};
use crate::procfs::{all_pids, children_of, command_line, environment_of, process, still_running};
use crate::snapshot::{run_with_url, server_with};
use crate::support::{command, copy_tree, stderr, stdout};

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

fn shown(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `text` with every run of white space made one space: text output is wrapped at 80 columns.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `snapshot verify DIR`, with `--format json` when `json`.
fn snapshot_verify(dir: &Path, json: bool) -> Output {
    let mut args = vec!["snapshot", "verify", path(dir)];
    if json {
        args.extend(["--format", "json"]);
    }
    command().args(&args).output().expect("the binary runs")
}

/// Takes a snapshot of `url` into `out`, checking it succeeded and verifies.
fn take_snapshot(url: &str, out: &Path) {
    let taken = run_with_url(url, &["snapshot", "--out", path(out)]);
    assert_eq!(taken.status.code(), Some(0), "{}", shown(&taken));
    let checked = snapshot_verify(out, false);
    assert_eq!(checked.status.code(), Some(0), "{}", shown(&checked));
}

/// Every file under `dir` (relative path, content).
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, into);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_owned();
                into.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// Entries of `dir` whose name starts with `prefix`.
fn entries_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
}

/// The name `snapshot` gives the unfinished directory of `--out DIR`, without its process id.
fn partial_prefix(out: &Path) -> String {
    format!(".{}.partial-", out.file_name().unwrap().to_string_lossy())
}

/// Everything the database holds that a restore could change: every table of `public` with
/// its row count and a digest of its rows, and how many relations and functions there are.
fn fingerprint(client: &mut Client) -> String {
    let counts: String = client
        .scalar(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                        AND n.nspname NOT LIKE 'pg_toast%')::text \
                 || ' relations, ' || \
                    (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))::text \
                 || ' functions'",
        )
        .unwrap();
    let tables: Option<String> = client
        .scalar(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' AND c.relkind = 'r'",
        )
        .unwrap();
    let mut print = counts;
    for table in tables
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
    {
        let digest: String = client
            .scalar(&format!(
                "SELECT count(*)::text || ':' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) \
                   FROM public.\"{table}\" t"
            ))
            .unwrap();
        print.push_str(&format!("\n{table} {digest}"));
    }
    print
}

fn relations_in(client: &mut Client) -> i64 {
    client
        .scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                AND n.nspname NOT LIKE 'pg_toast%'",
        )
        .unwrap()
}

/// A small linear congruential generator (Knuth's MMIX constants): seeded, so a failing run
/// can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A fraction in [0, 1].
    fn fraction(&mut self) -> f64 {
        (self.next() % 10_001) as f64 / 10_000.0
    }
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 at any moment

/// Adds a large object of `megabytes` MiB of incompressible bytes: pg_dump writes it (and
/// takes a while over it), while the manifest, which reads the tables, does not.
fn add_large_object(client: &mut Client, megabytes: u32) {
    client
        .batch_execute(&format!(
            "SELECT lo_from_bytea(0, (SELECT decode(string_agg(md5(g::text), ''), 'hex') \
                                        FROM generate_series(1, {megabytes} * 65536) g))"
        ))
        .unwrap();
}

#[test]
fn a_snapshot_killed_at_any_moment_leaves_no_snapshot_or_a_complete_one() {
    const RUNS: usize = 24;
    /// The last runs, killed as soon as the manifest's files appear.
    const AIMED_AFTER_DUMP: usize = 4;
    const SEED: u64 = 0x5eed_2024;
    let server = server_with(&Version::new(10, 1, 0), false);
    add_large_object(&mut server.connect("redash").unwrap(), 12);
    let url = server.tcp_url("redash");
    let work = tempfile::tempdir().unwrap();
    let sessions_left = || -> i64 {
        server
            .connect("postgres")
            .unwrap()
            .scalar(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE application_name = 'redash-upgrade' AND pid <> pg_backend_pid()",
            )
            .unwrap()
    };

    // One full run first: how long a whole snapshot takes here.
    let full = work.path().join("full");
    let started = Instant::now();
    let taken = run_with_url(&url, &["snapshot", "--out", path(&full)]);
    let full_time = started.elapsed();
    assert_eq!(taken.status.code(), Some(0), "{}", shown(&taken));
    let checked = snapshot_verify(&full, false);
    assert_eq!(checked.status.code(), Some(0), "{}", shown(&checked));
    note!("a full snapshot takes {full_time:?}:\n{}", stdout(&taken));
    assert!(
        full_time >= Duration::from_millis(500),
        "a full snapshot took only {full_time:?}: too fast for kills to land mid-way"
    );

    let mut rng = Lcg(SEED);
    let (mut finished, mut during_dump, mut after_dump) = (0, 0, 0);
    let mut passfiles_left = Vec::new();
    for run in 0..RUNS {
        let delay = full_time.mul_f64(rng.fraction());
        let out = work.path().join(format!("snap-{run:02}"));
        // Every fourth run dumps in directory format, where pg_dump writes its files into the
        // unfinished directory itself (no pipe to lose when its parent dies).
        let jobs = if run % 4 == 3 { "2" } else { "1" };
        let mut child = command()
            .env("REDASH_DATABASE_URL", &url)
            .args(["snapshot", "--out", path(&out), "--jobs", jobs])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if run >= RUNS - AIMED_AFTER_DUMP {
            // The dump is written and the manifest's files are being written: a window of
            // milliseconds that random delays rarely hit, so these runs wait for it.
            let deadline = Instant::now() + full_time * 4;
            let in_window = || {
                entries_starting_with(work.path(), &partial_prefix(&out))
                    .iter()
                    .any(|partial| {
                        partial.join("rows").exists() || partial.join("manifest.json").exists()
                    })
            };
            while !in_window() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_micros(100));
            }
        } else {
            std::thread::sleep(delay);
        }
        // pg_dump is the binary's child: note it before the kill orphans it.
        let orphans = children_of(child.id());
        let dumping = orphans.iter().any(|info| {
            command_line(info.pid)
                .is_some_and(|args| args.iter().any(|arg| arg.starts_with("--snapshot=")))
        });
        let _ = child.kill();
        let status = child.wait().unwrap();
        let killed = status.code() != Some(0);
        if killed {
            assert_eq!(status.signal(), Some(9), "run {run}: {status:?}");
        } else {
            finished += 1;
        }

        let check = |when: &str, verify_partials: bool| {
            if out.exists() {
                let checked = snapshot_verify(&out, false);
                assert_eq!(
                    checked.status.code(),
                    Some(0),
                    "run {run} (killed after {delay:?}, {when}): {} exists but is not a complete snapshot\n{}",
                    out.display(),
                    shown(&checked)
                );
            }
            let partials = entries_starting_with(work.path(), &partial_prefix(&out));
            assert!(partials.len() <= 1, "{partials:?}");
            for partial in partials.iter().filter(|_| verify_partials) {
                let checked = snapshot_verify(partial, false);
                assert_eq!(
                    checked.status.code(),
                    Some(2),
                    "run {run}, {when}: the unfinished {} was accepted\n{}",
                    partial.display(),
                    shown(&checked)
                );
                assert_eq!(
                    stderr(&checked),
                    format!(
                        "error: {}: an unfinished snapshot (its writer stopped before it was complete); remove it and take the snapshot again\n",
                        partial.display()
                    )
                );
            }
            partials
        };
        let partials = check("right after the kill", false);
        if !killed {
            assert!(
                out.exists() && partials.is_empty(),
                "run {run} finished yet left {partials:?}"
            );
        }
        if killed && !partials.is_empty() {
            if dumping {
                during_dump += 1;
            } else if partials[0].join("dump").exists() {
                after_dump += 1;
            }
        }
        // The orphaned pg_dump may still write into the unfinished directory: it must end on its
        // own (its output pipe is gone), and even then `--out` must not appear half-written.
        let deadline = Instant::now() + Duration::from_secs(30);
        while orphans.iter().any(still_running) {
            assert!(
                Instant::now() < deadline,
                "run {run}: a child of the killed snapshot still runs 30 s later"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        check("after its children ended", true);
        // The password file pg_dump was given: the killed run cannot remove it itself.
        for passfile in entries_starting_with(
            &std::env::temp_dir(),
            &format!("redash-upgrade-{}-", child.id()),
        ) {
            std::fs::remove_dir_all(&passfile).unwrap();
            passfiles_left.push(format!("run {run}: {}", passfile.display()));
        }
        // Nor does the killed run leave a session (and its snapshot) open on the server.
        let deadline = Instant::now() + Duration::from_secs(30);
        while sessions_left() > 0 {
            assert!(
                Instant::now() < deadline,
                "run {run}: the killed snapshot's sessions are still open 30 s later"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        note!(
            "run {run:2} (--jobs {jobs}): after {:>4.0} ms: {}, --out {}, {} unfinished dir",
            delay.as_secs_f64() * 1000.0,
            match (killed, dumping) {
                (false, _) => "had finished",
                (true, true) => "killed while pg_dump ran",
                (true, false) => "killed",
            },
            if out.exists() { "complete" } else { "absent" },
            partials.len()
        );
    }
    note!(
        "{RUNS} runs: {finished} had finished, {during_dump} killed while pg_dump wrote the dump, \
         {after_dump} killed after it (dump written, manifest not yet)"
    );
    // The kills landed where it matters: while the dump was being written, and after.
    assert!(
        during_dump >= 5,
        "only {during_dump} of {RUNS} kills landed while pg_dump ran"
    );
    assert!(
        after_dump >= 1,
        "no kill landed between the end of the dump and the rename"
    );
    // And the full snapshot is still intact after all this.
    let checked = snapshot_verify(&full, false);
    assert_eq!(checked.status.code(), Some(0), "{}", shown(&checked));
    // A run killed while pg_dump ran must not leave the password in a file behind it.
    assert!(
        passfiles_left.is_empty(),
        "{} killed run(s) left the password in plain text in a password file:\n{}",
        passfiles_left.len(),
        passfiles_left.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 2. damage is found; an existing --out is never overwritten

/// A copy of `snapshot` at `dir/name`, with `damage` applied to it.
fn damaged_copy(snapshot: &Path, dir: &Path, name: &str, damage: impl FnOnce(&Path)) -> PathBuf {
    let copy = dir.join(name);
    copy_tree(snapshot, &copy);
    damage(&copy);
    copy
}

fn flip_byte(file: &Path, at: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn damage_to_any_file_of_a_snapshot_is_found_and_an_existing_out_is_never_overwritten() {
    let db = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    take_snapshot(&db.tcp_url(), &snap);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    let rows_file = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|table| table["row_digests"]["path"].as_str())
        .expect("a table with a rows file")
        .to_owned();
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"dump"), "{listed:?}");
    assert!(listed.contains(&rows_file.as_str()), "{listed:?}");

    // A flipped byte in the middle of the dump: same size, another SHA-256.
    let dump_len = std::fs::metadata(snap.join("dump")).unwrap().len() as usize;
    let dump = damaged_copy(&snap, work.path(), "dump-flipped", |copy| {
        flip_byte(&copy.join("dump"), dump_len / 2)
    });
    let checked = snapshot_verify(&dump, false);
    assert_eq!(checked.status.code(), Some(1), "{}", shown(&checked));
    let text = flat(&stdout(&checked));
    assert!(text.contains("DAMAGED, 1 of"), "{text}");
    assert!(
        text.contains("dump: its SHA-256 differs from the manifest's: the file changed"),
        "{text}"
    );
    let checked = snapshot_verify(&dump, true);
    assert_eq!(checked.status.code(), Some(1), "{}", shown(&checked));
    let report: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(report["complete"], false, "{report:#}");
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    assert_eq!(report["problems"][0]["path"], "dump", "{report:#}");

    // A flipped byte in a rows file: a hex digit of a row's digest turned into another.
    let rows = damaged_copy(&snap, work.path(), "rows-flipped", |copy| {
        let file = copy.join(&rows_file);
        let text = std::fs::read(&file).unwrap();
        let second_line = text.iter().position(|byte| *byte == b'\n').unwrap() + 1;
        let tab = second_line
            + text[second_line..]
                .iter()
                .position(|byte| *byte == b'\t')
                .unwrap();
        flip_byte(&file, tab + 1);
    });
    let checked = snapshot_verify(&rows, false);
    assert_eq!(checked.status.code(), Some(1), "{}", shown(&checked));
    let text = flat(&stdout(&checked));
    assert!(
        text.contains(&format!(
            "{rows_file}: its SHA-256 differs from the manifest's: the file changed"
        )),
        "{text}"
    );
    assert!(
        !text.contains("\n  dump:"),
        "only the rows file is damaged: {text}"
    );

    // A truncated dump and a missing rows file: named, with what is wrong.
    let truncated = damaged_copy(&snap, work.path(), "truncated", |copy| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join("dump"))
            .unwrap();
        file.set_len(dump_len as u64 - 1).unwrap();
        std::fs::remove_file(copy.join(&rows_file)).unwrap();
    });
    let checked = snapshot_verify(&truncated, false);
    assert_eq!(checked.status.code(), Some(1), "{}", shown(&checked));
    let text = flat(&stdout(&checked));
    assert!(text.contains("DAMAGED, 2 of"), "{text}");
    assert!(
        text.contains(&format!(
            "dump: {} bytes, the manifest says {dump_len}",
            dump_len - 1
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{rows_file}: cannot be read")),
        "{text}"
    );

    // A changed byte in the manifest itself: a digit of a recorded SHA-256.
    let changed = damaged_copy(&snap, work.path(), "manifest-changed", |copy| {
        let file = copy.join("manifest.json");
        let text = std::fs::read_to_string(&file).unwrap();
        let at = text.find("\"sha256\": \"").unwrap() + "\"sha256\": \"".len();
        let mut bytes = text.into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        std::fs::write(&file, bytes).unwrap();
    });
    let checked = snapshot_verify(&changed, false);
    assert_eq!(checked.status.code(), Some(2), "{}", shown(&checked));
    assert_eq!(
        stderr(&checked),
        format!(
            "error: {}: its SHA-256 differs from the one recorded beside it: the manifest changed\n",
            changed.join("manifest.json").display()
        )
    );
    // ... and a restore refuses each damaged copy before touching anything.
    let staging = empty_db();
    for damaged in [&dump, &rows, &changed] {
        let restored = run_with_url(&staging.tcp_url(), &["restore", path(damaged), "--yes"]);
        assert_eq!(restored.status.code(), Some(2), "{}", shown(&restored));
        assert_eq!(relations_in(&mut staging.client()), 0);
    }

    // An existing --out, whatever it is, is never overwritten.
    let before = files_under(&snap);
    let other = work.path().join("not-a-snapshot");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "precious\n").unwrap();
    let plain_file = work.path().join("a-file");
    std::fs::write(&plain_file, "precious too\n").unwrap();
    let empty_dir = work.path().join("empty-dir");
    std::fs::create_dir(&empty_dir).unwrap();
    let link = work.path().join("link-to-snap");
    std::os::unix::fs::symlink(&snap, &link).unwrap();
    for existing in [&snap, &other, &plain_file, &empty_dir, &link] {
        let taken = run_with_url(&db.tcp_url(), &["snapshot", "--out", path(existing)]);
        assert_eq!(taken.status.code(), Some(2), "{}", shown(&taken));
        assert_eq!(
            stderr(&taken),
            format!(
                "error: {}: already exists; a snapshot is never overwritten (choose another --out)\n",
                existing.display()
            )
        );
        assert!(stdout(&taken).is_empty(), "{}", shown(&taken));
        assert!(
            entries_starting_with(work.path(), &partial_prefix(existing)).is_empty(),
            "a refused snapshot left an unfinished directory"
        );
    }
    assert_eq!(files_under(&snap), before, "the existing snapshot changed");
    let checked = snapshot_verify(&snap, false);
    assert_eq!(checked.status.code(), Some(0), "{}", shown(&checked));
    assert_eq!(
        std::fs::read_to_string(other.join("keep.txt")).unwrap(),
        "precious\n"
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(&plain_file).unwrap(),
        "precious too\n"
    );
    assert_eq!(std::fs::read_dir(&empty_dir).unwrap().count(), 0);
    assert_eq!(std::fs::read_link(&link).unwrap(), snap);

    // A dangling symbolic link is an existing --out too: refused, and left as it was.
    let nowhere = work.path().join("nowhere");
    let dangling = work.path().join("dangling");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    let taken = run_with_url(&db.tcp_url(), &["snapshot", "--out", path(&dangling)]);
    assert_eq!(taken.status.code(), Some(2), "{}", shown(&taken));
    assert!(
        stderr(&taken).starts_with(&format!("error: {}: ", dangling.display())),
        "{}",
        shown(&taken)
    );
    assert_eq!(std::fs::read_link(&dangling).unwrap(), nowhere);
    assert!(!nowhere.exists());
    assert!(entries_starting_with(work.path(), &partial_prefix(&dangling)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 3. the password never shows

/// One pg_dump or pg_restore seen: pid, program, arguments, environment, and its password
/// file's content when it could be read.
type SeenTool = (
    u32,
    String,
    Vec<String>,
    Vec<(String, String)>,
    Option<String>,
);

/// What was seen of the binary's pg_dump and pg_restore children while it ran.
#[derive(Default)]
struct Watched {
    tools: Vec<SeenTool>,
    /// Command lines of any process of the host that held a secret.
    leaks: Vec<String>,
}

/// Runs the binary with `REDASH_DATABASE_URL=url`, watching every command line of the host and
/// the environment of the binary's pg_dump and pg_restore until it ends.
fn run_watched(url: &str, args: &[&str], secrets: &[String]) -> (Output, Watched) {
    let mut child = command()
        .env("REDASH_DATABASE_URL", url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let mut watched = Watched::default();
    let status = loop {
        for pid in all_pids() {
            let Some(arguments) = command_line(pid) else {
                continue;
            };
            let line = arguments.join(" ");
            if secrets.iter().any(|secret| line.contains(secret.as_str())) {
                watched.leaks.push(format!("{pid}: {line}"));
            }
            let program = arguments
                .first()
                .and_then(|first| Path::new(first).file_name())
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tool = program == "pg_dump" || program == "pg_restore";
            if !tool
                || arguments.iter().any(|arg| arg == "--version")
                || watched.tools.iter().any(|seen| seen.0 == pid)
                || process(pid).map(|info| info.parent) != Some(child.id())
            {
                continue;
            }
            let Some(environment) = environment_of(pid) else {
                continue;
            };
            // A memory-only file is read through the tool's own descriptor table.
            let passfile = environment
                .iter()
                .find(|(name, _)| name == "PGPASSFILE")
                .and_then(|(_, file)| {
                    let file = match file.strip_prefix("/proc/self/") {
                        Some(rest) => format!("/proc/{pid}/{rest}"),
                        None => file.clone(),
                    };
                    std::fs::read_to_string(file).ok()
                });
            watched
                .tools
                .push((pid, program, arguments, environment, passfile));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    // The password files of this run are gone with it.
    let leftovers = entries_starting_with(
        &std::env::temp_dir(),
        &format!("redash-upgrade-{}-", child.id()),
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    (output, watched)
}

/// Asserts what is seen of the password in a run: nowhere in its output or on a command line;
/// a pg_dump or pg_restore child given it only in a password file, removed since.
fn assert_no_secret(what: &str, output: &Output, watched: &Watched, secrets: &[String]) {
    for secret in secrets {
        for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            assert!(
                !String::from_utf8_lossy(bytes).contains(secret.as_str()),
                "{what}: the password is in its {stream}:\n{}",
                shown(output)
            );
        }
    }
    assert!(
        watched.leaks.is_empty(),
        "{what}: on a command line: {:?}",
        watched.leaks
    );
    for (pid, program, arguments, environment, passfile) in &watched.tools {
        let variable = |name: &str| {
            environment
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            variable("PGPASSWORD"),
            None,
            "{what}: {program} ({pid}) has PGPASSWORD"
        );
        for (name, value) in environment {
            for secret in secrets {
                assert!(
                    !value.contains(secret.as_str()),
                    "{what}: {program} ({pid}) has the password in {name}"
                );
            }
        }
        // pg_restore writing a script to stdout (the snapshot reads the dump's data through it)
        // connects nowhere and is given no password at all.
        if arguments.iter().any(|arg| arg == "--file=-") {
            assert_eq!(variable("PGPASSFILE"), None, "{what}: {program} ({pid})");
            continue;
        }
        let file = variable("PGPASSFILE")
            .unwrap_or_else(|| panic!("{what}: {program} ({pid}) has no PGPASSFILE"));
        // On Linux the file exists only in memory (a memfd the tool inherits): nothing on disk
        // to leave behind, even when the run is killed.
        assert!(
            file.starts_with("/proc/self/fd/"),
            "{what}: PGPASSFILE is {file}, not a memory-only file"
        );
        if let Some(content) = passfile {
            assert!(content.starts_with("*:*:*:*:"), "{what}: {file}");
        }
        assert!(
            arguments.iter().any(|arg| arg == "--no-password"),
            "{what}: {arguments:?}"
        );
    }
}

/// Percent-encodes everything but letters and digits, as in a URL's user information.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[test]
fn the_password_is_in_no_output_file_command_line_or_pgpassword() {
    // A role whose password has what breaks naive quoting: URL, pgpass and shell characters.
    const PASSWORD: &str = "p@ss:w/rd#?&%= x\"'\\;$Zq7Secr3tKey!";
    const ROLE: &str = "ops_admin";
    let server = server_with(&Version::new(10, 1, 0), false);
    server.create_database("staging_json", None).unwrap();
    server
        .connect("postgres")
        .unwrap()
        .batch_execute(&format!(
            "CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD $secret${PASSWORD}$secret$"
        ))
        .unwrap();
    let encoded = percent_encoded(PASSWORD);
    let secrets: Vec<String> = vec![
        PASSWORD.to_owned(),
        encoded.clone(),
        "Zq7Secr3tKey".to_owned(),
        server.password().to_owned(),
    ];
    let url = |database: &str| {
        format!(
            "postgresql://{ROLE}:{encoded}@127.0.0.1:{}/{database}",
            server.port()
        )
    };
    let redacted = |database: &str| {
        format!(
            "postgresql://{ROLE}:***@127.0.0.1:{}/{database}",
            server.port()
        )
    };
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    let snap_json = work.path().join("snap-json");
    let never = work.path().join("never");

    // The watch itself sees a secret on a command line: a shell holding it runs meanwhile.
    let mut holder = std::process::Command::new("sh")
        .args(["-c", "sleep 2; true", "Zq7Secr3tKey"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (_, watched) = run_watched(&url("redash"), &["releases"], &secrets);
    let _ = holder.kill();
    holder.wait().unwrap();
    assert!(
        watched
            .leaks
            .iter()
            .any(|leak| leak.contains("sh -c sleep 2; true Zq7Secr3tKey")),
        "the watch missed a secret on a command line: {:?}",
        watched.leaks
    );

    let mut dumps_seen = 0;
    let mut restores_seen = 0;
    let mut passfiles_read = 0;
    let mut inherited_url = 0;
    let mut tally = |watched: &Watched| {
        for (_, program, _, environment, passfile) in &watched.tools {
            if environment
                .iter()
                .any(|(name, _)| name == "REDASH_DATABASE_URL")
            {
                inherited_url += 1;
            }
            match program.as_str() {
                "pg_dump" => dumps_seen += 1,
                _ => restores_seen += 1,
            }
            if let Some(content) = passfile {
                // The password reached the tool through the file, escaped as libpq reads it.
                assert_eq!(
                    content,
                    "*:*:*:*:p@ss\\:w/rd#?&%= x\"'\\\\;$Zq7Secr3tKey!\n"
                );
                passfiles_read += 1;
            }
        }
    };

    let runs: Vec<(&str, String, Vec<&str>, i32)> = vec![
        (
            "snapshot",
            url("redash"),
            vec!["snapshot", "--out", path(&snap)],
            0,
        ),
        (
            "snapshot --format json",
            url("redash"),
            vec!["snapshot", "--out", path(&snap_json), "--format", "json"],
            0,
        ),
        (
            "snapshot verify",
            url("redash"),
            vec!["snapshot", "verify", path(&snap)],
            0,
        ),
        (
            "snapshot verify --format json",
            url("redash"),
            vec!["snapshot", "verify", path(&snap_json), "--format", "json"],
            0,
        ),
        (
            "restore",
            url("staging"),
            vec!["restore", path(&snap), "--yes"],
            0,
        ),
        (
            "restore --format json",
            url("staging_json"),
            vec!["restore", path(&snap_json), "--yes", "--format", "json"],
            0,
        ),
        (
            "restore --dry-run",
            url("postgres"),
            vec!["restore", path(&snap), "--dry-run"],
            0,
        ),
        (
            "verify",
            url("staging"),
            vec!["verify", "--baseline", path(&snap)],
            0,
        ),
        (
            "verify --format json",
            url("redash"),
            vec!["verify", "--baseline", path(&snap_json), "--format", "json"],
            0,
        ),
        (
            "snapshot of a database that does not exist",
            url("no_such_db"),
            vec!["snapshot", "--out", path(&never)],
            2,
        ),
        (
            "restore into a database that does not exist",
            url("no_such_db"),
            vec!["restore", path(&snap), "--yes"],
            2,
        ),
        (
            "verify of a database that does not exist",
            url("no_such_db"),
            vec!["verify", "--baseline", path(&snap), "--format", "json"],
            2,
        ),
    ];
    for (what, url, args, code) in &runs {
        let started = Instant::now();
        let (output, watched) = run_watched(url, args, &secrets);
        note!(
            "{what}: exit {:?} in {:?}",
            output.status.code(),
            started.elapsed()
        );
        assert_eq!(
            output.status.code(),
            Some(*code),
            "{what}: {}",
            shown(&output)
        );
        assert_no_secret(what, &output, &watched, &secrets);
        tally(&watched);
        if *code == 2 {
            let message = stderr(&output);
            assert_eq!(message.lines().count(), 1, "{what}: {message}");
            assert!(
                message.starts_with(&format!(
                    "error: could not connect to {}: ",
                    redacted("no_such_db")
                )),
                "{what}: {message}"
            );
            assert!(
                message.contains("database \"no_such_db\" does not exist"),
                "{what}: {message}"
            );
        }
    }
    assert!(!never.exists());
    assert!(dumps_seen >= 1, "no pg_dump was seen running");
    assert!(restores_seen >= 1, "no pg_restore was seen running");
    assert!(
        passfiles_read >= 1,
        "no password file was read while a tool ran"
    );
    assert_eq!(
        inherited_url, 0,
        "the tools must not inherit REDASH_DATABASE_URL"
    );
    note!(
        "seen: {dumps_seen} pg_dump, {restores_seen} pg_restore, {passfiles_read} password file(s) read while they ran; \
         {inherited_url} of them inherited REDASH_DATABASE_URL"
    );

    // The snapshot directories: not one byte of the password, and the URL as redacted.
    for dir in [&snap, &snap_json] {
        let files = files_under(dir);
        assert!(files.len() >= 4, "{files:?}");
        for (file, bytes) in &files {
            let text = String::from_utf8_lossy(bytes);
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{}: the password is in it",
                    file.display()
                );
            }
        }
        let manifest: Value = serde_json::from_slice(&files[Path::new("manifest.json")]).unwrap();
        assert_eq!(manifest["source"]["database_url"], redacted("redash"));
    }
}

// ---------------------------------------------------------------------------------------------
// 4. TLS, verified

#[test]
fn a_snapshot_over_verified_tls_succeeds_and_an_untrusted_certificate_is_refused() {
    let server = PgServer::start_with_tls(Tls::Required).unwrap_or_else(|error| panic!("{error}"));
    let stranger =
        PgServer::start_with_tls(Tls::Required).unwrap_or_else(|error| panic!("{error}"));
    server.create_database("redash", None).unwrap();
    server.create_database("staging", None).unwrap();
    {
        let knowledge = KnowledgeBase::embedded().unwrap();
        let mut client = server.connect("redash").unwrap();
        testbed::load_release(
            &mut client,
            &knowledge,
            &Version::new(10, 1, 0),
            Scale::Small,
        )
        .unwrap();
    }
    let root = server.root_certificate();
    let wrong_root = stranger.root_certificate();
    assert_ne!(
        std::fs::read(&root).unwrap(),
        std::fs::read(&wrong_root).unwrap()
    );
    let verified = |database: &str, root: &Path| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.tcp_url(database),
            root.display()
        )
    };
    let work = tempfile::tempdir().unwrap();

    // The certificate verified against its authority, pg_dump and pg_restore included.
    let snap = work.path().join("snap");
    let taken = run_with_url(
        &verified("redash", &root),
        &["snapshot", "--out", path(&snap)],
    );
    assert_eq!(taken.status.code(), Some(0), "{}", shown(&taken));
    let checked = snapshot_verify(&snap, false);
    assert_eq!(checked.status.code(), Some(0), "{}", shown(&checked));
    let restored = run_with_url(
        &verified("staging", &root),
        &["restore", path(&snap), "--yes"],
    );
    assert_eq!(restored.status.code(), Some(0), "{}", shown(&restored));
    assert!(
        stdout(&restored).starts_with("Restored and restore-tested"),
        "{}",
        shown(&restored)
    );

    // Another authority's root: the server's certificate is not trusted, and nothing is written.
    let refused = work.path().join("refused");
    let taken = run_with_url(
        &verified("redash", &wrong_root),
        &["snapshot", "--out", path(&refused)],
    );
    assert_eq!(taken.status.code(), Some(2), "{}", shown(&taken));
    let message = stderr(&taken);
    note!("{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!(
            "error: could not connect to postgresql://postgres:***@127.0.0.1:{}/redash?sslmode=verify-full&sslrootcert={}: ",
            server.port(),
            wrong_root.display()
        )),
        "{message}"
    );
    assert!(message.contains("invalid peer certificate"), "{message}");
    assert!(!message.contains(server.password()), "{message}");
    assert!(stdout(&taken).is_empty());
    assert!(!refused.exists());
    assert!(entries_starting_with(work.path(), &partial_prefix(&refused)).is_empty());
    // The same for restore: refused before anything is written.
    let before = relations_in(&mut server.connect("staging").unwrap());
    let restored = run_with_url(
        &verified("staging", &wrong_root),
        &["restore", path(&snap), "--yes"],
    );
    assert_eq!(restored.status.code(), Some(2), "{}", shown(&restored));
    assert!(
        stderr(&restored).contains("certificate"),
        "{}",
        shown(&restored)
    );
    assert!(!stderr(&restored).contains(server.password()));
    assert_eq!(
        relations_in(&mut server.connect("staging").unwrap()),
        before
    );
}

// ---------------------------------------------------------------------------------------------
// 5. restore refuses what it must not touch

#[test]
fn restore_refuses_a_redash_database_the_source_and_an_unconfirmed_run() {
    let source = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    take_snapshot(&source.tcp_url(), &snap);
    let source_before = fingerprint(&mut source.client());

    // A database a new install's create_db already filled with Redash's tables.
    let installed: TestDb = fixture_db("10.1.0");
    let installed_before = fingerprint(&mut installed.client());
    let restored = run_with_url(&installed.tcp_url(), &["restore", path(&snap), "--yes"]);
    assert_eq!(restored.status.code(), Some(2), "{}", shown(&restored));
    let message = stderr(&restored);
    assert!(
        message.starts_with(&format!(
            "error: postgresql://postgres:***@127.0.0.1:{}/{} is not empty (",
            crate::pg::server().port(),
            installed.name
        )),
        "{message}"
    );
    assert!(
        message.contains("it already holds Redash's tables (alembic at "),
        "{message}"
    );
    assert!(message.contains("give --clean"), "{message}");
    assert_eq!(fingerprint(&mut installed.client()), installed_before);

    // --dry-run: the pg_restore command, and nothing written.
    let staging = empty_db();
    let dry = run_with_url(&staging.tcp_url(), &["restore", path(&snap), "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", shown(&dry));
    let text = flat(&stdout(&dry));
    assert!(text.starts_with("Dry run: would restore "), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert!(
        text.contains(&format!(
            "pg_restore --no-password --no-owner --no-privileges --jobs=1 --dbname={} {}",
            staging.name,
            snap.join("dump").display()
        )),
        "{text}"
    );
    let dry_json = run_with_url(
        &staging.tcp_url(),
        &["restore", path(&snap), "--dry-run", "--format", "json"],
    );
    assert_eq!(dry_json.status.code(), Some(0), "{}", shown(&dry_json));
    let report: Value = serde_json::from_slice(&dry_json.stdout).unwrap();
    assert_eq!(report["dry_run"], true, "{report:#}");
    let command = report["command"].as_str().unwrap();
    assert!(
        command.ends_with(&format!(
            " --dbname={} {}",
            staging.name,
            snap.join("dump").display()
        )),
        "{command}"
    );
    assert!(!command.contains(crate::pg::server().password()));
    assert_eq!(relations_in(&mut staging.client()), 0);

    // Without --yes and without a terminal to ask on: not confirmed, nothing restored.
    let unconfirmed = run_with_url(&staging.tcp_url(), &["restore", path(&snap)]);
    assert_eq!(
        unconfirmed.status.code(),
        Some(2),
        "{}",
        shown(&unconfirmed)
    );
    assert_eq!(
        stderr(&unconfirmed),
        "error: not confirmed: nothing was restored (give --yes to restore without asking)\n"
    );
    assert_eq!(relations_in(&mut staging.client()), 0);

    // The very database the snapshot came from.
    let onto_source = run_with_url(&source.tcp_url(), &["restore", path(&snap), "--yes"]);
    assert_eq!(
        onto_source.status.code(),
        Some(2),
        "{}",
        shown(&onto_source)
    );
    let message = stderr(&onto_source);
    assert!(
        message.contains("is the database the snapshot was taken from"),
        "{message}"
    );
    assert!(
        message.contains("give --i-know-this-is-production"),
        "{message}"
    );
    // Told it is meant, the source is still no empty target: refused all the same.
    let meant = run_with_url(
        &source.tcp_url(),
        &[
            "restore",
            path(&snap),
            "--yes",
            "--i-know-this-is-production",
        ],
    );
    assert_eq!(meant.status.code(), Some(2), "{}", shown(&meant));
    assert!(stderr(&meant).contains("is not empty"), "{}", shown(&meant));
    assert_eq!(fingerprint(&mut source.client()), source_before);
}
