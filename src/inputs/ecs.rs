//! ECS task definitions, as registered or as `aws ecs describe-task-definition` prints them
//! (wrapped in `taskDefinition`): one role per container with a Redash command.

use std::collections::BTreeMap;
use std::path::Path;

use super::deployment::{normalize_platform, parse_memory_mib, EnvValue, Located, Role, RoleKind};
use super::tree::{self, Node};
use super::{read, InputError, Location};

pub fn read_task_definition(path: &Path) -> Result<Vec<Role>, InputError> {
    let text = read(path)?;
    let root = tree::parse(path, &text)?;
    let definition = root.get("taskDefinition").unwrap_or(&root);
    let shape = |message: &str| InputError::Shape {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let containers = definition
        .get("containerDefinitions")
        .ok_or_else(|| shape("no containerDefinitions: not an ECS task definition"))?;
    let at = |line: usize| Location::new(path, line);
    let family = definition
        .get("family")
        .and_then(Node::as_str)
        .unwrap_or("");
    let task_memory = definition.get("memory").and_then(|node| {
        Some(Located {
            value: parse_memory_mib(node.as_str()?)?,
            location: at(node.line()),
        })
    });
    let platform = definition
        .get("runtimePlatform")
        .and_then(|runtime| runtime.get("cpuArchitecture"))
        .and_then(|node| {
            Some(Located {
                value: normalize_platform(node.as_str()?)?.to_owned(),
                location: at(node.line()),
            })
        });
    let mut roles = Vec::new();
    for container in containers.items() {
        let name = container
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or(family)
            .to_owned();
        let command = container.get("command").map(|node| Located {
            value: node
                .items()
                .iter()
                .filter_map(Node::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            location: at(node.line()),
        });
        let kind = command.as_ref().map_or(RoleKind::Other, |command| {
            RoleKind::from_command(&command.value)
        });
        let image = container.get("image").and_then(|node| {
            Some(Located {
                value: node.as_str()?.to_owned(),
                location: at(node.line()),
            })
        });
        if kind == RoleKind::Other
            && !image
                .as_ref()
                .is_some_and(|image| image.value.contains("redash/redash"))
        {
            continue;
        }
        let mut env = BTreeMap::new();
        for variable in container.get("environment").map(Node::items).unwrap_or(&[]) {
            let Some(key) = variable.get("name").and_then(Node::as_str) else {
                return Err(shape("an environment entry without a name"));
            };
            env.insert(
                key.to_owned(),
                EnvValue {
                    value: Some(
                        variable
                            .get("value")
                            .and_then(Node::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    ),
                    location: at(variable.line()),
                    from_secret_store: false,
                },
            );
        }
        for secret in container.get("secrets").map(Node::items).unwrap_or(&[]) {
            let Some(key) = secret.get("name").and_then(Node::as_str) else {
                return Err(shape("a secrets entry without a name"));
            };
            // A name in both lists is also plain text in the definition: keep that exposure.
            env.entry(key.to_owned()).or_insert(EnvValue {
                value: None,
                location: at(secret.line()),
                from_secret_store: true,
            });
        }
        let memory = container
            .get("memory")
            .or_else(|| container.get("memoryReservation"))
            .and_then(|node| {
                Some(Located {
                    value: node.as_str()?.parse().ok()?,
                    location: at(node.line()),
                })
            })
            .or_else(|| task_memory.clone());
        let health_check = container
            .get("healthCheck")
            .and_then(|check| check.get("command"))
            .map(|command| Located {
                value: command
                    .items()
                    .iter()
                    .filter_map(Node::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                location: at(command.line()),
            });
        roles.push(Role {
            name,
            kind,
            location: at(container.line()),
            command,
            image,
            env,
            replicas: None,
            memory_limit_mib: memory,
            health_check,
            ecs: true,
            platform: platform.clone(),
            update_strategy: None,
            app: None,
        });
    }
    if roles.is_empty() {
        return Err(shape(
            "no container runs a Redash command (server, worker, scheduler)",
        ));
    }
    Ok(roles)
}
