//! `upgrade-paths/helm-chart.json`: the generations of the community Helm chart
//! (getredash/contrib-helm-chart) and what each runs, so a values file can be read into the
//! deployment model and matched against a hop's target release.
//!
//! Sources cite the chart as `helm@TAG:path[:lines]` (see [`super::citation`]).

use semver::Version;
use serde::{Deserialize, Serialize};

use super::model::{JobSystem, Note, Source};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmChart {
    pub repository: String,
    /// Oldest first; their chart-version ranges do not overlap.
    pub generations: Vec<ChartGeneration>,
}

/// Chart versions that share one layout of values and templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartGeneration {
    /// `2.x`, `3.0.x`.
    pub name: String,
    /// The first and last chart versions of the generation (both included).
    pub first: Version,
    pub last: Version,
    /// The repository's git tags of those versions.
    pub tags: Vec<String>,
    /// Where the chart lives in the repository at those tags (`` or `charts/redash/`).
    pub chart_dir: String,
    /// Chart.yaml's `appVersion`.
    pub app_version: CitedValue,
    /// The image every Redash container runs when the values do not set one.
    pub image: CitedValue,
    /// The job system the chart's worker and scheduler commands are written for.
    pub job_system: JobSystem,
    /// The Redash releases the chart works with.
    pub fits: ReleaseFit,
    pub layout: ValuesLayout,
    /// The Deployments the chart renders, by default.
    pub roles: Vec<ChartRole>,
    /// The variables set for the bundled PostgreSQL subchart.
    pub bundled_database_env: CitedNames,
    pub bundled_redis_env: CitedNames,
    /// How REDASH_DATABASE_URL and REDASH_REDIS_URL reach Redash.
    pub connection_urls: UrlBuilding,
    /// `redash.*` values the chart stores in a Secret.
    pub secret_values: CitedNames,
    /// Variables only Celery releases read, which the chart still sets when given.
    pub celery_env: Option<CitedNames>,
    pub migration: MigrationHook,
    pub postgresql: Subchart,
    pub redis: Subchart,
    pub notes: Vec<Note>,
}

impl ChartGeneration {
    pub fn covers(&self, version: &Version) -> bool {
        &self.first <= version && version <= &self.last
    }

    /// The chart version a newer chart's user would name: `2.4.0`, `4.0.1`.
    pub fn newest(&self) -> &Version {
        &self.last
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitedValue {
    pub value: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitedNames {
    pub names: Vec<String>,
    pub source: Source,
}

/// The Redash releases a chart generation works with: from `min`, up to but not including
/// `below` when there is an upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseFit {
    pub min: Version,
    pub below: Option<Version>,
    pub text: String,
    pub source: Source,
}

impl ReleaseFit {
    pub fn contains(&self, version: &Version) -> bool {
        &self.min <= version && self.below.as_ref().is_none_or(|below| version < below)
    }
}

/// How the values describe the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValuesLayout {
    /// One top-level block per Deployment (`adhocWorker`, `scheduledWorker`, ...), image as
    /// `image.repository` and `image.tag`.
    PerRole,
    /// A `workers` map with one Deployment per entry over shared `worker` defaults, image as
    /// `image.registry`, `image.repo` and `image.tag` (empty: the chart's appVersion).
    WorkersMap,
}

/// One Deployment the chart renders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartRole {
    /// The suffix of the Deployment's name (`adhocworker`).
    pub name: String,
    /// Where its values are (`adhocWorker`, `workers.adhoc`).
    pub values_key: String,
    /// The entrypoint command its container runs.
    pub command: String,
    /// Its default `env`.
    pub env: Vec<EnvDefault>,
    pub replicas: u32,
    /// The Deployment's `strategy.type`, when the template sets one.
    pub strategy: Option<String>,
    /// The template lines that give the command (and strategy).
    pub source: Source,
    /// The values lines that give the defaults.
    pub defaults_source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvDefault {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlBuilding {
    /// Whether the chart itself builds the URLs from the bundled subcharts' parts.
    pub built_by_chart: bool,
    pub text: String,
    pub source: Source,
}

/// The Job the chart runs around `helm install` and `helm upgrade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationHook {
    /// `helm.sh/hook` of the Job.
    pub hook: String,
    pub command: String,
    /// Whether an upgrade runs `manage.py db upgrade`.
    pub runs_db_upgrade: bool,
    pub text: String,
    pub source: Source,
}

/// A bundled subchart (Bitnami PostgreSQL or Redis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subchart {
    /// The version requirements.lock pins.
    pub chart_version: String,
    /// The image the chart's values pin, when they do.
    pub image: Option<String>,
    pub source: Source,
    /// Whether its data is on a volume claim unless the values say otherwise.
    pub persistence_default: bool,
    pub persistence_source: Source,
}

impl HelmChart {
    pub fn generation(&self, name: &str) -> Option<&ChartGeneration> {
        self.generations
            .iter()
            .find(|generation| generation.name == name)
    }

    /// The generation a chart version belongs to: the one covering it, else the newest one
    /// that starts at or before it (a patch release after the last known one).
    pub fn generation_of(&self, version: &Version) -> Option<&ChartGeneration> {
        self.generations
            .iter()
            .find(|generation| generation.covers(version))
            .or_else(|| {
                self.generations
                    .iter()
                    .rev()
                    .find(|generation| &generation.first <= version)
            })
    }

    pub fn newest(&self) -> &ChartGeneration {
        self.generations
            .last()
            .expect("validated: at least one generation")
    }

    /// The newest generation that works with `release`, if any.
    pub fn fitting(&self, release: &Version) -> Option<&ChartGeneration> {
        self.generations
            .iter()
            .rev()
            .find(|generation| generation.fits.contains(release))
    }
}

/// Every broken invariant of the chart's data, as messages.
pub(super) fn problems(chart: &HelmChart, releases: &[super::model::Release]) -> Vec<String> {
    let mut found = Vec::new();
    let source = |what: &str, source: &Source, found: &mut Vec<String>| {
        if !source.is_well_formed() {
            found.push(format!(
                "{what}: source {:?} is not helm@TAG:path, TAG:path or an https URL",
                source.0
            ));
        }
    };
    if chart.generations.is_empty() {
        found.push("no generation".into());
    }
    for pair in chart.generations.windows(2) {
        if pair[0].last >= pair[1].first {
            found.push(format!(
                "generations {} and {} overlap or are out of order",
                pair[0].name, pair[1].name
            ));
        }
    }
    for generation in &chart.generations {
        let what = |field: &str| format!("{} {field}", generation.name);
        if generation.first > generation.last {
            found.push(format!("{}: first is after last", generation.name));
        }
        if generation.tags.is_empty() {
            found.push(format!("{}: no tag", generation.name));
        }
        if let Some(below) = &generation.fits.below {
            if below <= &generation.fits.min {
                found.push(format!(
                    "{}: fits.below is not after fits.min",
                    generation.name
                ));
            }
        }
        for release in releases {
            if generation.fits.contains(&release.version)
                && release.job_system != generation.job_system
            {
                found.push(format!(
                    "{}: fits {} which runs {}, not {}",
                    generation.name,
                    release.version,
                    release.job_system.name(),
                    generation.job_system.name()
                ));
            }
        }
        for command in ["server", "scheduler"] {
            if !generation.roles.iter().any(|role| role.command == command) {
                found.push(format!("{}: no role runs {command}", generation.name));
            }
        }
        if !generation.roles.iter().any(|role| role.command == "worker") {
            found.push(format!("{}: no role runs worker", generation.name));
        }
        source(
            &what("app_version"),
            &generation.app_version.source,
            &mut found,
        );
        source(&what("image"), &generation.image.source, &mut found);
        source(&what("fits"), &generation.fits.source, &mut found);
        for role in &generation.roles {
            source(
                &what(&format!("role {}", role.name)),
                &role.source,
                &mut found,
            );
            source(
                &what(&format!("role {} defaults", role.name)),
                &role.defaults_source,
                &mut found,
            );
        }
        for (field, names) in [
            (
                "bundled_database_env",
                Some(&generation.bundled_database_env),
            ),
            ("bundled_redis_env", Some(&generation.bundled_redis_env)),
            ("secret_values", Some(&generation.secret_values)),
            ("celery_env", generation.celery_env.as_ref()),
        ] {
            if let Some(names) = names {
                source(&what(field), &names.source, &mut found);
            }
        }
        source(
            &what("connection_urls"),
            &generation.connection_urls.source,
            &mut found,
        );
        source(&what("migration"), &generation.migration.source, &mut found);
        for (field, subchart) in [
            ("postgresql", &generation.postgresql),
            ("redis", &generation.redis),
        ] {
            source(&what(field), &subchart.source, &mut found);
            source(&what(field), &subchart.persistence_source, &mut found);
        }
        for note in &generation.notes {
            if note.text.trim().is_empty() {
                found.push(format!("{}: a note without text", generation.name));
            }
            source(&what("note"), &note.source, &mut found);
        }
    }
    found
}
