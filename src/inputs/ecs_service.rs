//! ECS service definitions, as `aws ecs describe-services` prints them (`services: [...]`), as
//! the JSON given to `create-service`, or as a CloudFormation `AWS::ECS::Service`: how a deploy
//! replaces the tasks of the roles of its task definition, and how many run.

use std::collections::BTreeMap;
use std::path::Path;

use super::deployment::{Located, Role, UpdateStrategy};
use super::tree::{self, Node};
use super::{read, InputError, Location};

/// ECS starts new tasks before stopping old ones up to `maximumPercent`, 200 when not set.
const DEFAULT_MAXIMUM_PERCENT: u32 = 200;

/// Sets the update strategy and replicas of the ECS roles whose task definition's family is the
/// one each service of `path` runs.
pub fn apply_service(path: &Path, roles: &mut [Role]) -> Result<(), InputError> {
    let text = read(path)?;
    let root = tree::parse(path, &text)?;
    let shape = |message: String| InputError::Shape {
        path: path.to_owned(),
        message,
    };
    let services = services(&root);
    if services.is_empty() {
        return Err(shape(
            "no ECS service (services, deploymentConfiguration, taskDefinition)".into(),
        ));
    }
    let mut families: BTreeMap<String, Option<String>> = BTreeMap::new();
    for role in roles.iter().filter(|role| role.ecs) {
        if !families.contains_key(&role.location.file) {
            let family = task_definition_family(Path::new(&role.location.file));
            families.insert(role.location.file.clone(), family);
        }
    }
    let mut unmatched = Vec::new();
    let mut matched_any = false;
    for service in services {
        let at = |line: usize| Location::new(path, line);
        let Some(task_definition) = field(service, &["taskDefinition", "task_definition"]) else {
            return Err(InputError::Syntax {
                path: path.to_owned(),
                line: service.line(),
                message: "an ECS service without taskDefinition".into(),
            });
        };
        let Some(reference) = task_definition.as_str() else {
            return Err(InputError::Syntax {
                path: path.to_owned(),
                line: task_definition.line(),
                message: "taskDefinition: expected a family, family:revision or ARN".into(),
            });
        };
        let family = family_of(reference);
        let strategy = strategy(service).map(|(value, line)| Located {
            value,
            location: at(line),
        });
        let desired = field(service, &["desiredCount", "desired_count"])
            .map(|node| {
                let count = node.as_str().and_then(|text| text.parse().ok());
                count
                    .map(|value| Located {
                        value,
                        location: at(node.line()),
                    })
                    .ok_or_else(|| InputError::Syntax {
                        path: path.to_owned(),
                        line: node.line(),
                        message: "desiredCount: expected a whole number".into(),
                    })
            })
            .transpose()?;
        let mut matched = false;
        for role in roles.iter_mut().filter(|role| role.ecs) {
            let role_family = families.get(&role.location.file).cloned().flatten();
            if role_family.as_deref() != Some(family) {
                continue;
            }
            matched = true;
            if strategy.is_some() {
                role.update_strategy = strategy.clone();
            }
            if desired.is_some() {
                role.replicas = desired.clone();
            }
        }
        if matched {
            matched_any = true;
        } else {
            unmatched.push(family.to_owned());
        }
    }
    if !matched_any {
        return Err(shape(format!(
            "no --ecs-task-def of family {}",
            unmatched.join(", ")
        )));
    }
    Ok(())
}

/// The service objects of the file, whichever shape it has.
fn services(root: &Node) -> Vec<&Node> {
    if let Some(list) = root.get("services") {
        return list.items().iter().collect();
    }
    if let Some(resources) = root.get("Resources") {
        return resources
            .entries()
            .iter()
            .filter(|(_, resource)| {
                resource.get("Type").and_then(Node::as_str) == Some("AWS::ECS::Service")
            })
            .filter_map(|(_, resource)| resource.get("Properties"))
            .collect();
    }
    if root.get("Type").and_then(Node::as_str) == Some("AWS::ECS::Service") {
        return root.get("Properties").into_iter().collect();
    }
    if field(root, &["taskDefinition", "task_definition"]).is_some() {
        return vec![root];
    }
    Vec::new()
}

/// A field by its API name, its CloudFormation name (`TaskDefinition`) or its Terraform name.
fn field<'a>(node: &'a Node, names: &[&str]) -> Option<&'a Node> {
    names.iter().find_map(|name| {
        node.get(name).or_else(|| {
            let mut pascal = (*name).to_owned();
            if let Some(first) = pascal.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            node.get(&pascal)
        })
    })
}

/// How the service replaces its tasks, and the line that says so.
fn strategy(service: &Node) -> Option<(UpdateStrategy, usize)> {
    if let Some(controller) = field(service, &["deploymentController"]) {
        let kind = field(controller, &["type"]).and_then(Node::as_str);
        match kind {
            Some("CODE_DEPLOY") => {
                return Some((
                    UpdateStrategy::Overlapping {
                        how: "CodeDeploy blue/green".into(),
                    },
                    controller.line(),
                ))
            }
            Some("EXTERNAL") => return None,
            _ => {}
        }
    }
    let configuration = field(service, &["deploymentConfiguration"]);
    let maximum = configuration
        .and_then(|configuration| field(configuration, &["maximumPercent"]))
        .or_else(|| service.get("deployment_maximum_percent"));
    let (percent, line) = match maximum {
        Some(node) => (
            node.as_str()
                .and_then(|text| text.parse().ok())
                .unwrap_or(DEFAULT_MAXIMUM_PERCENT),
            node.line(),
        ),
        None => (
            DEFAULT_MAXIMUM_PERCENT,
            configuration.map_or(service.line(), Node::line),
        ),
    };
    let strategy = if percent > 100 {
        UpdateStrategy::Overlapping {
            how: format!("maximumPercent {percent}"),
        }
    } else {
        UpdateStrategy::StopFirst
    };
    Some((strategy, line))
}

/// `redash-scheduler` from `arn:aws:ecs:...:task-definition/redash-scheduler:3`,
/// `redash-scheduler:3` or `redash-scheduler`.
fn family_of(reference: &str) -> &str {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    name.split(':').next().unwrap_or(name)
}

/// The family of the task definition a role was read from.
fn task_definition_family(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let root = tree::parse(path, &text).ok()?;
    let definition = root.get("taskDefinition").unwrap_or(&root);
    definition
        .get("family")
        .and_then(Node::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_references() {
        assert_eq!(
            family_of("arn:aws:ecs:eu-west-1:123456789012:task-definition/redash-scheduler:7"),
            "redash-scheduler"
        );
        assert_eq!(family_of("redash-scheduler:7"), "redash-scheduler");
        assert_eq!(family_of("redash-scheduler"), "redash-scheduler");
    }

    #[test]
    fn strategies_from_maximum_percent() {
        let of = |text: &str| {
            let node = tree::parse(Path::new("s.json"), text).unwrap();
            strategy(&node).map(|(strategy, _)| strategy)
        };
        assert_eq!(
            of("{\"taskDefinition\": \"a\"}"),
            Some(UpdateStrategy::Overlapping {
                how: "maximumPercent 200".into()
            })
        );
        assert_eq!(
            of("{\"deploymentConfiguration\": {\"maximumPercent\": 100, \"minimumHealthyPercent\": 0}}"),
            Some(UpdateStrategy::StopFirst)
        );
        assert_eq!(
            of("{\"DeploymentConfiguration\": {\"MaximumPercent\": 150}}"),
            Some(UpdateStrategy::Overlapping {
                how: "maximumPercent 150".into()
            })
        );
        assert_eq!(
            of("{\"deploymentController\": {\"type\": \"EXTERNAL\"}}"),
            None
        );
    }
}
