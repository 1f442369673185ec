//! Readers for what an operator has: `.env` files, docker-compose files, ECS task definitions and
//! nginx configs. Each returns values with the file and line they came from; [`deployment`]
//! combines them into one model of the roles that run.

pub mod compose;
pub mod deployment;
pub mod ecs;
pub mod ecs_service;
pub mod env_file;
pub mod helm;
pub mod k8s;
pub mod nginx;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

pub use deployment::{Deployment, EnvValue, Role, RoleKind, Service, ServiceKind, UpdateStrategy};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl Location {
    pub fn new(file: &Path, line: usize) -> Location {
        Location {
            file: file.display().to_string(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.file, self.line)
    }
}

/// Why an input could not be read: always one line naming the file (and line when there is one).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The cause is the error's source, printed after it by the caller.
    #[error("{}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
    #[error("--ecs-desired-count {0}: no ECS container of that name")]
    UnknownContainer(String),
}

/// What the operator gave to describe the deployment.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFiles {
    /// `.env` files applied to every role.
    pub env_files: Vec<PathBuf>,
    pub compose: Option<PathBuf>,
    pub ecs_task_definitions: Vec<PathBuf>,
    /// Replicas of ECS containers, by container name.
    pub ecs_desired_counts: Vec<(String, u32)>,
    pub nginx: Option<PathBuf>,
    /// Memory of the host the roles share, where the files give no per-role limit.
    pub host_memory_mib: Option<u64>,
    /// The host's platform (`linux/arm64`), where the files do not say.
    pub host_platform: Option<String>,
    /// Rendered Kubernetes manifests: files or directories of multi-document YAML.
    pub k8s: Vec<PathBuf>,
    /// A values file of the community Helm chart, and the chart's version when known.
    pub helm_values: Option<PathBuf>,
    pub helm_chart_version: Option<String>,
    /// ECS service definitions, for their deployment configuration.
    pub ecs_services: Vec<PathBuf>,
}

impl DeploymentFiles {
    /// Reads every file into one model of the roles that run.
    pub fn read(&self) -> Result<Deployment, InputError> {
        let mut deployment = Deployment {
            host_memory_mib: self.host_memory_mib,
            host_platform: self.host_platform.clone(),
            ..Deployment::default()
        };
        if let Some(path) = &self.compose {
            let (roles, services) = compose::read_compose(path)?;
            deployment.roles.extend(roles);
            deployment.services.extend(services);
            deployment.files.push(path.display().to_string());
        }
        for path in &self.ecs_task_definitions {
            deployment.roles.extend(ecs::read_task_definition(path)?);
            deployment.files.push(path.display().to_string());
        }
        for path in &self.ecs_services {
            ecs_service::apply_service(path, &mut deployment.roles)?;
            deployment.files.push(path.display().to_string());
        }
        for path in &self.k8s {
            let (roles, services) = k8s::read_manifests(path)?;
            deployment.roles.extend(roles);
            deployment.services.extend(services);
            deployment.files.push(path.display().to_string());
        }
        if let Some(path) = &self.helm_values {
            // The chart's generations are knowledge; the embedded copy is the one that matches
            // this binary's reader.
            let knowledge =
                crate::knowledge::KnowledgeBase::embedded().map_err(|error| InputError::Shape {
                    path: path.clone(),
                    message: format!("the embedded knowledge base: {error}"),
                })?;
            let (roles, services, chart) = helm::read_values(
                path,
                self.helm_chart_version.as_deref(),
                &knowledge.helm_chart,
            )?;
            deployment.roles.extend(roles);
            deployment.services.extend(services);
            deployment.files.push(format!(
                "{} (Helm chart {})",
                path.display(),
                chart.generation
            ));
            if let Some(assumed) = chart.assumed {
                deployment.assumptions.push(assumed);
            }
        }
        for (name, count) in &self.ecs_desired_counts {
            let role = deployment
                .roles
                .iter_mut()
                .find(|role| role.ecs && &role.name == name)
                .ok_or_else(|| InputError::UnknownContainer(name.clone()))?;
            role.replicas = Some(deployment::Located {
                value: *count,
                location: role.location.clone(),
            });
        }
        let mut shared = Vec::new();
        for path in &self.env_files {
            shared.extend(env_file::read_env_file(path)?);
            deployment.files.push(path.display().to_string());
        }
        if deployment.roles.is_empty() && !shared.is_empty() {
            // Only env files: one role stands for every container that reads them.
            deployment.roles.push(Role {
                name: deployment::ENV_FILES_ROLE.into(),
                kind: RoleKind::Server,
                location: shared[0].location.clone(),
                command: None,
                image: None,
                env: Default::default(),
                replicas: None,
                memory_limit_mib: None,
                health_check: None,
                ecs: false,
                platform: None,
                update_strategy: None,
                app: None,
            });
        }
        deployment.apply_shared_env(&shared);
        if let Some(path) = &self.nginx {
            deployment.nginx = Some(nginx::read_nginx(path)?);
            deployment.files.push(path.display().to_string());
        }
        deployment.group_apps();
        Ok(deployment)
    }
}

pub(crate) fn read(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Splits `text` into words as POSIX shells and Python's `shlex.split` do: blanks separate,
/// single and double quotes group and are removed, a backslash escapes the next character
/// (outside single quotes).
pub(crate) fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match (quote, character) {
            (Some(open), close) if open == close => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(next) = characters.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (Some(_), other) => word.push(other),
            (None, '"' | '\'') => {
                quote = Some(character);
                in_word = true;
            }
            (None, blank) if blank.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, other) => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
