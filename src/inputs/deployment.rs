//! One typed model of a deployment, whatever files it was read from: the roles that run (server,
//! workers, scheduler), each with its image, environment, replicas and memory limit, every value
//! with the file and line it came from.

use std::collections::{BTreeMap, BTreeSet};

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
    /// What reading the files assumed where they left a choice (the Helm chart's generation).
    pub assumptions: Vec<String>,
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

    /// Sorts the roles into apps when the files hold more than one Redash app (three apps on one
    /// host, each with its own database and Redis): roles that use the same REDASH_DATABASE_URL
    /// and REDASH_REDIS_URL are one app; a role that shows only one of them joins the app that
    /// agrees on it; a role that shows neither joins the app it shares an env file with. When
    /// no URL is in the files, roles that share an env file are one app. Each app is named
    /// after the common prefix of its roles' names (`analytics` from `analytics_server` and
    /// `analytics_worker`), else after its server. A PostgreSQL or Redis service belongs to the
    /// one app whose URL names it as host. With one app, nothing changes: `app` stays `None`.
    /// The image does not split apps: roles of one app that run different images are what
    /// `image-tag-mismatch` reports.
    pub fn group_apps(&mut self) {
        let groups = app_groups(&self.roles);
        if groups.len() < 2 {
            return;
        }
        let mut names: Vec<String> = Vec::new();
        for members in &groups {
            let roles: Vec<&Role> = members.iter().map(|&index| &self.roles[index]).collect();
            let mut name = app_name(&roles);
            let base = name.clone();
            let mut suffix = 2;
            while names.contains(&name) {
                name = format!("{base}-{suffix}");
                suffix += 1;
            }
            names.push(name);
        }
        for (members, name) in groups.iter().zip(&names) {
            for &index in members {
                self.roles[index].app = Some(name.clone());
            }
        }
        for service in &mut self.services {
            let claimed: Vec<&String> = names
                .iter()
                .filter(|name| {
                    url_hosts(
                        self.roles
                            .iter()
                            .filter(|role| role.app.as_ref() == Some(*name)),
                    )
                    .contains(&service.name)
                })
                .collect();
            if let [one] = claimed.as_slice() {
                service.app = Some((*one).clone());
            }
        }
    }

    /// The apps [`Deployment::group_apps`] found, in the order of their first role; empty when
    /// the files hold one app.
    pub fn apps(&self) -> Vec<&str> {
        let mut apps: Vec<&str> = Vec::new();
        for role in &self.roles {
            if let Some(app) = role.app.as_deref() {
                if !apps.contains(&app) {
                    apps.push(app);
                }
            }
        }
        apps
    }

    /// The deployment as one app sees it: its roles, the services it uses (its own, those it
    /// shares with other apps, and those no app's URL names), and everything the apps share
    /// (nginx, the host).
    pub fn app_view(&self, app: &str) -> Deployment {
        let roles: Vec<Role> = self
            .roles
            .iter()
            .filter(|role| role.app.as_deref() == Some(app))
            .cloned()
            .collect();
        let own_hosts = url_hosts(roles.iter());
        let every_host = url_hosts(self.roles.iter());
        let services = self
            .services
            .iter()
            .filter(|service| match &service.app {
                Some(owner) => owner == app,
                None => own_hosts.contains(&service.name) || !every_host.contains(&service.name),
            })
            .cloned()
            .collect();
        Deployment {
            roles,
            host_memory_mib: self.host_memory_mib,
            host_platform: self.host_platform.clone(),
            nginx: self.nginx.clone(),
            files: self.files.clone(),
            services,
            assumptions: self.assumptions.clone(),
        }
    }
}

const DATABASE_URL: &str = "REDASH_DATABASE_URL";
const REDIS_URL: &str = "REDASH_REDIS_URL";

/// The value of a URL variable when the files give it.
fn known_url<'a>(role: &'a Role, name: &str) -> Option<&'a str> {
    role.var(name)
        .and_then(|value| value.value.as_deref())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The env files a role reads: where its variables come from, other than its own definition.
fn env_files_of(role: &Role) -> BTreeSet<&str> {
    role.env
        .values()
        .map(|value| value.location.file.as_str())
        .filter(|file| *file != role.location.file)
        .collect()
}

/// The roles of each app, by index, in the order of their first role. Only groups that run a
/// server of their own are apps: a worker pointed at another database is a mistake in one app
/// (`setting-differs-between-roles` reports it), not a second app. A group without a server
/// joins the one app it shares an env file with, if any.
fn app_groups(roles: &[Role]) -> Vec<Vec<usize>> {
    let groups = candidate_groups(roles);
    let has_server = |members: &Vec<usize>| {
        members
            .iter()
            .any(|&index| roles[index].kind == RoleKind::Server)
    };
    if groups.iter().filter(|members| has_server(members)).count() < 2 {
        return vec![(0..roles.len()).collect()];
    }
    let (mut apps, serverless): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
        groups.into_iter().partition(|members| has_server(members));
    let mut rest = Vec::new();
    for members in serverless {
        let files: BTreeSet<&str> = members
            .iter()
            .flat_map(|&index| env_files_of(&roles[index]))
            .collect();
        let sharing: Vec<usize> = (0..apps.len())
            .filter(|&app| {
                apps[app]
                    .iter()
                    .any(|&member| !env_files_of(&roles[member]).is_disjoint(&files))
            })
            .collect();
        match sharing.as_slice() {
            [one] => apps[*one].extend(members),
            _ => rest.extend(members),
        }
    }
    if !rest.is_empty() {
        apps.push(rest);
    }
    for members in &mut apps {
        members.sort_unstable();
    }
    apps.sort_by_key(|members| members[0]);
    apps
}

/// Groups by the database and Redis URLs, or else by env files.
fn candidate_groups(roles: &[Role]) -> Vec<Vec<usize>> {
    // (database URL, Redis URL) of each group, as far as known.
    type Key<'a> = (Option<&'a str>, Option<&'a str>);
    let mut keys: Vec<Key<'_>> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    fn add<'a>(keys: &mut Vec<Key<'a>>, groups: &mut Vec<Vec<usize>>, key: Key<'a>, index: usize) {
        match keys.iter().position(|known| *known == key) {
            Some(group) => groups[group].push(index),
            None => {
                keys.push(key);
                groups.push(vec![index]);
            }
        }
    }
    let pairs: Vec<(Option<&str>, Option<&str>)> = roles
        .iter()
        .map(|role| (known_url(role, DATABASE_URL), known_url(role, REDIS_URL)))
        .collect();
    for (index, pair) in pairs.iter().enumerate() {
        if let (Some(_), Some(_)) = pair {
            add(&mut keys, &mut groups, *pair, index);
        }
    }
    for (index, pair) in pairs.iter().enumerate() {
        let agrees = |key: &(Option<&str>, Option<&str>)| match pair {
            (Some(database), None) => key.0 == Some(*database),
            (None, Some(redis)) => key.1 == Some(*redis),
            _ => false,
        };
        match pair {
            (Some(_), None) | (None, Some(_)) => {
                let matching: Vec<_> = keys.iter().filter(|key| agrees(key)).copied().collect();
                match matching.as_slice() {
                    [one] => add(&mut keys, &mut groups, *one, index),
                    _ => add(&mut keys, &mut groups, *pair, index),
                }
            }
            _ => {}
        }
    }
    let unknown: Vec<usize> = (0..roles.len())
        .filter(|index| pairs[*index] == (None, None))
        .collect();
    if groups.is_empty() {
        return groups_by_env_file(roles);
    }
    let mut rest = Vec::new();
    for index in unknown {
        let files = env_files_of(&roles[index]);
        let sharing = groups.iter().position(|members| {
            members
                .iter()
                .any(|&member| !env_files_of(&roles[member]).is_disjoint(&files))
        });
        match (sharing, groups.len()) {
            (Some(group), _) => groups[group].push(index),
            (None, 1) => groups[0].push(index),
            (None, _) => rest.push(index),
        }
    }
    if !rest.is_empty() {
        groups.push(rest);
    }
    for members in &mut groups {
        members.sort_unstable();
    }
    groups.sort_by_key(|members| members[0]);
    groups
}

/// Roles that share an env file, directly or through another role, are one app; one app when
/// a role reads no env file.
fn groups_by_env_file(roles: &[Role]) -> Vec<Vec<usize>> {
    let files: Vec<BTreeSet<&str>> = roles.iter().map(env_files_of).collect();
    if files.iter().any(BTreeSet::is_empty) {
        return vec![(0..roles.len()).collect()];
    }
    let mut groups: Vec<(Vec<usize>, BTreeSet<&str>)> = Vec::new();
    for (index, own) in files.into_iter().enumerate() {
        let mut merged = (vec![index], own);
        let mut kept = Vec::new();
        for group in groups {
            if group.1.is_disjoint(&merged.1) {
                kept.push(group);
            } else {
                merged.0.extend(group.0);
                merged.1.extend(group.1);
            }
        }
        kept.push(merged);
        groups = kept;
    }
    let mut groups: Vec<Vec<usize>> = groups
        .into_iter()
        .map(|(mut members, _)| {
            members.sort_unstable();
            members
        })
        .collect();
    groups.sort_by_key(|members| members[0]);
    groups
}

/// The common prefix of the roles' names, in whole words (`analytics` from `analytics_server`
/// and `analytics_adhoc_worker`), without a trailing role word; else the server's name.
fn app_name(roles: &[&Role]) -> String {
    const ROLE_WORDS: &[&str] = &[
        "server",
        "web",
        "worker",
        "workers",
        "scheduler",
        "scheduled",
        "adhoc",
        "celery",
    ];
    let words = |name: &str| -> Vec<String> {
        name.split(['_', '-', '.'])
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut prefix = roles
        .first()
        .map(|role| words(&role.name))
        .unwrap_or_default();
    for role in roles {
        let own = words(&role.name);
        let common = prefix
            .iter()
            .zip(&own)
            .take_while(|(left, right)| left == right)
            .count();
        prefix.truncate(common);
    }
    while prefix.len() > 1
        && prefix
            .last()
            .is_some_and(|word| ROLE_WORDS.contains(&word.to_ascii_lowercase().as_str()))
    {
        prefix.pop();
    }
    if let Some(first) = prefix.first() {
        let only_a_role_word = prefix.len() == 1 && ROLE_WORDS.contains(&first.as_str());
        if !first.is_empty() && !only_a_role_word {
            // The name as written, up to the end of the common words.
            let name = &roles[0].name;
            let length: usize = prefix.iter().map(String::len).sum::<usize>() + prefix.len() - 1;
            return name[..length].to_owned();
        }
    }
    roles
        .iter()
        .find(|role| role.kind == RoleKind::Server)
        .or(roles.first())
        .map_or_else(|| "app".to_owned(), |role| role.name.clone())
}

/// The hosts the roles' database and Redis URLs name.
fn url_hosts<'a>(roles: impl Iterator<Item = &'a Role>) -> BTreeSet<String> {
    roles
        .flat_map(|role| [known_url(role, DATABASE_URL), known_url(role, REDIS_URL)])
        .flatten()
        .filter_map(url_host)
        .map(str::to_owned)
        .collect()
}

/// `postgres` from `postgresql://user:secret@postgres:5432/redash`.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
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

    fn role(name: &str, kind: RoleKind, env: &[(&str, &str, &str)]) -> Role {
        Role {
            name: name.into(),
            kind,
            location: Location {
                file: "compose.yml".into(),
                line: 1,
            },
            command: None,
            image: None,
            env: env
                .iter()
                .map(|(name, value, file)| {
                    (
                        (*name).to_owned(),
                        EnvValue {
                            value: Some((*value).to_owned()),
                            location: Location {
                                file: (*file).to_owned(),
                                line: 1,
                            },
                            from_secret_store: false,
                        },
                    )
                })
                .collect(),
            replicas: None,
            memory_limit_mib: None,
            health_check: None,
            ecs: false,
            platform: None,
            update_strategy: None,
            app: None,
        }
    }

    fn apps_of(roles: Vec<Role>) -> Vec<Option<String>> {
        let mut deployment = Deployment {
            roles,
            ..Deployment::default()
        };
        deployment.group_apps();
        deployment
            .roles
            .iter()
            .map(|role| role.app.clone())
            .collect()
    }

    #[test]
    fn apps_are_grouped_by_their_urls_and_named_by_their_prefix() {
        let a = [
            (DATABASE_URL, "postgresql://a:pw@rds/a", "a.env"),
            (REDIS_URL, "redis://redis/0", "a.env"),
        ];
        let b = [
            (DATABASE_URL, "postgresql://b:pw@rds/b", "b.env"),
            (REDIS_URL, "redis://redis/1", "b.env"),
        ];
        let apps = apps_of(vec![
            role("sales_server", RoleKind::Server, &a),
            role("sales_adhoc_worker", RoleKind::Worker, &a),
            role("hr-server", RoleKind::Server, &b),
            role("hr-scheduler", RoleKind::Scheduler, &b),
            // Only the Redis URL: it joins the app that agrees on it.
            role("sales_scheduler", RoleKind::Scheduler, &a[1..]),
        ]);
        let names: Vec<&str> = apps.iter().map(|app| app.as_deref().unwrap()).collect();
        assert_eq!(names, ["sales", "sales", "hr", "hr", "sales"]);
    }

    #[test]
    fn a_worker_on_another_database_is_not_a_second_app() {
        let apps = apps_of(vec![
            role(
                "server",
                RoleKind::Server,
                &[(DATABASE_URL, "postgresql://a@db/a", "env")],
            ),
            role(
                "worker",
                RoleKind::Worker,
                &[(DATABASE_URL, "postgresql://a@replica/a", "env")],
            ),
        ]);
        assert_eq!(apps, [None, None]);
    }

    #[test]
    fn without_urls_apps_are_the_env_files_they_share() {
        let apps = apps_of(vec![
            role("one", RoleKind::Server, &[("X", "1", "one.env")]),
            role("one_worker", RoleKind::Worker, &[("X", "1", "one.env")]),
            role("two", RoleKind::Server, &[("X", "1", "two.env")]),
        ]);
        assert_eq!(
            apps,
            [
                Some("one".to_owned()),
                Some("one".to_owned()),
                Some("two".to_owned())
            ]
        );
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("postgresql://u:p@rds.example:5432/db"),
            Some("rds.example")
        );
        assert_eq!(url_host("redis://redis:6379/1"), Some("redis"));
        assert_eq!(url_host("redis://[::1]:6379"), Some("::1"));
        assert_eq!(url_host("not a url"), None);
    }

    #[test]
    fn roles_from_commands() {
        assert_eq!(RoleKind::from_command("server"), RoleKind::Server);
        assert_eq!(RoleKind::from_command("scheduled_worker"), RoleKind::Worker);
        assert_eq!(RoleKind::from_command("scheduler"), RoleKind::Scheduler);
        assert_eq!(RoleKind::from_command("create_db"), RoleKind::Other);
    }
}
