//! `check --fleet FILE`: several Redash apps checked in one run, each with its own inputs,
//! releases and database, as a team that runs three apps on one host and one RDS has them.
//!
//! The file is TOML (`.toml`) or YAML (`.yml`, `.yaml`): a list of apps, each with a name, the
//! files that describe it (the fields of [`DeploymentFiles`]), `from` and `to`, and optionally
//! the environment variable holding its database URL (`database_url_env`) and a label of the
//! database server it shares with other apps (`database_server`). Paths are relative to the
//! fleet file. A database URL is never written in the file: one that holds a password is
//! refused, without printing it.
//!
//! ```toml
//! [[apps]]
//! name = "finance"
//! from = "8"
//! to = "10"
//! compose = "finance/docker-compose.yml"
//! env_files = ["finance/redash.env"]
//! database_url_env = "FINANCE_DATABASE_URL"
//! database_server = "rds-main"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::inputs::deployment::{normalize_platform, parse_memory_mib};
use crate::inputs::DeploymentFiles;

/// Why a fleet file could not be read: one line naming the file, never a secret it holds.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
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
    #[error(
        "{}: {field} holds a database URL with a password: name the environment variable that \
         holds the URL instead (database_url_env = \"FINANCE_DATABASE_URL\"), and keep the \
         password out of the file",
        path.display()
    )]
    PasswordInFile { path: PathBuf, field: String },
}

/// The apps of a fleet file.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub path: PathBuf,
    pub apps: Vec<FleetApp>,
}

/// One app of a fleet: its inputs, releases and database.
#[derive(Debug, Clone)]
pub struct FleetApp {
    pub name: String,
    pub from: Option<String>,
    /// `None`: the command line's `--to`.
    pub to: Option<String>,
    pub files: DeploymentFiles,
    /// The environment variable of this shell holding the app's database URL.
    pub database_url_env: Option<String>,
    /// A label naming the database server the app shares with others (`rds-main`).
    pub database_server: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    apps: Vec<AppEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    name: String,
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    env_files: Vec<String>,
    compose: Option<String>,
    #[serde(default)]
    ecs_task_definitions: Vec<String>,
    #[serde(default)]
    ecs_desired_counts: BTreeMap<String, String>,
    #[serde(default)]
    ecs_services: Vec<String>,
    #[serde(default)]
    k8s: Vec<String>,
    helm_values: Option<String>,
    helm_chart_version: Option<String>,
    nginx: Option<String>,
    host_memory: Option<String>,
    host_arch: Option<String>,
    database_url_env: Option<String>,
    database_server: Option<String>,
}

/// Reads a fleet file: TOML or YAML by its extension.
pub fn read_fleet(path: &Path) -> Result<Fleet, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
        path: path.to_owned(),
        source,
    })?;
    let shape = |message: String| FleetError::Shape {
        path: path.to_owned(),
        message,
    };
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let value = match extension.as_str() {
        "toml" => toml_value(path, &text)?,
        "yml" | "yaml" => yaml_value(path, &text)?,
        _ => {
            return Err(shape(
                "a fleet file is TOML (.toml) or YAML (.yml, .yaml)".into(),
            ))
        }
    };
    // Before anything else, so that no later message can echo a password.
    if let Some(field) = password_url(&value, "") {
        return Err(FleetError::PasswordInFile {
            path: path.to_owned(),
            field,
        });
    }
    let file: FleetFile =
        serde_json::from_value(value).map_err(|error| shape(error.to_string()))?;
    if file.apps.is_empty() {
        return Err(shape("apps: the list is empty".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |relative: &String| lexically_normal(&base.join(relative));
    let mut apps: Vec<FleetApp> = Vec::new();
    for (index, entry) in file.apps.into_iter().enumerate() {
        let at = |message: String| shape(format!("apps[{index}] ({}): {message}", entry.name));
        if entry.name.trim().is_empty() {
            return Err(shape(format!("apps[{index}]: name is empty")));
        }
        if apps.iter().any(|app| app.name == entry.name) {
            return Err(at("two apps have this name".into()));
        }
        if let Some(variable) = &entry.database_url_env {
            if !is_variable_name(variable) {
                return Err(at(format!(
                    "database_url_env {variable:?} is not a variable name: name the environment \
                     variable that holds the URL"
                )));
            }
        }
        let host_memory_mib = entry
            .host_memory
            .as_deref()
            .map(|text| {
                parse_memory_mib(text).ok_or_else(|| {
                    at(format!(
                        "host_memory {text:?} is not a size like 4GiB, 2g or 4096 (MiB)"
                    ))
                })
            })
            .transpose()?;
        let host_platform = entry
            .host_arch
            .as_deref()
            .map(|text| {
                normalize_platform(text)
                    .map(str::to_owned)
                    .ok_or_else(|| at(format!("host_arch {text:?} is not amd64 or arm64")))
            })
            .transpose()?;
        let ecs_desired_counts = entry
            .ecs_desired_counts
            .iter()
            .map(|(name, count)| {
                count
                    .parse::<u32>()
                    .map(|count| (name.clone(), count))
                    .map_err(|_| {
                        at(format!(
                            "ecs_desired_counts.{name}: {count:?} is not a whole number"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let files = DeploymentFiles {
            env_files: entry.env_files.iter().map(resolve).collect(),
            compose: entry.compose.as_ref().map(resolve),
            ecs_task_definitions: entry.ecs_task_definitions.iter().map(resolve).collect(),
            ecs_desired_counts,
            nginx: entry.nginx.as_ref().map(resolve),
            host_memory_mib,
            host_platform,
            k8s: entry.k8s.iter().map(resolve).collect(),
            helm_values: entry.helm_values.as_ref().map(resolve),
            helm_chart_version: entry.helm_chart_version.clone(),
            ecs_services: entry.ecs_services.iter().map(resolve).collect(),
        };
        apps.push(FleetApp {
            name: entry.name,
            from: entry.from,
            to: entry.to,
            files,
            database_url_env: entry.database_url_env,
            database_server: entry.database_server,
        });
    }
    Ok(Fleet {
        path: path.to_owned(),
        apps,
    })
}

/// `deploy/../compose/v8.yml` as `compose/v8.yml`, for the report (no file system access: a
/// symbolic link is not followed).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(normal.components().next_back(), Some(Component::Normal(_))) =>
            {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

fn is_variable_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_')
}

/// The first field (`apps[1].database_url_env`) whose text is a URL with a password in it.
fn password_url(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(text) => has_password(text).then(|| at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| password_url(item, &format!("{at}[{index}]"))),
        Value::Object(entries) => entries.iter().find_map(|(key, item)| {
            let field = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            password_url(item, &field)
        }),
        _ => None,
    }
}

/// Whether `text` holds `scheme://user:password@`.
fn has_password(text: &str) -> bool {
    text.split("://").skip(1).any(|rest| {
        let authority = rest.split(['/', '?', '#', ' ']).next().unwrap_or("");
        authority.rsplit_once('@').is_some_and(|(user_info, _)| {
            user_info
                .split_once(':')
                .is_some_and(|(_, password)| !password.is_empty())
        })
    })
}

/// TOML as JSON values, numbers as their text (versions are written `from = 8` as often as
/// `from = "8"`). A syntax error names its line, not its text, which may hold a secret.
fn toml_value(path: &Path, text: &str) -> Result<Value, FleetError> {
    let document: toml_edit::DocumentMut =
        text.parse().map_err(|error: toml_edit::TomlError| {
            let line = error.span().map_or(1, |span| {
                text[..span.start.min(text.len())].lines().count().max(1)
            });
            FleetError::Syntax {
                path: path.to_owned(),
                line,
                message: error.message().trim().to_owned(),
            }
        })?;
    Ok(toml_table(document.as_table()))
}

fn toml_table(table: &toml_edit::Table) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(key, item)| (key.to_owned(), toml_item(item)))
            .collect::<Map<_, _>>(),
    )
}

fn toml_item(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::None => Value::Null,
        toml_edit::Item::Value(value) => toml_scalar(value),
        toml_edit::Item::Table(table) => toml_table(table),
        toml_edit::Item::ArrayOfTables(tables) => {
            Value::Array(tables.iter().map(toml_table).collect())
        }
    }
}

fn toml_scalar(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(text) => Value::String(text.value().clone()),
        toml_edit::Value::Integer(number) => Value::String(number.value().to_string()),
        toml_edit::Value::Float(number) => Value::String(number.value().to_string()),
        toml_edit::Value::Boolean(flag) => Value::Bool(*flag.value()),
        toml_edit::Value::Datetime(time) => Value::String(time.value().to_string()),
        toml_edit::Value::Array(items) => Value::Array(items.iter().map(toml_scalar).collect()),
        toml_edit::Value::InlineTable(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.to_owned(), toml_scalar(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// YAML as JSON values, scalars as their text.
fn yaml_value(path: &Path, text: &str) -> Result<Value, FleetError> {
    let documents =
        yaml_rust2::YamlLoader::load_from_str(text).map_err(|error| FleetError::Syntax {
            path: path.to_owned(),
            line: error.marker().line(),
            message: error.info().to_owned(),
        })?;
    Ok(documents.first().map_or(Value::Null, yaml_node))
}

fn yaml_node(node: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match node {
        Yaml::String(text) | Yaml::Real(text) => Value::String(text.clone()),
        Yaml::Integer(number) => Value::String(number.to_string()),
        Yaml::Boolean(flag) => Value::Bool(*flag),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_node).collect()),
        Yaml::Hash(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(text) | Yaml::Real(text) => text.clone(),
                        Yaml::Integer(number) => number.to_string(),
                        Yaml::Boolean(flag) => flag.to_string(),
                        _ => String::new(),
                    };
                    (key, yaml_node(value))
                })
                .collect::<Map<_, _>>(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_without_detours() {
        assert_eq!(
            lexically_normal(Path::new("fleet/../compose/v8.yml")),
            PathBuf::from("compose/v8.yml")
        );
        assert_eq!(
            lexically_normal(Path::new("../compose/env")),
            PathBuf::from("../compose/env")
        );
        assert_eq!(lexically_normal(Path::new("./a/b")), PathBuf::from("a/b"));
    }

    #[test]
    fn passwords_in_urls_are_seen() {
        assert!(has_password(
            "postgresql://finance:s3cret@rds.example/finance"
        ));
        assert!(!has_password("postgresql://finance@rds.example/finance"));
        assert!(!has_password("FINANCE_DATABASE_URL"));
        assert!(!has_password("redis://redis:6379/1"));
    }

    #[test]
    fn toml_and_yaml_read_alike() {
        let toml = toml_value(
            Path::new("fleet.toml"),
            "[[apps]]\nname = \"a\"\nfrom = 8\nenv_files = [\"a.env\"]\n",
        )
        .unwrap();
        let yaml = yaml_value(
            Path::new("fleet.yml"),
            "apps:\n  - name: a\n    from: 8\n    env_files: [a.env]\n",
        )
        .unwrap();
        assert_eq!(toml, yaml);
    }
}
