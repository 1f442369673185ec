//! `archive`, the one command that writes to a production metadata database, against real
//! fixtures: it archives exactly the rows the reviewed CSV asks for, refuses rows edited since
//! or on dashboards, journals before it commits, is idempotent, `--undo` brings back every
//! table's digest, and a run killed at any moment leaves the database untouched or fully
//! archived, never partly.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use redash_upgrade::testbed::Client;
use serde_json::Value;

/// What a run saw, in the test's captured output (shown with `--nocapture` or on failure).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use crate::pg::{fixture_db, TestDb};
use crate::support::{command, stderr, stdout};

fn shown(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        stdout(output),
        stderr(output)
    )
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .args(["archive"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}

/// Every table of `public`: row count and a digest of its rows.
fn digest(client: &mut Client) -> BTreeMap<String, String> {
    let tables: String = client
        .scalar(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' AND c.relkind = 'r'",
        )
        .unwrap();
    tables
        .split(',')
        .map(|table| {
            let digest: String = client
                .scalar(&format!(
                    "SELECT count(*)::text || ':' || md5(coalesce(string_agg(t::text, E'\\n' \
                       ORDER BY t::text), '')) FROM public.\"{table}\" t"
                ))
                .unwrap();
            (table.to_owned(), digest)
        })
        .collect()
}

fn ids(client: &mut Client, sql: &str) -> Vec<i64> {
    let text: Option<String> = client
        .scalar(&format!(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM ({sql}) chosen"
        ))
        .unwrap();
    text.unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| id.parse().unwrap())
        .collect()
}

const FREE: &str = "NOT q.is_archived AND NOT EXISTS (SELECT 1 FROM visualizations v \
    JOIN widgets w ON w.visualization_id = v.id WHERE v.query_id = q.id) \
    AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.query_id = q.id)";

/// The queries a test classes, chosen from the fixture itself.
struct Choice {
    archive_scheduled: Vec<i64>,
    archive_unscheduled: Vec<i64>,
    on_dashboard: i64,
    already_archived: i64,
    keep: Vec<i64>,
}

impl Choice {
    fn of(client: &mut Client) -> Choice {
        let archive_scheduled = ids(
            client,
            &format!("SELECT id FROM queries q WHERE {FREE} AND q.schedule IS NOT NULL ORDER BY id LIMIT 2"),
        );
        let archive_unscheduled = ids(
            client,
            &format!(
                "SELECT id FROM queries q WHERE {FREE} AND q.schedule IS NULL ORDER BY id LIMIT 2"
            ),
        );
        let on_dashboard = ids(
            client,
            "SELECT id FROM queries q WHERE NOT q.is_archived AND EXISTS (SELECT 1 FROM \
             visualizations v JOIN widgets w ON w.visualization_id = v.id WHERE v.query_id = q.id) \
             ORDER BY id LIMIT 1",
        );
        let already_archived = ids(
            client,
            "SELECT id FROM queries q WHERE q.is_archived ORDER BY id LIMIT 1",
        );
        let keep = ids(
            client,
            &format!("SELECT id FROM queries q WHERE {FREE} ORDER BY id DESC LIMIT 3"),
        );
        assert_eq!(archive_scheduled.len(), 2, "scheduled candidates");
        assert_eq!(archive_unscheduled.len(), 2, "unscheduled candidates");
        assert_eq!(keep.len(), 3, "keep candidates");
        assert!(keep
            .iter()
            .all(|id| !archive_scheduled.contains(id) && !archive_unscheduled.contains(id)));
        Choice {
            archive_scheduled,
            archive_unscheduled,
            on_dashboard: on_dashboard[0],
            already_archived: already_archived[0],
            keep,
        }
    }

    fn archived(&self) -> Vec<i64> {
        let mut ids = self.archive_scheduled.clone();
        ids.extend(&self.archive_unscheduled);
        ids.sort();
        ids
    }

    fn classes(&self) -> Vec<(i64, &'static str)> {
        let mut classes: Vec<(i64, &str)> = self
            .archived()
            .into_iter()
            .map(|id| (id, "archive"))
            .collect();
        classes.push((self.on_dashboard, "Archive"));
        classes.push((self.already_archived, " archive "));
        classes.extend(self.keep.iter().map(|&id| (id, "KEEP")));
        classes
    }
}

/// The inventory CSV as the `inventory` command writes it, from the database itself, with
/// extra columns (one quoted with a comma) that archive must ignore.
fn inventory(client: &mut Client, classes: &[(i64, &str)]) -> String {
    use redash_upgrade::archive::csv as contract;
    let mut text = format!(
        "{},name,{},{},{},{},{},reason\n",
        contract::ID,
        contract::ORG_ID,
        contract::UPDATED_AT,
        contract::VERSION,
        contract::IS_ARCHIVED,
        contract::CLASS
    );
    for (id, class) in classes {
        let line: String = client
            .scalar(&format!(
                "SELECT id || ',\"' || replace(name, '\"', '\"\"') || ', x\",' || org_id || ',' || \
                        {} || ',' || version || ',' || is_archived::text \
                   FROM queries WHERE id = {id}",
                contract::UPDATED_AT_SQL
            ))
            .unwrap();
        text.push_str(&format!("{line},{class},\"stale, unused\"\n"));
    }
    text
}

fn state_of(client: &mut Client, ids: &[i64]) -> Vec<(i64, bool, Option<String>, i32)> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let text: String = client
        .scalar(&format!(
            "SELECT string_agg(id || '|' || is_archived || '|' || coalesce(schedule::text, '<NULL>') \
                    || '|' || version, E'\\n' ORDER BY id) FROM queries WHERE id IN ({list})"
        ))
        .unwrap();
    text.lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            (
                parts[0].parse().unwrap(),
                parts[1] == "true",
                (parts[2] != "<NULL>").then(|| parts[2].to_owned()),
                parts[3].parse().unwrap(),
            )
        })
        .collect()
}

fn differing(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    before
        .iter()
        .filter(|(table, digest)| after.get(*table) != Some(digest))
        .map(|(table, _)| table.clone())
        .collect()
}

fn journal_of(file: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// The whole story on one release: dry run, apply, idempotent apply, undo, undo again.
fn archive_and_undo(release: &str, schedule_after: Option<&str>) {
    let db = fixture_db(release);
    let mut client = db.client();
    let choice = Choice::of(&mut client);
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("inventory.csv");
    std::fs::write(&csv, inventory(&mut client, &choice.classes())).unwrap();
    let journal = work.path().join("journal.json");
    // The same CSV without the query on a dashboard, for the second run.
    let without_dashboard: Vec<(i64, &str)> = choice
        .classes()
        .into_iter()
        .filter(|(id, _)| *id != choice.on_dashboard)
        .collect();
    let first_csv = work.path().join("first.csv");
    std::fs::write(&first_csv, inventory(&mut client, &without_dashboard)).unwrap();
    let before_state = state_of(&mut client, &choice.archived());
    let before = digest(&mut client);
    let updated_before: String = client
        .scalar("SELECT max(updated_at)::text FROM queries")
        .unwrap();

    // Dry run: the plan, nothing written, no journal.
    let dry = run(&db, &["--from", path(&csv), "--journal", path(&journal)]);
    assert_eq!(dry.status.code(), Some(0), "{}", shown(&dry));
    assert!(
        stdout(&dry).contains("would change (dry run)"),
        "{}",
        shown(&dry)
    );
    assert!(!journal.exists());
    assert_eq!(digest(&mut client), before);
    note!("{}", stdout(&dry));
    let markdown = run(
        &db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&journal),
            "--format",
            "markdown",
        ],
    );
    assert_eq!(markdown.status.code(), Some(0), "{}", shown(&markdown));
    assert!(stdout(&markdown).contains("| id | name | action | detail |"));

    // Without a terminal, --apply needs --yes.
    let unconfirmed = run(
        &db,
        &["--from", path(&csv), "--journal", path(&journal), "--apply"],
    );
    assert_eq!(
        unconfirmed.status.code(),
        Some(2),
        "{}",
        shown(&unconfirmed)
    );
    assert_eq!(
        stderr(&unconfirmed).lines().count(),
        1,
        "{}",
        shown(&unconfirmed)
    );
    assert!(!journal.exists());

    let applied = run(
        &db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&journal),
            "--apply",
            "--yes",
            "--format",
            "json",
        ],
    );
    // The query on a dashboard is refused: exit 1, the others archived.
    assert_eq!(applied.status.code(), Some(1), "{}", shown(&applied));
    let report: Value = serde_json::from_slice(&applied.stdout).unwrap();
    assert_eq!(report["type"], "archive");
    assert_eq!(report["changed"], 4, "{report:#}");
    assert_eq!(report["refused"], 1, "{report:#}");
    let action = |id: i64| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["id"] == id)
            .map(|row| row["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        action(choice.on_dashboard).as_deref(),
        Some("refused-on-dashboards")
    );
    assert_eq!(
        action(choice.already_archived).as_deref(),
        Some("already-archived")
    );
    assert_eq!(action(choice.keep[0]), None, "keep rows are left alone");

    for ((id, archived, schedule, version), (_, _, _, version_before)) in
        state_of(&mut client, &choice.archived())
            .into_iter()
            .zip(before_state)
    {
        assert!(archived, "query {id}");
        assert_eq!(schedule.as_deref(), schedule_after, "query {id}");
        // Redash's archive does not bump version (version_id_generator False).
        assert_eq!(version, version_before, "query {id}");
    }
    let touched: i64 = client
        .scalar(&format!(
            "SELECT count(*) FROM queries WHERE updated_at > '{updated_before}'::timestamptz"
        ))
        .unwrap();
    assert_eq!(touched, 4, "exactly the archived rows got a new updated_at");
    let after = digest(&mut client);
    assert_eq!(differing(&before, &after), vec!["queries".to_owned()]);
    let record = journal_of(&journal);
    assert_eq!(record["state"], "committed");
    assert_eq!(record["type"], "redash-upgrade-archive-journal");
    assert_eq!(record["rows"].as_array().unwrap().len(), 4);
    assert_eq!(record["rows"][0]["before"]["is_archived"], false);
    assert!(!record["database"]
        .as_str()
        .unwrap()
        .contains(crate::pg::server().password()));
    assert_eq!(record["inventory_sha256"].as_str().unwrap().len(), 64);

    // The CSV again (without the refused dashboard row, which would exit 1 every time):
    // nothing to change, exit 0, no journal.
    let again = run(
        &db,
        &[
            "--from",
            path(&first_csv),
            "--journal",
            path(&work.path().join("again.json")),
            "--apply",
            "--yes",
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", shown(&again));
    assert!(!work.path().join("again.json").exists());
    assert_eq!(digest(&mut client), after);

    // An existing journal is never overwritten.
    let exists = run(
        &db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&journal),
            "--apply",
            "--yes",
        ],
    );
    assert_eq!(exists.status.code(), Some(2), "{}", shown(&exists));
    assert!(
        stderr(&exists).contains("the file exists"),
        "{}",
        shown(&exists)
    );

    // Undo: a dry run first, then the database is as before, then a no-op.
    let undo_dry = run(&db, &["--undo", path(&journal)]);
    assert_eq!(undo_dry.status.code(), Some(0), "{}", shown(&undo_dry));
    assert_eq!(digest(&mut client), after);
    let undone = run(&db, &["--undo", path(&journal), "--apply", "--yes"]);
    assert_eq!(undone.status.code(), Some(0), "{}", shown(&undone));
    assert_eq!(digest(&mut client), before, "{}", shown(&undone));
    let twice = run(&db, &["--undo", path(&journal), "--apply", "--yes"]);
    assert_eq!(twice.status.code(), Some(0), "{}", shown(&twice));
    assert!(
        stdout(&twice).contains("nothing to undo"),
        "{}",
        shown(&twice)
    );
    assert_eq!(digest(&mut client), before);
}

#[test]
fn archive_then_undo_at_10_1_0() {
    archive_and_undo("10.1.0", None);
}

#[test]
fn archive_then_undo_at_4_0_2_where_schedule_is_varchar() {
    archive_and_undo("4.0.2", None);
}

#[test]
fn archive_then_undo_at_25_8_0_where_schedule_is_jsonb_null() {
    archive_and_undo("25.8.0", Some("null"));
}

#[test]
fn rows_edited_since_are_refused_and_named_and_undo_refuses_rows_edited_after() {
    let db = fixture_db("10.1.0");
    let mut client = db.client();
    let choice = Choice::of(&mut client);
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("inventory.csv");
    let classes: Vec<(i64, &str)> = choice
        .archived()
        .into_iter()
        .map(|id| (id, "archive"))
        .collect();
    std::fs::write(&csv, inventory(&mut client, &classes)).unwrap();
    let edited = choice.archive_scheduled[0];
    // An edit in Redash after the inventory: name, version and updated_at change.
    db.execute(&format!(
        "UPDATE queries SET name = name || ' (edited)', version = version + 1, \
         updated_at = now() WHERE id = {edited}"
    ));
    let journal = work.path().join("journal.json");
    let applied = run(
        &db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&journal),
            "--apply",
            "--yes",
        ],
    );
    assert_eq!(applied.status.code(), Some(1), "{}", shown(&applied));
    let text = stdout(&applied);
    assert!(
        text.contains(&format!("{edited}  refused: edited since")),
        "{}",
        shown(&applied)
    );
    assert!(text.contains("version"), "{}", shown(&applied));
    let state = state_of(&mut client, &choice.archived());
    for (id, archived, _, _) in state {
        assert_eq!(archived, id != edited, "query {id}");
    }
    // After the archive, someone un-archives one query by hand: undo refuses it, restores the rest.
    let touched = choice.archive_unscheduled[0];
    db.execute(&format!(
        "UPDATE queries SET is_archived = false, updated_at = now() WHERE id = {touched}"
    ));
    let undone = run(&db, &["--undo", path(&journal), "--apply", "--yes"]);
    assert_eq!(undone.status.code(), Some(1), "{}", shown(&undone));
    assert!(
        stdout(&undone).contains(&format!("{touched}  refused: edited since")),
        "{}",
        shown(&undone)
    );
    let state = state_of(&mut client, &choice.archived());
    assert!(
        state.iter().all(|(_, archived, _, _)| !archived),
        "{state:?}"
    );
}

#[test]
fn tag_keepers_adds_the_tag_once_and_undo_removes_it() {
    let db = fixture_db("10.1.0");
    let mut client = db.client();
    let choice = Choice::of(&mut client);
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("inventory.csv");
    let classes: Vec<(i64, &str)> = choice.keep.iter().map(|&id| (id, "keep")).collect();
    std::fs::write(&csv, inventory(&mut client, &classes)).unwrap();
    let before = digest(&mut client);
    let journal = work.path().join("journal.json");
    let args = |journal: &Path| {
        vec![
            "--from".to_owned(),
            path(&csv).to_owned(),
            "--journal".to_owned(),
            path(journal).to_owned(),
            "--tag-keepers".to_owned(),
            "keep-2026".to_owned(),
            "--apply".to_owned(),
            "--yes".to_owned(),
        ]
    };
    let tagged = command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .arg("archive")
        .args(args(&journal))
        .output()
        .unwrap();
    assert_eq!(tagged.status.code(), Some(0), "{}", shown(&tagged));
    let count: i64 = client
        .scalar("SELECT count(*) FROM queries WHERE 'keep-2026' = ANY(tags)")
        .unwrap();
    assert_eq!(count, 3);
    let again = command()
        .env("REDASH_DATABASE_URL", db.tcp_url())
        .arg("archive")
        .args(args(&work.path().join("again.json")))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", shown(&again));
    assert!(
        stdout(&again).contains("already tagged"),
        "{}",
        shown(&again)
    );
    let total: i64 = client
        .scalar("SELECT coalesce(sum(array_length(array_positions(tags, 'keep-2026'), 1)), 0) FROM queries")
        .unwrap();
    assert_eq!(total, 3, "the tag is added once");
    let undone = run(&db, &["--undo", path(&journal), "--apply", "--yes"]);
    assert_eq!(undone.status.code(), Some(0), "{}", shown(&undone));
    assert_eq!(digest(&mut client), before);
}

#[test]
fn tag_keepers_is_refused_before_5_0_0() {
    let db = fixture_db("4.0.2");
    let mut client = db.client();
    let choice = Choice::of(&mut client);
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("inventory.csv");
    std::fs::write(&csv, inventory(&mut client, &[(choice.keep[0], "keep")])).unwrap();
    let refused = run(
        &db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&work.path().join("j.json")),
            "--tag-keepers",
            "x",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", shown(&refused));
    assert_eq!(
        stderr(&refused),
        "error: --tag-keepers: this database's queries have no tags column (Redash before 5.0.0)\n"
    );
}

#[test]
fn a_bad_csv_is_one_line_naming_the_file_and_line_or_column() {
    let db = fixture_db("10.1.0");
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("j.json");
    let missing = work.path().join("missing.csv");
    std::fs::write(
        &missing,
        "id,class,org_id,updated_at,is_archived\n1,keep,1,x,false\n",
    )
    .unwrap();
    let output = run(
        &db,
        &["--from", path(&missing), "--journal", path(&journal)],
    );
    assert_eq!(output.status.code(), Some(2), "{}", shown(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: no `version` column (the inventory's columns include id, class, org_id, \
             updated_at, version, is_archived)\n",
            missing.display()
        )
    );
    let bad = work.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,class,org_id,updated_at,version,is_archived\n1,keep,1,x,1,false\n2,purge,1,x,1,false\n",
    )
    .unwrap();
    let output = run(&db, &["--from", path(&bad), "--journal", path(&journal)]);
    assert_eq!(output.status.code(), Some(2), "{}", shown(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}:3: class \"purge\" is not one of keep, review, archive\n",
            bad.display()
        )
    );
    assert!(stdout(&output).is_empty());
    assert!(!journal.exists());
    let nowhere = work.path().join("no-such-dir/j.json");
    let good = work.path().join("good.csv");
    std::fs::write(&good, "id,class,org_id,updated_at,version,is_archived\n").unwrap();
    let output = run(
        &db,
        &[
            "--from",
            path(&good),
            "--journal",
            path(&nowhere),
            "--apply",
            "--yes",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", shown(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: failed to write the journal {}: no such directory\n",
            nowhere.display()
        )
    );
}

/// Makes every transaction that updates `queries` wait `seconds` at COMMIT (a deferred
/// constraint trigger), and has the server notice a client that went away meanwhile
/// (`client_connection_check_interval`), so that a kill lands between the journal's write and
/// the commit's end: the transaction is then rolled back by the server.
fn slow_commits(db: &TestDb, seconds: f64) {
    db.execute(&format!(
        "CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF current_setting('test.slept', true) IS DISTINCT FROM 'yes' THEN \
             PERFORM set_config('test.slept', 'yes', true); PERFORM pg_sleep({seconds}); \
           END IF; RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER test_slow_commit AFTER UPDATE ON queries \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE PROCEDURE test_slow_commit(); \
         ALTER DATABASE \"{}\" SET client_connection_check_interval = '20ms';",
        db.name
    ));
}

fn sessions_left(db: &TestDb) -> i64 {
    crate::pg::server()
        .connect("postgres")
        .unwrap()
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
               AND application_name IN ('redash-upgrade', 'redash-upgrade archive')",
            db.name
        ))
        .unwrap()
}

#[test]
fn an_apply_killed_at_any_moment_leaves_nothing_or_everything_and_undo_brings_it_back() {
    const RUNS: usize = 14;
    /// The last runs are killed as soon as the journal appears (prepared, before COMMIT ends).
    const AIMED: usize = 4;
    let work = tempfile::tempdir().unwrap();
    let template = fixture_db("10.1.0");
    let mut template_client = template.client();
    let choice = Choice::of(&mut template_client);
    // Every free query is archived: a large batch.
    let all_free = ids(
        &mut template_client,
        &format!("SELECT id FROM queries q WHERE {FREE}"),
    );
    let mut classes: Vec<(i64, &str)> = all_free.iter().map(|&id| (id, "archive")).collect();
    classes.push((choice.on_dashboard, "keep"));
    let csv = work.path().join("inventory.csv");
    std::fs::write(&csv, inventory(&mut template_client, &classes)).unwrap();

    let fresh = || {
        let db = fixture_db("10.1.0");
        slow_commits(&db, 0.4);
        db
    };
    // One full run: how long an apply takes here.
    let full_db = fresh();
    let started = Instant::now();
    let journal = work.path().join("full.json");
    let full = run(
        &full_db,
        &[
            "--from",
            path(&csv),
            "--journal",
            path(&journal),
            "--apply",
            "--yes",
        ],
    );
    let full_time = started.elapsed();
    assert_eq!(full.status.code(), Some(0), "{}", shown(&full));
    drop(full_db);

    let (mut untouched, mut archived, mut prepared_untouched) = (0, 0, 0);
    for run_index in 0..RUNS {
        let db = fresh();
        let mut client = db.client();
        let before = digest(&mut client);
        let journal = work.path().join(format!("journal-{run_index:02}.json"));
        let mut child = command()
            .env("REDASH_DATABASE_URL", db.tcp_url())
            .args([
                "archive",
                "--from",
                path(&csv),
                "--journal",
                path(&journal),
                "--apply",
                "--yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // From the start to past the end (the last random ones finish unkilled).
        let delay = full_time.mul_f64(1.4 * run_index as f64 / (RUNS - AIMED - 1) as f64);
        if run_index >= RUNS - AIMED {
            let deadline = Instant::now() + full_time * 4;
            while !journal.exists()
                && Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_millis(
                20 * (run_index - (RUNS - AIMED)) as u64,
            ));
        } else {
            std::thread::sleep(delay);
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code() != Some(0) {
            assert_eq!(status.signal(), Some(9), "run {run_index}: {status:?}");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while sessions_left(&db) > 0 {
            assert!(
                Instant::now() < deadline,
                "run {run_index}: the session outlived its client"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let now = digest(&mut client);
        let done: i64 = client
            .scalar(&format!(
                "SELECT count(*) FROM queries WHERE is_archived AND id IN ({})",
                all_free
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .unwrap();
        if now == before {
            untouched += 1;
            assert_eq!(done, 0);
        } else {
            archived += 1;
            assert_eq!(
                done as usize,
                all_free.len(),
                "run {run_index}: partly archived"
            );
            assert!(
                journal.exists(),
                "run {run_index}: committed without a journal"
            );
        }
        if journal.exists() {
            let record = journal_of(&journal);
            if now == before {
                assert_eq!(record["state"], "prepared", "run {run_index}");
                prepared_untouched += 1;
            }
            let undone = run(&db, &["--undo", path(&journal), "--apply", "--yes"]);
            assert_eq!(
                undone.status.code(),
                Some(0),
                "run {run_index}: {}",
                shown(&undone)
            );
            assert_eq!(digest(&mut client), before, "run {run_index}: undo");
        }
        note!(
            "{}",
            format!(
                "run {run_index}: delay {delay:?}, {}",
                if now == before {
                    "untouched"
                } else {
                    "archived"
                }
            )
        );
    }
    note!(
        "{}",
        format!(
        "{untouched} untouched ({prepared_untouched} with a prepared journal), {archived} archived"
    )
    );
    assert!(
        untouched > 0 && archived > 0,
        "{untouched} untouched, {archived} archived"
    );
    assert!(
        prepared_untouched > 0,
        "no kill landed between the journal and the commit"
    );
}
