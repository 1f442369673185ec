//! One typed model of a deployment, whatever files it was read from: the roles that run (server,
//! workers, scheduler), each with its image, environment, replicas and memory limit, every value
//! with the file and line it came from.

use std::collections::BTreeMap;

use super::nginx::NginxConfig;
use super::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    Server,
    Worker,
    Scheduler,
    /// A one-off or unknown command (`create_db`, `manage`, a shell).
    Other,
}

impl RoleKind {
    /// From the first word of the container's command, as `bin/docker-entrypoint` dispatches it.
    pub fn from_command(command: &str) -> RoleKind {
        match command.split_whitespace().next().unwrap_or("") {
            "server" | "dev_server" => RoleKind::Server,
            "worker" | "scheduled_worker" | "adhoc_worker" | "celery_worker" | "dev_worker" => {
                RoleKind::Worker
            }
            "scheduler" | "celery_scheduler" | "dev_scheduler" => RoleKind::Scheduler,
            _ => RoleKind::Other,
        }
    }
}

/// A variable as a role receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue {
    /// `None` when the value is injected from a secret store (ECS `secrets`) or taken from the
    /// shell (`environment: [NAME]`): it is set, but its value is not in the files.
    pub value: Option<String>,
    pub location: Location,
    /// Whether the value comes from a secret store rather than plain configuration.
    pub from_secret_store: bool,
}

impl EnvValue {
    pub fn is_empty(&self) -> bool {
        self.value
            .as_deref()
            .is_some_and(|value| value.trim().is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The compose service or ECS container name.
    pub name: String,
    pub kind: RoleKind,
    /// Where the role's definition starts.
    pub location: Location,
    pub command: Option<Located<String>>,
    pub image: Option<Located<String>>,
    pub env: BTreeMap<String, EnvValue>,
    pub replicas: Option<Located<u32>>,
    pub memory_limit_mib: Option<Located<u64>>,
    /// The container health check's command (compose `healthcheck.test`, ECS `healthCheck.command`).
    pub health_check: Option<Located<String>>,
    /// Whether the role was read from an ECS task definition (plain `environment` is then visible
    /// in the console and API, unlike `secrets`).
    pub ecs: bool,
    /// The platform the role's containers run on (`linux/arm64`), when its file says so (compose
    /// `platform`, ECS `runtimePlatform.cpuArchitecture`).
    pub platform: Option<Located<String>>,
    /// How a deploy replaces the role's copies, when the files say (a Kubernetes `strategy`, an
    /// ECS service's `deploymentConfiguration`).
    pub update_strategy: Option<Located<UpdateStrategy>>,
    /// The app the role belongs to when the files hold several Redash apps (see
    /// [`Deployment::group_apps`]); `None` while there is one.
    pub app: Option<String>,
}

/// How a deploy replaces a role's copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStrategy {
    /// Every old copy stops before a new one starts (Kubernetes `Recreate`, ECS
    /// `maximumPercent` 100 or less).
    StopFirst,
    /// New copies may start while old ones still run: `how` says what allows it
    /// (`RollingUpdate, maxSurge 25%`, `maximumPercent 200`).
    Overlapping { how: String },
}

/// A service around Redash that it depends on: its metadata database or its Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The compose service, or the Kubernetes workload and container.
    pub name: String,
    pub kind: ServiceKind,
    pub location: Location,
    pub image: Option<Located<String>>,
    /// What keeps its data across a restart (a named volume, a bind mount, a volume claim):
    /// `None` when nothing does.
    pub storage: Option<Located<String>>,
    /// Settings given on its command line or in its environment that matter for an upgrade
    /// (Redis `appendonly`, `save`, `maxmemory-policy`), by name.
    pub settings: BTreeMap<String, Located<String>>,
    /// As [`Role::app`].
    pub app: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Postgres,
    Redis,
}

/// `linux/amd64` or `linux/arm64` for the ways files and people write them (`arm64`, `ARM64`,
/// `aarch64`, `linux/arm64/v8`, `X86_64`, `amd64`); `None` for anything else.
pub fn normalize_platform(text: &str) -> Option<&'static str> {
    let lower = text.trim().to_ascii_lowercase();
    let arch = lower.strip_prefix("linux/").unwrap_or(&lower);
    match arch {
        "amd64" | "x86_64" | "x86-64" => Some("linux/amd64"),
        "arm64" | "arm64/v8" | "aarch64" => Some("linux/arm64"),
        _ => None,
    }
}

impl Role {
    pub fn var(&self, name: &str) -> Option<&EnvValue> {
        self.env.get(name)
    }

    /// How many copies run: replicas or desired count, 1 when not given.
    pub fn copies(&self) -> u32 {
        self.replicas.as_ref().map_or(1, |replicas| replicas.value)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub roles: Vec<Role>,
    pub host_memory_mib: Option<u64>,
    /// The platform of the host the roles run on, where the files do not say (`--host-arch`).
    pub host_platform: Option<String>,
    pub nginx: Option<NginxConfig>,
    /// Files read, for the report header.
    pub files: Vec<String>,
    /// PostgreSQL and Redis services found beside the roles.
    pub services: Vec<Service>,
}

/// The role that stands for every container when only env files were given.
pub const ENV_FILES_ROLE: &str = "every role (env files)";

impl Deployment {
    /// Whether the files say which roles run (compose services, ECS containers), rather than
    /// only the environment they share.
    pub fn knows_roles(&self) -> bool {
        self.roles.iter().any(|role| role.name != ENV_FILES_ROLE)
    }

    pub fn roles_of(&self, kind: RoleKind) -> impl Iterator<Item = &Role> {
        self.roles.iter().filter(move |role| role.kind == kind)
    }

    /// The platform `role` runs on: its own file's, else the host's (`--host-arch`).
    pub fn platform_of<'a>(&'a self, role: &'a Role) -> Option<&'a str> {
        role.platform
            .as_ref()
            .map(|platform| platform.value.as_str())
            .or(self.host_platform.as_deref())
    }

    /// Redash roles (not one-off commands).
    pub fn running_roles(&self) -> impl Iterator<Item = &Role> {
        self.roles
            .iter()
            .filter(|role| role.kind != RoleKind::Other)
    }

    /// Applies variables from `--env-file` files to every role that does not set them itself, as
    /// a compose `env_file` shared by all services does.
    pub fn apply_shared_env(&mut self, entries: &[super::env_file::EnvEntry]) {
        for role in &mut self.roles {
            for entry in entries {
                role.env
                    .entry(entry.name.clone())
                    .or_insert_with(|| EnvValue {
                        value: Some(entry.value.clone()),
                        location: entry.location.clone(),
                        from_secret_store: false,
                    });
            }
        }
    }
}

/// Parses `4GiB`, `4g`, `512m`, `512MiB`, `2048` (MiB) into MiB.
pub fn parse_memory_mib(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "m" | "mb" | "mi" | "mib" => 1.0,
        "g" | "gb" | "gi" | "gib" => 1024.0,
        "k" | "kb" | "ki" | "kib" => 1.0 / 1024.0,
        "b" => 1.0 / (1024.0 * 1024.0),
        _ => return None,
    };
    Some((number * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_mib("4GiB"), Some(4096));
        assert_eq!(parse_memory_mib("4g"), Some(4096));
        assert_eq!(parse_memory_mib("512m"), Some(512));
        assert_eq!(parse_memory_mib("1.5G"), Some(1536));
        assert_eq!(parse_memory_mib("2048"), Some(2048));
        assert_eq!(parse_memory_mib("lots"), None);
    }

    #[test]
    fn roles_from_commands() {
        assert_eq!(RoleKind::from_command("server"), RoleKind::Server);
        assert_eq!(RoleKind::from_command("scheduled_worker"), RoleKind::Worker);
        assert_eq!(RoleKind::from_command("scheduler"), RoleKind::Scheduler);
        assert_eq!(RoleKind::from_command("create_db"), RoleKind::Other);
    }
}
