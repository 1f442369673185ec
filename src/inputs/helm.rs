//! Values files of the community Helm chart (getredash/contrib-helm-chart), read into the roles
//! and services its templates would render: what `helm template` gives, without Helm.
//!
//! The chart's defaults come from the generation the chart version belongs to
//! (`upgrade-paths/helm-chart.json`); values the file does not set are located at the chart's
//! own values.yaml (`helm@TAG:values.yaml:LINE`). Values the chart stores in a Secret (secret
//! key, cookie secret, passwords) are never kept: the roles see them as set from a secret store.

use std::collections::BTreeMap;
use std::path::Path;

use semver::Version;

use super::deployment::{
    parse_memory_mib, EnvValue, Located, Role, RoleKind, Service, ServiceKind, UpdateStrategy,
};
use super::tree::{self, Node};
use super::{read, InputError, Location};
use crate::knowledge::helm_chart::{ChartGeneration, ChartRole, HelmChart, ValuesLayout};

/// The release name the roles are named after: `helm install redash ...`, as the chart's README
/// installs it.
const RELEASE: &str = "redash";

/// Which chart generation the values were read as, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartInfo {
    /// The generation's name (`2.x`, `4.0.x`).
    pub generation: String,
    /// `--helm-chart-version` as given.
    pub chart_version: Option<String>,
    /// What was assumed when no chart version was given, as a report states it.
    pub assumed: Option<String>,
}

/// Reads a values file of the chart at `chart_version` (else the generation its shape names, else
/// the newest) into the roles and services the chart renders.
pub fn read_values(
    path: &Path,
    chart_version: Option<&str>,
    chart: &HelmChart,
) -> Result<(Vec<Role>, Vec<Service>, ChartInfo), InputError> {
    let text = read(path)?;
    let root = tree::parse(path, &text)?;
    let shape = |message: String| InputError::Shape {
        path: path.to_owned(),
        message,
    };
    if !matches!(root, Node::Map(..)) {
        return Err(InputError::Syntax {
            path: path.to_owned(),
            line: root.line(),
            message: "expected a mapping of chart values".into(),
        });
    }
    let (generation, assumed) = match chart_version {
        Some(given) => {
            let version = parse_chart_version(given).ok_or_else(|| {
                shape(format!("--helm-chart-version {given}: not a chart version"))
            })?;
            let generation = chart.generation_of(&version).ok_or_else(|| {
                shape(format!(
                    "--helm-chart-version {given}: older than any known chart generation"
                ))
            })?;
            (generation, None)
        }
        None => generation_from_shape(&root, chart),
    };
    let values = Values {
        path,
        root: &root,
        generation,
    };
    let roles = values.roles()?;
    let services = values.services();
    Ok((
        roles,
        services,
        ChartInfo {
            generation: generation.name.clone(),
            chart_version: chart_version.map(str::to_owned),
            assumed,
        },
    ))
}

/// `4.0.1`, `v2.4.0`, `redash-3.2.1`, `3.1.0-alpha9`.
fn parse_chart_version(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix("redash-").unwrap_or(text);
    let text = text.strip_prefix('v').unwrap_or(text);
    Version::parse(text).ok()
}

/// The generation the values' keys belong to, and what was assumed to choose it.
fn generation_from_shape<'k>(
    root: &Node,
    chart: &'k HelmChart,
) -> (&'k ChartGeneration, Option<String>) {
    let has = |key: &str| root.get(key).is_some();
    let image_has = |key: &str| root.get("image").and_then(|image| image.get(key)).is_some();
    let newest_of = |layout: ValuesLayout| {
        chart
            .generations
            .iter()
            .rev()
            .find(|generation| generation.layout == layout)
    };
    let (found, why) = if has("workers")
        || has("migrations")
        || image_has("repo")
        || image_has("registry")
    {
        (
            newest_of(ValuesLayout::WorkersMap),
            "the values have the `workers` map layout of chart 3.1 and later",
        )
    } else if has("genericWorker") || has("scheduler") {
        (
            chart.generations.iter().rev().find(|generation| {
                generation.layout == ValuesLayout::PerRole
                    && generation
                        .roles
                        .iter()
                        .any(|role| role.command == "scheduler" && role.values_key == "scheduler")
            }),
            "the values have per-role blocks with a scheduler or genericWorker block (chart 3.0)",
        )
    } else if has("adhocWorker")
        || has("scheduledWorker")
        || has("hookUpgradeJob")
        || has("hookInstallJob")
    {
        (
            chart
                .generations
                .iter()
                .find(|generation| generation.layout == ValuesLayout::PerRole),
            "the values have adhocWorker or scheduledWorker blocks and no scheduler block (chart 2.x)",
        )
    } else {
        (None, "nothing in the values names a generation")
    };
    let generation = found.unwrap_or_else(|| chart.newest());
    let why = if found.is_some() {
        why
    } else {
        "nothing in the values names a generation"
    };
    (
        generation,
        Some(format!(
            "the Helm values are for chart {} (rendered as chart {}): {why}; give --helm-chart-version to say which",
            generation.name, generation.last
        )),
    )
}

struct Values<'a> {
    path: &'a Path,
    root: &'a Node,
    generation: &'a ChartGeneration,
}

/// A value found in the file, or the chart's default located at the chart's values.yaml.
struct Found {
    text: String,
    location: Location,
}

impl<'a> Values<'a> {
    fn at(&self, line: usize) -> Location {
        Location::new(self.path, line)
    }

    /// The node at a dotted path (`postgresql.persistence.enabled`).
    fn node(&self, dotted: &str) -> Option<&'a Node> {
        dotted
            .split('.')
            .try_fold(self.root, |node, key| node.get(key))
    }

    fn scalar(&self, dotted: &str) -> Option<Found> {
        let node = self.node(dotted)?;
        Some(Found {
            text: node.as_str()?.to_owned(),
            location: self.at(node.line()),
        })
    }

    fn flag(&self, dotted: &str) -> Option<bool> {
        self.scalar(dotted)
            .map(|found| matches!(found.text.trim(), "true" | "True" | "TRUE" | "1"))
    }

    /// Where the chart's own values.yaml gives a default, from a `helm@TAG:path:LINE` source.
    fn chart_location(source: &str) -> Location {
        let (file, lines) = source.rsplit_once(':').unwrap_or((source, "1"));
        let line = lines
            .split('-')
            .next()
            .and_then(|line| line.parse().ok())
            .unwrap_or(1);
        Location {
            file: file.to_owned(),
            line,
        }
    }

    fn fullname(&self) -> String {
        if let Some(name) = self
            .scalar("fullnameOverride")
            .filter(|found| !found.text.is_empty())
        {
            return name.text;
        }
        let name = self
            .scalar("nameOverride")
            .map(|found| found.text)
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "redash".to_owned());
        if RELEASE.contains(&name) {
            RELEASE.to_owned()
        } else {
            format!("{RELEASE}-{name}")
        }
    }

    fn postgresql_enabled(&self) -> bool {
        self.flag("postgresql.enabled").unwrap_or(true)
    }

    fn redis_enabled(&self) -> bool {
        self.flag("redis.enabled").unwrap_or(true)
    }

    fn self_managed_secrets(&self) -> bool {
        self.generation.layout == ValuesLayout::WorkersMap
            && self.flag("redash.selfManagedSecrets").unwrap_or(false)
    }

    fn image(&self) -> Located<String> {
        let default = &self.generation.image;
        let default_location = Self::chart_location(&default.source.0);
        let (default_repository, default_tag) = default
            .value
            .rsplit_once(':')
            .unwrap_or((default.value.as_str(), ""));
        let tag = self
            .scalar("image.tag")
            .filter(|found| !found.text.is_empty());
        let (repository, location) = match self.generation.layout {
            ValuesLayout::PerRole => match self.scalar("image.repository") {
                Some(found) => (found.text, Some(found.location)),
                None => (default_repository.to_owned(), None),
            },
            ValuesLayout::WorkersMap => {
                let registry = self.scalar("image.registry");
                let repo = self.scalar("image.repo");
                let (default_registry, default_repo) = default_repository
                    .split_once('/')
                    .unwrap_or(("docker.io", default_repository));
                let location = repo
                    .as_ref()
                    .or(registry.as_ref())
                    .map(|found| found.location.clone());
                (
                    format!(
                        "{}/{}",
                        registry.map_or_else(|| default_registry.to_owned(), |found| found.text),
                        repo.map_or_else(|| default_repo.to_owned(), |found| found.text)
                    ),
                    location,
                )
            }
        };
        match tag {
            Some(tag) => Located {
                value: format!("{repository}:{}", tag.text),
                location: tag.location,
            },
            None => Located {
                value: format!("{repository}:{default_tag}"),
                location: location.unwrap_or(default_location),
            },
        }
    }

    /// The roles' values blocks, with the generation's role each renders.
    fn role_blocks(&self) -> Vec<(String, Option<&'a Node>, ChartRole)> {
        let generation = self.generation;
        match generation.layout {
            ValuesLayout::PerRole => generation
                .roles
                .iter()
                .map(|role| (role.name.clone(), self.node(&role.values_key), role.clone()))
                .collect(),
            ValuesLayout::WorkersMap => {
                let mut blocks = Vec::new();
                for role in generation
                    .roles
                    .iter()
                    .filter(|role| role.command != "worker")
                {
                    blocks.push((role.name.clone(), self.node(&role.values_key), role.clone()));
                }
                // The values' `workers` map replaces nothing: Helm merges it over the chart's
                // map, so the default workers stay and new keys add Deployments.
                let mut workers: Vec<(String, Option<&'a Node>, ChartRole)> = generation
                    .roles
                    .iter()
                    .filter(|role| role.command == "worker")
                    .map(|role| (role.name.clone(), self.node(&role.values_key), role.clone()))
                    .collect();
                if let Some(map) = self.node("workers") {
                    for (key, node) in map.entries() {
                        let name = format!("{key}worker");
                        if workers.iter().any(|(known, ..)| *known == name) {
                            continue;
                        }
                        let template = workers
                            .first()
                            .map(|(_, _, role)| role.clone())
                            .expect("validated: a worker role");
                        workers.push((
                            name.clone(),
                            Some(node),
                            ChartRole {
                                name,
                                values_key: format!("workers.{key}"),
                                env: Vec::new(),
                                ..template
                            },
                        ));
                    }
                }
                // Helm ranges over the map in key order, after the server.
                workers.sort_by(|left, right| left.2.values_key.cmp(&right.2.values_key));
                blocks.splice(1..1, workers);
                blocks
            }
        }
    }

    fn roles(&self) -> Result<Vec<Role>, InputError> {
        let fullname = self.fullname();
        let image = self.image();
        let mut roles = Vec::new();
        for (suffix, block, role) in self.role_blocks() {
            let name = if role.command == "server" {
                fullname.clone()
            } else {
                format!("{fullname}-{suffix}")
            };
            let default_location = Self::chart_location(&role.defaults_source.0);
            let location = block.map_or(default_location.clone(), |node| self.at(node.line()));
            // Shared worker defaults (`worker:`) under each worker's own block.
            let shared = (self.generation.layout == ValuesLayout::WorkersMap
                && role.command == "worker")
                .then(|| self.node("worker"))
                .flatten();
            let setting = |key: &str| -> Option<&'a Node> {
                block
                    .and_then(|node| node.get(key))
                    .or_else(|| shared.and_then(|node| node.get(key)))
            };
            let replicas = match setting("replicaCount") {
                Some(node) => Located {
                    value: node
                        .as_str()
                        .and_then(|text| text.trim().parse().ok())
                        .ok_or_else(|| InputError::Syntax {
                            path: self.path.to_owned(),
                            line: node.line(),
                            message: format!(
                                "{}.replicaCount: expected a whole number",
                                role.values_key
                            ),
                        })?,
                    location: self.at(node.line()),
                },
                None => Located {
                    value: role.replicas,
                    location: default_location.clone(),
                },
            };
            let memory_limit_mib = setting("resources")
                .and_then(|resources| resources.get("limits"))
                .and_then(|limits| limits.get("memory"))
                .and_then(|node| {
                    Some(Located {
                        value: parse_memory_mib(node.as_str()?)?,
                        location: self.at(node.line()),
                    })
                });
            let update_strategy = Some(Located {
                value: match role.strategy.as_deref() {
                    Some("Recreate") => UpdateStrategy::StopFirst,
                    _ => UpdateStrategy::Overlapping {
                        how: "RollingUpdate, maxSurge 25%".into(),
                    },
                },
                location: Self::chart_location(&role.source.0),
            });
            let health_check = self.health_check(&role, setting("livenessProbe"), &location);
            let env = self.env(&role, block, shared)?;
            roles.push(Role {
                name,
                kind: RoleKind::from_command(&role.command),
                location: location.clone(),
                command: Some(Located {
                    value: role.command.clone(),
                    location: block.map_or(Self::chart_location(&role.source.0), |node| {
                        self.at(node.line())
                    }),
                }),
                image: Some(image.clone()),
                env,
                replicas: Some(replicas),
                memory_limit_mib,
                health_check,
                ecs: false,
                platform: None,
                update_strategy,
                app: None,
            });
        }
        // The hook Job that migrates: a one-off role, as the rendered manifests show it.
        let migration = &self.generation.migration;
        let job = if self.generation.layout == ValuesLayout::WorkersMap {
            "migrations"
        } else {
            "upgrade"
        };
        let server_env = roles
            .first()
            .map(|role| role.env.clone())
            .unwrap_or_default();
        roles.push(Role {
            name: format!("{RELEASE}-{job}"),
            kind: RoleKind::Other,
            location: Self::chart_location(&migration.source.0),
            command: Some(Located {
                value: migration.command.clone(),
                location: Self::chart_location(&migration.source.0),
            }),
            image: Some(image),
            env: server_env,
            replicas: None,
            memory_limit_mib: None,
            health_check: None,
            ecs: false,
            platform: None,
            update_strategy: None,
            app: None,
        });
        Ok(roles)
    }

    fn health_check(
        &self,
        role: &ChartRole,
        probe: Option<&Node>,
        location: &Location,
    ) -> Option<Located<String>> {
        if role.command == "server" {
            return Some(Located {
                value: "/ping".into(),
                location: Self::chart_location(&role.source.0),
            });
        }
        if self.generation.layout != ValuesLayout::WorkersMap {
            return None;
        }
        // Workers and the scheduler: the probe the values give, else the chart's
        // `workers_healthcheck` (where the generation's fit cites it).
        match probe
            .and_then(|probe| probe.get("exec"))
            .and_then(|exec| exec.get("command"))
        {
            Some(command) => Some(Located {
                value: command
                    .items()
                    .iter()
                    .filter_map(Node::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                location: self.at(command.line()),
            }),
            None => Some(Located {
                value: "/bin/sh -c /app/bin/docker-entrypoint workers_healthcheck".into(),
                location: if probe.is_some() {
                    location.clone()
                } else {
                    Self::chart_location(&self.generation.fits.source.0)
                },
            }),
        }
    }

    /// The role's environment as the chart's `redash.env` block and its own `env` give it.
    fn env(
        &self,
        role: &ChartRole,
        block: Option<&Node>,
        shared: Option<&Node>,
    ) -> Result<BTreeMap<String, EnvValue>, InputError> {
        let generation = self.generation;
        let mut env = BTreeMap::new();
        let secret = |location: Location| EnvValue {
            value: None,
            location,
            from_secret_store: true,
        };
        let plain = |value: String, location: Location| EnvValue {
            value: Some(value),
            location,
            from_secret_store: false,
        };
        let self_managed = self.self_managed_secrets();
        let url_location = Self::chart_location(&generation.connection_urls.source.0);
        let database = [
            ("postgresql", ServiceKind::Postgres),
            ("redis", ServiceKind::Redis),
        ];
        for (subchart, kind) in database {
            let (enabled, names, url_name, external) = match kind {
                ServiceKind::Postgres => (
                    self.postgresql_enabled(),
                    &generation.bundled_database_env,
                    "REDASH_DATABASE_URL",
                    "externalPostgreSQL",
                ),
                ServiceKind::Redis => (
                    self.redis_enabled(),
                    &generation.bundled_redis_env,
                    "REDASH_REDIS_URL",
                    "externalRedis",
                ),
            };
            if enabled {
                let location = Self::chart_location(&names.source.0);
                for name in &names.names {
                    let value = if name.ends_with("_PASSWORD") {
                        secret(location.clone())
                    } else if name.ends_with("_HOSTNAME") {
                        plain(
                            match kind {
                                ServiceKind::Postgres => format!("{RELEASE}-postgresql"),
                                ServiceKind::Redis => format!("{RELEASE}-redis-master"),
                            },
                            location.clone(),
                        )
                    } else {
                        match self.bundled_setting(subchart, name) {
                            Some(found) => plain(found.text, found.location),
                            None => plain(bundled_default(name).to_owned(), location.clone()),
                        }
                    };
                    env.insert(name.clone(), value);
                }
                if generation.connection_urls.built_by_chart {
                    // Built from the parts and the subchart's password: secret as a whole.
                    env.insert(url_name.to_owned(), secret(url_location.clone()));
                }
            } else if !self_managed {
                let secret_ref = self
                    .node(&format!("{external}Secret"))
                    .filter(|node| !node.entries().is_empty());
                let value = match (secret_ref, self.scalar(external)) {
                    (Some(node), _) => secret(self.at(node.line())),
                    (None, Some(found)) => plain(mask_password(&found.text), found.location),
                    (None, None) => plain(
                        String::new(),
                        self.node(external)
                            .map_or(url_location.clone(), |node| self.at(node.line())),
                    ),
                };
                env.insert(url_name.to_owned(), value);
            }
        }
        // The global `env`, then (for per-role charts after the Redash settings) the role's.
        let mut global: Vec<(String, EnvValue)> = Vec::new();
        if let Some(map) = self.node("env") {
            for (key, node) in map.entries() {
                global.push((key.clone(), self.env_value(key, node)?));
            }
        }
        let mut own: Vec<(String, EnvValue)> = role
            .env
            .iter()
            .map(|default| {
                (
                    default.name.clone(),
                    plain(
                        default.value.clone(),
                        Self::chart_location(&role.defaults_source.0),
                    ),
                )
            })
            .collect();
        for map in [
            shared.and_then(|node| node.get("env")),
            block.and_then(|node| node.get("env")),
        ]
        .into_iter()
        .flatten()
        {
            for (key, node) in map.entries() {
                let value = self.env_value(key, node)?;
                match own.iter_mut().find(|(name, _)| name == key) {
                    Some(existing) => existing.1 = value,
                    None => own.push((key.clone(), value)),
                }
            }
        }
        env.extend(global);
        if let Some(settings) = self.node("redash") {
            for (key, node) in settings.entries() {
                if matches!(key.as_str(), "existingSecret" | "selfManagedSecrets") {
                    continue;
                }
                let Some(name) = self.setting_env_name(key) else {
                    continue;
                };
                let is_secret = generation.secret_values.names.contains(key)
                    || key.to_ascii_lowercase().contains("password")
                    || key.to_ascii_lowercase().contains("secret");
                let set = node.as_str().is_some_and(|text| !text.is_empty());
                if is_secret {
                    let from_existing = self
                        .scalar("redash.existingSecret")
                        .is_some_and(|found| !found.text.is_empty());
                    if (set || from_existing) && !self_managed {
                        env.insert(name, secret(self.at(node.line())));
                    }
                } else if let (true, Some(text)) = (set, node.as_str()) {
                    env.insert(name, plain(text.to_owned(), self.at(node.line())));
                }
            }
        }
        // The one Redash setting per-role charts set by default (`sqlAlchemyEnablePoolPrePing:
        // "true"`, a few lines above the end of the `redash` block of their values.yaml).
        if generation.layout == ValuesLayout::PerRole
            && self.node("redash.sqlAlchemyEnablePoolPrePing").is_none()
        {
            let tag = generation.tags.last().map_or("", String::as_str);
            let line = if generation.first.major >= 3 {
                283
            } else {
                280
            };
            env.insert(
                "SQLALCHEMY_ENABLE_POOL_PRE_PING".to_owned(),
                plain(
                    "true".to_owned(),
                    Location {
                        file: format!("helm@{tag}:{}values.yaml", generation.chart_dir),
                        line,
                    },
                ),
            );
        }
        // The chart's own defaults for the secret values it ships (4.0.x: `test`).
        if generation.layout == ValuesLayout::WorkersMap && !self_managed {
            for (key, name) in [
                ("secretKey", "REDASH_SECRET_KEY"),
                ("cookieSecret", "REDASH_COOKIE_SECRET"),
            ] {
                if self.node(&format!("redash.{key}")).is_none() {
                    env.entry(name.to_owned()).or_insert_with(|| {
                        secret(Self::chart_location(&generation.secret_values.source.0))
                    });
                }
            }
        }
        for (key, value) in own {
            env.insert(key, value);
        }
        Ok(env)
    }

    /// The variable a `redash.*` value sets, when the generation's templates render it.
    fn setting_env_name(&self, key: &str) -> Option<String> {
        if key == "sqlAlchemyEnablePoolPrePing" {
            return (self.generation.layout == ValuesLayout::PerRole)
                .then(|| "SQLALCHEMY_ENABLE_POOL_PRE_PING".to_owned());
        }
        let mut name = String::from("REDASH");
        for character in key.chars() {
            // `mailPassword` is REDASH_MAIL_PASSWORD: a word starts at each capital.
            if character.is_ascii_uppercase() || name == "REDASH" {
                name.push('_');
            }
            name.push(character.to_ascii_uppercase());
        }
        let not_rendered = self
            .generation
            .celery_env
            .as_ref()
            .is_none_or(|celery| !celery.names.contains(&name));
        let known_celery = matches!(
            name.as_str(),
            "REDASH_CELERY_BROKER"
                | "REDASH_CELERY_BACKEND"
                | "REDASH_CELERY_TASK_RESULT_EXPIRES"
                | "REDASH_SCHEMAS_REFRESH_QUEUE"
        );
        // A generation without Celery settings does not render them.
        if known_celery && not_rendered {
            return None;
        }
        Some(name)
    }

    fn env_value(&self, key: &str, node: &Node) -> Result<EnvValue, InputError> {
        match node {
            // A URL (REDASH_DATABASE_URL, REDASH_LIMITER_STORAGE) keeps its host and database,
            // never its password.
            Node::Scalar(text, line) => Ok(EnvValue {
                value: Some(mask_password(text)),
                location: self.at(*line),
                from_secret_store: false,
            }),
            Node::Null(line) => Ok(EnvValue {
                value: Some(String::new()),
                location: self.at(*line),
                from_secret_store: false,
            }),
            other => Err(InputError::Syntax {
                path: self.path.to_owned(),
                line: other.line(),
                message: format!("env.{key}: expected a value"),
            }),
        }
    }

    /// A bundled subchart's setting that a connection variable takes (user, port, database).
    fn bundled_setting(&self, subchart: &str, name: &str) -> Option<Found> {
        let per_role = self.generation.layout == ValuesLayout::PerRole;
        let dotted = match (subchart, name.rsplit('_').next()?) {
            ("postgresql", "USER") if per_role => "postgresql.postgresqlUsername",
            ("postgresql", "USER") => "postgresql.auth.username",
            ("postgresql", "PORT") if per_role => "postgresql.service.port",
            ("postgresql", "PORT") => "postgresql.primary.service.ports.postgresql",
            ("postgresql", "DB") => "postgresql.postgresqlDatabase",
            ("postgresql", "NAME") => "postgresql.auth.database",
            ("redis", "PORT") if per_role => "redis.master.port",
            ("redis", "PORT") => "redis.master.service.ports.redis",
            ("redis", "DB") => "redis.databaseNumber",
            ("redis", "NAME") => "redis.database",
            _ => return None,
        };
        self.scalar(dotted)
    }

    fn services(&self) -> Vec<Service> {
        let mut services = Vec::new();
        for (subchart, kind, name) in [
            (
                "postgresql",
                ServiceKind::Postgres,
                format!("{RELEASE}-postgresql"),
            ),
            (
                "redis",
                ServiceKind::Redis,
                format!("{RELEASE}-redis-master"),
            ),
        ] {
            let enabled = match kind {
                ServiceKind::Postgres => self.postgresql_enabled(),
                ServiceKind::Redis => self.redis_enabled(),
            };
            if !enabled {
                continue;
            }
            let facts = match kind {
                ServiceKind::Postgres => &self.generation.postgresql,
                ServiceKind::Redis => &self.generation.redis,
            };
            let location = self.node(subchart).map_or_else(
                || Self::chart_location(&facts.source.0),
                |node| self.at(node.line()),
            );
            let image = match self.scalar(&format!("{subchart}.image.tag")) {
                Some(tag) => {
                    let repository = self
                        .scalar(&format!("{subchart}.image.repository"))
                        .map_or_else(|| format!("bitnami/{subchart}"), |found| found.text);
                    Some(Located {
                        value: format!("{repository}:{}", tag.text),
                        location: tag.location,
                    })
                }
                None => facts.image.as_ref().map(|image| Located {
                    value: image.clone(),
                    location: Self::chart_location(&facts.source.0),
                }),
            };
            let persistence = [
                format!("{subchart}.persistence.enabled"),
                format!("{subchart}.primary.persistence.enabled"),
                format!("{subchart}.master.persistence.enabled"),
            ]
            .iter()
            .find_map(|dotted| {
                let found = self.scalar(dotted)?;
                let on = matches!(found.text.trim(), "true" | "True" | "1");
                Some((on, found.location))
            });
            let storage = match persistence {
                Some((true, location)) => Some(Located {
                    value: format!("a volume claim ({subchart} persistence)"),
                    location,
                }),
                Some((false, _)) => None,
                None => facts.persistence_default.then(|| Located {
                    value: format!("a volume claim ({subchart} persistence, the chart's default)"),
                    location: Self::chart_location(&facts.persistence_source.0),
                }),
            };
            services.push(Service {
                name,
                kind,
                location,
                image,
                storage,
                settings: BTreeMap::new(),
                app: None,
            });
        }
        services
    }
}

/// The subcharts' defaults for the connection parts.
fn bundled_default(name: &str) -> &'static str {
    match name.rsplit('_').next() {
        Some("USER" | "DB" | "NAME") if name.starts_with("REDASH_DATABASE") => "redash",
        Some("PORT") if name.starts_with("REDASH_DATABASE") => "5432",
        Some("PORT") => "6379",
        Some("DB" | "NAME") => "0",
        _ => "",
    }
}

/// `postgresql://user:********@host/db`: a URL's password replaced, the rest kept.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:********@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            mask_password("postgresql://redash:s3cret@db:5432/redash"),
            "postgresql://redash:********@db:5432/redash"
        );
        assert_eq!(
            mask_password("redis://cache:6379/0"),
            "redis://cache:6379/0"
        );
    }

    #[test]
    fn chart_versions_in_every_spelling() {
        for text in ["4.0.1", "v4.0.1", "redash-4.0.1"] {
            assert_eq!(parse_chart_version(text), Some(Version::new(4, 0, 1)));
        }
        assert!(parse_chart_version("3.1.0-alpha9").is_some());
        assert_eq!(parse_chart_version("four"), None);
    }
}
