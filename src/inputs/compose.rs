//! docker-compose files: services with `image`, `command`, `environment` (map or list),
//! `env_file`, `deploy.replicas` and memory limits, after YAML anchors and merge keys; and the
//! PostgreSQL and Redis services beside them, with the volume that keeps their data.

use std::collections::BTreeMap;
use std::path::Path;

use super::deployment::{
    normalize_platform, parse_memory_mib, EnvValue, Located, Role, RoleKind, Service, ServiceKind,
};
use super::env_file::read_env_file;
use super::tree::{self, Node};
use super::{read, shell_words, InputError, Location};

/// The Redash services of a compose file (those whose command is a Redash role or whose image is
/// Redash's), and the PostgreSQL and Redis services beside them (by image, see
/// [`service_kind_of_image`]).
pub fn read_compose(path: &Path) -> Result<(Vec<Role>, Vec<Service>), InputError> {
    let text = read(path)?;
    let root = tree::parse(path, &text)?;
    let shape = |message: String| InputError::Shape {
        path: path.to_owned(),
        message,
    };
    let services = root
        .get("services")
        .ok_or_else(|| shape("no services: section".into()))?;
    let mut roles = Vec::new();
    let mut around = Vec::new();
    for (name, service) in services.entries() {
        let at = |line: usize| Location::new(path, line);
        let command = match service.get("command") {
            Some(Node::Scalar(text, line)) => Some(Located {
                value: text.clone(),
                location: at(*line),
            }),
            Some(Node::List(items, line)) => Some(Located {
                value: items
                    .iter()
                    .filter_map(Node::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                location: at(*line),
            }),
            _ => None,
        };
        let image = service.get("image").and_then(|node| {
            node.as_str().map(|text| Located {
                value: text.to_owned(),
                location: at(node.line()),
            })
        });
        let kind = command.as_ref().map_or(RoleKind::Other, |command| {
            RoleKind::from_command(&command.value)
        });
        let is_redash = kind != RoleKind::Other
            || image
                .as_ref()
                .is_some_and(|image| image.value.contains("redash/redash"));
        if !is_redash {
            let kind = image
                .as_ref()
                .and_then(|image| service_kind_of_image(&image.value));
            if let Some(kind) = kind {
                around.push(read_service(path, name, service, kind, image));
            }
            continue;
        }
        let mut env = BTreeMap::new();
        // env_file first: `environment` wins over it, as in compose.
        let env_files: Vec<&Node> = match service.get("env_file") {
            Some(Node::List(items, _)) => items.iter().collect(),
            Some(node) => vec![node],
            None => Vec::new(),
        };
        for file in env_files {
            let relative = file
                .as_str()
                .or_else(|| file.get("path").and_then(Node::as_str));
            let Some(relative) = relative else { continue };
            let env_path = path.parent().unwrap_or(Path::new(".")).join(relative);
            for entry in read_env_file(&env_path)? {
                env.insert(
                    entry.name,
                    EnvValue {
                        value: Some(entry.value),
                        location: entry.location,
                        from_secret_store: false,
                    },
                );
            }
        }
        match service.get("environment") {
            Some(Node::Map(entries, _)) => {
                for (key, value) in entries {
                    let text = match value {
                        Node::Scalar(text, _) => Some(text.clone()),
                        Node::Null(_) => None,
                        _ => {
                            return Err(shape(format!(
                                "services.{name}.environment.{key}: expected a value"
                            )))
                        }
                    };
                    env.insert(
                        key.clone(),
                        EnvValue {
                            value: text,
                            location: at(value.line()),
                            from_secret_store: false,
                        },
                    );
                }
            }
            Some(Node::List(items, _)) => {
                for item in items {
                    let Some(text) = item.as_str() else { continue };
                    let (key, value) = match text.split_once('=') {
                        Some((key, value)) => (key, Some(value.to_owned())),
                        None => (text, None),
                    };
                    env.insert(
                        key.to_owned(),
                        EnvValue {
                            value,
                            location: at(item.line()),
                            from_secret_store: false,
                        },
                    );
                }
            }
            _ => {}
        }
        let deploy = service.get("deploy");
        let replicas = deploy
            .and_then(|deploy| deploy.get("replicas"))
            .or_else(|| service.get("scale"))
            .and_then(|node| {
                Some(Located {
                    value: node.as_str()?.parse().ok()?,
                    location: at(node.line()),
                })
            });
        let memory = deploy
            .and_then(|deploy| deploy.get("resources"))
            .and_then(|resources| resources.get("limits"))
            .and_then(|limits| limits.get("memory"))
            .or_else(|| service.get("mem_limit"))
            .and_then(|node| {
                Some(Located {
                    value: parse_memory_mib(node.as_str()?)?,
                    location: at(node.line()),
                })
            });
        let health_check = service
            .get("healthcheck")
            .and_then(|check| check.get("test"))
            .map(|test| Located {
                value: match test {
                    Node::List(items, _) => items
                        .iter()
                        .filter_map(Node::as_str)
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.as_str().unwrap_or_default().to_owned(),
                },
                location: at(test.line()),
            });
        let platform = service.get("platform").and_then(|node| {
            Some(Located {
                value: normalize_platform(node.as_str()?)?.to_owned(),
                location: at(node.line()),
            })
        });
        roles.push(Role {
            name: name.clone(),
            kind,
            location: at(service.line()),
            command,
            image,
            env,
            replicas,
            memory_limit_mib: memory,
            health_check,
            ecs: false,
            platform,
            update_strategy: None,
            app: None,
        });
    }
    Ok((roles, around))
}

/// Whether an image is a PostgreSQL or a Redis server, by the last name of its repository
/// (`postgres`, `bitnami/postgresql`, `pgautoupgrade/pgautoupgrade`, `postgis/postgis`,
/// `redis`, `bitnami/redis`, `redis/redis-stack-server`), whatever its registry and tag.
pub fn service_kind_of_image(image: &str) -> Option<ServiceKind> {
    let name = image_repository(image).rsplit('/').next()?;
    match name {
        "postgres" | "postgresql" | "pgautoupgrade" | "postgis" => Some(ServiceKind::Postgres),
        "redis" | "redis-stack-server" | "redis-stack" => Some(ServiceKind::Redis),
        _ => None,
    }
}

/// `registry:5000/bitnami/redis:7.2@sha256:...` -> `registry:5000/bitnami/redis`.
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image).trim();
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

/// One volume of a service: where it is mounted and what it is.
struct Mount {
    /// `None` for an anonymous volume.
    source: Option<String>,
    target: String,
    /// `volume`, `bind` or `tmpfs`.
    kind: String,
    line: usize,
}

fn mounts(service: &Node) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for item in service.get("volumes").map_or(&[][..], Node::items) {
        match item {
            Node::Scalar(text, line) => {
                let parts: Vec<&str> = text.split(':').collect();
                let (source, target) = match parts.as_slice() {
                    [target] => (None, *target),
                    [source, target, ..] => (Some(*source), *target),
                    [] => continue,
                };
                let kind = match source {
                    Some(source) if is_host_path(source) => "bind",
                    _ => "volume",
                };
                mounts.push(Mount {
                    source: source.map(str::to_owned),
                    target: target.to_owned(),
                    kind: kind.to_owned(),
                    line: *line,
                });
            }
            Node::Map(..) => {
                let Some(target) = item.get("target").and_then(Node::as_str) else {
                    continue;
                };
                let source = item
                    .get("source")
                    .and_then(Node::as_str)
                    .filter(|source| !source.is_empty());
                let kind = item.get("type").and_then(Node::as_str).unwrap_or("volume");
                mounts.push(Mount {
                    source: source.map(str::to_owned),
                    target: target.to_owned(),
                    kind: kind.to_owned(),
                    line: item.line(),
                });
            }
            _ => {}
        }
    }
    for item in service.get("tmpfs").map_or(&[][..], Node::items) {
        if let Some(target) = item.as_str() {
            mounts.push(Mount {
                source: None,
                target: target.split(':').next().unwrap_or(target).to_owned(),
                kind: "tmpfs".into(),
                line: item.line(),
            });
        }
    }
    mounts
}

fn is_host_path(source: &str) -> bool {
    source.starts_with('/')
        || source.starts_with('.')
        || source.starts_with('~')
        || source.starts_with('$')
}

/// Whether a mount on `target` holds `directory`: the directory itself or one of its parents.
fn covers(target: &str, directory: &str) -> bool {
    let target = target.trim_end_matches('/');
    let directory = directory.trim_end_matches('/');
    directory == target || directory.starts_with(&format!("{target}/"))
}

/// A service's environment as (name, value, line); values from `env_file` are not read (the
/// files of these services often sit outside the deployment's directory).
fn environment(service: &Node) -> Vec<(String, Option<String>, usize)> {
    match service.get("environment") {
        Some(Node::Map(entries, _)) => entries
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().map(str::to_owned), value.line()))
            .collect(),
        Some(Node::List(items, _)) => items
            .iter()
            .filter_map(|item| {
                let text = item.as_str()?;
                Some(match text.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned()), item.line()),
                    None => (text.to_owned(), None, item.line()),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A PostgreSQL or Redis service: its image, the mount that keeps its data directory, and (for
/// Redis) the settings its command line, its mounted `redis.conf` or its environment give.
fn read_service(
    path: &Path,
    name: &str,
    service: &Node,
    kind: ServiceKind,
    image: Option<Located<String>>,
) -> Service {
    let at = |line: usize| Location::new(path, line);
    let repository = image
        .as_ref()
        .map_or("", |image| image_repository(&image.value));
    let bitnami = repository.contains("bitnami/");
    let env = environment(service);
    let mut settings = BTreeMap::new();
    // The official images declare a VOLUME: without a mount of its own there, Docker mounts an
    // anonymous volume on it, over any mount of a parent directory. PostgreSQL 18 moved both
    // (PGDATA /var/lib/postgresql/18/docker, VOLUME /var/lib/postgresql); bitnami images declare
    // none. A tag without a version could be either layout: a mount of either counts.
    let major = image
        .as_ref()
        .and_then(|image| image.value.split('@').next()?.rsplit_once(':'))
        .map(|(_, tag)| tag)
        .filter(|tag| !tag.contains('/'))
        .and_then(|tag| {
            let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
    let (default_directory, image_volume) = match kind {
        ServiceKind::Postgres if bitnami => ("/bitnami/postgresql/data".to_owned(), None),
        ServiceKind::Postgres => match major {
            Some(major) if major >= 18 => (
                format!("/var/lib/postgresql/{major}/docker"),
                Some("/var/lib/postgresql"),
            ),
            Some(_) => (
                "/var/lib/postgresql/data".to_owned(),
                Some("/var/lib/postgresql/data"),
            ),
            None => ("/var/lib/postgresql/data".to_owned(), None),
        },
        ServiceKind::Redis if bitnami => ("/bitnami/redis/data".to_owned(), None),
        ServiceKind::Redis => ("/data".to_owned(), Some("/data")),
    };
    let mut data_directory = default_directory;
    if kind == ServiceKind::Postgres {
        let pgdata = env.iter().find_map(|(key, value, line)| {
            let value = value.as_deref().filter(|value| !value.is_empty())?;
            (key == "PGDATA" || (bitnami && key == "POSTGRESQL_DATA_DIR"))
                .then(|| (value.to_owned(), *line))
        });
        if let Some((directory, line)) = pgdata {
            settings.insert(
                "PGDATA".to_owned(),
                Located {
                    value: directory.clone(),
                    location: at(line),
                },
            );
            data_directory = directory;
        }
    }
    let mut mounts = mounts(service);
    if let Some(volume) = image_volume {
        if !mounts
            .iter()
            .any(|mount| covers(&mount.target, volume) && covers(volume, &mount.target))
        {
            mounts.push(Mount {
                source: None,
                target: volume.to_owned(),
                kind: "volume".into(),
                line: service.line(),
            });
        }
    }
    // The deepest mount holding the data directory is where the data goes.
    let storage = mounts
        .iter()
        .filter(|mount| covers(&mount.target, &data_directory))
        .max_by_key(|mount| mount.target.trim_end_matches('/').len())
        .filter(|mount| mount.kind != "tmpfs")
        .and_then(|mount| {
            let source = mount.source.as_ref()?;
            let what = if mount.kind == "bind" {
                "bind mount"
            } else {
                "volume"
            };
            Some(Located {
                value: format!("{what} {source} on {}", mount.target),
                location: at(mount.line),
            })
        });
    if kind == ServiceKind::Redis {
        read_redis_settings(path, service, &mounts, &env, bitnami, &mut settings);
    }
    Service {
        name: name.to_owned(),
        kind,
        location: at(service.line()),
        image,
        storage,
        settings,
        app: None,
    }
}

/// Redis settings: a mounted config file first, then the bitnami image's variables, then the
/// command line, each overriding the one before as `redis-server` does.
fn read_redis_settings(
    path: &Path,
    service: &Node,
    mounts: &[Mount],
    env: &[(String, Option<String>, usize)],
    bitnami: bool,
    settings: &mut BTreeMap<String, Located<String>>,
) {
    let at = |line: usize| Location::new(path, line);
    let words: Vec<(String, usize)> = match service.get("command") {
        Some(Node::List(items, _)) => items
            .iter()
            .filter_map(|item| Some((item.as_str()?.to_owned(), item.line())))
            .collect(),
        Some(Node::Scalar(text, line)) => shell_words(text)
            .into_iter()
            .map(|word| (word, *line))
            .collect(),
        _ => Vec::new(),
    };
    let mut words = words.as_slice();
    if words
        .first()
        .is_some_and(|(word, _)| !word.starts_with("--") && word.ends_with("-server"))
    {
        words = &words[1..];
    }
    if let Some((config, _)) = words.first().filter(|(word, _)| !word.starts_with("--")) {
        if let Some(file) = host_file(path, mounts, config) {
            if let Ok(text) = std::fs::read_to_string(&file) {
                for (index, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                    settings.insert(
                        key.to_ascii_lowercase(),
                        Located {
                            value: shell_words(value).join(" "),
                            location: Location::new(&file, index + 1),
                        },
                    );
                }
            }
        }
        words = &words[1..];
    }
    if bitnami {
        for (key, value, line) in env {
            let Some(value) = value else { continue };
            match key.as_str() {
                "REDIS_AOF_ENABLED" => {
                    settings.insert(
                        "appendonly".to_owned(),
                        Located {
                            value: value.clone(),
                            location: at(*line),
                        },
                    );
                }
                "REDIS_EXTRA_FLAGS" => {
                    let flags: Vec<(String, usize)> = shell_words(value)
                        .into_iter()
                        .map(|word| (word, *line))
                        .collect();
                    read_flags(path, &flags, settings);
                }
                _ => {}
            }
        }
    }
    read_flags(path, words, settings);
}

/// `--name value...` pairs; a value runs to the next `--name`, and may be empty (`--save ""`).
fn read_flags(
    path: &Path,
    words: &[(String, usize)],
    settings: &mut BTreeMap<String, Located<String>>,
) {
    let mut index = 0;
    while index < words.len() {
        let (word, line) = &words[index];
        index += 1;
        let Some(key) = word.strip_prefix("--") else {
            continue;
        };
        let mut values = Vec::new();
        while index < words.len() && !words[index].0.starts_with("--") {
            values.push(words[index].0.as_str());
            index += 1;
        }
        settings.insert(
            key.to_ascii_lowercase(),
            Located {
                value: values.join(" "),
                location: Location::new(path, *line),
            },
        );
    }
}

/// The host file behind a path inside the container, when a bind mount holds it.
fn host_file(path: &Path, mounts: &[Mount], inside: &str) -> Option<std::path::PathBuf> {
    let mount = mounts
        .iter()
        .filter(|mount| mount.kind == "bind" && covers(&mount.target, inside))
        .max_by_key(|mount| mount.target.len())?;
    let source = mount.source.as_deref()?;
    if source.starts_with('~') || source.starts_with('$') {
        return None;
    }
    let rest = inside
        .trim_end_matches('/')
        .strip_prefix(mount.target.trim_end_matches('/'))?
        .trim_start_matches('/');
    let base = path.parent().unwrap_or(Path::new(".")).join(source);
    let file = if rest.is_empty() {
        base
    } else {
        base.join(rest)
    };
    // `./redis.conf` beside `compose.yml` is named `redis.conf`, as the compose file is.
    Some(
        file.components()
            .filter(|component| *component != std::path::Component::CurDir)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(text: &str) -> Vec<Service> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compose.yml");
        std::fs::write(&path, text).unwrap();
        read_compose(&path).unwrap().1
    }

    #[test]
    fn images_name_their_kind() {
        let kind = service_kind_of_image;
        assert_eq!(kind("postgres:9.6-alpine"), Some(ServiceKind::Postgres));
        assert_eq!(kind("bitnami/postgresql:15"), Some(ServiceKind::Postgres));
        assert_eq!(
            kind("pgautoupgrade/pgautoupgrade:17-alpine"),
            Some(ServiceKind::Postgres)
        );
        assert_eq!(
            kind("registry:5000/library/postgres"),
            Some(ServiceKind::Postgres)
        );
        assert_eq!(
            kind("redis/redis-stack-server:7.2.0-v10"),
            Some(ServiceKind::Redis)
        );
        assert_eq!(kind("bitnami/redis@sha256:abc"), Some(ServiceKind::Redis));
        assert_eq!(kind("redash/redash:10.1.0.b50633"), None);
        assert_eq!(kind("bitnami/redis-sentinel:7"), None);
        assert_eq!(kind("prometheuscommunity/postgres-exporter"), None);
    }

    #[test]
    fn storage_is_a_named_volume_or_bind_mount_on_the_data_directory() {
        let found = services(
            "services:\n  named:\n    image: postgres:13\n    volumes:\n      - pg:/var/lib/postgresql/data\n  parent:\n    image: postgres:13\n    volumes: [\"/srv/pg:/var/lib/postgresql\"]\n  parent18:\n    image: postgres:18\n    volumes: [\"/srv/pg:/var/lib/postgresql\"]\n  old18:\n    image: postgres:18-alpine\n    volumes: [\"pg:/var/lib/postgresql/data\"]\n  untagged:\n    image: postgres\n    volumes: [\"/srv/pg:/var/lib/postgresql\"]\n  elsewhere:\n    image: postgres:13\n    volumes: [\"./init:/docker-entrypoint-initdb.d\"]\n  anonymous:\n    image: postgres:13\n    volumes: [\"/var/lib/postgresql/data\"]\n  pgdata:\n    image: postgres:13\n    environment: [PGDATA=/pg/data]\n    volumes: [\"pg:/var/lib/postgresql/data\"]\n  subdirectory:\n    image: postgres:16\n    environment:\n      PGDATA: /var/lib/postgresql/data/pgdata\n    volumes: [\"pg:/var/lib/postgresql/data\"]\n  long:\n    image: redis:7\n    volumes:\n      - type: volume\n        source: cache\n        target: /data\n  bitnami:\n    image: bitnami/redis:7.2\n    volumes: [\"r:/data\"]\n",
        );
        let storage: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|service| {
                (
                    service.name.as_str(),
                    service
                        .storage
                        .as_ref()
                        .map(|storage| storage.value.as_str()),
                )
            })
            .collect();
        assert_eq!(
            storage,
            [
                ("named", Some("volume pg on /var/lib/postgresql/data")),
                // The image's VOLUME on /var/lib/postgresql/data hides a parent mount.
                ("parent", None),
                (
                    "parent18",
                    Some("bind mount /srv/pg on /var/lib/postgresql")
                ),
                // 18 keeps its data in /var/lib/postgresql/18/docker.
                ("old18", None),
                (
                    "untagged",
                    Some("bind mount /srv/pg on /var/lib/postgresql")
                ),
                ("elsewhere", None),
                ("anonymous", None),
                ("pgdata", None),
                (
                    "subdirectory",
                    Some("volume pg on /var/lib/postgresql/data")
                ),
                ("long", Some("volume cache on /data")),
                ("bitnami", None),
            ]
        );
        assert_eq!(found[0].storage.as_ref().unwrap().location.line, 5);
    }

    #[test]
    fn redis_settings_come_from_the_command_and_the_mounted_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("redis.conf"),
            "# cache\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\nsave \"\"\n",
        )
        .unwrap();
        let path = dir.path().join("compose.yml");
        std::fs::write(
            &path,
            "services:\n  redis:\n    image: redis:7\n    command: redis-server /usr/local/etc/redis/redis.conf --maxmemory-policy volatile-lru --appendonly no\n    volumes: [\"./redis.conf:/usr/local/etc/redis/redis.conf:ro\"]\n  listed:\n    image: redis:7\n    command: [\"redis-server\", \"--save\", \"\", \"--appendonly\", \"yes\"]\n",
        )
        .unwrap();
        let found = read_compose(&path).unwrap().1;
        let value = |index: usize, key: &str| {
            found[index]
                .settings
                .get(key)
                .map(|setting| setting.value.clone())
        };
        assert_eq!(value(0, "maxmemory").as_deref(), Some("256mb"));
        assert_eq!(
            value(0, "maxmemory-policy").as_deref(),
            Some("volatile-lru")
        );
        assert_eq!(value(0, "save").as_deref(), Some(""));
        assert_eq!(value(0, "appendonly").as_deref(), Some("no"));
        assert_eq!(found[0].settings["maxmemory"].location.line, 2);
        assert!(found[0].settings["maxmemory"]
            .location
            .file
            .ends_with("redis.conf"));
        assert_eq!(value(1, "save").as_deref(), Some(""));
        assert_eq!(value(1, "appendonly").as_deref(), Some("yes"));
    }
}
