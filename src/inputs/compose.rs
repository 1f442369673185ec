//! docker-compose files: services with `image`, `command`, `environment` (map or list),
//! `env_file`, `deploy.replicas` and memory limits, after YAML anchors and merge keys.

use std::collections::BTreeMap;
use std::path::Path;

use super::deployment::{normalize_platform, parse_memory_mib, EnvValue, Located, Role, RoleKind};
use super::env_file::read_env_file;
use super::tree::{self, Node};
use super::{read, InputError, Location};

/// The Redash services of a compose file (those whose command is a Redash role or whose image is
/// Redash's).
pub fn read_compose(path: &Path) -> Result<Vec<Role>, InputError> {
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
    Ok(roles)
}
