//! One hop of a plan: everything that changes between two stop releases.

use std::collections::BTreeSet;

use semver::Version;

use crate::knowledge::model::{
    ActionTiming, CheckTrigger, EnvRename, JobSystem, KnownBug, MemoryFigures, Note, Release,
    RequiredAction, Revision, Source, Transition,
};
use crate::knowledge::KnowledgeBase;

use super::StopReason;

/// When in the hop a step is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    PreFlight,
    Snapshot,
    Migrate,
    Verify,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::PreFlight => "pre-flight",
            Phase::Snapshot => "snapshot",
            Phase::Migrate => "migrate",
            Phase::Verify => "verify",
        }
    }

    pub const ALL: [Phase; 4] = [
        Phase::PreFlight,
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
}

/// A difference in the environment variables the two releases read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    Added {
        name: String,
        default: Option<String>,
        secret: bool,
        source: Source,
    },
    Removed {
        name: String,
        secret: bool,
        source: Source,
    },
    DefaultChanged {
        name: String,
        old: Option<String>,
        new: Option<String>,
        secret: bool,
        source: Source,
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
    hop.steps = steps(knowledge, &hop);
    hop
}

fn env_changes(
    knowledge: &KnowledgeBase,
    from: &Release,
    to: &Release,
    transitions: &[&Transition],
) -> Vec<EnvChange> {
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
                })
            }
            Some(old) if old.default != variable.default => {
                changes.push(EnvChange::DefaultChanged {
                    name: variable.name.clone(),
                    old: old.default.clone(),
                    new: variable.default.clone(),
                    secret,
                    source: variable.source.clone(),
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

fn steps(knowledge: &KnowledgeBase, hop: &HopPlan<'_>) -> Vec<Step> {
    let policy = &knowledge.policy;
    let (from, to) = (hop.from, hop.to);
    let mut steps = Vec::new();
    let mut push = |phase, text: String, source: Option<&Source>| {
        steps.push(Step {
            phase,
            text,
            source: source.cloned(),
        })
    };
    if let Some(image) = hop.image() {
        push(
            Phase::PreFlight,
            format!("Pull {image} on every host (or register it in every task definition) before the window."),
            to.image.source.as_ref(),
        );
    } else {
        let note = to
            .image
            .note
            .as_deref()
            .unwrap_or("no official image is known");
        push(
            Phase::PreFlight,
            format!("Build or choose the {} image: {note}", to.version),
            to.image.source.as_ref(),
        );
    }
    push(
        Phase::PreFlight,
        policy.setup_script.text.clone(),
        Some(&policy.setup_script.source),
    );
    if !hop.env_changes.is_empty() {
        push(
            Phase::PreFlight,
            format!(
                "Prepare the environment of every role and of the one-off migration task for {}: apply the environment changes listed for this hop ({}).",
                to.version,
                hop.env_changes.len()
            ),
            None,
        );
    }
    let actions = |timing: ActionTiming| {
        hop.transitions
            .iter()
            .flat_map(|transition| transition.required_actions.iter())
            .filter(move |action| action.when == timing)
            .filter_map(|action| action_for_target(to, action))
    };
    for (text, source) in actions(ActionTiming::PreFlight) {
        push(Phase::PreFlight, text, Some(source));
    }
    push(
        Phase::Snapshot,
        format!(
            "Stop every {} role ({}) so nothing writes to the metadata DB.",
            from.version,
            role_names(from)
        ),
        None,
    );
    push(
        Phase::Snapshot,
        format!(
            "Take the rollback snapshot: pg_dump --format=custom --no-owner --file={} \"$REDASH_DATABASE_URL\"; keep the env, compose and task-definition files beside it.",
            hop.snapshot_file
        ),
        Some(&policy.snapshot.source),
    );
    for (text, source) in actions(ActionTiming::BeforeMigrate) {
        push(Phase::Migrate, text, Some(source));
    }
    let migrate = &to.migrate_command;
    if hop.revisions.is_empty() {
        push(
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
        push(
            Phase::Migrate,
            format!(
                "Run `{}` once, as a one-off container of the {} image with the server's full environment (compose: docker compose run --rm server {}; ECS: a one-off task with that command); it applies {} revision(s) up to {}.",
                migrate.command,
                to.version,
                migrate.command,
                hop.revisions.len(),
                hop.to_head()
            ),
            Some(&migrate.source),
        );
    }
    if from.job_system != to.job_system {
        push(
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
    for (text, source) in actions(ActionTiming::AfterMigrate) {
        push(Phase::Migrate, text, Some(source));
    }
    push(
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
    push(
        Phase::Verify,
        format!(
            "The metadata DB is stamped at the new head: SELECT version_num FROM alembic_version returns {}.",
            hop.to_head()
        ),
        Some(&migrate.source),
    );
    push(
        Phase::Verify,
        "GET /ping on the server answers PONG. (it shows gunicorn answers, not that the DB or Redis work).".to_owned(),
        to.health.first().map(|note| &note.source),
    );
    push(
        Phase::Verify,
        "Run a saved query from the UI, then watch one scheduled query refresh (its last-executed time moves) and one alert evaluate.".to_owned(),
        None,
    );
    for (text, source) in actions(ActionTiming::Verify) {
        push(Phase::Verify, text, Some(source));
    }
    for transition in &hop.transitions {
        for check in &transition.verify {
            push(Phase::Verify, check.text.clone(), Some(&check.source));
        }
    }
    steps
}
