//! What a plan knows of the deployment it is written for: the kind (compose or ECS), the files
//! read, and which variables the roles set. Values are never kept: a plan is printed.

use std::collections::BTreeMap;

use crate::inputs::{Deployment, Location};
use crate::knowledge::model::Platform;

/// The runner lists through which a deployment enables the Python data source.
const RUNNER_LISTS: [&str; 2] = [
    "REDASH_ADDITIONAL_QUERY_RUNNERS",
    "REDASH_ENABLED_QUERY_RUNNERS",
];

/// The deployment a plan's steps are fitted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentFit {
    /// The files read, as given.
    pub inputs: Vec<String>,
    /// The kind of deployment; `None` when the files do not tell (env files only) or mix kinds,
    /// and the plan then keeps the steps of every kind, marked.
    pub platform: Option<Platform>,
    /// Every variable some running role sets, with where it is first set.
    pub env: BTreeMap<String, Location>,
    /// Where a runner list names `redash.query_runner.<module>`, by module.
    pub runner_modules: BTreeMap<String, Location>,
}

impl DeploymentFit {
    pub fn of(deployment: &Deployment) -> DeploymentFit {
        let known = |ecs: bool| {
            deployment.roles.iter().any(|role| {
                role.ecs == ecs && role.name != crate::inputs::deployment::ENV_FILES_ROLE
            })
        };
        let platform = match (known(false), known(true)) {
            (true, false) => Some(Platform::Compose),
            (false, true) => Some(Platform::Ecs),
            _ => None,
        };
        let mut env = BTreeMap::new();
        let mut runner_modules = BTreeMap::new();
        for role in deployment.running_roles() {
            for (name, value) in &role.env {
                env.entry(name.clone())
                    .or_insert_with(|| value.location.clone());
                if !RUNNER_LISTS.contains(&name.as_str()) {
                    continue;
                }
                for module in value
                    .value
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|module| !module.is_empty())
                {
                    runner_modules
                        .entry(module.to_owned())
                        .or_insert_with(|| value.location.clone());
                }
            }
        }
        DeploymentFit {
            inputs: deployment.files.clone(),
            platform,
            env,
            runner_modules,
        }
    }

    /// Whether a step written for `platform` (`None`: every kind) belongs in the plan.
    pub fn keeps(fit: Option<&DeploymentFit>, platform: Option<Platform>) -> bool {
        match (platform, fit.and_then(|fit| fit.platform)) {
            (Some(step), Some(deployment)) => step == deployment,
            _ => true,
        }
    }

    /// What the files are, in a few words: `docker compose`, `ECS task definitions`, ...
    pub fn describe(&self) -> String {
        match self.platform {
            Some(Platform::Compose) => "a docker compose deployment".to_owned(),
            Some(Platform::Ecs) => "an ECS deployment".to_owned(),
            None if self.env.is_empty() && self.inputs.is_empty() => "no deployment".to_owned(),
            None => "a deployment whose kind the files do not tell".to_owned(),
        }
    }
}
