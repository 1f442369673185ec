//! Benchmark: `snapshot`, `verify` and `restore` on the large 10.1.0 fixture, each next to the
//! PostgreSQL tool it wraps (`pg_dump -Fc`, `pg_restore`) on the same server, with the same
//! binaries the library finds. Starts its own throwaway PostgreSQL (like the tests) and prints
//! wall times, ratios against the targets, and where the CPU went (this process, its child
//! `pg_dump`/`pg_restore`, the server's backends).
//!
//!     cargo run --release --features testbed --bin bench-snapshot [-- --runs 3] [--phases]
//!
//! `--phases` adds a breakdown: the export and detection, `read_tables` alone, the same COPYs
//! with the rows not inspected (also per table), `pg_dump` at other compression levels,
//! `pg_restore` in two sections, and (as root) the snapshot with the hashing threads at nice
//! 19. `--only OP` (read, copy, snapshot, verify, restore, pg_dump) runs just that, --runs
//! times, for `perf record -p` once "ready" is printed.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use redash_upgrade::checks::db::{Scan, SecretKey};
use redash_upgrade::checks::LiveDatabase;
use redash_upgrade::db::quote_ident;
use redash_upgrade::db::{DatabaseUrl, ReadOnlySession, Timeouts};
use redash_upgrade::detect;
use redash_upgrade::engine;
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::report::Progress;
use redash_upgrade::snapshot::content::{read_tables, snapshot_plans, TablePlan};
use redash_upgrade::snapshot::tools::{self, Tool};
use redash_upgrade::snapshot::{self, manifest, RestoreRequest, SnapshotError, SnapshotRequest};
use redash_upgrade::testbed::{self, PgServer, FIXTURE_SECRET_KEY};
use redash_upgrade::verify::{self, VerifyRequest};

/// The statement timeout the CLI gives `snapshot`, `restore` and `verify`.
const WHOLE_TABLE_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

const SNAPSHOT_TARGET: f64 = 1.10;
const VERIFY_TARGET: f64 = 0.5;
const RESTORE_TARGET: f64 = 1.15;

/// CPU seconds spent during one measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    /// This process (the library: tokio, sqlx, hashing on the rayon pool).
    own: f64,
    /// Child processes waited for (`pg_dump`, `pg_restore`).
    children: f64,
    /// The PostgreSQL server: postmaster, its live children and its reaped backends.
    server: f64,
    /// Every process of the machine (from /proc/stat, interrupts left out): what is beyond
    /// the three above is someone else's work competing for the cores.
    machine: f64,
}

impl Cpu {
    fn total(&self) -> f64 {
        self.own + self.children + self.server
    }

    /// CPU the rest of the machine used meanwhile.
    fn other(&self) -> f64 {
        (self.machine - self.total()).max(0.0)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Cpu,
}

/// Reads the CPU counters before and after a piece of work.
struct Meter {
    postmaster: u32,
    ticks_per_second: f64,
}

impl Meter {
    fn new(server: &PgServer) -> anyhow::Result<Meter> {
        let pid_file = server.socket_dir().join("data").join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("read {}", pid_file.display()))?;
        let postmaster = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .context("postmaster.pid has no pid")?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Ok(Meter {
            postmaster,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
        })
    }

    fn rusage(who: libc::c_int) -> f64 {
        // SAFETY: getrusage writes into the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// utime + stime (+ cutime + cstime with `reaped`) of a process, in seconds.
    fn process_cpu(&self, pid: u32, reaped: bool) -> Option<(u32, f64)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
        let ppid: u32 = fields.get(1)?.parse().ok()?;
        let number = |index: usize| -> f64 {
            fields
                .get(index)
                .and_then(|field| field.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let mut ticks = number(11) + number(12);
        if reaped {
            ticks += number(13) + number(14);
        }
        Some((ppid, ticks / self.ticks_per_second))
    }

    fn server_cpu(&self) -> f64 {
        let mut total = self
            .process_cpu(self.postmaster, true)
            .map_or(0.0, |(_, seconds)| seconds);
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse().ok())
                else {
                    continue;
                };
                if pid == self.postmaster {
                    continue;
                }
                if let Some((ppid, seconds)) = self.process_cpu(pid, false) {
                    if ppid == self.postmaster {
                        total += seconds;
                    }
                }
            }
        }
        total
    }

    /// Busy time of all cores (everything but idle and iowait), in seconds.
    fn machine_cpu(&self) -> f64 {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let Some(line) = text.lines().next() else {
            return 0.0;
        };
        let ticks: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user). Interrupt
        // time is left out: the loopback traffic of the COPYs is handled there, unattributed to
        // any process but caused by the measured work.
        let busy: f64 = ticks
            .iter()
            .take(8)
            .enumerate()
            .filter(|(index, _)| matches!(index, 0 | 1 | 2 | 7))
            .map(|(_, value)| value)
            .sum();
        busy / self.ticks_per_second
    }

    fn read(&self) -> Cpu {
        Cpu {
            own: Meter::rusage(libc::RUSAGE_SELF),
            children: Meter::rusage(libc::RUSAGE_CHILDREN),
            server: self.server_cpu(),
            machine: self.machine_cpu(),
        }
    }

    /// Runs `work`, timing it; the CPU counters are read a moment after it ends, so that the
    /// server has reaped the backends it used.
    fn measure<T>(&self, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Sample)> {
        std::thread::sleep(Duration::from_millis(300));
        let before = self.read();
        let started = Instant::now();
        let value = work()?;
        let wall = started.elapsed();
        let machine = self.machine_cpu();
        std::thread::sleep(Duration::from_millis(300));
        let after = self.read();
        Ok((
            value,
            Sample {
                wall,
                cpu: Cpu {
                    own: after.own - before.own,
                    children: after.children - before.children,
                    server: after.server - before.server,
                    machine: machine - before.machine,
                },
            },
        ))
    }
}

/// Median and minimum of a series of samples, the CPU figures of the median sample's position
/// taken as medians of their own.
struct Summary {
    median: f64,
    min: f64,
    cpu: Cpu,
    /// CPU seconds other processes of the machine used meanwhile.
    other: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|left, right| left.total_cmp(right));
    let middle = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn summarise(samples: &[Sample]) -> Summary {
    let pick =
        |field: fn(&Sample) -> f64| median(&mut samples.iter().map(field).collect::<Vec<_>>());
    Summary {
        median: pick(|sample| sample.wall.as_secs_f64()),
        min: samples
            .iter()
            .map(|sample| sample.wall.as_secs_f64())
            .fold(f64::INFINITY, f64::min),
        cpu: Cpu {
            own: pick(|sample| sample.cpu.own),
            children: pick(|sample| sample.cpu.children),
            server: pick(|sample| sample.cpu.server),
            machine: pick(|sample| sample.cpu.machine),
        },
        other: pick(|sample| sample.cpu.other()),
    }
}

fn durations_median(values: &[Duration]) -> f64 {
    median(&mut values.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
}

/// `tool` connected to `url` exactly as the library starts it (environment, PGPASSFILE),
/// run to the end with `args`.
fn run_tool(tool: &Tool, url: &DatabaseUrl, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let (mut command, _password_file) = tools::command(tool, url)?;
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = command
        .output()
        .with_context(|| format!("run {}", tool.path.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            tool.path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn pg_dump_to_file(
    pg_dump: &Tool,
    url: &DatabaseUrl,
    file: &Path,
    extra: &[&str],
) -> anyhow::Result<u64> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--format=custom".as_ref(), "--file".as_ref()];
    args.push(file.as_os_str());
    args.extend(extra.iter().map(|arg| std::ffi::OsStr::new(*arg)));
    run_tool(pg_dump, url, &args)?;
    Ok(std::fs::metadata(file)?.len())
}

fn pg_restore_into(
    pg_restore: &Tool,
    url: &DatabaseUrl,
    database: &str,
    dump: &Path,
) -> anyhow::Result<()> {
    run_tool(
        pg_restore,
        url,
        &[
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--jobs=1".as_ref(),
            "--exit-on-error".as_ref(),
            "--dbname".as_ref(),
            database.as_ref(),
            dump.as_os_str(),
        ],
    )
}

struct Bench {
    server: PgServer,
    meter: Meter,
    knowledge: KnowledgeBase,
    timeouts: Timeouts,
    source: DatabaseUrl,
    work: tempfile::TempDir,
    pg_dump: Tool,
    pg_restore: Tool,
}

impl Bench {
    fn url(&self, database: &str) -> anyhow::Result<DatabaseUrl> {
        Ok(self.server.tcp_url(database).parse::<DatabaseUrl>()?)
    }

    /// A fresh empty database (as `createdb` makes one) for a restore.
    fn fresh_database(&self, name: &str) -> anyhow::Result<DatabaseUrl> {
        self.server.drop_database(name)?;
        self.server.create_database(name, None)?;
        self.url(name)
    }

    /// Drops a restored copy and flushes its pages, so that the next measurement does not pay
    /// for this one's checkpoint.
    fn discard_database(&self, name: &str) -> anyhow::Result<()> {
        self.server.drop_database(name)?;
        self.server
            .connect("postgres")?
            .batch_execute("CHECKPOINT")?;
        Ok(())
    }

    fn take(&self, out: &Path) -> anyhow::Result<snapshot::SnapshotSummary> {
        let request = SnapshotRequest {
            url: self.source.clone(),
            timeouts: self.timeouts,
            out: out.to_owned(),
            jobs: 1,
            pg_bindir: None,
            progress: Progress::hidden(),
        };
        Ok(engine::block_on(async {
            Ok(snapshot::take(&self.knowledge, request).await?)
        })?)
    }

    fn verify(&self, baseline: &Path) -> anyhow::Result<verify::VerifyReport> {
        let request = VerifyRequest {
            baseline: baseline.to_owned(),
            url: self.source.clone(),
            timeouts: self.timeouts,
            expect: None,
            secret_key: Some(SecretKey {
                value: FIXTURE_SECRET_KEY.into(),
                origin: "the fixture's key".into(),
            }),
            progress: Progress::hidden(),
        };
        Ok(engine::block_on(async {
            Ok(verify::verify(&self.knowledge, request).await?)
        })?)
    }

    fn restore(
        &self,
        directory: &Path,
        url: DatabaseUrl,
    ) -> anyhow::Result<snapshot::RestoreOutcome> {
        let request = RestoreRequest {
            directory: directory.to_owned(),
            url,
            timeouts: self.timeouts,
            clean: false,
            jobs: 1,
            production_ok: false,
            dry_run: false,
            pg_bindir: None,
            progress: Progress::hidden(),
        };
        let confirm = |_: &str| true;
        Ok(engine::block_on(async {
            Ok(snapshot::restore(&self.knowledge, request, &confirm).await?)
        })?)
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .skip_while(|arg| *arg != "--runs")
        .nth(1)
        .map(|value| value.parse())
        .transpose()
        .context("--runs takes a number")?
        .unwrap_or(3)
        .max(1);
    let phases = args.iter().any(|arg| arg == "--phases");
    let only = args
        .iter()
        .skip_while(|arg| *arg != "--only")
        .nth(1)
        .cloned();
    let mut err = std::io::stderr();

    let knowledge = KnowledgeBase::embedded()?;
    let server = PgServer::start()?;
    let loading = testbed::load_benchmark_database(&server, &knowledge, "large")?;
    writeln!(
        err,
        "loaded the large 10.1.0 fixture in {:.1} s",
        loading.as_secs_f64()
    )?;

    let bench = Bench {
        meter: Meter::new(&server)?,
        timeouts: Timeouts {
            statement: WHOLE_TABLE_STATEMENT_TIMEOUT,
            ..Timeouts::default()
        },
        source: server.tcp_url("large").parse::<DatabaseUrl>()?,
        work: tempfile::Builder::new()
            .prefix("bench-snapshot-")
            .tempdir()?,
        pg_dump: tools::find("pg_dump", None)?,
        pg_restore: tools::find("pg_restore", None)?,
        knowledge,
        server,
    };
    writeln!(
        err,
        "{} ({}); {} ({})",
        bench.pg_dump.path.display(),
        bench.pg_dump.version_text,
        bench.pg_restore.path.display(),
        bench.pg_restore.version_text
    )?;
    if let Some(operation) = only {
        return only_one(&bench, &operation, runs);
    }

    let mut dump_samples = Vec::new();
    let mut take_samples = Vec::new();
    let mut verify_samples = Vec::new();
    let mut pg_restore_samples = Vec::new();
    let mut restore_samples = Vec::new();
    let mut take_dump_times = Vec::new();
    let mut restore_tool_times = Vec::new();
    let mut restore_check_times = Vec::new();
    let mut dump_bytes = 0u64;
    let mut snapshot_dump_bytes = 0u64;
    let mut last_manifest = None;
    for run in 0..runs {
        // Alternate which goes first, so neither always meets the other's leftovers.
        let library_first = run % 2 == 1;
        let directory = bench.work.path().join(format!("snapshot-{run}"));
        let plain_dump = bench.work.path().join(format!("pg_dump-{run}.dump"));
        let mut do_pg_dump = || -> anyhow::Result<()> {
            let (bytes, sample) = bench
                .meter
                .measure(|| pg_dump_to_file(&bench.pg_dump, &bench.source, &plain_dump, &[]))?;
            dump_bytes = bytes;
            dump_samples.push(sample);
            std::fs::remove_file(&plain_dump)?;
            Ok(())
        };
        let mut do_take = || -> anyhow::Result<()> {
            let (summary, sample) = bench.meter.measure(|| bench.take(&directory))?;
            take_samples.push(sample);
            take_dump_times.push(summary.dump_time);
            snapshot_dump_bytes =
                std::fs::metadata(directory.join(&summary.manifest.dump.path))?.len();
            last_manifest = Some(summary.manifest);
            Ok(())
        };
        if library_first {
            do_take()?;
            do_pg_dump()?;
        } else {
            do_pg_dump()?;
            do_take()?;
        }

        let (report, sample) = bench.meter.measure(|| bench.verify(&directory))?;
        if !report.verified() {
            writeln!(
                err,
                "warning: verify found {} differences on the unchanged source",
                report.difference_count()
            )?;
        }
        verify_samples.push(sample);

        let dump_file = directory.join(
            last_manifest
                .as_ref()
                .map_or("dump", |manifest| manifest.dump.path.as_str()),
        );
        let mut do_pg_restore = || -> anyhow::Result<()> {
            let name = format!("pg_restore_{run}");
            let url = bench.fresh_database(&name)?;
            let ((), sample) = bench
                .meter
                .measure(|| pg_restore_into(&bench.pg_restore, &url, &name, &dump_file))?;
            pg_restore_samples.push(sample);
            bench.discard_database(&name)
        };
        let mut do_restore = || -> anyhow::Result<()> {
            let name = format!("restore_{run}");
            let url = bench.fresh_database(&name)?;
            let (outcome, sample) = bench.meter.measure(|| bench.restore(&directory, url))?;
            if !outcome.restore_tested() {
                writeln!(
                    std::io::stderr(),
                    "warning: the restored copy differs from the manifest ({} differences)",
                    outcome
                        .comparison
                        .as_ref()
                        .map_or(0, verify::VerifyReport::difference_count)
                )?;
            }
            restore_samples.push(sample);
            restore_tool_times.push(outcome.restore_time);
            restore_check_times.push(outcome.check_time);
            bench.discard_database(&name)
        };
        if library_first {
            do_restore()?;
            do_pg_restore()?;
        } else {
            do_pg_restore()?;
            do_restore()?;
        }
        if run + 1 < runs || !phases {
            std::fs::remove_dir_all(&directory)?;
        }
        writeln!(err, "run {} of {runs} done", run + 1)?;
    }

    let dump = summarise(&dump_samples);
    let take = summarise(&take_samples);
    let verified = summarise(&verify_samples);
    let plain_restore = summarise(&pg_restore_samples);
    let restore = summarise(&restore_samples);

    let size: i64 = bench
        .server
        .connect("large")?
        .scalar("SELECT pg_database_size('large')")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "large 10.1.0 fixture, {runs} runs each, {} cores; {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        bench.pg_dump.version_text
    )?;
    writeln!(
        out,
        "database {:.1} MiB; pg_dump -Fc file {:.1} MiB (snapshot's dump {:.1} MiB)",
        size as f64 / 1048576.0,
        dump_bytes as f64 / 1048576.0,
        snapshot_dump_bytes as f64 / 1048576.0
    )?;
    if let Some(manifest) = &last_manifest {
        let mut tables: Vec<_> = manifest
            .tables
            .iter()
            .map(|table| (table.rows, &table.name))
            .collect();
        tables.sort_by(|left, right| right.cmp(left));
        let total: u64 = tables.iter().map(|(rows, _)| rows).sum();
        let shown: Vec<String> = tables
            .iter()
            .filter(|(rows, _)| *rows > 0)
            .map(|(rows, name)| format!("{name} {rows}"))
            .collect();
        writeln!(
            out,
            "rows: {total} in {} tables: {}",
            tables.len(),
            shown.join(", ")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:>9} {:>8}  {:<22} {:>9} {:>6} {:>7}  met",
        "operation", "median s", "min s", "baseline", "median s", "ratio", "target"
    )?;
    for (name, ours, baseline_name, baseline, target) in [
        ("snapshot", &take, "pg_dump -Fc", &dump, SNAPSHOT_TARGET),
        ("verify", &verified, "pg_dump -Fc", &dump, VERIFY_TARGET),
        (
            "restore",
            &restore,
            "pg_restore (jobs 1)",
            &plain_restore,
            RESTORE_TARGET,
        ),
    ] {
        let ratio = ours.median / baseline.median;
        writeln!(
            out,
            "{:<10} {:>9.3} {:>8.3}  {:<22} {:>9.3} {:>6.2} {:>7}  {}",
            name,
            ours.median,
            ours.min,
            baseline_name,
            baseline.median,
            ratio,
            format!("<= {target:.2}"),
            if ratio <= target { "yes" } else { "no" }
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "CPU seconds (medians): this process, pg_dump/pg_restore, server; cores busy = CPU / wall;\n\
         other = other processes of the machine meanwhile (anything but ~0 skews the figures)"
    )?;
    writeln!(
        out,
        "{:<22} {:>8} {:>8} {:>9} {:>8} {:>8} {:>6} {:>8}",
        "", "wall s", "own", "tool", "server", "total", "cores", "other"
    )?;
    for (name, summary) in [
        ("pg_dump -Fc", &dump),
        ("snapshot", &take),
        ("verify", &verified),
        ("pg_restore", &plain_restore),
        ("restore", &restore),
    ] {
        writeln!(
            out,
            "{:<22} {:>8.3} {:>8.3} {:>9.3} {:>8.3} {:>8.3} {:>6.2} {:>8.3}",
            name,
            summary.median,
            summary.cpu.own,
            summary.cpu.children,
            summary.cpu.server,
            summary.cpu.total(),
            summary.cpu.total() / summary.median,
            summary.other
        )?;
    }
    let busy = [&dump, &take, &verified, &plain_restore, &restore]
        .iter()
        .any(|summary| summary.other > 0.05 * summary.median);
    if busy {
        writeln!(
            out,
            "warning: other processes used the cores during the measurements; the figures are not clean"
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "inside snapshot: pg_dump {:.3} s (median); inside restore: pg_restore {:.3} s, manifest comparison {:.3} s",
        durations_median(&take_dump_times),
        durations_median(&restore_tool_times),
        durations_median(&restore_check_times)
    )?;
    out.flush()?;

    if phases {
        let directory = bench.work.path().join(format!("snapshot-{}", runs - 1));
        phase_breakdown(&bench, runs, &directory, &mut out)?;
    }
    drop(out);
    Ok(())
}

/// `--only OP`: one operation `runs` times and its wall times, nothing else (for `perf record
/// -p` started once the fixture is loaded).
fn only_one(bench: &Bench, operation: &str, runs: usize) -> anyhow::Result<()> {
    let plans: Vec<TablePlan> = engine::block_on(async {
        let mut session = ReadOnlySession::open(&bench.source, bench.timeouts).await?;
        let detection = detect::detect(&bench.knowledge, &mut session).await?;
        session.close().await;
        Ok(snapshot_plans(&bench.knowledge, &detection.catalog))
    })?;
    let directory = bench.work.path().join("snapshot");
    if matches!(operation, "verify" | "restore") {
        bench.take(&directory)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(std::io::stderr(), "ready: {operation} x {runs}")?;
    for run in 0..runs {
        let (detail, sample) = bench.meter.measure(|| {
            Ok(match operation {
                "read" => format!("{:?}", read_source(bench, Reading::Hashed(&plans))?.1),
                "copy" => format!("{:?}", read_source(bench, Reading::CopyOnly(&plans))?.1),
                "snapshot" => {
                    let out = bench.work.path().join(format!("only-{run}"));
                    let summary = bench.take(&out)?;
                    std::fs::remove_dir_all(&out)?;
                    format!("pg_dump {:?}", summary.dump_time)
                }
                "verify" => format!(
                    "{} differences",
                    bench.verify(&directory)?.difference_count()
                ),
                "restore" => {
                    let name = format!("only_{run}");
                    let url = bench.fresh_database(&name)?;
                    let outcome = bench.restore(&directory, url)?;
                    bench.server.drop_database(&name)?;
                    format!(
                        "pg_restore {:?}, check {:?}",
                        outcome.restore_time, outcome.check_time
                    )
                }
                "pg_dump" => {
                    let file = bench.work.path().join("only.dump");
                    pg_dump_to_file(&bench.pg_dump, &bench.source, &file, &[])?;
                    std::fs::remove_file(&file)?;
                    String::new()
                }
                other => bail!(
                    "--only takes read, copy, snapshot, verify, restore or pg_dump, not {other}"
                ),
            })
        })?;
        writeln!(
            out,
            "{operation} {:.3} s (own CPU {:.3}, tool {:.3}, server {:.3}, other {:.3}) {detail}",
            sample.wall.as_secs_f64(),
            sample.cpu.own,
            sample.cpu.children,
            sample.cpu.server,
            sample.cpu.other()
        )?;
    }
    Ok(())
}

/// Sets the nice value of every thread of rayon's global pool (where the library hashes rows).
/// Whether every thread took it.
fn set_hashing_nice(nice: i32) -> bool {
    rayon::broadcast(|_| {
        // SAFETY: gettid and setpriority on the calling thread only.
        unsafe {
            let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, thread, nice) == 0
        }
    })
    .into_iter()
    .all(|done| done)
}

/// The scans `read_tables` makes for `plans`, with the rows not inspected.
fn copy_scans(plans: &[TablePlan]) -> Vec<Scan> {
    plans
        .iter()
        .map(|plan| Scan {
            what: format!("read {}", plan.table),
            select: plan.select(),
            estimate: None,
        })
        .collect()
}

/// What to read through one exported snapshot of the source.
enum Reading<'a> {
    /// `read_tables`: COPY and hashing.
    Hashed(&'a [TablePlan]),
    /// The same COPYs, rows split but not inspected.
    CopyOnly(&'a [TablePlan]),
}

/// Opens the source as `snapshot` does (exporting, detection), then reads. Returns the time of
/// the opening and of the reading.
fn read_source(bench: &Bench, reading: Reading<'_>) -> anyhow::Result<(Duration, Duration)> {
    Ok(engine::block_on(async {
        let started = Instant::now();
        let (mut session, exported) =
            ReadOnlySession::open_exporting(&bench.source, bench.timeouts).await?;
        let detection = detect::detect(&bench.knowledge, &mut session).await?;
        let opened = started.elapsed();
        let database = LiveDatabase::new(
            session,
            exported,
            detection,
            None,
            false,
            Progress::hidden(),
        );
        let started = Instant::now();
        let result = match reading {
            Reading::Hashed(plans) => read_tables(&database, plans).await.map(|_| ()),
            Reading::CopyOnly(plans) => database
                .scan(&copy_scans(plans), |_row: &[u8], _found: &mut Vec<()>| {})
                .await
                .map(|_| ()),
        };
        let read = started.elapsed();
        database.close().await;
        result.map_err(SnapshotError::from)?;
        Ok((opened, read))
    })?)
}

fn phase_breakdown(
    bench: &Bench,
    runs: usize,
    directory: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let plans: Vec<TablePlan> = engine::block_on(async {
        let mut session = ReadOnlySession::open(&bench.source, bench.timeouts).await?;
        let detection = detect::detect(&bench.knowledge, &mut session).await?;
        session.close().await;
        Ok(snapshot_plans(&bench.knowledge, &detection.catalog))
    })?;

    let mut lines: Vec<(String, Vec<Sample>)> = Vec::new();
    let mut record =
        |label: &str, sample: Sample| match lines.iter_mut().find(|(name, _)| name == label) {
            Some((_, samples)) => samples.push(sample),
            None => lines.push((label.to_owned(), vec![sample])),
        };
    let mut opened_times = Vec::new();
    let mut compress_1_bytes = 0;
    let scratch = bench.work.path().join("phase.dump");
    for _ in 0..runs {
        let ((opened, read), sample) = bench
            .meter
            .measure(|| read_source(bench, Reading::Hashed(&plans)))?;
        opened_times.push(opened);
        record("open + detect + read_tables (all)", sample);
        record(
            "  read_tables alone",
            Sample {
                wall: read,
                cpu: Cpu::default(),
            },
        );
        let ((_, read), sample) = bench
            .meter
            .measure(|| read_source(bench, Reading::CopyOnly(&plans)))?;
        record("open + detect + COPY only", sample);
        record(
            "  COPY only alone",
            Sample {
                wall: read,
                cpu: Cpu::default(),
            },
        );
        let (_, sample) = bench
            .meter
            .measure(|| pg_dump_to_file(&bench.pg_dump, &bench.source, &scratch, &[]))?;
        record("pg_dump -Fc", sample);
        std::fs::remove_file(&scratch)?;
        let (_, sample) = bench.meter.measure(|| {
            pg_dump_to_file(&bench.pg_dump, &bench.source, &scratch, &["--compress=0"])
        })?;
        record("pg_dump -Fc --compress=0", sample);
        std::fs::remove_file(&scratch)?;
        let (bytes, sample) = bench.meter.measure(|| {
            pg_dump_to_file(&bench.pg_dump, &bench.source, &scratch, &["--compress=1"])
        })?;
        record("pg_dump -Fc --compress=1", sample);
        compress_1_bytes = bytes;
        std::fs::remove_file(&scratch)?;
        let (report, sample) = bench.meter.measure(|| bench.verify(directory))?;
        if !report.verified() {
            bail!("verify found differences on the unchanged source");
        }
        record("verify (whole)", sample);
        // What reading the dump back costs: pg_restore inflating every block to a script.
        let dump = directory.join("dump");
        let ((), sample) = bench.meter.measure(|| {
            run_tool(
                &bench.pg_restore,
                &bench.source,
                &["--file=/dev/null".as_ref(), dump.as_os_str()],
            )
        })?;
        record("pg_restore --file=/dev/null", sample);

        // pg_restore in two steps: how long the index and constraint builds take, during
        // which the restored rows could already be read.
        let url = bench.fresh_database("phase_restore")?;
        let ((), sample) = bench.meter.measure(|| {
            run_tool(
                &bench.pg_restore,
                &url,
                &[
                    "--no-owner".as_ref(),
                    "--no-privileges".as_ref(),
                    "--exit-on-error".as_ref(),
                    "--section=pre-data".as_ref(),
                    "--section=data".as_ref(),
                    "--dbname=phase_restore".as_ref(),
                    dump.as_os_str(),
                ],
            )
        })?;
        record("pg_restore pre-data + data", sample);
        let ((), sample) = bench.meter.measure(|| {
            run_tool(
                &bench.pg_restore,
                &url,
                &[
                    "--no-owner".as_ref(),
                    "--no-privileges".as_ref(),
                    "--exit-on-error".as_ref(),
                    "--section=post-data".as_ref(),
                    "--dbname=phase_restore".as_ref(),
                    dump.as_os_str(),
                ],
            )
        })?;
        record("pg_restore post-data", sample);
        bench.discard_database("phase_restore")?;

        // The snapshot with the hashing threads at the lowest priority, so that pg_dump keeps
        // its core (an experiment: the library does not do this).
        let out = bench.work.path().join("phase-snapshot");
        let (summary, sample) = bench.meter.measure(|| bench.take(&out))?;
        std::fs::remove_dir_all(&out)?;
        record("snapshot", sample);
        record(
            "  its pg_dump",
            Sample {
                wall: summary.dump_time,
                cpu: Cpu::default(),
            },
        );
        // Raising the priority back needs CAP_SYS_NICE: only as root.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            set_hashing_nice(19);
            let taken = bench.meter.measure(|| bench.take(&out));
            let restored = set_hashing_nice(0);
            let (summary, sample) = taken?;
            std::fs::remove_dir_all(&out)?;
            record("snapshot, hashing threads at nice 19", sample);
            record(
                "  its pg_dump (hashing at nice 19)",
                Sample {
                    wall: summary.dump_time,
                    cpu: Cpu::default(),
                },
            );
            if !restored {
                bail!("could not set the hashing threads' priority back to 0 (needs CAP_SYS_NICE)");
            }
        }
        let (_, sample) = bench.meter.measure(|| {
            let (_, problems) = manifest::open(directory)?;
            if !problems.is_empty() {
                bail!("the snapshot has problems: {problems:?}");
            }
            Ok(())
        })?;
        record("manifest::open (re-hash files)", sample);
    }
    writeln!(out)?;
    writeln!(
        out,
        "phases (medians of {runs}; open + detect alone: {:.3} s; pg_dump --compress=1 file {:.1} MiB)",
        durations_median(&opened_times),
        compress_1_bytes as f64 / 1048576.0
    )?;
    writeln!(
        out,
        "{:<36} {:>8} {:>8} {:>9} {:>8} {:>6} {:>8}",
        "", "wall s", "own", "tool", "server", "cores", "other"
    )?;
    for (label, samples) in &lines {
        let summary = summarise(samples);
        if summary.cpu.total() == 0.0 {
            writeln!(out, "{label:<36} {:>8.3}", summary.median)?;
        } else {
            writeln!(
                out,
                "{:<36} {:>8.3} {:>8.3} {:>9.3} {:>8.3} {:>6.2} {:>8.3}",
                label,
                summary.median,
                summary.cpu.own,
                summary.cpu.children,
                summary.cpu.server,
                summary.cpu.total() / summary.median,
                summary.other
            )?;
        }
    }

    // Table by table, one read each (the order of the largest first).
    writeln!(out)?;
    writeln!(
        out,
        "per table, one connection each time: read_tables vs COPY only"
    )?;
    writeln!(
        out,
        "{:<28} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "table", "rows", "hashed s", "own cpu", "copy s", "own cpu", "extra s"
    )?;
    let mut per_table = Vec::new();
    for plan in &plans {
        let one = std::slice::from_ref(plan);
        let ((_, hashed), hashed_sample) = bench
            .meter
            .measure(|| read_source(bench, Reading::Hashed(one)))?;
        let ((_, copied), copied_sample) = bench
            .meter
            .measure(|| read_source(bench, Reading::CopyOnly(one)))?;
        per_table.push((
            plan.table.clone(),
            hashed,
            hashed_sample.cpu.own,
            copied,
            copied_sample.cpu.own,
        ));
    }
    per_table.sort_by_key(|table| std::cmp::Reverse(table.1));
    let rows_of = |table: &str| -> u64 {
        bench
            .server
            .connect("large")
            .and_then(|mut client| {
                client.scalar::<i64>(&format!("SELECT count(*) FROM {}", quote_ident(table)))
            })
            .map_or(0, |rows| rows as u64)
    };
    for (table, hashed, hashed_cpu, copied, copied_cpu) in per_table.iter().take(12) {
        writeln!(
            out,
            "{:<28} {:>9} {:>10.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            table,
            rows_of(table),
            hashed.as_secs_f64(),
            hashed_cpu,
            copied.as_secs_f64(),
            copied_cpu,
            hashed.as_secs_f64() - copied.as_secs_f64()
        )?;
    }
    Ok(())
}
