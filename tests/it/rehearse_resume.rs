//! `rehearse` killed with SIGKILL at any step and continued with `--resume`, against the test
//! bed's real PostgreSQL: the resumed run must end where an uninterrupted one ends (the same
//! report, less timings; the same staging database, row for row), stop a migration the killed
//! run left holding its transaction, and a rehearsal must refuse to share its staging database
//! or its work directory with another.
//!
//! Every run uses the same runner: our stand-in migration, told to hold its transaction open
//! before the commit for `$REHEARSE_HOLD` seconds when a test sets it (the runner inherits the
//! rehearsal's environment), so that the command and the report are the same for every run. The
//! migration runs as a child of `sh`, not in its place (the `&&` keeps dash from exec'ing it), as
//! it would under a wrapper script around a remote task: a rehearsal killed with -9 takes `sh`
//! with it but not the migration, which a resumed run must stop itself.

use std::fs::File;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redash_upgrade::testbed::Client;
use serde_json::Value;

use crate::pg::{empty_db, fixture_db, server, TestDb};
use crate::procfs::{all_pids, command_line, process, still_running, Process};
use crate::rehearse::{exec_template, migrate_program, production_snapshot};
use crate::support::command;

/// The longest any one run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// What a held migration holds its transaction for: far longer than a resumed run takes, so
/// that a held migration found gone was stopped, and did not end on its own.
const LONG_HOLD: u64 = 60;

/// What the first of two rehearsals on one database holds its migration for: the second must be
/// refused well within it.
const LOCK_HOLD: u64 = 10;

/// The runner's command: the stand-in for `{from}` -> `{to}`, held when `$REHEARSE_HOLD` is set.
fn template() -> String {
    exec_template(" --hold ${REHEARSE_HOLD:-0} && echo 'migration command ended'")
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// What every run of one test rehearses.
struct Plan {
    snapshot: PathBuf,
    from: &'static str,
    to: &'static str,
}

impl Plan {
    fn args(&self, work: &Path, resume: bool) -> Vec<String> {
        let mut args: Vec<String> = [
            "--snapshot",
            text(&self.snapshot),
            "--from",
            self.from,
            "--to",
            self.to,
            "--runner",
            "exec",
            "--exec",
            &template(),
            "--work-dir",
            text(work),
            "--secret-key-env",
            "FIXTURE_KEY",
            "--format",
            "json",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        // A resumed run asks nothing: no --yes, and no terminal to answer on either.
        args.push(if resume { "--resume" } else { "--yes" }.to_owned());
        args
    }
}

/// A rehearsal running in the background, its output in files beside the work directories.
struct Running {
    child: Child,
    what: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

struct Ended {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Ended {
    fn shown(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

fn start(what: &str, staging: &TestDb, args: &[String], hold: Option<u64>, logs: &Path) -> Running {
    let stdout = logs.join(format!("{what}.stdout"));
    let stderr = logs.join(format!("{what}.stderr"));
    let mut rehearse = command();
    rehearse
        .env("REDASH_DATABASE_URL", staging.tcp_url())
        .env("FIXTURE_KEY", redash_upgrade::testbed::FIXTURE_SECRET_KEY)
        .env_remove("REHEARSE_HOLD")
        .arg("rehearse")
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    if let Some(seconds) = hold {
        rehearse.env("REHEARSE_HOLD", seconds.to_string());
    }
    Running {
        child: rehearse.spawn().unwrap(),
        what: what.to_owned(),
        stdout,
        stderr,
    }
}

/// Runs a rehearsal to its end.
fn run(what: &str, staging: &TestDb, args: &[String], logs: &Path) -> Ended {
    start(what, staging, args, None, logs).wait()
}

impl Running {
    fn shown(&self) -> String {
        format!(
            "{}: stdout:\n{}\nstderr:\n{}",
            self.what,
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn wait(mut self) -> Ended {
        let began = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if began.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} still runs after {RUN_LIMIT:?}\n{}",
                    self.what,
                    self.shown()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ended {
            status,
            stdout: std::fs::read_to_string(&self.stdout).unwrap(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap(),
            took: began.elapsed(),
        }
    }

    /// Polls the journal in `work` until `ready` says so; returns that journal.
    fn until(&mut self, work: &Path, what: &str, mut ready: impl FnMut(&Value) -> bool) -> Value {
        let began = Instant::now();
        loop {
            if let Some(journal) = read_journal(work) {
                if ready(&journal) {
                    return journal;
                }
            }
            if !self.running() {
                panic!(
                    "{} ended before {what}:\n{}\njournal: {:#}",
                    self.what,
                    self.shown(),
                    read_journal(work).unwrap_or_default()
                );
            }
            assert!(
                began.elapsed() < RUN_LIMIT,
                "{}: no {what} within {RUN_LIMIT:?}\n{}",
                self.what,
                self.shown()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// kill -9.
    fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "{}: {status:?}\n{}",
            self.what,
            self.shown()
        );
    }
}

/// The journal in `work`, when there is one yet; written atomically, so never half a file.
fn read_journal(work: &Path) -> Option<Value> {
    let text = match std::fs::read_to_string(work.join("journal.json")) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("{}: {error}", work.display()),
    };
    Some(
        serde_json::from_str(&text).unwrap_or_else(|error| {
            panic!("a torn journal in {}: {error}\n{text}", work.display())
        }),
    )
}

fn report(work: &Path) -> Value {
    let text = std::fs::read_to_string(work.join("report.json"))
        .unwrap_or_else(|error| panic!("{}: no report.json: {error}", work.display()));
    serde_json::from_str(&text).unwrap()
}

fn step<'a>(journal: &'a Value, id: &str) -> Option<&'a Value> {
    journal["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
}

fn state<'a>(journal: &'a Value, id: &str) -> Option<&'a str> {
    step(journal, id).map(|step| step["state"].as_str().unwrap())
}

/// The steps as `id state` lines, to show where a run was.
fn steps_shown(journal: &Value) -> String {
    journal["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            format!(
                "{} {} (attempt {})",
                step["id"], step["state"], step["attempts"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// The report, less what differs between two runs that did the same work.

/// Timings and counts of attempts differ from run to run; a dump's size follows the catalog
/// OIDs it names (their number of digits), which differ from one staging database to another.
const VOLATILE: [&str; 8] = [
    "seconds",
    "started_at",
    "finished_at",
    "attempts",
    "runs",
    "restore_seconds",
    "dump_seconds",
    "dump_bytes",
];

/// `text` with the work directory and the staging database's name as placeholders.
fn placeholders(text: &str, work: &str, database: &str) -> String {
    let text = text.replace(work, "<work>");
    let word = |character: char| character.is_ascii_alphanumeric() || character == '_';
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(database) {
        let after = &rest[at + database.len()..];
        let whole = !rest[..at].ends_with(word) && !after.starts_with(word);
        out.push_str(&rest[..at]);
        out.push_str(if whole { "<staging>" } else { database });
        rest = after;
    }
    out.push_str(rest);
    out
}

fn strip(value: &mut Value, work: &str, database: &str) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !VOLATILE.contains(&key.as_str()));
            for value in map.values_mut() {
                strip(value, work, database);
            }
        }
        Value::Array(items) => {
            for item in items {
                strip(item, work, database);
            }
        }
        Value::String(string) => *string = placeholders(string, work, database),
        _ => {}
    }
}

/// The report as two runs that did the same work write it alike. Rollbacks are left out: a run
/// resumed from a kill mid-migration rolls the hop back where an uninterrupted run did not (the
/// tests look at them on their own).
fn normalized(report: &Value, work: &Path, staging: &TestDb) -> String {
    let mut report = report.clone();
    strip(&mut report, text(work), &staging.name);
    report["journal"]["steps"]
        .as_array_mut()
        .unwrap()
        .retain(|step| !step["id"].as_str().unwrap().ends_with("/rollback"));
    serde_json::to_string_pretty(&report).unwrap()
}

fn assert_same(what: &str, expected: &str, actual: &str) {
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected, actual)
            .unified_diff()
            .context_radius(4)
            .header("uninterrupted", "resumed")
            .to_string();
        panic!("{what} differs from the uninterrupted run's:\n{diff}");
    }
}

// ---------------------------------------------------------------------------------------------
// The staging database's end state.

/// Schema and contents of Redash's schema and ours: every column, constraint, index and
/// sequence position, and every table's rows (a count and a digest of them, in order). Our
/// records' times of writing are left out: they are when the rehearsal ran.
fn fingerprint(db: &TestDb) -> String {
    let mut client = db.client();
    let mut lines: Vec<String> = Vec::new();
    let mut all = |client: &mut Client, sql: &str| {
        let found: Option<String> = client.scalar(sql).unwrap();
        lines.extend(found.unwrap_or_default().lines().map(str::to_owned));
    };
    all(
        &mut client,
        "SELECT string_agg(format('column %s.%s.%s %s null=%s default=%s', table_schema, \
                table_name, column_name, data_type, is_nullable, column_default), E'\\n' \
                ORDER BY table_schema, table_name, ordinal_position) \
           FROM information_schema.columns \
          WHERE table_schema IN ('public', 'redash_upgrade')",
    );
    all(
        &mut client,
        "SELECT string_agg(format('constraint %s %s %s', c.conrelid::regclass, c.conname, \
                pg_get_constraintdef(c.oid)), E'\\n' ORDER BY c.conrelid::regclass::text, c.conname) \
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
          WHERE n.nspname IN ('public', 'redash_upgrade')",
    );
    all(
        &mut client,
        "SELECT string_agg(format('index %s', indexdef), E'\\n' ORDER BY schemaname, indexname) \
           FROM pg_indexes WHERE schemaname IN ('public', 'redash_upgrade')",
    );
    all(
        &mut client,
        "SELECT string_agg(format('sequence %s.%s at %s', schemaname, sequencename, last_value), \
                E'\\n' ORDER BY schemaname, sequencename) \
           FROM pg_sequences WHERE schemaname IN ('public', 'redash_upgrade')",
    );
    all(
        &mut client,
        "SELECT string_agg(format('function %s', p.oid::regprocedure), E'\\n' ORDER BY 1) \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE n.nspname IN ('public', 'redash_upgrade')",
    );
    let tables: Option<String> = client
        .scalar(
            "SELECT string_agg(format('%I.%I', schemaname, tablename), ',' \
                    ORDER BY schemaname, tablename) \
               FROM pg_tables WHERE schemaname IN ('public', 'redash_upgrade')",
        )
        .unwrap();
    for table in tables
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
    {
        let digest: String = client
            .scalar(&format!(
                "SELECT count(*)::text || ' rows ' || \
                        md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) \
                   FROM (SELECT (to_jsonb(t) - 'recorded_at' - 'applied_at')::text AS r \
                           FROM {table} t) rows"
            ))
            .unwrap();
        lines.push(format!("table {table}: {digest}"));
    }
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("table public.queries:")),
        "nothing to compare in {}:\n{}",
        db.name,
        lines.join("\n")
    );
    lines.join("\n")
}

/// Waits until the sessions of a killed run on `db` are gone (a statement it sent before it
/// died, a commit say, may still be running).
fn sessions_ended(db: &TestDb) {
    let mut client = db.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = client
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE datname = '{}' AND pid <> pg_backend_pid()",
                db.name
            ))
            .unwrap();
        if others == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: sessions of the killed run are still open 30 s later",
            db.name
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Migrations holding their transaction on `database`: every change made, the stamp written
/// last, the commit not yet sent (a session between two statements of a migration is idle in
/// its transaction too, for an instant).
fn held_transactions(client: &mut Client, database: &str) -> i64 {
    client
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
               AND state = 'idle in transaction' AND backend_xid IS NOT NULL \
               AND query LIKE 'UPDATE alembic_version SET version_num%'"
        ))
        .unwrap()
}

/// The stand-in migrations running in process group `group`.
fn migrations_in_group(group: u32) -> Vec<Process> {
    all_pids()
        .into_iter()
        .filter_map(process)
        .filter(|found| found.group == group && found.state != 'Z')
        .filter(|found| {
            command_line(found.pid)
                .unwrap_or_default()
                .first()
                .map(String::as_str)
                == Some(migrate_program())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Killed anywhere, resumed to the same end.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// The restore begun (pg_restore or the check of the copy after it running).
    RestoreStarted,
    /// The snapshot restored and proven, nothing neutralized yet (or just so).
    RestoreDone,
    /// The neutralization committed and the kill before the journal said so: the journal is
    /// the one such a kill leaves (the window is a few statements wide, so it is made by hand).
    NeutralizeCommittedNotJournaled,
    /// Hop 1's migration (6.0.0 -> 7.0.0 rewrites every schedule) with every change made and
    /// its transaction open.
    MigrationHeld,
    /// Hop 1 migrated and verified.
    HopVerified,
    /// Hop 2's rollback point being taken.
    SnapshotStarted,
}

impl KillPoint {
    const ALL: [KillPoint; 6] = [
        KillPoint::RestoreStarted,
        KillPoint::RestoreDone,
        KillPoint::NeutralizeCommittedNotJournaled,
        KillPoint::MigrationHeld,
        KillPoint::HopVerified,
        KillPoint::SnapshotStarted,
    ];

    fn name(self) -> &'static str {
        match self {
            KillPoint::RestoreStarted => "restore-started",
            KillPoint::RestoreDone => "restore-done",
            KillPoint::NeutralizeCommittedNotJournaled => "neutralize-committed",
            KillPoint::MigrationHeld => "migration-held",
            KillPoint::HopVerified => "hop-1-verified",
            KillPoint::SnapshotStarted => "hop-2-snapshot-started",
        }
    }

    fn hold(self) -> Option<u64> {
        (self == KillPoint::MigrationHeld).then_some(LONG_HOLD)
    }
}

#[test]
fn killed_anywhere_a_rehearsal_resumes_to_the_same_end_and_report() {
    let production = fixture_db("6.0.0");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path();
    let plan = Plan {
        snapshot: production_snapshot(&production, dir.path()),
        from: "6.0.0",
        to: "10.1.0",
    };

    // The reference: one run, uninterrupted.
    let reference_db = empty_db();
    let reference_work = dir.path().join("reference");
    let ended = run(
        "reference",
        &reference_db,
        &plan.args(&reference_work, false),
        logs,
    );
    assert_eq!(ended.status.code(), Some(0), "{}", ended.shown());
    let reference = report(&reference_work);
    let journal = &reference["journal"];
    assert_eq!(journal["outcome"], "succeeded", "{}", steps_shown(journal));
    assert_eq!(journal["runs"], 1);
    let path: Vec<&str> = journal["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hop| hop["to"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["7.0.0", "8.0.0", "10.1.0"]);
    for record in journal["steps"].as_array().unwrap() {
        assert_eq!(record["state"], "done", "{record:#}");
        assert_eq!(record["attempts"], 1, "{record:#}");
    }
    assert_eq!(
        step(journal, "hop-1/migrate").unwrap()["detail"]["exit_code"],
        0
    );
    let expected_report = normalized(&reference, &reference_work, &reference_db);
    let expected_state = fingerprint(&reference_db);
    // The schedules were rewritten by 7.0.0 and paused at the end: the state compared holds
    // the work of the migrations and of the neutralization.
    let paused: i64 = reference_db
        .client()
        .scalar("SELECT count(*) FROM queries WHERE schedule IS NULL")
        .unwrap();
    let queries: i64 = reference_db
        .client()
        .scalar("SELECT count(*) FROM queries")
        .unwrap();
    assert!(
        queries > 0 && paused == queries,
        "{paused} of {queries} paused"
    );

    // Every kill point on a staging database of its own, two at a time.
    let queue = Mutex::new(KillPoint::ALL.to_vec());
    let notes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                // (Not `while let`: its guard would hold the queue for the whole run.)
                let next = queue.lock().unwrap().pop();
                let Some(point) = next else { break };
                let note =
                    kill_and_resume(point, &plan, dir.path(), &expected_report, &expected_state);
                notes.lock().unwrap().push(note);
            });
        }
    });
    // Where each kill landed, and how long its resumed run took.
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            notes.into_inner().unwrap().join("\n")
        );
    }
}

/// Starts a rehearsal of `plan`, kills it at `point`, resumes it, and compares the end with
/// the uninterrupted run's; returns what happened, to show.
fn kill_and_resume(
    point: KillPoint,
    plan: &Plan,
    dir: &Path,
    expected_report: &str,
    expected_state: &str,
) -> String {
    let logs = dir;
    let mut seen = Vec::new();
    let name = point.name();
    let staging = empty_db();
    let work = dir.join(name);
    let mut running = start(
        &format!("{name}.killed"),
        &staging,
        &plan.args(&work, false),
        point.hold(),
        logs,
    );
    let mut watcher = staging.client();
    let at_kill = running.until(&work, name, |journal| match point {
        KillPoint::RestoreStarted => state(journal, "restore") == Some("started"),
        KillPoint::RestoreDone => state(journal, "restore") == Some("done"),
        KillPoint::NeutralizeCommittedNotJournaled => state(journal, "neutralize") == Some("done"),
        KillPoint::MigrationHeld => {
            state(journal, "hop-1/migrate") == Some("started")
                && !journal["runner_process_group"].is_null()
                && held_transactions(&mut watcher, &staging.name) > 0
        }
        KillPoint::HopVerified => state(journal, "hop-1/verify") == Some("done"),
        KillPoint::SnapshotStarted => state(journal, "hop-2/snapshot") == Some("started"),
    });
    let group = at_kill["runner_process_group"]
        .as_u64()
        .map(|group| group as u32);
    running.kill();
    let killed_at = Instant::now();
    let left = read_journal(&work).unwrap();
    assert!(left["outcome"].is_null(), "{name}: {left:#}");
    seen.push(format!("{name}: killed with\n{}", steps_shown(&left)));

    let mut orphans = Vec::new();
    match point {
        KillPoint::NeutralizeCommittedNotJournaled => {
            // Nothing after the neutralization writes to the copy before a migration: the
            // copy is as the commit left it. The journal is made the one a kill between the
            // commit and the journal's write leaves: the step started, nothing after it.
            assert_eq!(
                state(&left, "hop-1/migrate"),
                None,
                "{name}: too late\n{left:#}"
            );
            let mut rewound = left.clone();
            let steps = rewound["steps"].as_array_mut().unwrap();
            steps.retain(|step| step["id"] == "restore" || step["id"] == "neutralize");
            let neutralize = steps
                .iter_mut()
                .find(|step| step["id"] == "neutralize")
                .unwrap();
            neutralize["state"] = "started".into();
            neutralize["finished_at"] = Value::Null;
            neutralize["seconds"] = Value::Null;
            neutralize["detail"] = Value::Null;
            std::fs::write(
                work.join("journal.json"),
                serde_json::to_vec_pretty(&rewound).unwrap(),
            )
            .unwrap();
            let _ = std::fs::remove_dir_all(work.join("snapshots"));
            let applied: i64 = watcher
                .scalar("SELECT count(*) FROM redash_upgrade.neutralization")
                .unwrap();
            assert!(applied >= 3, "{name}: the neutralization is not committed");
        }
        KillPoint::MigrationHeld => {
            // The runner's own process (sh) dies with the rehearsal; the migration it started
            // does not, and its transaction is still open on the server.
            let group = group.expect("the runner's process group is journaled");
            let deadline = Instant::now() + Duration::from_secs(10);
            while process(group).is_some_and(|found| found.state != 'Z') {
                assert!(
                    Instant::now() < deadline,
                    "{name}: the runner (pid {group}) outlived the killed rehearsal by 10 s"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            orphans = migrations_in_group(group);
            assert_eq!(
                orphans.len(),
                1,
                "{name}: the held migration is not running"
            );
            assert!(
                held_transactions(&mut watcher, &staging.name) > 0,
                "{name}: the held migration's transaction is not open"
            );
            assert_eq!(left["dirty_hop"], 1, "{left:#}");
        }
        _ => {}
    }
    drop(watcher);

    let resumed = run(
        &format!("{name}.resumed"),
        &staging,
        &plan.args(&work, true),
        logs,
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{name}: the resumed run failed\n{}\njournal:\n{}",
        resumed.shown(),
        read_journal(&work)
            .map(|journal| steps_shown(&journal))
            .unwrap_or_default()
    );
    let got = report(&work);
    let journal = &got["journal"];
    assert_eq!(journal["outcome"], "succeeded", "{name}");
    assert_eq!(journal["runs"], 2, "{name}");
    assert!(journal["runner_process_group"].is_null(), "{name}");
    assert!(journal["dirty_hop"].is_null(), "{name}");
    assert_same(
        &format!("{name}: the report"),
        expected_report,
        &normalized(&got, &work, &staging),
    );
    assert_same(
        &format!("{name}: the staging database"),
        expected_state,
        &fingerprint(&staging),
    );
    // What the killed run had done is not done again.
    for done in left["steps"].as_array().unwrap() {
        let id = done["id"].as_str().unwrap();
        if done["state"] == "done" && point != KillPoint::NeutralizeCommittedNotJournaled {
            assert_eq!(
                step(journal, id).unwrap()["attempts"],
                1,
                "{name}: {id} was done before the kill and again after it"
            );
        }
    }

    let migrate = step(journal, "hop-1/migrate").unwrap();
    let rollback = step(journal, "hop-1/rollback");
    if point == KillPoint::MigrationHeld {
        // The migration the killed run left was stopped, the hop rolled back to its
        // snapshot, and migrated again.
        assert_eq!(migrate["attempts"], 2, "{migrate:#}");
        let rollback = rollback.expect("the interrupted hop is rolled back");
        assert_eq!(rollback["state"], "done", "{rollback:#}");
        assert_eq!(rollback["detail"]["restore_tested"], true, "{rollback:#}");
        assert!(
            killed_at.elapsed() < Duration::from_secs(LONG_HOLD),
            "too slow to tell a stopped migration from one that ended on its own"
        );
        for orphan in &orphans {
            assert!(
                !still_running(orphan),
                "{name}: the migration the killed run left (pid {}) still runs after the resumed run ended",
                orphan.pid
            );
        }
        let held: i64 = staging
            .client()
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
                   AND state LIKE 'idle in transaction%'",
                staging.name
            ))
            .unwrap();
        assert_eq!(held, 0, "{name}: a transaction is left open");
    } else {
        assert_eq!(migrate["attempts"], 1, "{name}: {migrate:#}");
        assert!(rollback.is_none(), "{name}: {rollback:#?}");
    }
    seen.push(format!(
        "{name}: resumed in {:.1} s",
        resumed.took.as_secs_f64()
    ));
    seen.join("\n")
}

// ---------------------------------------------------------------------------------------------
// 2. One staging database, one rehearsal.

#[test]
fn a_second_rehearsal_on_the_same_staging_database_is_refused() {
    let production = fixture_db("8.0.0");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path();
    let plan = Plan {
        snapshot: production_snapshot(&production, dir.path()),
        from: "8.0.0",
        to: "10.1.0",
    };
    let staging = empty_db();
    let first_work = dir.path().join("first");
    let mut first = start(
        "first",
        &staging,
        &plan.args(&first_work, false),
        Some(LOCK_HOLD),
        logs,
    );
    let mut watcher = staging.client();
    first.until(&first_work, "the migration held", |journal| {
        state(journal, "hop-1/migrate") == Some("started")
            && held_transactions(&mut watcher, &staging.name) > 0
    });

    let second_work = dir.path().join("second");
    let second = run("second", &staging, &plan.args(&second_work, false), logs);
    assert_eq!(second.status.code(), Some(2), "{}", second.shown());
    let line = format!(
        "error: another rehearsal holds the lock on postgresql://postgres:***@127.0.0.1:{}/{}: two rehearsals on one staging database would undo each other's work\n",
        server().port(),
        staging.name
    );
    assert_eq!(second.stderr, line, "{}", second.shown());
    assert!(!second.stderr.contains(server().password()));
    assert_eq!(second.stdout, "");
    // Refused at once, not after waiting for the lock: the first still holds its migration.
    assert!(
        first.running(),
        "the second rehearsal waited for the first to end"
    );
    assert!(
        held_transactions(&mut watcher, &staging.name) > 0,
        "the second rehearsal waited for the first's migration to end"
    );
    // It left nothing to resume.
    assert!(
        read_journal(&second_work).is_none(),
        "the refused run wrote a journal"
    );

    let ended = first.wait();
    assert_eq!(ended.status.code(), Some(0), "{}", ended.shown());
    let got = report(&first_work);
    assert_eq!(got["journal"]["outcome"], "succeeded");
    assert_eq!(got["journal"]["runs"], 1);
    for record in got["journal"]["steps"].as_array().unwrap() {
        assert_eq!(record["state"], "done", "{record:#}");
        assert_eq!(record["attempts"], 1, "{record:#}");
    }
    // The lock went with the first run: nothing holds it on the server.
    let locks: i64 = watcher
        .scalar(&format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
               AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
            staging.name
        ))
        .unwrap();
    assert_eq!(locks, 0);
}

// ---------------------------------------------------------------------------------------------
// 3. A work directory belongs to one rehearsal.

/// Starts a rehearsal of `plan` into `staging` and kills it once the snapshot is restored.
fn killed_after_restore(plan: &Plan, staging: &TestDb, work: &Path, logs: &Path) -> Vec<u8> {
    let mut running = start("killed", staging, &plan.args(work, false), None, logs);
    running.until(work, "the restore done", |journal| {
        state(journal, "restore") == Some("done")
    });
    running.kill();
    sessions_ended(staging);
    std::fs::read(work.join("journal.json")).unwrap()
}

#[test]
fn a_started_work_dir_needs_resume() {
    let production = fixture_db("8.0.0");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path();
    let plan = Plan {
        snapshot: production_snapshot(&production, dir.path()),
        from: "8.0.0",
        to: "10.1.0",
    };
    let staging = empty_db();
    let work = dir.path().join("work");
    let journal_bytes = killed_after_restore(&plan, &staging, &work, logs);
    let before = fingerprint(&staging);

    // Started again without --resume (and with --yes): refused before anything is written.
    let again = run("again", &staging, &plan.args(&work, false), logs);
    assert_eq!(again.status.code(), Some(2), "{}", again.shown());
    assert_eq!(
        again.stderr,
        format!(
            "error: {}: a rehearsal was already started here; continue it with --resume, or choose another --work-dir\n",
            work.display()
        )
    );
    assert_eq!(
        std::fs::read(work.join("journal.json")).unwrap(),
        journal_bytes
    );
    assert_eq!(
        fingerprint(&staging),
        before,
        "the refused run wrote to the staging database"
    );

    // --resume where nothing was started.
    let nowhere = dir.path().join("nowhere");
    let nothing = run("nothing", &staging, &plan.args(&nowhere, true), logs);
    assert_eq!(nothing.status.code(), Some(2), "{}", nothing.shown());
    assert_eq!(
        nothing.stderr,
        format!(
            "error: --resume: {} holds no journal to resume\n",
            nowhere.display()
        )
    );
    assert!(read_journal(&nowhere).is_none());
    assert_eq!(
        fingerprint(&staging),
        before,
        "the refused run wrote to the staging database"
    );

    // The refusals spoiled nothing: --resume continues the rehearsal to its end.
    let resumed = run("resumed", &staging, &plan.args(&work, true), logs);
    assert_eq!(resumed.status.code(), Some(0), "{}", resumed.shown());
    let got = report(&work);
    assert_eq!(got["journal"]["outcome"], "succeeded");
    assert_eq!(got["journal"]["runs"], 2);
    assert_eq!(step(&got["journal"], "restore").unwrap()["attempts"], 1);
}

#[test]
fn resume_refuses_a_journal_of_another_rehearsal() {
    let production = fixture_db("8.0.0");
    let other_production = fixture_db("8.0.0");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path();
    let plan = Plan {
        snapshot: production_snapshot(&production, dir.path()),
        from: "8.0.0",
        to: "10.1.0",
    };
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let other_snapshot = production_snapshot(&other_production, &other_dir);
    let manifest_sum =
        |snapshot: &Path| std::fs::read_to_string(snapshot.join("manifest.json.sha256")).unwrap();
    assert_ne!(
        manifest_sum(&plan.snapshot).split_whitespace().next(),
        manifest_sum(&other_snapshot).split_whitespace().next(),
        "two snapshots of two databases with one manifest"
    );
    let staging = empty_db();
    let work = dir.path().join("work");
    let journal_bytes = killed_after_restore(&plan, &staging, &work, logs);
    let before = fingerprint(&staging);
    let other_staging = empty_db();
    let relations = |db: &TestDb| -> i64 {
        db.client()
            .scalar(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                    AND n.nspname NOT LIKE 'pg_toast%'",
            )
            .unwrap()
    };

    let refused = |what: &str, db: &TestDb, plan: &Plan, why: &str| {
        let ended = run(what, db, &plan.args(&work, true), logs);
        assert_eq!(ended.status.code(), Some(2), "{what}: {}", ended.shown());
        let expected = format!(
            "error: --resume: the journal in {} is of another rehearsal ({why})\n",
            work.display()
        );
        assert_eq!(ended.stderr, expected, "{what}");
        assert_eq!(
            std::fs::read(work.join("journal.json")).unwrap(),
            journal_bytes,
            "{what}: the journal changed"
        );
        assert_eq!(
            fingerprint(&staging),
            before,
            "{what}: the staging database changed"
        );
        assert_eq!(
            relations(&other_staging),
            0,
            "{what}: the other database changed"
        );
    };
    let snapshot = text(&plan.snapshot).to_owned();
    refused(
        "another snapshot",
        &staging,
        &Plan {
            snapshot: other_snapshot.clone(),
            from: "8.0.0",
            to: "10.1.0",
        },
        &format!("snapshot {snapshot} with another manifest"),
    );
    refused(
        "another staging database",
        &other_staging,
        &Plan {
            snapshot: plan.snapshot.clone(),
            from: "8.0.0",
            to: "10.1.0",
        },
        &format!(
            "staging database postgresql://postgres:***@127.0.0.1:{}/{}",
            server().port(),
            staging.name
        ),
    );
    refused(
        "another plan",
        &staging,
        &Plan {
            snapshot: plan.snapshot.clone(),
            from: "8.0.0",
            to: "10.0.0",
        },
        "the plan 8.0.0 -> 10.1.0",
    );
}
