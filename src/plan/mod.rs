//! The hop planner: which releases to stop at, and what each hop involves.

mod date;
mod fit;
mod hop;
mod version;

use semver::Version;

pub use date::{
    civil_from_days, days_from_civil, format_instant, parse_instant, plan_date, DATE_VARIABLE,
};
pub use fit::DeploymentFit;
pub use hop::{rehearsal_settings, EnvChange, HopId, HopPlan, Phase, Step, HIDDEN_DEFAULT};
pub use version::{resolve, ResolvedVersion};

use crate::inputs::Deployment;
pub use crate::knowledge::model::Platform;
use crate::knowledge::model::{Release, Source};
use crate::knowledge::KnowledgeBase;

/// Why a plan could not be made. Each message is one line naming the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{option} {input:?}: not a version (write it as 7, v7, 7.0, 7.0.0, 9-beta or latest)")]
    MalformedVersion { option: &'static str, input: String },
    #[error("{option} {input}: no such Redash release (known: {known})")]
    UnknownVersion {
        option: &'static str,
        input: String,
        known: String,
    },
    #[error("--from {from} and --to {to} are the same release: nothing to plan")]
    SameVersion { from: Version, to: Version },
    #[error("--to {to} is older than --from {from}: redash-upgrade plans upgrades only; rolling back means restoring the snapshot taken before the hop that left {to}, then running the {to} image again")]
    Downgrade { from: Version, to: Version },
    #[error("REDASH_UPGRADE_DATE {0:?}: not a date (write it YYYY-MM-DD)")]
    MalformedDate(String),
}

/// A release the path passes over, and why.
#[derive(Debug, Clone)]
pub struct SkippedRelease {
    pub version: Version,
    pub reason: String,
    pub source: Source,
}

/// The whole path from one release to another.
#[derive(Debug, Clone)]
pub struct UpgradePlan<'k> {
    pub from: ResolvedVersion,
    pub to: ResolvedVersion,
    pub skipped: Vec<SkippedRelease>,
    pub hops: Vec<HopPlan<'k>>,
    /// The deployment the steps are fitted to; `None` when no file was given, and the steps of
    /// every kind of deployment are then kept, marked with their kind.
    pub deployment: Option<DeploymentFit>,
    /// The day the plan is made (UTC, `YYYY-MM-DD`), for the change ticket; set by the command
    /// that prints it (see [`plan_date`]).
    pub date: Option<String>,
}

impl UpgradePlan<'_> {
    /// The kind of deployment the steps are written for, when the files tell.
    pub fn platform(&self) -> Option<Platform> {
        self.deployment.as_ref().and_then(|fit| fit.platform)
    }

    /// The releases the path runs through, the starting one first.
    pub fn path(&self) -> Vec<String> {
        std::iter::once(&self.from.version)
            .chain(self.hops.iter().map(|hop| &hop.to.version))
            .map(ToString::to_string)
            .collect()
    }
}

/// Why the path stops at a release.
#[derive(Debug, Clone)]
pub struct StopReason {
    pub text: String,
    pub source: Source,
}

/// Plans the upgrade from `from` to `to`, as typed by the operator, for any kind of deployment.
pub fn plan<'k>(
    knowledge: &'k KnowledgeBase,
    from: &str,
    to: &str,
) -> Result<UpgradePlan<'k>, PlanError> {
    plan_for(knowledge, from, to, None)
}

/// Plans the upgrade with steps fitted to `deployment` when one is given: only the steps of its
/// kind (compose or ECS), and the environment step names what its files set.
pub fn plan_for<'k>(
    knowledge: &'k KnowledgeBase,
    from: &str,
    to: &str,
    deployment: Option<&Deployment>,
) -> Result<UpgradePlan<'k>, PlanError> {
    let fit = deployment.map(DeploymentFit::of);
    let from = resolve(knowledge, from, "--from")?;
    let to = resolve(knowledge, to, "--to")?;
    if from.version == to.version {
        return Err(PlanError::SameVersion {
            from: from.version,
            to: to.version,
        });
    }
    if to.version < from.version {
        return Err(PlanError::Downgrade {
            from: from.version,
            to: to.version,
        });
    }
    let (stops, skipped) = choose_stops(knowledge, &from.version, &to.version);
    let mut hops = Vec::new();
    let mut current = knowledge
        .release(&from.version)
        .expect("resolved versions are known releases");
    for (target, reason) in stops {
        hops.push(hop::plan_hop(
            knowledge,
            current,
            target,
            reason,
            fit.as_ref(),
        ));
        current = target;
    }
    Ok(UpgradePlan {
        from,
        to,
        skipped,
        hops,
        deployment: fit,
        date: None,
    })
}

/// The newest release of `release`'s major line that upstream does not tell operators to skip.
fn line_stop<'k>(knowledge: &'k KnowledgeBase, release: &Release) -> Option<&'k Release> {
    knowledge
        .releases
        .iter()
        .rev()
        .filter(|candidate| candidate.version.major == release.version.major)
        .find(|candidate| candidate.skip.is_none())
}

fn choose_stops<'k>(
    knowledge: &'k KnowledgeBase,
    from: &Version,
    to: &Version,
) -> (Vec<(&'k Release, StopReason)>, Vec<SkippedRelease>) {
    let policy = &knowledge.policy;
    let mut stops = Vec::new();
    let mut skipped = Vec::new();
    for release in knowledge
        .releases
        .iter()
        .filter(|release| &release.version > from && &release.version <= to)
    {
        if &release.version == to {
            let text = if line_stop(knowledge, release).is_some_and(|stop| stop.version == *to) {
                format!(
                    "the target, and the newest release of the {}.x line",
                    to.major
                )
            } else {
                "the target you asked for".to_owned()
            };
            stops.push((
                release,
                StopReason {
                    text,
                    source: policy.one_major_line_at_a_time.source.clone(),
                },
            ));
            continue;
        }
        if let Some(skip) = &release.skip {
            skipped.push(SkippedRelease {
                version: release.version.clone(),
                reason: skip.text.clone(),
                source: skip.source.clone(),
            });
            continue;
        }
        match line_stop(knowledge, release) {
            Some(stop) if stop.version == release.version => stops.push((
                release,
                StopReason {
                    text: format!(
                        "newest release of the {}.x line: upgrades go one major line at a time",
                        release.version.major
                    ),
                    source: policy.one_major_line_at_a_time.source.clone(),
                },
            )),
            Some(stop) => skipped.push(SkippedRelease {
                version: release.version.clone(),
                // A line's newest release beyond the target means the target is in the same line.
                reason: if stop.version <= *to {
                    format!(
                        "superseded by {}, the newest {}.x release, where the path stops instead",
                        stop.version, release.version.major
                    )
                } else {
                    format!(
                        "superseded by {to}, the target, in the same {}.x line",
                        to.major
                    )
                },
                source: policy.newest_of_line.source.clone(),
            }),
            None => unreachable!("a release that is not skipped is its own line's candidate"),
        }
    }
    (stops, skipped)
}
