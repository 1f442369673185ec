//! One hop of a plan: everything that changes between two stop releases.

use std::collections::BTreeSet;

use semver::Version;

use crate::knowledge::model::{
    ActionTiming, CheckTrigger, EnvRename, JobSystem, KnownBug, MemoryFigures, Note, Platform,
    Release, RequiredAction, Revision, Source, Transition,
};
use crate::knowledge::KnowledgeBase;
use crate::report::describe::and_list;

use super::fit::DeploymentFit;
use super::StopReason;

/// When in the hop a step is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    PreFlight,
    /// Before the window, on a restored copy of the metadata DB, with production running.
    Rehearse,
    Snapshot,
    Migrate,
    Verify,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::PreFlight => "pre-flight",
            Phase::Rehearse => "rehearse",
            Phase::Snapshot => "snapshot",
            Phase::Migrate => "migrate",
            Phase::Verify => "verify",
        }
    }

    pub const ALL: [Phase; 5] = [
        Phase::PreFlight,
        Phase::Rehearse,
        Phase::Snapshot,
        Phase::Migrate,
        Phase::Verify,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub phase: Phase,
    pub text: String,
    pub source: Option<Source>,
    /// The kind of deployment the step is written for; `None` when it applies to every kind.
    pub platform: Option<Platform>,
}

/// A difference in the environment variables the two releases read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    /// Optional by construction: a variable the older release does not read has no setting
    /// the operator must carry over.
    Added {
        name: String,
        default: Option<String>,
        secret: bool,
        source: Source,
        /// What the variable does, where `env-vars.json` says.
        meaning: Option<String>,
        /// Why an operator of the older release most likely wants it, where `env-vars.json`
        /// records what the releases before the variable lack.
        wanted: Option<Note>,
    },
    Removed {
        name: String,
        secret: bool,
        source: Source,
        meaning: Option<String>,
    },
    /// A default that changed; `new: None` means the variable lost its default and must now be
    /// set.
    DefaultChanged {
        name: String,
        old: Option<String>,
        new: Option<String>,
        secret: bool,
        source: Source,
        meaning: Option<String>,
    },
    Renamed {
        from: String,
        to: String,
        old_name_still_read: bool,
        source: Source,
    },
}

impl EnvChange {
    pub fn name(&self) -> &str {
        match self {
            EnvChange::Added { name, .. }
            | EnvChange::Removed { name, .. }
            | EnvChange::DefaultChanged { name, .. } => name,
            EnvChange::Renamed { from, .. } => from,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            EnvChange::Added { .. } => "added",
            EnvChange::Removed { .. } => "removed",
            EnvChange::DefaultChanged { .. } => "default-changed",
            EnvChange::Renamed { .. } => "renamed",
        }
    }

    /// Whether the operator must act on the change: a variable removed or renamed, a default
    /// that changed, a variable that became required. An added variable is optional.
    pub fn needs_action(&self) -> bool {
        !matches!(self, EnvChange::Added { .. })
    }

    /// Whether the variable lost its default, so that the new release needs it set.
    pub fn now_required(&self) -> bool {
        matches!(self, EnvChange::DefaultChanged { new: None, .. })
    }

    /// Why an operator most likely wants an added variable, when the knowledge base says.
    pub fn wanted(&self) -> Option<&Note> {
        match self {
            EnvChange::Added { wanted, .. } => wanted.as_ref(),
            _ => None,
        }
    }

    /// What the variable does, when the knowledge base says (for a rename: the new name).
    pub fn meaning(&self) -> Option<&str> {
        match self {
            EnvChange::Added { meaning, .. }
            | EnvChange::Removed { meaning, .. }
            | EnvChange::DefaultChanged { meaning, .. } => meaning.as_deref(),
            EnvChange::Renamed { .. } => None,
        }
    }
}

/// Shown instead of the default of a secret variable.
pub const HIDDEN_DEFAULT: &str = "(built-in value, not shown)";

/// Which hop: the release it leaves and the release it reaches. Shown and serialised as
/// `7.0.0->8.0.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HopId {
    pub from: Version,
    pub to: Version,
}

impl std::fmt::Display for HopId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}->{}", self.from, self.to)
    }
}

impl serde::Serialize for HopId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The plan of one hop between two stop releases.
#[derive(Debug, Clone)]
pub struct HopPlan<'k> {
    pub from: &'k Release,
    pub to: &'k Release,
    pub reason: StopReason,
    /// The releases whose changes this hop crosses, oldest first.
    pub transitions: Vec<&'k Transition>,
    /// In an order alembic can apply them.
    pub revisions: Vec<&'k Revision>,
    pub env_changes: Vec<EnvChange>,
    pub known_bugs: Vec<&'k KnownBug>,
    pub steps: Vec<Step>,
    pub snapshot_file: String,
}

impl<'k> HopPlan<'k> {
    pub fn id(&self) -> HopId {
        HopId {
            from: self.from.version.clone(),
            to: self.to.version.clone(),
        }
    }

    /// Whether `release` is among the releases this hop reaches (after `from`, up to `to`).
    pub fn crosses(&self, release: &Version) -> bool {
        &self.from.version < release && release <= &self.to.version
    }

    pub fn target_is_rq(&self) -> bool {
        self.to.job_system == JobSystem::Rq
    }

    /// What the knowledge base says about `code` for the transitions this hop crosses: empty
    /// when no transition names that check.
    pub fn check_triggers(&self, code: &str) -> Vec<&'k CheckTrigger> {
        self.transitions
            .iter()
            .flat_map(|transition| transition.checks.iter())
            .filter(|trigger| trigger.code == code)
            .collect()
    }

    pub fn from_head(&self) -> String {
        self.from.alembic_heads.join(",")
    }

    pub fn to_head(&self) -> String {
        self.to.alembic_heads.join(",")
    }

    pub fn irreversible_revisions(&self) -> Vec<&'k Revision> {
        self.revisions
            .iter()
            .copied()
            .filter(|revision| revision.downgrade.is_irreversible())
            .collect()
    }

    pub fn is_irreversible(&self) -> bool {
        !self.irreversible_revisions().is_empty()
    }

    pub fn rewritten_tables(&self) -> BTreeSet<&'k str> {
        self.revisions
            .iter()
            .flat_map(|revision| revision.rewrites_tables.iter().map(String::as_str))
            .collect()
    }

    fn notes(&self, pick: impl Fn(&'k Transition) -> &'k Vec<Note>) -> Vec<&'k Note> {
        self.transitions
            .iter()
            .flat_map(|transition| pick(transition).iter())
            .collect()
    }

    pub fn breaking_changes(&self) -> Vec<&'k Note> {
        self.notes(|transition| &transition.breaking_changes)
    }

    pub fn process_changes(&self) -> Vec<&'k Note> {
        self.notes(|transition| &transition.process_changes)
    }

    pub fn memory_notes(&self) -> Vec<&'k Note> {
        self.notes(|transition| &transition.memory)
    }

    pub fn memory_figures(&self) -> Option<&'k MemoryFigures> {
        self.to.memory.as_ref()
    }

    pub fn multi_org_notes(&self) -> Vec<&'k Note> {
        self.notes(|transition| &transition.multi_org)
    }

    pub fn user_notes(&self) -> Vec<&'k Note> {
        self.notes(|transition| &transition.user_notes)
    }

    pub fn image(&self) -> Option<&'k str> {
        self.to.image.tag.as_deref()
    }

    /// The environment changes the operator must act on, in the order of `env_changes`.
    pub fn env_to_act_on(&self) -> Vec<&EnvChange> {
        self.env_changes
            .iter()
            .filter(|change| change.needs_action())
            .collect()
    }

    /// The added variables, the flagged ones (most likely wanted) first.
    pub fn env_added(&self) -> Vec<&EnvChange> {
        let mut added: Vec<&EnvChange> = self
            .env_changes
            .iter()
            .filter(|change| !change.needs_action())
            .collect();
        added.sort_by_key(|change| change.wanted().is_none());
        added
    }

    pub fn rollback_command(&self) -> String {
        format!(
            "pg_restore --clean --if-exists --no-owner --dbname \"$REDASH_DATABASE_URL\" {}",
            self.snapshot_file
        )
    }

    pub fn rollback_summary(&self) -> String {
        let image = self
            .from
            .image
            .tag
            .as_deref()
            .map(|tag| format!(" ({tag})"))
            .unwrap_or_default();
        format!(
            "stop every role, restore {} (taken before this hop) with pg_restore, then run the {} image{} with its old environment",
            self.snapshot_file, self.from.version, image
        )
    }
}

pub(super) fn plan_hop<'k>(
    knowledge: &'k KnowledgeBase,
    from: &'k Release,
    to: &'k Release,
    reason: StopReason,
    fit: Option<&DeploymentFit>,
) -> HopPlan<'k> {
    let transitions = knowledge.transitions_between(&from.version, &to.version);
    let graph = knowledge.graph_at(&to.version);
    let revisions = graph.revisions_to_apply(from.alembic_heads.iter().map(String::as_str));
    let env_changes = env_changes(knowledge, from, to, &transitions);
    let known_bugs = knowledge.known_bugs_of(&to.version);
    let snapshot_file = format!("redash-{}-before-{}.dump", from.version, to.version);
    let mut hop = HopPlan {
        from,
        to,
        reason,
        transitions,
        revisions,
        env_changes,
        known_bugs,
        steps: Vec::new(),
        snapshot_file,
    };
    hop.steps = steps(knowledge, &hop, fit);
    hop
}

fn env_changes(
    knowledge: &KnowledgeBase,
    from: &Release,
    to: &Release,
    transitions: &[&Transition],
) -> Vec<EnvChange> {
    let meaning = |name: &str| knowledge.env_doc(name).map(|doc| doc.meaning.clone());
    let renames: Vec<&EnvRename> = transitions
        .iter()
        .flat_map(|transition| transition.env_renamed.iter())
        .collect();
    let mut changes: Vec<EnvChange> = renames
        .iter()
        .map(|rename| EnvChange::Renamed {
            from: rename.from.clone(),
            to: rename.to.clone(),
            old_name_still_read: rename.old_name_still_read,
            source: rename.source.clone(),
        })
        .collect();
    let renamed_to: BTreeSet<&str> = renames.iter().map(|rename| rename.to.as_str()).collect();
    let renamed_from: BTreeSet<&str> = renames.iter().map(|rename| rename.from.as_str()).collect();
    for variable in &to.env {
        let secret = knowledge.is_secret(&variable.name);
        match from.env.iter().find(|old| old.name == variable.name) {
            None if !renamed_to.contains(variable.name.as_str()) => {
                changes.push(EnvChange::Added {
                    name: variable.name.clone(),
                    default: variable.default.clone(),
                    secret,
                    source: variable.source.clone(),
                    meaning: meaning(&variable.name),
                    wanted: knowledge
                        .env_doc(&variable.name)
                        .and_then(|doc| doc.wanted.clone()),
                })
            }
            Some(old) if old.default != variable.default => {
                changes.push(EnvChange::DefaultChanged {
                    name: variable.name.clone(),
                    old: old.default.clone(),
                    new: variable.default.clone(),
                    secret,
                    source: variable.source.clone(),
                    meaning: meaning(&variable.name),
                })
            }
            _ => {}
        }
    }
    for variable in &from.env {
        let gone = !to.env.iter().any(|new| new.name == variable.name);
        if gone && !renamed_from.contains(variable.name.as_str()) {
            changes.push(EnvChange::Removed {
                name: variable.name.clone(),
                secret: knowledge.is_secret(&variable.name),
                source: variable.source.clone(),
                meaning: meaning(&variable.name),
            });
        }
    }
    changes
}

/// The step an action becomes on a hop to `to`: as written, unless it tells the operator to set
/// a variable that `to` does not read (dropped) or reads without honouring it (replaced by what
/// the release data says about that).
fn action_for_target<'k>(
    to: &'k Release,
    action: &'k RequiredAction,
) -> Option<(String, &'k Source)> {
    let Some(name) = &action.sets_env else {
        return Some((action.text.clone(), &action.source));
    };
    let variable = to.env.iter().find(|variable| &variable.name == name)?;
    match &variable.ignored {
        None => Some((action.text.clone(), &action.source)),
        Some(ignored) => Some((
            format!("Do not count on {name} in {}: {}", to.version, ignored.text),
            &ignored.source,
        )),
    }
}

fn role_names(release: &Release) -> String {
    release
        .roles
        .iter()
        .map(|role| role.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(number: usize, one: &str, many: &str) -> String {
    format!("{number} {}", if number == 1 { one } else { many })
}

/// The steps of a hop, in the order they are pushed; a step written for another kind of
/// deployment than the one given is left out.
struct Steps<'f> {
    list: Vec<Step>,
    fit: Option<&'f DeploymentFit>,
}

impl Steps<'_> {
    fn push(&mut self, phase: Phase, text: String, source: Option<&Source>) {
        self.push_for(phase, None, text, source);
    }

    fn push_for(
        &mut self,
        phase: Phase,
        platform: Option<Platform>,
        text: String,
        source: Option<&Source>,
    ) {
        if DeploymentFit::keeps(self.fit, platform) {
            self.list.push(Step {
                phase,
                text,
                source: source.cloned(),
                platform,
            });
        }
    }
}

/// The Python major version a release runs (`2.7` -> `2`).
fn python_major(release: &Release) -> &str {
    release.python.version.split('.').next().unwrap_or("")
}

/// The variables a rehearsal sets so that the copy reaches no one, with the value and what it
/// stops. Each is named only where the target release reads it.
const REHEARSAL_SETTINGS: [(&str, &str, &str); 5] = [
    (
        "REDASH_FEATURE_DISABLE_REFRESH_QUERIES",
        "=true",
        "scheduled queries do not refresh",
    ),
    (
        "REDASH_MAIL_SERVER",
        "=<a mail catcher>",
        "no e-mail reaches anyone",
    ),
    (
        "REDASH_EVENT_REPORTING_WEBHOOKS",
        " empty",
        "no event is posted to your webhooks",
    ),
    (
        "REDASH_VERSION_CHECK",
        "=false",
        "no version report to version.redash.io",
    ),
    (
        "REDASH_SENTRY_DSN",
        " empty",
        "the copy's errors stay out of your Sentry project",
    ),
];

/// The settings of [`REHEARSAL_SETTINGS`] that `release` reads: name, value (`=true`, ` empty`)
/// and what it stops.
pub fn rehearsal_settings(
    release: &Release,
) -> Vec<&'static (&'static str, &'static str, &'static str)> {
    REHEARSAL_SETTINGS
        .iter()
        .filter(|(name, ..)| release.env.iter().any(|variable| variable.name == *name))
        .collect()
}

const PYTHON_RUNNER: &str = "redash.query_runner.python";

fn steps(knowledge: &KnowledgeBase, hop: &HopPlan<'_>, fit: Option<&DeploymentFit>) -> Vec<Step> {
    let policy = &knowledge.policy;
    let (from, to) = (hop.from, hop.to);
    let migrate = &to.migrate_command;
    let mut steps = Steps {
        list: Vec::new(),
        fit,
    };
    match hop.image() {
        Some(image) => {
            steps.push_for(
                Phase::PreFlight,
                Some(Platform::Compose),
                format!("Pull {image} on every host that runs Redash before the window (docker pull {image})."),
                to.image.source.as_ref(),
            );
            steps.push_for(
                Phase::PreFlight,
                Some(Platform::Ecs),
                format!("Register a new revision of every Redash task definition with the image {image} and this hop's environment before the window; leave the services on their current revision until the migrate phase."),
                to.image.source.as_ref(),
            );
        }
        None => {
            let why = match to.image.note.as_deref() {
                Some(note) => format!(
                    "the {} image tag is unconfirmed: {}",
                    to.version,
                    note.trim()
                ),
                None => format!(
                    "the knowledge base confirms no image tag for {}",
                    to.version
                ),
            };
            steps.push(
                Phase::PreFlight,
                format!("Choose the {} image yourself and try it on the rehearsal copy before the window: {why}", to.version),
                to.image.source.as_ref(),
            );
        }
    }
    steps.push_for(
        Phase::PreFlight,
        Some(Platform::Compose),
        policy.setup_script.text.clone(),
        Some(&policy.setup_script.source),
    );
    if let Some(text) = environment_step(hop, fit) {
        steps.push(Phase::PreFlight, text, None);
    }
    if let Some(text) = python_step(hop, fit) {
        steps.push(Phase::PreFlight, text, Some(&to.python.source));
    }
    let actions = |timing: ActionTiming| {
        hop.transitions
            .iter()
            .flat_map(|transition| transition.required_actions.iter())
            .filter(move |action| action.when == timing)
            .filter_map(|action| {
                action_for_target(to, action).map(|(text, source)| (action.platform, text, source))
            })
    };
    for (platform, text, source) in actions(ActionTiming::PreFlight) {
        steps.push_for(Phase::PreFlight, platform, text, Some(source));
    }
    rehearsal_steps(knowledge, hop, &mut steps);
    steps.push(
        Phase::Snapshot,
        format!(
            "Stop every {} role ({}) so nothing writes to the metadata DB.",
            from.version,
            role_names(from)
        ),
        None,
    );
    let keep = match fit.and_then(|fit| fit.platform) {
        Some(Platform::Compose) => "keep the env and compose files beside it",
        Some(Platform::Ecs) => {
            "note beside it the task-definition revisions the services run now (the rollback deploys them again)"
        }
        None => "keep beside it what the old release runs with: the env files, and the compose file or the task-definition revisions",
    };
    steps.push(
        Phase::Snapshot,
        format!(
            "Take the rollback snapshot: pg_dump --format=custom --no-owner --file={} \"$REDASH_DATABASE_URL\"; {keep}.",
            hop.snapshot_file
        ),
        Some(&policy.snapshot.source),
    );
    for (platform, text, source) in actions(ActionTiming::BeforeMigrate) {
        steps.push_for(Phase::Migrate, platform, text, Some(source));
    }
    if hop.revisions.is_empty() {
        steps.push(
            Phase::Migrate,
            format!(
                "Run `{}` once with the {} image: no revision to apply, the stamp stays {}; it only confirms the DB is where this hop expects.",
                migrate.command,
                to.version,
                hop.to_head()
            ),
            Some(&migrate.source),
        );
    } else {
        let applies = format!(
            "it applies {} revision(s) up to {}",
            hop.revisions.len(),
            hop.to_head()
        );
        let image = match hop.image() {
            Some(tag) => tag.to_owned(),
            None => format!("the {} image you chose", to.version),
        };
        steps.push_for(
            Phase::Migrate,
            Some(Platform::Compose),
            format!(
                "Set the image of every Redash service in the compose file to {image}, then run `{}` once as a one-off container with the server's full environment: docker compose run --rm server {}; {applies}.",
                migrate.command, migrate.command
            ),
            Some(&migrate.source),
        );
        steps.push_for(
            Phase::Migrate,
            Some(Platform::Ecs),
            format!(
                "Run `{}` once as a one-off ECS task of the server's new task-definition revision (the {} image, the server's full environment) with its command overridden: aws ecs run-task --overrides with command [\"{}\"]; wait for the task to stop with exit code 0; {applies}.",
                migrate.command,
                to.version,
                migrate.command.split_whitespace().collect::<Vec<_>>().join("\", \"")
            ),
            Some(&migrate.source),
        );
    }
    if from.job_system != to.job_system {
        steps.push(
            Phase::Migrate,
            format!(
                "Replace the {} processes with {} ones: the roles and queues of {} differ (see the process changes of this hop).",
                from.job_system.name(),
                to.job_system.name(),
                to.version
            ),
            None,
        );
    }
    for (platform, text, source) in actions(ActionTiming::AfterMigrate) {
        steps.push_for(Phase::Migrate, platform, text, Some(source));
    }
    steps.push(
        Phase::Migrate,
        format!(
            "Start every {} role ({}) on the new image{}.",
            to.version,
            role_names(to),
            match to.job_system {
                JobSystem::Rq => ", with exactly one scheduler",
                JobSystem::Celery => ", with exactly one scheduler (Celery beat)",
            }
        ),
        None,
    );
    steps.push(
        Phase::Verify,
        format!(
            "The metadata DB is stamped at the new head: SELECT version_num FROM alembic_version returns {}.",
            hop.to_head()
        ),
        Some(&migrate.source),
    );
    steps.push(
        Phase::Verify,
        format!(
            "Run `redash-upgrade detect` against the migrated metadata DB (REDASH_DATABASE_URL set): {}",
            detect_expectation(knowledge, hop)
        ),
        None,
    );
    steps.push(
        Phase::Verify,
        "GET /ping on the server answers PONG. (it shows gunicorn answers, not that the DB or Redis work).".to_owned(),
        to.health.first().map(|note| &note.source),
    );
    steps.push(
        Phase::Verify,
        "Run a saved query from the UI, then watch one scheduled query refresh (its last-executed time moves) and one alert evaluate.".to_owned(),
        None,
    );
    for (platform, text, source) in actions(ActionTiming::Verify) {
        steps.push_for(Phase::Verify, platform, text, Some(source));
    }
    for transition in &hop.transitions {
        for check in &transition.verify {
            steps.push(Phase::Verify, check.text.clone(), Some(&check.source));
        }
    }
    steps.list
}

/// What `redash-upgrade detect` must say about a database this hop migrated.
fn detect_expectation(knowledge: &KnowledgeBase, hop: &HopPlan<'_>) -> String {
    let sharing: Vec<String> = knowledge
        .releases_with_head(&hop.to_head())
        .iter()
        .map(|release| release.version.to_string())
        .collect();
    let names = if sharing.len() > 1 {
        format!(
            "it must list {} among the candidates ({}, which share the head {} and which the database alone cannot tell apart)",
            hop.to.version,
            and_list(&sharing).replace(" and ", " or "),
            hop.to_head()
        )
    } else {
        format!("it must name {}", hop.to.version)
    };
    format!("{names}; exit code 1 means schema drift or a stamp problem to look at before users come back.")
}

/// How to rehearse the hop on a restored copy of the metadata DB, before the window.
fn rehearsal_steps(knowledge: &KnowledgeBase, hop: &HopPlan<'_>, steps: &mut Steps<'_>) {
    let (from, to) = (hop.from, hop.to);
    steps.push(
        Phase::Rehearse,
        format!(
            "Rehearse this hop on a restored copy while production keeps running: dump the {} metadata DB (pg_dump --format=custom --no-owner \"$REDASH_DATABASE_URL\"), restore it with pg_restore --no-owner into a scratch PostgreSQL of the same major version that production does not use, give the copy a Redis of its own, and drop both after the rehearsal (they hold production's data).",
            from.version
        ),
        Some(&knowledge.policy.snapshot.source),
    );
    steps.push(
        Phase::Rehearse,
        format!(
            "Before migrating the copy, check its data: REDASH_DATABASE_URL=<the copy> redash-upgrade check --from {} --to {} names the rows this hop's migrations fail on.",
            from.version, to.version
        ),
        None,
    );
    let read = rehearsal_settings(to);
    let settings: Vec<String> = read
        .iter()
        .map(|(name, value, stops)| format!("{name}{value} ({stops})"))
        .collect();
    let refresh = REHEARSAL_SETTINGS[0].0;
    let refresh_source = to
        .env
        .iter()
        .find(|variable| variable.name == refresh)
        .map(|variable| &variable.source);
    let schedules = if refresh_source.is_some() {
        String::new()
    } else {
        format!(
            " {} reads no variable that stops scheduled refreshes: keep the copy's scheduler stopped.",
            to.version
        )
    };
    steps.push(
        Phase::Rehearse,
        format!(
            "Give every {} role that runs against the copy settings that reach no one: {}.{schedules} Alert destinations (e-mail, Slack, webhooks) and data-source credentials come with the restored data, and alerts are checked whenever their query runs: let the copy reach no network beyond the data sources you test.",
            to.version,
            and_list(&settings)
        ),
        refresh_source,
    );
    let migrate = if hop.revisions.is_empty() {
        format!(
            "Run `{}` with the {} image and REDASH_DATABASE_URL pointing at the copy (no revision to apply) to see it confirm the stamp.",
            to.migrate_command.command, to.version
        )
    } else {
        format!(
            "Run `{}` with the {} image and REDASH_DATABASE_URL pointing at the copy, and time it: the window must hold that time ({} revision(s)), plus the snapshot and the restart.",
            to.migrate_command.command,
            to.version,
            hop.revisions.len()
        )
    };
    steps.push(Phase::Rehearse, migrate, Some(&to.migrate_command.source));
    steps.push(
        Phase::Rehearse,
        format!(
            "Against the migrated copy, `redash-upgrade detect`: {} Then start the {} roles on the copy and go through the verify steps below.",
            detect_expectation(knowledge, hop),
            to.version
        ),
        None,
    );
}

/// The environment step: how many changes to act on, how many added variables are optional and
/// flagged, and, with deployment files, what in them the changes concern.
fn environment_step(hop: &HopPlan<'_>, fit: Option<&DeploymentFit>) -> Option<String> {
    if hop.env_changes.is_empty() {
        return None;
    }
    let act = hop.env_to_act_on();
    let kinds = [
        (
            act.iter()
                .filter(|change| matches!(change, EnvChange::Removed { .. }))
                .count(),
            "removed",
        ),
        (
            act.iter()
                .filter(|change| matches!(change, EnvChange::Renamed { .. }))
                .count(),
            "renamed",
        ),
        (
            act.iter()
                .filter(|change| {
                    matches!(change, EnvChange::DefaultChanged { .. }) && !change.now_required()
                })
                .count(),
            "with a changed default",
        ),
        (
            act.iter().filter(|change| change.now_required()).count(),
            "now required",
        ),
    ];
    let parts: Vec<String> = kinds
        .iter()
        .filter(|(number, _)| *number > 0)
        .map(|(number, kind)| format!("{number} {kind}"))
        .collect();
    let mut text = format!(
        "Prepare the environment of every role and of the one-off migration task for {}: ",
        hop.to.version
    );
    if act.is_empty() {
        text.push_str("no variable has to change");
    } else {
        let changes = if act.len() == 1 {
            "the one environment change".to_owned()
        } else {
            format!("the {} environment changes", act.len())
        };
        text.push_str(&format!(
            "act on {changes} listed for this hop ({})",
            parts.join(", ")
        ));
    }
    let added = hop.env_added();
    if !added.is_empty() {
        let flagged = added
            .iter()
            .filter(|change| change.wanted().is_some())
            .count();
        text.push_str(&format!(
            "; the {} optional",
            count(added.len(), "added variable is", "added variables are")
        ));
        if flagged > 0 {
            text.push_str(&format!(
                ", {flagged} of them flagged as most likely wanted coming from {}",
                hop.from.version
            ));
        }
    }
    text.push('.');
    if let Some(fit) = fit {
        text.push_str(&fit_environment(hop, fit));
    }
    Some(text)
}

/// What the environment changes mean for the files given: variables they set that the target no
/// longer reads, and required ones no role sets.
fn fit_environment(hop: &HopPlan<'_>, fit: &DeploymentFit) -> String {
    let mut findings = Vec::new();
    for change in &hop.env_changes {
        match change {
            EnvChange::Removed { name, .. } => {
                if let Some(location) = fit.env.get(name) {
                    findings.push(format!(
                        "they set {name} ({location}), which {} no longer reads",
                        hop.to.version
                    ));
                }
            }
            EnvChange::Renamed {
                from,
                to,
                old_name_still_read,
                ..
            } => {
                if let Some(location) = fit.env.get(from) {
                    let still = if *old_name_still_read {
                        "the old name is still read as a fallback"
                    } else {
                        "the old name is ignored"
                    };
                    findings.push(format!(
                        "they set {from} ({location}), renamed {to} ({still})"
                    ));
                }
            }
            EnvChange::DefaultChanged { name, .. }
                if change.now_required() && !fit.env.contains_key(name) =>
            {
                findings.push(format!(
                    "no role in them sets {name}, which {} requires",
                    hop.to.version
                ));
            }
            _ => {}
        }
    }
    if findings.is_empty() {
        " In the files given, no role sets a removed or renamed variable or lacks a required one."
            .to_owned()
    } else {
        format!(" In the files given, {}.", findings.join("; "))
    }
}

/// The review of saved Python queries on a hop from a Python 2 release to a Python 3 one: the
/// Python data source runs the query text itself, so every saved query is code to port.
fn python_step(hop: &HopPlan<'_>, fit: Option<&DeploymentFit>) -> Option<String> {
    let (from, to) = (hop.from, hop.to);
    if python_major(from) != "2" || python_major(to) != "3" {
        return None;
    }
    let module = [PYTHON_RUNNER.to_owned()];
    let types: Vec<String> = to
        .modules
        .types_of(&module)
        .map(|kind| format!("'{kind}'"))
        .collect();
    if types.is_empty() {
        return None;
    }
    let enabled = fit
        .and_then(|fit| fit.runner_modules.get(PYTHON_RUNNER))
        .map(|location| format!(" The files given enable it ({location})."))
        .unwrap_or_default();
    Some(format!(
        "Review the saved queries of the Python data source, not only custom runner modules: {} runs their code under Python {} where {} ran Python {} (print statements, dict.iteritems(), str and unicode, integer division).{enabled} List them with SELECT q.id, q.name FROM queries q JOIN data_sources ds ON ds.id = q.data_source_id WHERE ds.type IN ({}) AND NOT q.is_archived; port each and run it on the rehearsal copy.",
        to.version,
        to.python.version,
        from.version,
        from.python.version,
        types.join(", ")
    ))
}
