//! `rehearse`: a production snapshot restored into a staging database, made to reach no one,
//! then taken through every hop of the plan with the hop's real migration command: pre-flight
//! checks, a snapshot as the rollback point, the migration through a runner, alembic checked
//! by us, and `verify` against the pre-hop snapshot, every step timed. A failed hop is rolled
//! back to its snapshot (or kept with `--keep-failed`). Every step is journaled as it starts
//! and ends, so that a run killed anywhere resumes with `--resume` to the same end.

pub mod journal;
pub mod neutralize;
pub mod runner;
pub mod staging;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use semver::Version;
use serde::Serialize;
use serde_json::json;

use crate::checks::db::SecretKey;
use crate::checks::{Levels, Severity};
use crate::db::{DatabaseUrl, DbError, Timeouts};
use crate::engine::{self, CheckRequest, DatabaseTarget, EngineError};
use crate::inputs::DeploymentFiles;
use crate::knowledge::KnowledgeBase;
use crate::plan::{self, PlanError};
use crate::report::Progress;
use crate::snapshot::{self, manifest, RestoreRequest, SnapshotError, SnapshotRequest};
use crate::verify::{self, Mode};

pub use journal::{Journal, JournalError, JournalHop, StepKind, StepRecord, StepState};
pub use neutralize::{Neutralized, PutBack};
pub use runner::{HopCommand, Rendered, Runner, RunnerError};
use staging::Staging;

/// Why a rehearsal could not run (a failed hop is not an error: it is the report's outcome).
#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{}: a damaged snapshot is never rehearsed (see `redash-upgrade snapshot verify`)", .0.display())]
    SnapshotDamaged(PathBuf),
    #[error("{}: the snapshot matches no known release, so there is no plan to rehearse", .0.display())]
    SnapshotRelease(PathBuf),
    #[error("--from {given}: the snapshot is at {found}")]
    FromDisagrees { given: String, found: String },
    #[error("{}: a rehearsal was already started here; continue it with --resume, or choose another --work-dir", .0.display())]
    JournalExists(PathBuf),
    #[error("--resume: {} holds no journal to resume", .0.display())]
    NoJournal(PathBuf),
    #[error("--resume: the journal in {} is of another rehearsal ({why})", work.display())]
    JournalMismatch { work: PathBuf, why: String },
    #[error("another rehearsal holds the lock on {0}: two rehearsals on one staging database would undo each other's work")]
    Locked(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not confirmed: the rehearsal writes to {0} (give --yes, or answer on a terminal)")]
    NotConfirmed(String),
    #[error("pre-flight checks: {0}")]
    Check(Box<EngineError>),
}

/// What `rehearse` needs.
pub struct RehearseRequest {
    pub snapshot: PathBuf,
    /// The staging database: restored into, written to.
    pub url: DatabaseUrl,
    /// The timeouts of the rehearsal's reads (the snapshots, checks and comparisons); its own
    /// writes wait up to 5 minutes for a lock a stopped migration may still hold.
    pub timeouts: Timeouts,
    /// The release the snapshot is at, when its schema fits several.
    pub from: Option<String>,
    pub to: String,
    pub runner: Runner,
    /// Variables of this environment the runner gets too (names; the secret key's are added
    /// when set).
    pub passed_env: Vec<String>,
    /// Where the journal, the rollback points, the runner's logs and the reports go.
    pub work: PathBuf,
    pub neutralize_sql: Option<PathBuf>,
    pub secret_key: Option<SecretKey>,
    pub keep_failed: bool,
    pub resume: bool,
    /// The staging database may hold something: drop it first.
    pub clean: bool,
    pub jobs: u32,
    pub pg_bindir: Option<PathBuf>,
    pub progress: Progress,
}

/// A setting the staging services run with.
#[derive(Debug, Clone, Serialize)]
pub struct StagingSetting {
    pub name: String,
    pub value: String,
    pub why: String,
}

/// The commands of one hop, as the rehearsal ran them and as production will.
#[derive(Debug, Clone, Serialize)]
pub struct HopCommands {
    pub hop: usize,
    pub from: Version,
    pub to: Version,
    /// The runner's command (the database URL in its environment, never on it).
    pub migrate: Rendered,
    pub migrate_shown: String,
    /// In production, in order: stop, snapshot, migrate, verify, start.
    pub production: Vec<String>,
}

/// The rehearsal as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Rehearsal {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub dry_run: bool,
    pub work_dir: String,
    pub journal: Journal,
    pub commands: Vec<HopCommands>,
    pub staging_environment: Vec<StagingSetting>,
    /// What the copy's services must not run.
    pub staging_notes: Vec<String>,
    /// The report files written in the work directory.
    pub report_files: Vec<String>,
}

impl Rehearsal {
    pub fn succeeded(&self) -> bool {
        self.journal.outcome.as_deref() == Some("succeeded")
    }

    /// The failing step, when the rehearsal failed.
    pub fn failed_step(&self) -> Option<&StepRecord> {
        self.journal
            .steps
            .iter()
            .find(|step| step.state == StepState::Failed && step.kind != StepKind::Rollback)
    }
}

/// The time now, UTC, RFC 3339 to the second.
pub fn utc_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    let (year, month, day) = plan::civil_from_days(seconds.div_euclid(86_400));
    let in_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Everything fixed before the first step: the snapshot, the plan, the commands.
struct Prepared {
    assumption: Option<String>,
    manifest: manifest::Manifest,
    manifest_sum: String,
    from: Version,
    to: Version,
    hops: Vec<JournalHop>,
    hop_commands: Vec<HopCommand>,
    commands: Vec<HopCommands>,
    staging_environment: Vec<StagingSetting>,
    staging_notes: Vec<String>,
}

fn container_name(database: &str, index: usize) -> String {
    let safe: String = database
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("redash-upgrade-rehearsal-{safe}-hop-{index}")
}

fn prepare(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
) -> Result<Prepared, RehearseError> {
    request.runner.validate()?;
    let (manifest, problems) = manifest::open(&request.snapshot)?;
    if !problems.is_empty() {
        return Err(RehearseError::SnapshotDamaged(request.snapshot.clone()));
    }
    let sum_path = request.snapshot.join(manifest::MANIFEST_SUM_FILE);
    let manifest_sum = std::fs::read_to_string(&sum_path)
        .map_err(|source| RehearseError::Io {
            path: sum_path.clone(),
            source,
        })?
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let candidates = &manifest.release.candidates;
    let (from, assumption) = match &request.from {
        Some(given) => {
            let resolved = plan::resolve(knowledge, given, "--from")?.version.clone();
            if !candidates.contains(&resolved) {
                return Err(RehearseError::FromDisagrees {
                    given: given.clone(),
                    found: candidates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            (resolved, None)
        }
        None => {
            let newest = candidates
                .last()
                .cloned()
                .ok_or_else(|| RehearseError::SnapshotRelease(request.snapshot.clone()))?;
            let assumption = (candidates.len() > 1).then(|| {
                format!(
                    "the snapshot's schema and alembic head fit {}; rehearsing from {newest} (no migration lies between them; give --from to choose)",
                    candidates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            (newest, assumption)
        }
    };
    let plan = plan::plan(knowledge, &from.to_string(), &request.to)?;
    let to = plan.to.version.clone();
    let database = request.url.database_name();
    let mut hops = Vec::new();
    let mut hop_commands = Vec::new();
    let mut commands = Vec::new();
    let passed = passed_names(&request.passed_env);
    for (index, hop) in plan.hops.iter().enumerate() {
        let number = index + 1;
        let hop_command = HopCommand {
            index: number,
            from: hop.from.version.to_string(),
            to: hop.to.version.to_string(),
            image: hop.image().map(str::to_owned),
            from_head: hop.from_head(),
            to_head: hop.to_head(),
            migrate: hop.to.migrate_command.command.clone(),
            container: container_name(&database, number),
        };
        let rendered = request
            .runner
            .render(&hop_command, &passed, &request.work)?;
        let shown = rendered.shown();
        let snapshot_dir = format!("snapshots/before-{}", hop.to.version);
        commands.push(HopCommands {
            hop: number,
            from: hop.from.version.clone(),
            to: hop.to.version.clone(),
            production: vec![
                format!("Stop every Redash role of {} (server, workers, scheduler).", hop.from.version),
                format!(
                    "REDASH_DATABASE_URL=<production> redash-upgrade snapshot --out {snapshot_dir}"
                ),
                format!("REDASH_DATABASE_URL=<production> {shown}"),
                format!(
                    "REDASH_DATABASE_URL=<production> redash-upgrade verify --baseline {snapshot_dir} --expect {}",
                    hop.to.version
                ),
                format!("Start the roles of {} with this hop's environment.", hop.to.version),
            ],
            migrate: rendered,
            migrate_shown: shown,
        });
        hops.push(JournalHop {
            from: hop.from.version.clone(),
            to: hop.to.version.clone(),
            image: hop_command.image.clone(),
            from_head: hop_command.from_head.clone(),
            to_head: hop_command.to_head.clone(),
        });
        hop_commands.push(hop_command);
    }
    let target = knowledge
        .release(&to)
        .ok_or_else(|| RehearseError::SnapshotRelease(request.snapshot.clone()))?;
    let mut staging_environment: Vec<StagingSetting> = plan::rehearsal_settings(target)
        .into_iter()
        .map(|(name, value, why)| StagingSetting {
            name: (*name).to_owned(),
            value: value.trim_start_matches('=').trim().to_owned(),
            why: (*why).to_owned(),
        })
        .collect();
    for setting in &mut staging_environment {
        if setting.value == "empty" {
            setting.value = String::new();
        }
    }
    let mut staging_notes = vec![
        format!(
            "Run no scheduler against the copy (the `{}` role of {}): the copy's schedules are paused once the last hop is verified, but a scheduler started earlier would run them.",
            target
                .roles
                .iter()
                .map(|role| role.name.as_str())
                .find(|name| name.contains("scheduler"))
                .unwrap_or("scheduler"),
            target.version
        ),
        "Let the copy reach no network beyond the data sources you test: data-source credentials come with the restored data.".to_owned(),
    ];
    if let Runner::Docker { network } = &request.runner {
        let host = request.url.connect_options().get_host().to_owned();
        let local =
            matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") || host.starts_with('/');
        if local && network.as_deref() != Some("host") {
            staging_notes.push(format!(
                "Warning: the staging database is at {host}, which inside the migration's container is the container itself: give --docker-network host, or a URL the container can reach."
            ));
        }
    }
    Ok(Prepared {
        assumption,
        manifest,
        manifest_sum,
        from,
        to,
        hops,
        hop_commands,
        commands,
        staging_environment,
        staging_notes,
    })
}

/// The variables the runner gets from this environment: the ones asked for, and the secret
/// key's when set (the encryption migrations of 7.0.0 and 10.0.0 read it).
fn passed_names(asked: &[String]) -> Vec<String> {
    let mut names: Vec<String> = asked.to_vec();
    for name in runner::SECRET_VARIABLES {
        if std::env::var_os(name).is_some() && !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// `rehearse --dry-run`: the steps and every command each runner would run, and nothing done
/// (no database is touched).
pub fn dry_run(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
) -> Result<Rehearsal, RehearseError> {
    let prepared = prepare(knowledge, request)?;
    let mut journal = new_journal(request, &prepared);
    journal.outcome = Some("dry-run".into());
    Ok(Rehearsal {
        kind: "rehearsal",
        dry_run: true,
        work_dir: request.work.display().to_string(),
        journal,
        commands: prepared.commands,
        staging_environment: prepared.staging_environment,
        staging_notes: prepared.staging_notes,
        report_files: Vec::new(),
    })
}

fn new_journal(request: &RehearseRequest, prepared: &Prepared) -> Journal {
    Journal {
        kind: journal::JOURNAL_TYPE.into(),
        format_version: journal::FORMAT_VERSION,
        snapshot: request.snapshot.display().to_string(),
        snapshot_manifest_sha256: prepared.manifest_sum.clone(),
        staging: request.url.redacted(),
        staging_database: request.url.database_name(),
        from: prepared.from.clone(),
        to: prepared.to.clone(),
        assumption: prepared.assumption.clone(),
        runner: request.runner.describe(),
        hops: prepared.hops.clone(),
        steps: Vec::new(),
        dirty_hop: None,
        runner_process_group: None,
        outcome: None,
        runs: 0,
    }
}

/// The run's state: the journal, written at every change.
struct Run<'r> {
    journal: Journal,
    work: &'r Path,
    started: Option<Instant>,
    progress: Progress,
}

impl Run<'_> {
    fn save(&self) -> Result<(), RehearseError> {
        Ok(self.journal.write(self.work)?)
    }

    /// Marks `id` started; returns whether an earlier attempt had begun it.
    fn begin(
        &mut self,
        id: &str,
        hop: Option<usize>,
        kind: StepKind,
    ) -> Result<bool, RehearseError> {
        let now = utc_now();
        let earlier = match self.journal.step_mut(id) {
            Some(step) => {
                step.attempts += 1;
                step.state = StepState::Started;
                step.started_at = now;
                step.finished_at = None;
                step.seconds = None;
                step.error = None;
                true
            }
            None => {
                self.journal.steps.push(StepRecord {
                    id: id.to_owned(),
                    hop,
                    kind,
                    state: StepState::Started,
                    attempts: 1,
                    started_at: now,
                    finished_at: None,
                    seconds: None,
                    detail: serde_json::Value::Null,
                    error: None,
                });
                false
            }
        };
        self.started = Some(Instant::now());
        self.save()?;
        self.progress.log(&format!("{id}: {}...", kind.title()));
        Ok(earlier)
    }

    fn end(
        &mut self,
        id: &str,
        state: StepState,
        detail: serde_json::Value,
        error: Option<String>,
    ) -> Result<(), RehearseError> {
        let seconds = self
            .started
            .take()
            .map(|started| started.elapsed().as_secs_f64());
        if let Some(step) = self.journal.step_mut(id) {
            step.state = state;
            step.finished_at = Some(utc_now());
            step.seconds = seconds.map(|seconds| (seconds * 1000.0).round() / 1000.0);
            step.detail = detail;
            step.error = error.clone();
        }
        self.save()?;
        self.progress.log(&match (state, error) {
            (StepState::Failed, Some(error)) => format!("{id}: FAILED: {error}"),
            _ => format!("{id}: done in {:.1} s", seconds.unwrap_or_default()),
        });
        Ok(())
    }
}

/// Restores `directory` into the emptied staging database and proves the copy.
async fn restore_into(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
    staging: &mut Staging,
    directory: &Path,
    empty_first: bool,
    clean: bool,
    own_snapshot: bool,
) -> Result<snapshot::RestoreOutcome, RehearseError> {
    if empty_first {
        staging.empty().await?;
    }
    let outcome = snapshot::restore(
        knowledge,
        RestoreRequest {
            directory: directory.to_owned(),
            url: request.url.clone(),
            timeouts: read_timeouts(request),
            clean,
            jobs: request.jobs,
            production_ok: own_snapshot,
            dry_run: false,
            pg_bindir: request.pg_bindir.clone(),
            progress: request.progress.clone(),
        },
        &|_| true,
    )
    .await?;
    Ok(outcome)
}

fn read_timeouts(request: &RehearseRequest) -> Timeouts {
    request.timeouts
}

fn restore_detail(outcome: &snapshot::RestoreOutcome) -> serde_json::Value {
    json!({
        "snapshot": outcome.snapshot,
        "command": outcome.command,
        "target_before": outcome.target_before,
        "restore_seconds": outcome.restore_time.as_secs_f64(),
        "restore_tested": outcome.restore_tested(),
        "differences": outcome.comparison.as_ref().map(verify::VerifyReport::difference_count),
    })
}

fn hop_dir(work: &Path, hop: &JournalHop, index: usize) -> PathBuf {
    work.join("snapshots")
        .join(format!("hop-{index}-before-{}", hop.to))
}

/// Runs (or resumes) the rehearsal. `confirm` is asked once, before the first write to the
/// staging database.
pub async fn rehearse(
    knowledge: &KnowledgeBase,
    request: RehearseRequest,
    confirm: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Rehearsal, RehearseError> {
    let prepared = prepare(knowledge, &request)?;
    std::fs::create_dir_all(&request.work).map_err(|source| RehearseError::Io {
        path: request.work.clone(),
        source,
    })?;
    let existing = Journal::read(&request.work)?;
    let journal = match (existing, request.resume) {
        (Some(_), false) => return Err(RehearseError::JournalExists(request.work.clone())),
        (None, true) => return Err(RehearseError::NoJournal(request.work.clone())),
        (Some(journal), true) => {
            let fresh = new_journal(&request, &prepared);
            let why = if journal.snapshot_manifest_sha256 != fresh.snapshot_manifest_sha256 {
                Some(format!(
                    "snapshot {} with another manifest",
                    journal.snapshot
                ))
            } else if journal.staging_database != fresh.staging_database {
                Some(format!("staging database {}", journal.staging))
            } else if journal.hops != fresh.hops {
                Some(format!("the plan {} -> {}", journal.from, journal.to))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(RehearseError::JournalMismatch {
                    work: request.work.clone(),
                    why,
                });
            }
            journal
        }
        (None, false) => new_journal(&request, &prepared),
    };

    let timeouts = staging::write_timeouts(request.timeouts);
    let mut lock = Staging::connect(&request.url, timeouts).await?;
    if !lock.try_lock().await? {
        return Err(RehearseError::Locked(request.url.redacted()));
    }
    if !request.resume {
        let question = format!(
            "Restore {} into {} and migrate it through {} hop(s) to {}?",
            request.snapshot.display(),
            request.url.redacted(),
            prepared.hops.len(),
            prepared.to
        );
        if !confirm(&question) {
            return Err(RehearseError::NotConfirmed(request.url.redacted()));
        }
    }
    let mut run = Run {
        journal,
        work: &request.work,
        started: None,
        progress: request.progress.clone(),
    };
    run.journal.runs += 1;
    run.journal.outcome = None;
    run.save()?;
    let mut staging = Staging::connect(&request.url, timeouts).await?;
    let result = steps(knowledge, &request, &prepared, &mut run, &mut staging).await;
    staging.close().await;
    let outcome = match &result {
        Ok(true) => "succeeded",
        Ok(false) => "failed",
        Err(_) => {
            lock.close().await;
            // Refused before anything was done (a staging database that is not empty, the
            // source itself): no journal is left to demand --resume.
            let nothing_done =
                run.journal.runs == 1
                    && run.journal.steps.iter().all(|step| {
                        step.kind == StepKind::Restore && step.state != StepState::Done
                    });
            if nothing_done {
                let _ = std::fs::remove_file(Journal::path(&request.work));
            }
            return Err(result.unwrap_err());
        }
    };
    run.journal.outcome = Some(outcome.into());
    run.save()?;
    lock.close().await;
    let mut rehearsal = Rehearsal {
        kind: "rehearsal",
        dry_run: false,
        work_dir: request.work.display().to_string(),
        journal: run.journal,
        commands: prepared.commands,
        staging_environment: prepared.staging_environment,
        staging_notes: prepared.staging_notes,
        report_files: Vec::new(),
    };
    crate::report::rehearsal::write_files(&mut rehearsal, &request.work)
        .map_err(|(path, source)| RehearseError::Io { path, source })?;
    Ok(rehearsal)
}

/// Every step in order; false when a hop failed (the journal says where).
async fn steps(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
    prepared: &Prepared,
    run: &mut Run<'_>,
    staging: &mut Staging,
) -> Result<bool, RehearseError> {
    // 1. Restore.
    if !run.journal.is_done("restore") {
        let earlier = run.begin("restore", None, StepKind::Restore)?;
        let outcome = restore_into(
            knowledge,
            request,
            staging,
            &request.snapshot,
            earlier,
            request.clean && !earlier,
            false,
        )
        .await;
        match outcome {
            Ok(outcome) if outcome.restore_tested() => {
                run.end("restore", StepState::Done, restore_detail(&outcome), None)?;
            }
            Ok(outcome) => {
                let differences = outcome
                    .comparison
                    .as_ref()
                    .map_or(0, verify::VerifyReport::difference_count);
                run.end(
                    "restore",
                    StepState::Failed,
                    restore_detail(&outcome),
                    Some(format!(
                        "the restored copy differs from the snapshot in {differences} place(s)"
                    )),
                )?;
                return Ok(false);
            }
            Err(error) => {
                run.end(
                    "restore",
                    StepState::Failed,
                    serde_json::Value::Null,
                    Some(error.to_string()),
                )?;
                return Err(error);
            }
        }
    }

    // 2. Neutralize.
    if !run.journal.is_done("neutralize") {
        let earlier = run.begin("neutralize", None, StepKind::Neutralize)?;
        let operator_sql = match &request.neutralize_sql {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| RehearseError::Io {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let already = if earlier {
            neutralize::applied(staging, "mute-alerts").await?
        } else {
            None
        };
        let done = match already {
            // The transaction of the interrupted attempt committed: what it did is in our table.
            Some(_) => neutralization_summary(staging).await?,
            None => {
                neutralize::neutralize(staging, &prepared.from.to_string(), operator_sql.as_deref())
                    .await?
            }
        };
        run.end(
            "neutralize",
            StepState::Done,
            json!({ "neutralized": done }),
            None,
        )?;
    }

    // 3. Every hop.
    for (index, hop) in prepared.hops.iter().enumerate() {
        let number = index + 1;
        if !hop_steps(knowledge, request, prepared, run, staging, number, hop).await? {
            return Ok(false);
        }
    }

    // 4. Schedules paused at the target.
    if !run.journal.is_done("pause-schedules") {
        let earlier = run.begin("pause-schedules", None, StepKind::PauseSchedules)?;
        let already = if earlier {
            neutralize::applied(staging, "pause-schedules").await?
        } else {
            None
        };
        let rows = match already {
            Some(rows) => rows,
            None => neutralize::pause_schedules(staging, &prepared.to.to_string()).await?,
        };
        run.end(
            "pause-schedules",
            StepState::Done,
            json!({ "neutralized": [Neutralized {
                step: "pause-schedules".into(),
                what: "schedules paused (queries.schedule set to NULL)".into(),
                rows,
            }] }),
            None,
        )?;
    }
    Ok(true)
}

async fn neutralization_summary(staging: &mut Staging) -> Result<Vec<Neutralized>, RehearseError> {
    // The steps share one transaction, so one time: in the order the neutralization did them,
    // and in its words, as an uninterrupted run reports them.
    let order = neutralize::STEPS
        .iter()
        .map(|step| format!("'{step}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = staging
        .texts(
            "read the neutralization record",
            &format!(
                "SELECT step || ' ' || rows || ' ' || coalesce(sql_sha256, '') \
                 FROM {}.neutralization WHERE step <> 'pause-schedules' \
                 ORDER BY applied_at, array_position(ARRAY[{order}], step), step",
                neutralize::SCHEMA
            ),
        )
        .await?;
    Ok(rows
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let mut words = line.split(' ');
            let step = words.next()?;
            let rows = words.next()?.parse().ok()?;
            let sum = words.next().filter(|sum| !sum.is_empty());
            Some(Neutralized {
                step: step.to_owned(),
                what: neutralize::description(step, sum),
                rows,
            })
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn hop_steps(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
    prepared: &Prepared,
    run: &mut Run<'_>,
    staging: &mut Staging,
    number: usize,
    hop: &JournalHop,
) -> Result<bool, RehearseError> {
    let check_id = format!("hop-{number}/check");
    let snapshot_id = format!("hop-{number}/snapshot");
    let migrate_id = format!("hop-{number}/migrate");
    let verify_id = format!("hop-{number}/verify");
    let rollback_id = format!("hop-{number}/rollback");
    let before = hop_dir(&request.work, hop, number);
    if run.journal.is_done(&verify_id) && run.journal.is_done(&migrate_id) {
        return Ok(true);
    }

    // Pre-flight checks of the copy's data, read-only.
    if !run.journal.is_done(&check_id) {
        run.begin(&check_id, Some(number), StepKind::Check)?;
        let report = engine::check(
            knowledge,
            CheckRequest {
                from: Some(hop.from.to_string()),
                to: hop.to.to_string(),
                files: DeploymentFiles::default(),
                database: Some(DatabaseTarget {
                    url: request.url.clone(),
                    timeouts: request.timeouts,
                }),
                secret_key: request.secret_key.clone(),
                quick: false,
                baseline: Some(prepared.manifest.release.drift.clone()),
                levels: Levels::default(),
                progress: Progress::hidden(),
            },
        )
        .await;
        match report {
            Ok(report) => {
                // Checks of deployment files have nothing to read here: only the data's count.
                let findings: Vec<serde_json::Value> = report
                    .findings
                    .iter()
                    .filter(|finding| finding.code != crate::checks::CANNOT_RUN)
                    .map(|finding| {
                        json!({
                            "code": finding.code,
                            "severity": finding.severity,
                            "message": finding.message,
                        })
                    })
                    .collect();
                run.end(
                    &check_id,
                    StepState::Done,
                    json!({
                        "errors": report.count(Severity::Error),
                        "warnings": report.count(Severity::Warning),
                        "findings": findings,
                    }),
                    None,
                )?;
            }
            Err(error) => {
                run.end(
                    &check_id,
                    StepState::Failed,
                    serde_json::Value::Null,
                    Some(error.to_string()),
                )?;
                return Err(RehearseError::Check(Box::new(error)));
            }
        }
    }

    // The rollback point.
    if !run.journal.is_done(&snapshot_id) {
        let earlier = run.begin(&snapshot_id, Some(number), StepKind::Snapshot)?;
        remove_unfinished(&before);
        let mut reused = None;
        if earlier && before.exists() {
            // Killed after the rename: the files prove themselves, and the copy is unchanged
            // since (no migration ran after the snapshot began).
            let alembic = staging.alembic().await?;
            match manifest::open(&before) {
                Ok((found, problems))
                    if problems.is_empty() && {
                        let mut recorded = found.alembic.revisions.clone();
                        recorded.sort();
                        recorded == alembic
                    } =>
                {
                    reused = Some(found)
                }
                _ => {
                    std::fs::remove_dir_all(&before).map_err(|source| RehearseError::Io {
                        path: before.clone(),
                        source,
                    })?;
                }
            }
        }
        let (taken, dump_seconds) = match reused {
            Some(found) => (found, None),
            None => {
                if let Some(parent) = before.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| RehearseError::Io {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                let summary = snapshot::take(
                    knowledge,
                    SnapshotRequest {
                        url: request.url.clone(),
                        timeouts: read_timeouts(request),
                        out: before.clone(),
                        jobs: request.jobs,
                        pg_bindir: request.pg_bindir.clone(),
                        progress: request.progress.clone(),
                    },
                )
                .await?;
                (summary.manifest, Some(summary.dump_time.as_secs_f64()))
            }
        };
        let rewritten: Vec<String> = knowledge
            .releases
            .iter()
            .filter(|release| release.version > hop.from && release.version <= hop.to)
            .flat_map(|release| release.migrations.iter())
            .flat_map(|revision| revision.rewrites_tables.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let sizes: Vec<serde_json::Value> = taken
            .tables
            .iter()
            .filter(|table| rewritten.contains(&table.name))
            .map(|table| json!({ "table": table.name, "rows": table.rows }))
            .collect();
        run.end(
            &snapshot_id,
            StepState::Done,
            json!({
                "directory": before.display().to_string(),
                "dump_bytes": taken.files.iter().map(|file| file.bytes).sum::<u64>(),
                "rows": taken.tables.iter().map(|table| table.rows).sum::<u64>(),
                "tables_rewritten": sizes,
                "dump_seconds": dump_seconds,
            }),
            None,
        )?;
    }
    let baseline = {
        let (found, problems) = manifest::open(&before)?;
        if !problems.is_empty() {
            return Err(RehearseError::SnapshotDamaged(before.clone()));
        }
        found
    };

    // The migration, through the runner.
    if !run.journal.is_done(&migrate_id) {
        let hop_command = &prepared.hop_commands[number - 1];
        if let Some(group) = run.journal.runner_process_group.take() {
            runner::stop_leftover(group);
            run.save()?;
        }
        if run.journal.dirty_hop == Some(number) {
            if let Some(cleanup) = request.runner.cleanup(hop_command) {
                let _ = std::process::Command::new(&cleanup.program)
                    .args(&cleanup.args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            if !roll_back(
                knowledge,
                request,
                run,
                staging,
                &rollback_id,
                number,
                &before,
            )
            .await?
            {
                return Ok(false);
            }
        }
        run.journal.dirty_hop = Some(number);
        run.begin(&migrate_id, Some(number), StepKind::Migrate)?;
        let passed = passed_names(&request.passed_env);
        let rendered = request.runner.render(hop_command, &passed, &request.work)?;
        let environment = vec![(
            "REDASH_DATABASE_URL".to_owned(),
            request.url.secret_text().to_owned(),
        )];
        let mut secrets: Vec<String> = vec![request.url.secret_text().to_owned()];
        secrets.extend(request.url.password());
        for name in &passed {
            if let Ok(value) = std::env::var(name) {
                secrets.push(value);
            }
        }
        if let Some(key) = &request.secret_key {
            secrets.push(key.value.clone());
        }
        let log = request.work.join(format!("hop-{number}-migrate.log"));
        let journal_path = Journal::path(&request.work);
        let snapshot_of_journal = run.journal.clone();
        let outcome = runner::run(&rendered, &environment, &secrets, &log, |group| {
            // Recorded at once: a resumed run stops this group before touching the copy.
            let mut recorded = snapshot_of_journal.clone();
            recorded.runner_process_group = Some(group);
            let _ = recorded.write(journal_path.parent().unwrap_or(Path::new(".")));
        })
        .await?;
        // The closure wrote a copy of the journal; ours is the same plus the group, now gone.
        run.journal.runner_process_group = None;
        let alembic = staging.alembic().await?;
        let mut expected: Vec<String> = hop
            .to_head
            .split(',')
            .map(str::to_owned)
            .filter(|revision| !revision.is_empty())
            .collect();
        expected.sort();
        let detail = json!({
            "command": rendered.shown(),
            "environment": rendered.environment,
            "exit_code": outcome.exit_code,
            "alembic_after": alembic,
            "alembic_expected": expected,
            "output_tail": outcome.output_tail,
            "log": log.display().to_string(),
        });
        let problem = if outcome.exit_code != Some(0) {
            Some(match outcome.exit_code {
                Some(code) => format!("the migration command exited with {code}"),
                None => "the migration command was killed by a signal".to_owned(),
            })
        } else if alembic != expected {
            Some(format!(
                "the migration command exited 0 but alembic_version holds {}, not {}'s head {}",
                if alembic.is_empty() {
                    "nothing".to_owned()
                } else {
                    alembic.join(", ")
                },
                hop.to,
                expected.join(", ")
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            run.end(&migrate_id, StepState::Failed, detail, Some(problem))?;
            if !request.keep_failed {
                roll_back(
                    knowledge,
                    request,
                    run,
                    staging,
                    &rollback_id,
                    number,
                    &before,
                )
                .await?;
            }
            return Ok(false);
        }
        run.end(&migrate_id, StepState::Done, detail, None)?;
    }

    // Verify against the rollback point.
    run.begin(&verify_id, Some(number), StepKind::Verify)?;
    let report = verify::compare_live(
        knowledge,
        &baseline,
        &before,
        &request.url,
        read_timeouts(request),
        Some(&hop.to),
        request.secret_key.clone(),
        Mode::Hop,
        request.progress.clone(),
    )
    .await?;
    let detail = verify_detail(&report);
    if report.verified() {
        run.journal.dirty_hop = None;
        run.end(&verify_id, StepState::Done, detail, None)?;
        return Ok(true);
    }
    run.end(
        &verify_id,
        StepState::Failed,
        detail,
        Some(format!(
            "{} difference(s) from the pre-hop snapshot beyond the migrations' declared effects",
            report.difference_count()
        )),
    )?;
    // The hop must be migrated again after whatever the operator fixes.
    if let Some(step) = run.journal.step_mut(&migrate_id) {
        step.state = StepState::Failed;
    }
    run.save()?;
    if !request.keep_failed {
        roll_back(
            knowledge,
            request,
            run,
            staging,
            &rollback_id,
            number,
            &before,
        )
        .await?;
    }
    Ok(false)
}

/// The copy back at the hop's snapshot; false when that restore itself failed.
async fn roll_back(
    knowledge: &KnowledgeBase,
    request: &RehearseRequest,
    run: &mut Run<'_>,
    staging: &mut Staging,
    id: &str,
    number: usize,
    before: &Path,
) -> Result<bool, RehearseError> {
    run.begin(id, Some(number), StepKind::Rollback)?;
    match restore_into(knowledge, request, staging, before, true, false, true).await {
        Ok(outcome) if outcome.restore_tested() => {
            run.journal.dirty_hop = None;
            run.end(id, StepState::Done, restore_detail(&outcome), None)?;
            Ok(true)
        }
        Ok(outcome) => {
            run.end(
                id,
                StepState::Failed,
                restore_detail(&outcome),
                Some("the restored copy differs from the pre-hop snapshot".into()),
            )?;
            Ok(false)
        }
        Err(error) => {
            run.end(
                id,
                StepState::Failed,
                serde_json::Value::Null,
                Some(error.to_string()),
            )?;
            Err(error)
        }
    }
}

fn verify_detail(report: &verify::VerifyReport) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = report
        .tables
        .iter()
        .filter(|table| table.counts(report.mode))
        .map(|table| {
            json!({
                "table": table.table,
                "missing": table.missing,
                "missing_count": table.missing_count,
                "added": table.added,
                "added_count": table.added_count,
                "changed": table.changed.iter().map(|row| json!({
                    "key": row.key,
                    "columns": row.columns,
                })).collect::<Vec<_>>(),
                "changed_count": table.changed_count,
                "problem": table.problem,
                "known_causes": table.known_causes,
            })
        })
        .collect();
    json!({
        "verified": report.verified(),
        "differences": report.difference_count(),
        "release_now": report.release_now,
        "migrations_between": report.migrations_between,
        "alembic_problem": report.alembic_problem,
        "schema_differences": report.schema_differences,
        "tables": tables,
        "broken_references": report.broken_references.len(),
        "invalid_values": report.invalid_values.iter().map(|note| json!({
            "table": note.table, "column": note.column, "problem": note.problem, "count": note.count,
        })).collect::<Vec<_>>(),
        "not_compared": report.not_compared,
    })
}

/// Unfinished snapshot directories a killed run left beside `directory`.
fn remove_unfinished(directory: &Path) {
    let Some(parent) = directory.parent() else {
        return;
    };
    let Some(name) = directory
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
    else {
        return;
    };
    let prefix = format!(".{name}.partial-");
    if let Ok(entries) = std::fs::read_dir(parent) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// `rehearse --restore-neutralized`: every original value our neutralization kept, put back.
pub async fn restore_neutralized(
    knowledge: &KnowledgeBase,
    url: &DatabaseUrl,
    timeouts: Timeouts,
    dry_run: bool,
    confirm: &(dyn Fn(&str) -> bool + Sync),
) -> Result<PutBack, RehearseError> {
    let detection = engine::detect(
        knowledge,
        &DatabaseTarget {
            url: url.clone(),
            timeouts,
        },
        None,
    )
    .await
    .map_err(|error| RehearseError::Check(Box::new(error)))?;
    let now = detection
        .candidates
        .last()
        .cloned()
        .ok_or_else(|| RehearseError::SnapshotRelease(PathBuf::from(url.redacted())))?;
    let mut staging = Staging::connect(url, staging::write_timeouts(timeouts)).await?;
    if !staging.try_lock().await? {
        return Err(RehearseError::Locked(url.redacted()));
    }
    let planned = neutralize::restore_neutralized(knowledge, &mut staging, &now, true).await?;
    if dry_run || !planned.refused.is_empty() || planned.steps.is_empty() {
        staging.close().await;
        return Ok(planned);
    }
    let total: u64 = planned.steps.iter().map(|step| step.rows).sum();
    if !confirm(&format!(
        "Put back {total} neutralized value(s) in {}? Its schedules, alerts and destinations will run again.",
        url.redacted()
    )) {
        staging.close().await;
        return Err(RehearseError::NotConfirmed(url.redacted()));
    }
    let done = neutralize::restore_neutralized(knowledge, &mut staging, &now, false).await?;
    staging.close().await;
    Ok(done)
}
