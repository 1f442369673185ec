//! Rendered Kubernetes manifests, as `helm template` or `kubectl get -o yaml` print them: the
//! Redash containers of Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods become
//! roles, PostgreSQL and Redis containers become services. ConfigMaps are read for the values
//! they give; Secrets only for the names of their keys, never for their values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::deployment::{
    normalize_platform, EnvValue, Located, Role, RoleKind, Service, ServiceKind, UpdateStrategy,
};
use super::tree::{self, Node};
use super::{read, InputError, Location};

/// Workload kinds whose pods a manifest of another workload already describes: an object they
/// own is skipped (`kubectl get all` lists a Deployment, its ReplicaSet and its Pods).
const CONTROLLERS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];

/// Redis options worth knowing before an upgrade, as Redis names them; never its passwords.
const REDIS_SETTINGS: &[&str] = &[
    "appendonly",
    "appendfsync",
    "save",
    "maxmemory",
    "maxmemory-policy",
    "dir",
];

/// The roles and services of a manifest file, or of every `*.yaml`, `*.yml` and `*.json` file of
/// a directory (in name order).
pub fn read_manifests(path: &Path) -> Result<(Vec<Role>, Vec<Service>), InputError> {
    let files = if path.is_dir() {
        manifest_files(path)?
    } else {
        vec![path.to_owned()]
    };
    let mut objects = Vec::new();
    for file in &files {
        let text = read(file)?;
        for document in documents(file, &text)? {
            flatten(file, document, &mut objects);
        }
    }
    let sources = Sources::collect(&objects);
    let mut roles = Vec::new();
    let mut services = Vec::new();
    for object in &objects {
        read_workload(object, &objects, &sources, &mut roles, &mut services)?;
    }
    Ok((roles, services))
}

fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InputError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| InputError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        let manifest = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| matches!(extension, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every document of a multi-document YAML file, each parsed with its lines as in the file.
fn documents(path: &Path, text: &str) -> Result<Vec<Node>, InputError> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed.starts_with("---\t") {
            starts.push(offset - line.len());
        }
    }
    starts.push(text.len());
    let mut nodes = Vec::new();
    for pair in starts.windows(2) {
        let chunk = &text[pair[0]..pair[1]];
        let has_content = chunk.lines().any(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#') && line != "---" && line != "..."
        });
        if !has_content {
            continue;
        }
        // Padding keeps the parser's line numbers those of the file.
        let padding = text[..pair[0]].matches('\n').count();
        let padded = format!("{}{chunk}", "\n".repeat(padding));
        match tree::parse(path, &padded)? {
            Node::Null(_) => {}
            node => nodes.push(node),
        }
    }
    Ok(nodes)
}

/// One Kubernetes object and the file it came from.
struct Object {
    file: PathBuf,
    node: Node,
}

impl Object {
    fn kind(&self) -> &str {
        self.node.get("kind").and_then(Node::as_str).unwrap_or("")
    }

    fn name(&self) -> &str {
        self.node
            .get("metadata")
            .and_then(|metadata| metadata.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("")
    }

    fn namespace(&self) -> Option<&str> {
        self.node
            .get("metadata")
            .and_then(|metadata| metadata.get("namespace"))
            .and_then(Node::as_str)
    }

    fn at(&self, line: usize) -> Location {
        Location::new(&self.file, line)
    }
}

/// `kind: List` (and `*List`) objects are opened into their items.
fn flatten(file: &Path, node: Node, objects: &mut Vec<Object>) {
    let kind = node.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind.ends_with("List") {
        if let Some(Node::List(items, _)) = node.get("items") {
            for item in items.clone() {
                flatten(file, item, objects);
            }
        }
        return;
    }
    objects.push(Object {
        file: file.to_owned(),
        node,
    });
}

/// A key of a ConfigMap or Secret: its value only for a ConfigMap.
struct SourceKey {
    value: Option<String>,
    location: Location,
}

/// The ConfigMaps and Secrets of the manifests, by kind, namespace and name.
struct Sources {
    config_maps: Vec<(Option<String>, String, BTreeMap<String, SourceKey>)>,
    secrets: Vec<(Option<String>, String, BTreeMap<String, SourceKey>)>,
}

impl Sources {
    fn collect(objects: &[Object]) -> Sources {
        let mut sources = Sources {
            config_maps: Vec::new(),
            secrets: Vec::new(),
        };
        for object in objects {
            let secret = match object.kind() {
                "ConfigMap" => false,
                "Secret" => true,
                _ => continue,
            };
            let mut keys = BTreeMap::new();
            for section in ["data", "stringData"] {
                for (key, value) in object.node.get(section).map(Node::entries).unwrap_or(&[]) {
                    keys.insert(
                        key.clone(),
                        SourceKey {
                            // A Secret's values are never read into the model.
                            value: if secret {
                                None
                            } else {
                                Some(value.as_str().unwrap_or("").to_owned())
                            },
                            location: object.at(value.line()),
                        },
                    );
                }
            }
            let entry = (
                object.namespace().map(str::to_owned),
                object.name().to_owned(),
                keys,
            );
            if secret {
                sources.secrets.push(entry);
            } else {
                sources.config_maps.push(entry);
            }
        }
        sources
    }

    fn find<'a>(
        list: &'a [(Option<String>, String, BTreeMap<String, SourceKey>)],
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&'a BTreeMap<String, SourceKey>> {
        let mut named = list.iter().filter(|(_, found, _)| found == name).peekable();
        let first = named.peek().copied();
        named
            .find(|(found, _, _)| found.as_deref() == namespace)
            .or(first)
            .map(|(_, _, keys)| keys)
    }

    fn config_map(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&BTreeMap<String, SourceKey>> {
        Self::find(&self.config_maps, namespace, name)
    }

    fn secret(&self, namespace: Option<&str>, name: &str) -> Option<&BTreeMap<String, SourceKey>> {
        Self::find(&self.secrets, namespace, name)
    }
}

fn read_workload(
    object: &Object,
    objects: &[Object],
    sources: &Sources,
    roles: &mut Vec<Role>,
    services: &mut Vec<Service>,
) -> Result<(), InputError> {
    let kind = object.kind();
    if !matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" | "Pod" | "ReplicaSet"
    ) {
        return Ok(());
    }
    let owned = object
        .node
        .get("metadata")
        .and_then(|metadata| metadata.get("ownerReferences"))
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .any(|owner| {
            owner
                .get("kind")
                .and_then(Node::as_str)
                .is_some_and(|kind| CONTROLLERS.contains(&kind))
        });
    if owned {
        return Ok(());
    }
    let spec = object.node.get("spec");
    let pod_spec = match kind {
        "Pod" => spec,
        "CronJob" => spec
            .and_then(|spec| spec.get("jobTemplate"))
            .and_then(|job| job.get("spec"))
            .and_then(|job| job.get("template"))
            .and_then(|template| template.get("spec")),
        _ => spec
            .and_then(|spec| spec.get("template"))
            .and_then(|template| template.get("spec")),
    };
    let Some(pod_spec) = pod_spec else {
        return Err(InputError::Syntax {
            path: object.file.clone(),
            line: object.node.line(),
            message: format!("{kind} {}: no pod template", object.name()),
        });
    };
    let containers = pod_spec.get("containers").map(Node::items).unwrap_or(&[]);
    let replicas = match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            Some(match spec.and_then(|spec| spec.get("replicas")) {
                Some(node) => Located {
                    value: node
                        .as_str()
                        .and_then(|text| text.parse().ok())
                        .ok_or_else(|| InputError::Syntax {
                            path: object.file.clone(),
                            line: node.line(),
                            message: "replicas: expected a whole number".into(),
                        })?,
                    location: object.at(node.line()),
                },
                None => Located {
                    value: 1,
                    location: object.at(object.node.line()),
                },
            })
        }
        _ => None,
    };
    // An autoscaler may run as many copies as its maxReplicas.
    let replicas = match autoscaled(object, objects) {
        Some(maximum)
            if replicas
                .as_ref()
                .is_none_or(|given| maximum.value > given.value) =>
        {
            Some(maximum)
        }
        _ => replicas,
    };
    let copies = replicas.as_ref().map_or(1, |replicas| replicas.value);
    let update_strategy = spec.and_then(|spec| update_strategy(object, kind, spec, copies));
    let platform = pod_platform(object, pod_spec);
    let volume_claims = spec
        .and_then(|spec| spec.get("volumeClaimTemplates"))
        .map(Node::items)
        .unwrap_or(&[]);
    for container in containers {
        let container_name = container.get("name").and_then(Node::as_str).unwrap_or("");
        let name = if containers.len() == 1 || container_name.is_empty() {
            object.name().to_owned()
        } else {
            format!("{}/{container_name}", object.name())
        };
        let image = container.get("image").and_then(|node| {
            Some(Located {
                value: node.as_str()?.to_owned(),
                location: object.at(node.line()),
            })
        });
        let env = container_env(object, sources, container, Some(pod_spec))?;
        if let Some(service_kind) = image.as_ref().and_then(|image| service_kind(&image.value)) {
            services.push(Service {
                name,
                kind: service_kind,
                location: object.at(container.line()),
                storage: storage(
                    object,
                    service_kind,
                    container,
                    pod_spec,
                    volume_claims,
                    &env,
                ),
                settings: match service_kind {
                    ServiceKind::Redis => {
                        redis_settings(object, sources, container, pod_spec, &env)
                    }
                    ServiceKind::Postgres => postgres_settings(&env),
                },
                image,
                app: None,
            });
            continue;
        }
        let (role_kind, command) = redash_command(object, container);
        let is_redash = role_kind != RoleKind::Other
            || image
                .as_ref()
                .is_some_and(|image| image.value.contains("redash/redash"));
        if !is_redash {
            continue;
        }
        let memory_limit_mib = container
            .get("resources")
            .and_then(|resources| resources.get("limits"))
            .and_then(|limits| limits.get("memory"))
            .and_then(|node| {
                Some(Located {
                    value: parse_quantity_mib(node.as_str()?)?,
                    location: object.at(node.line()),
                })
            });
        roles.push(Role {
            name,
            kind: role_kind,
            location: object.at(container.line()),
            command,
            image,
            env,
            replicas: replicas.clone(),
            memory_limit_mib,
            health_check: health_check(object, container),
            ecs: false,
            platform: platform.clone(),
            update_strategy: update_strategy.clone(),
            app: None,
        });
    }
    Ok(())
}

/// The `maxReplicas` of a HorizontalPodAutoscaler whose target is `object`.
fn autoscaled(object: &Object, objects: &[Object]) -> Option<Located<u32>> {
    objects
        .iter()
        .filter(|autoscaler| {
            autoscaler.kind() == "HorizontalPodAutoscaler"
                && autoscaler.namespace() == object.namespace()
        })
        .find_map(|autoscaler| {
            let spec = autoscaler.node.get("spec")?;
            let target = spec.get("scaleTargetRef")?;
            if target.get("kind").and_then(Node::as_str) != Some(object.kind())
                || target.get("name").and_then(Node::as_str) != Some(object.name())
            {
                return None;
            }
            let maximum = spec.get("maxReplicas")?;
            Some(Located {
                value: maximum.as_str()?.parse().ok()?,
                location: autoscaler.at(maximum.line()),
            })
        })
}

/// The words a container runs: `command` (the entrypoint when given) then `args`, with shell
/// scripts (`sh -c '...'`) split into words too.
fn words(container: &Node) -> Vec<String> {
    fields_words(container, &["command", "args"])
}

fn fields_words(container: &Node, fields: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    for field in fields {
        match container.get(field) {
            Some(Node::List(items, _)) => {
                for item in items {
                    if let Some(text) = item.as_str() {
                        words.extend(shell_words(text));
                    }
                }
            }
            Some(Node::Scalar(text, _)) => words.extend(shell_words(text)),
            _ => {}
        }
    }
    words
}

/// The words of a wrapper script: its statements (`;`) split as a shell splits words.
fn shell_words(text: &str) -> Vec<String> {
    text.split(';').flat_map(super::shell_words).collect()
}

/// What Redash role a container runs, by what it runs rather than its name: the argument of
/// Redash's entrypoint (`docker-entrypoint server`), else the first argument (the image's
/// entrypoint takes it), else the first word of its command.
fn redash_command(object: &Object, container: &Node) -> (RoleKind, Option<Located<String>>) {
    let node = container.get("args").or_else(|| container.get("command"));
    let Some(node) = node else {
        return (RoleKind::Other, None);
    };
    let words = words(container);
    let entrypoint = words
        .iter()
        .position(|word| word.ends_with("docker-entrypoint"))
        .map(|index| index + 1);
    // Without the entrypoint in sight, the image's entrypoint takes the first argument.
    let first_argument = container
        .get("args")
        .map(|_| fields_words(container, &["command"]).len());
    let from = entrypoint.or(first_argument).unwrap_or(0);
    let rest = &words[from.min(words.len())..];
    let kind = rest
        .first()
        .map_or(RoleKind::Other, |word| RoleKind::from_command(word));
    let value = if kind != RoleKind::Other || entrypoint.is_some() {
        rest.join(" ")
    } else {
        words.join(" ")
    };
    (
        kind,
        Some(Located {
            value,
            location: object.at(node.line()),
        }),
    )
}

fn container_env(
    object: &Object,
    sources: &Sources,
    container: &Node,
    pod_spec: Option<&Node>,
) -> Result<BTreeMap<String, EnvValue>, InputError> {
    let namespace = object.namespace();
    let mut env = BTreeMap::new();
    let shape = |line: usize, message: &str| InputError::Syntax {
        path: object.file.clone(),
        line,
        message: message.to_owned(),
    };
    // envFrom first, later sources winning; `env` wins over all of them, as in Kubernetes.
    for source in container.get("envFrom").map(Node::items).unwrap_or(&[]) {
        let prefix = source.get("prefix").and_then(Node::as_str).unwrap_or("");
        let (reference, secret) = match (source.get("configMapRef"), source.get("secretRef")) {
            (Some(reference), _) => (reference, false),
            (None, Some(reference)) => (reference, true),
            _ => continue,
        };
        let Some(name) = reference.get("name").and_then(Node::as_str) else {
            return Err(shape(reference.line(), "envFrom reference without a name"));
        };
        let keys = if secret {
            sources.secret(namespace, name)
        } else {
            sources.config_map(namespace, name)
        };
        for (key, found) in keys.into_iter().flatten() {
            env.insert(
                format!("{prefix}{key}"),
                EnvValue {
                    value: if secret { None } else { found.value.clone() },
                    location: found.location.clone(),
                    from_secret_store: secret,
                },
            );
        }
    }
    for variable in container.get("env").map(Node::items).unwrap_or(&[]) {
        let Some(name) = variable.get("name").and_then(Node::as_str) else {
            return Err(shape(variable.line(), "an env entry without a name"));
        };
        let at = object.at(variable.line());
        let value_from = variable.get("valueFrom");
        let entry = if value_from.is_some_and(|from| from.get("secretKeyRef").is_some()) {
            EnvValue {
                value: None,
                location: at,
                from_secret_store: true,
            }
        } else if let Some(reference) = value_from.and_then(|from| from.get("configMapKeyRef")) {
            let found = reference
                .get("name")
                .and_then(Node::as_str)
                .and_then(|map| sources.config_map(namespace, map))
                .zip(reference.get("key").and_then(Node::as_str))
                .and_then(|(keys, key)| keys.get(key));
            match found {
                Some(found) => EnvValue {
                    value: found.value.clone(),
                    location: found.location.clone(),
                    from_secret_store: false,
                },
                None => EnvValue {
                    value: None,
                    location: at,
                    from_secret_store: false,
                },
            }
        } else if value_from.is_some() {
            // fieldRef, resourceFieldRef: set at run time.
            EnvValue {
                value: None,
                location: at,
                from_secret_store: false,
            }
        } else {
            EnvValue {
                value: Some(
                    variable
                        .get("value")
                        .and_then(Node::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
                location: at,
                from_secret_store: false,
            }
        };
        env.insert(name.to_owned(), entry);
    }
    // A shell wrapper (`sh -c 'export REDASH_REDIS_URL=...; exec docker-entrypoint server'`,
    // as the community chart renders it) sets variables the manifest's `env` does not show:
    // they are set, their values built at run time.
    for (name, line) in script_exports(container) {
        env.insert(
            name,
            EnvValue {
                value: None,
                location: object.at(line),
                from_secret_store: false,
            },
        );
    }
    // A script the wrapper sources (`. /config/dynamicenv.sh`, as chart 2.x and 3.0 render
    // it) from a ConfigMap of the manifests: its exports are set too.
    for (name, location) in sourced_exports(object, sources, container, pod_spec) {
        env.insert(
            name,
            EnvValue {
                value: None,
                location,
                from_secret_store: false,
            },
        );
    }
    Ok(env)
}

/// The scripts a container's shell wrapper sources (`. PATH`, `source PATH`).
fn sourced_paths(container: &Node) -> Vec<String> {
    let mut paths = Vec::new();
    for field in ["command", "args"] {
        for item in container.get(field).map(Node::items).unwrap_or(&[]) {
            let Some(text) = item.as_str() else { continue };
            for statement in text.split(['\n', ';', '&', '|']) {
                let mut words = statement.split_whitespace();
                if matches!(words.next(), Some(".") | Some("source")) {
                    if let Some(path) = words.next() {
                        paths.push(path.to_owned());
                    }
                }
            }
        }
    }
    paths
}

/// The `export NAME=` lines of the scripts a container sources from ConfigMaps of the
/// manifests, located at their lines in the ConfigMap.
fn sourced_exports(
    object: &Object,
    sources: &Sources,
    container: &Node,
    pod_spec: Option<&Node>,
) -> Vec<(String, Location)> {
    let mut exports = Vec::new();
    let volumes = pod_spec
        .and_then(|spec| spec.get("volumes"))
        .map(Node::items)
        .unwrap_or(&[]);
    for path in sourced_paths(container) {
        let Some((directory, file)) = path.rsplit_once('/') else {
            continue;
        };
        for mount in container
            .get("volumeMounts")
            .map(Node::items)
            .unwrap_or(&[])
        {
            if mount
                .get("mountPath")
                .and_then(Node::as_str)
                .map(|mounted| mounted.trim_end_matches('/'))
                != Some(directory)
            {
                continue;
            }
            let Some(volume_name) = mount.get("name").and_then(Node::as_str) else {
                continue;
            };
            let config_map = volumes
                .iter()
                .find(|volume| volume.get("name").and_then(Node::as_str) == Some(volume_name))
                .and_then(|volume| volume.get("configMap"))
                .and_then(|config| config.get("name"))
                .and_then(Node::as_str);
            let Some(keys) =
                config_map.and_then(|name| sources.config_map(object.namespace(), name))
            else {
                continue;
            };
            let Some(script) = keys.get(file) else {
                continue;
            };
            for (index, line) in script.value.as_deref().unwrap_or("").lines().enumerate() {
                let Some(assignment) = line.trim().strip_prefix("export ") else {
                    continue;
                };
                let Some((name, _)) = assignment.trim().split_once('=') else {
                    continue;
                };
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|character| character.is_ascii_alphanumeric() || character == '_')
                {
                    exports.push((
                        name.to_owned(),
                        Location {
                            file: script.location.file.clone(),
                            line: script.location.line + index,
                        },
                    ));
                }
            }
        }
    }
    exports
}

/// The variables `export NAME=...` lines of a container's shell script set, and their lines.
fn script_exports(container: &Node) -> Vec<(String, usize)> {
    let mut exports = Vec::new();
    for field in ["command", "args"] {
        for item in container.get(field).map(Node::items).unwrap_or(&[]) {
            let Some(text) = item.as_str() else { continue };
            // A block scalar's line is that of its first line of text.
            let first = item.line();
            for (index, line) in text.lines().enumerate() {
                let Some(assignment) = line.trim().strip_prefix("export ") else {
                    continue;
                };
                let Some((name, _)) = assignment.trim().split_once('=') else {
                    continue;
                };
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|character| character.is_ascii_alphanumeric() || character == '_')
                {
                    exports.push((name.to_owned(), first + index));
                }
            }
        }
    }
    exports
}

/// The container's probes: `exec` commands joined, `httpGet` paths; liveness, readiness and
/// startup probes together, located at the first.
fn health_check(object: &Object, container: &Node) -> Option<Located<String>> {
    let mut described: Vec<String> = Vec::new();
    let mut location = None;
    for field in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = container.get(field) else {
            continue;
        };
        let text = if let Some(command) = probe.get("exec").and_then(|exec| exec.get("command")) {
            command
                .items()
                .iter()
                .filter_map(Node::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        } else if let Some(get) = probe.get("httpGet") {
            get.get("path")
                .and_then(Node::as_str)
                .unwrap_or("/")
                .to_owned()
        } else {
            continue;
        };
        location.get_or_insert_with(|| object.at(probe.line()));
        if !described.contains(&text) {
            described.push(text);
        }
    }
    Some(Located {
        value: described.join("; "),
        location: location?,
    })
}

/// How a deploy replaces the workload's pods.
fn update_strategy(
    object: &Object,
    kind: &str,
    spec: &Node,
    replicas: u32,
) -> Option<Located<UpdateStrategy>> {
    let field = match kind {
        "Deployment" => "strategy",
        "StatefulSet" | "DaemonSet" => "updateStrategy",
        _ => return None,
    };
    let node = spec.get(field);
    let type_node = node.and_then(|node| node.get("type"));
    let strategy_type = type_node.and_then(Node::as_str).unwrap_or("RollingUpdate");
    let location = object.at(type_node.or(node).map_or_else(|| spec.line(), Node::line));
    let surge_node = node
        .and_then(|node| node.get("rollingUpdate"))
        .and_then(|rolling| rolling.get("maxSurge"));
    let surge_text = surge_node.and_then(Node::as_str);
    let strategy = match (kind, strategy_type) {
        ("Deployment", "Recreate") => UpdateStrategy::StopFirst,
        ("Deployment", _) => deployment_rolling_update(surge_text.unwrap_or("25%"), replicas),
        // A StatefulSet replaces its pods one at a time, each stopped before its successor
        // starts; `OnDelete` replaces them as they are deleted.
        ("StatefulSet", _) => UpdateStrategy::StopFirst,
        // A DaemonSet surges only when told to (maxSurge defaults to 0 there).
        ("DaemonSet", "RollingUpdate") => match surge_text {
            Some(surge) if surge_count(surge, 1) > 0 => UpdateStrategy::Overlapping {
                how: format!("RollingUpdate, maxSurge {surge}"),
            },
            _ => UpdateStrategy::StopFirst,
        },
        _ => UpdateStrategy::StopFirst,
    };
    Some(Located {
        value: strategy,
        location,
    })
}

/// A Deployment's RollingUpdate with `max_surge` (`25%`, `1`, `0`) over `replicas` pods.
fn deployment_rolling_update(max_surge: &str, replicas: u32) -> UpdateStrategy {
    let surge = surge_count(max_surge, replicas);
    if surge > 0 {
        UpdateStrategy::Overlapping {
            how: format!("RollingUpdate, maxSurge {}", max_surge.trim()),
        }
    } else if replicas > 1 {
        // No surge, but the old pods that remain run beside the new ones already started.
        UpdateStrategy::Overlapping {
            how: format!("RollingUpdate, maxSurge 0 over {replicas} replicas"),
        }
    } else {
        UpdateStrategy::StopFirst
    }
}

/// How many extra pods `max_surge` allows over `replicas`: a percentage rounds up, as
/// Kubernetes rounds it.
fn surge_count(max_surge: &str, replicas: u32) -> u64 {
    let text = max_surge.trim();
    match text.strip_suffix('%') {
        Some(percent) => {
            let percent: f64 = percent.trim().parse().unwrap_or(0.0);
            (percent * f64::from(replicas.max(1)) / 100.0)
                .ceil()
                .max(0.0) as u64
        }
        None => text.parse().unwrap_or(0),
    }
}

/// Parses a Kubernetes memory quantity (`512Mi`, `2Gi`, `1G`, `1500M`, `134217728`, `1e9`) into
/// whole MiB, rounded down.
pub fn parse_quantity_mib(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|character: char| {
            !(character.is_ascii_digit()
                || character == '.'
                || character == '+'
                || character == '-')
        })
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (number, factor): (f64, f64) = match suffix {
        "" => (number.parse().ok()?, 1.0),
        "Ki" => (number.parse().ok()?, 1024.0),
        "Mi" => (number.parse().ok()?, 1024.0 * 1024.0),
        "Gi" => (number.parse().ok()?, 1024.0_f64.powi(3)),
        "Ti" => (number.parse().ok()?, 1024.0_f64.powi(4)),
        "Pi" => (number.parse().ok()?, 1024.0_f64.powi(5)),
        "Ei" => (number.parse().ok()?, 1024.0_f64.powi(6)),
        "m" => (number.parse().ok()?, 0.001),
        "k" => (number.parse().ok()?, 1e3),
        "M" => (number.parse().ok()?, 1e6),
        "G" => (number.parse().ok()?, 1e9),
        "T" => (number.parse().ok()?, 1e12),
        "P" => (number.parse().ok()?, 1e15),
        "E" => (number.parse().ok()?, 1e18),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().ok()?;
            (number.parse().ok()?, 10f64.powi(power))
        }
        _ => return None,
    };
    if number < 0.0 {
        return None;
    }
    Some((number * factor / (1024.0 * 1024.0)).floor() as u64)
}

/// The pod's CPU architecture, from its node selector or a required node affinity that allows
/// one architecture only.
fn pod_platform(object: &Object, pod_spec: &Node) -> Option<Located<String>> {
    const KEYS: [&str; 2] = ["kubernetes.io/arch", "beta.kubernetes.io/arch"];
    let selector = pod_spec.get("nodeSelector");
    for key in KEYS {
        if let Some(node) = selector.and_then(|selector| selector.get(key)) {
            return Some(Located {
                value: normalize_platform(node.as_str()?)?.to_owned(),
                location: object.at(node.line()),
            });
        }
    }
    let terms = pod_spec
        .get("affinity")?
        .get("nodeAffinity")?
        .get("requiredDuringSchedulingIgnoredDuringExecution")?
        .get("nodeSelectorTerms")?
        .items();
    // Terms are alternatives: every one must pin the same single architecture.
    let mut found: Option<Located<String>> = None;
    for term in terms {
        let expression = term
            .get("matchExpressions")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .find(|expression| {
                expression
                    .get("key")
                    .and_then(Node::as_str)
                    .is_some_and(|key| KEYS.contains(&key))
            })?;
        if expression.get("operator").and_then(Node::as_str) != Some("In") {
            return None;
        }
        let values = expression.get("values")?.items();
        let [value] = values else { return None };
        let platform = normalize_platform(value.as_str()?)?;
        match &found {
            Some(known) if known.value != platform => return None,
            Some(_) => {}
            None => {
                found = Some(Located {
                    value: platform.to_owned(),
                    location: object.at(value.line()),
                })
            }
        }
    }
    found
}

/// PostgreSQL or Redis, by the image's repository name (`postgres:15`, `bitnami/postgresql`,
/// `registry.example.com/mirror/redis:7`, `redis/redis-stack-server`).
fn service_kind(image: &str) -> Option<ServiceKind> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repository = last.split(':').next().unwrap_or(last);
    match repository {
        "postgres" | "postgresql" | "postgis" => Some(ServiceKind::Postgres),
        "redis" | "redis-stack-server" | "redis-stack" => Some(ServiceKind::Redis),
        _ => None,
    }
}

/// What keeps a PostgreSQL's or Redis's data: the volume mounted over its data directory, when
/// it is a volume claim (template) or a host path.
fn storage(
    object: &Object,
    kind: ServiceKind,
    container: &Node,
    pod_spec: &Node,
    volume_claims: &[Node],
    env: &BTreeMap<String, EnvValue>,
) -> Option<Located<String>> {
    let mut data_dirs: Vec<String> = match kind {
        ServiceKind::Postgres => vec![
            "/var/lib/postgresql/data".into(),
            "/bitnami/postgresql/data".into(),
        ],
        ServiceKind::Redis => vec!["/data".into(), "/bitnami/redis/data".into()],
    };
    let variable = match kind {
        ServiceKind::Postgres => "PGDATA",
        ServiceKind::Redis => "REDIS_DATA_DIR",
    };
    if let Some(dir) = env.get(variable).and_then(|value| value.value.clone()) {
        data_dirs.insert(0, dir);
    }
    let words = words(container);
    if let Some(index) = words.iter().position(|word| word == "--dir") {
        if let Some(dir) = words.get(index + 1) {
            data_dirs.insert(0, dir.clone());
        }
    }
    let covers = |mount: &str, dir: &str| {
        let mount = mount.trim_end_matches('/');
        dir == mount || dir.starts_with(&format!("{mount}/"))
    };
    for mount in container
        .get("volumeMounts")
        .map(Node::items)
        .unwrap_or(&[])
    {
        let Some(path) = mount.get("mountPath").and_then(Node::as_str) else {
            continue;
        };
        if !data_dirs.iter().any(|dir| covers(path, dir)) {
            continue;
        }
        let Some(name) = mount.get("name").and_then(Node::as_str) else {
            continue;
        };
        if let Some(claim) = volume_claims.iter().find(|claim| {
            claim
                .get("metadata")
                .and_then(|metadata| metadata.get("name"))
                .and_then(Node::as_str)
                == Some(name)
        }) {
            return Some(Located {
                value: format!("volume claim template {name}"),
                location: object.at(claim.line()),
            });
        }
        let volume = pod_spec
            .get("volumes")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .find(|volume| volume.get("name").and_then(Node::as_str) == Some(name))?;
        if let Some(claim) = volume.get("persistentVolumeClaim") {
            let claim_name = claim
                .get("claimName")
                .and_then(Node::as_str)
                .unwrap_or(name);
            return Some(Located {
                value: format!("persistentVolumeClaim {claim_name}"),
                location: object.at(volume.line()),
            });
        }
        if let Some(host) = volume.get("hostPath") {
            let host_path = host.get("path").and_then(Node::as_str).unwrap_or("");
            return Some(Located {
                value: format!("hostPath {host_path}"),
                location: object.at(volume.line()),
            });
        }
        // emptyDir and the like live and die with the pod.
        return None;
    }
    None
}

/// Redis settings given as `--name value...` options on its command line, and the Bitnami
/// image's `REDIS_AOF_ENABLED`.
fn redis_settings(
    object: &Object,
    sources: &Sources,
    container: &Node,
    pod_spec: &Node,
    env: &BTreeMap<String, EnvValue>,
) -> BTreeMap<String, Located<String>> {
    let mut settings = BTreeMap::new();
    // Config files from mounted ConfigMaps first: the command line overrides them.
    for mount in container
        .get("volumeMounts")
        .map(Node::items)
        .unwrap_or(&[])
    {
        let Some(name) = mount.get("name").and_then(Node::as_str) else {
            continue;
        };
        let config_map = pod_spec
            .get("volumes")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .find(|volume| volume.get("name").and_then(Node::as_str) == Some(name))
            .and_then(|volume| volume.get("configMap"))
            .and_then(|config_map| config_map.get("name"))
            .and_then(Node::as_str)
            .and_then(|config_map| sources.config_map(object.namespace(), config_map));
        let sub_path = mount.get("subPath").and_then(Node::as_str);
        for (key, file) in config_map.into_iter().flatten() {
            if !key.ends_with(".conf") || sub_path.is_some_and(|sub_path| sub_path != key) {
                continue;
            }
            let Some(text) = &file.value else { continue };
            // A block scalar's line is that of its first line of text.
            let first = file.location.line;
            for (index, line) in text.lines().enumerate() {
                let words = shell_words(line);
                let Some((name, values)) = words.split_first() else {
                    continue;
                };
                if name.starts_with('#') || !REDIS_SETTINGS.contains(&name.as_str()) {
                    continue;
                }
                settings.insert(
                    name.clone(),
                    Located {
                        value: values.join(" "),
                        location: Location {
                            file: file.location.file.clone(),
                            line: first + index,
                        },
                    },
                );
            }
        }
    }
    if let Some(value) = env.get("REDIS_AOF_ENABLED") {
        if let Some(text) = &value.value {
            settings.insert(
                "appendonly".to_owned(),
                Located {
                    value: text.clone(),
                    location: value.location.clone(),
                },
            );
        }
    }
    let line = container
        .get("args")
        .or_else(|| container.get("command"))
        .map_or(container.line(), Node::line);
    let words = words(container);
    let mut index = 0;
    while index < words.len() {
        let Some(name) = words[index].strip_prefix("--") else {
            index += 1;
            continue;
        };
        let end = words[index + 1..]
            .iter()
            .position(|word| word.starts_with("--"))
            .map_or(words.len(), |offset| index + 1 + offset);
        if REDIS_SETTINGS.contains(&name) {
            settings.insert(
                name.to_owned(),
                Located {
                    value: words[index + 1..end].join(" "),
                    location: object.at(line),
                },
            );
        }
        index = end;
    }
    settings
}

/// PostgreSQL settings that say where its data lives.
fn postgres_settings(env: &BTreeMap<String, EnvValue>) -> BTreeMap<String, Located<String>> {
    env.get("PGDATA")
        .and_then(|pgdata| {
            Some((
                "PGDATA".to_owned(),
                Located {
                    value: pgdata.value.clone()?,
                    location: pgdata.location.clone(),
                },
            ))
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_quantity_mib("512Mi"), Some(512));
        assert_eq!(parse_quantity_mib("2Gi"), Some(2048));
        assert_eq!(parse_quantity_mib("1G"), Some(953));
        assert_eq!(parse_quantity_mib("1500M"), Some(1430));
        assert_eq!(parse_quantity_mib("134217728"), Some(128));
        assert_eq!(parse_quantity_mib("1e9"), Some(953));
        assert_eq!(parse_quantity_mib("1.5Gi"), Some(1536));
        assert_eq!(
            parse_quantity_mib("512m"),
            Some(0),
            "milli-bytes, a common slip"
        );
        assert_eq!(parse_quantity_mib("lots"), None);
        assert_eq!(parse_quantity_mib("2GB"), None);
    }

    #[test]
    fn deployment_strategies() {
        let overlapping = |how: &str| UpdateStrategy::Overlapping { how: how.into() };
        assert_eq!(
            deployment_rolling_update("25%", 1),
            overlapping("RollingUpdate, maxSurge 25%")
        );
        assert_eq!(
            deployment_rolling_update("1", 1),
            overlapping("RollingUpdate, maxSurge 1")
        );
        assert_eq!(deployment_rolling_update("0", 1), UpdateStrategy::StopFirst);
        assert_eq!(
            deployment_rolling_update("0%", 1),
            UpdateStrategy::StopFirst
        );
        assert_eq!(
            deployment_rolling_update("0", 3),
            overlapping("RollingUpdate, maxSurge 0 over 3 replicas")
        );
        assert_eq!(surge_count("25%", 1), 1);
        assert_eq!(surge_count("25%", 8), 2);
        assert_eq!(surge_count("10%", 0), 1);
    }

    fn strategy_of(manifest: &str) -> Option<UpdateStrategy> {
        let path = Path::new("m.yaml");
        let node = tree::parse(path, manifest).unwrap();
        let object = Object {
            file: path.to_owned(),
            node,
        };
        let spec = object.node.get("spec").unwrap();
        update_strategy(&object, object.kind(), spec, 1).map(|strategy| strategy.value)
    }

    #[test]
    fn strategies_by_workload_kind() {
        assert_eq!(
            strategy_of("kind: Deployment\nspec:\n  strategy:\n    type: Recreate\n"),
            Some(UpdateStrategy::StopFirst)
        );
        assert_eq!(
            strategy_of("kind: Deployment\nspec:\n  replicas: 1\n"),
            Some(UpdateStrategy::Overlapping {
                how: "RollingUpdate, maxSurge 25%".into()
            })
        );
        assert_eq!(
            strategy_of(
                "kind: Deployment\nspec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 1\n"
            ),
            Some(UpdateStrategy::StopFirst)
        );
        assert_eq!(
            strategy_of("kind: StatefulSet\nspec:\n  updateStrategy:\n    type: RollingUpdate\n"),
            Some(UpdateStrategy::StopFirst)
        );
        assert_eq!(strategy_of("kind: Job\nspec:\n  parallelism: 1\n"), None);
    }

    #[test]
    fn documents_keep_their_lines() {
        let text = "# Source: a.yaml\n---\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: b.yaml\nkind: Secret\nmetadata:\n  name: b\n...\n";
        let nodes = documents(Path::new("m.yaml"), text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].get("kind").unwrap().line(), 8);
        let error = documents(Path::new("m.yaml"), "kind: A\n---\nkind: [B\n").unwrap_err();
        assert!(error.to_string().starts_with("m.yaml:"), "{error}");
    }

    #[test]
    fn commands_in_shell_scripts() {
        assert_eq!(
            shell_words("redis-server --save \"\" --appendonly yes"),
            ["redis-server", "--save", "", "--appendonly", "yes"]
        );
        let node = tree::parse(
            Path::new("m.yaml"),
            "args:\n  - /bin/sh\n  - -c\n  - |\n    export A=1\n    exec /app/bin/docker-entrypoint scheduler\n",
        )
        .unwrap();
        let object = Object {
            file: "m.yaml".into(),
            node: Node::Null(0),
        };
        let (kind, command) = redash_command(&object, &node);
        assert_eq!(kind, RoleKind::Scheduler);
        assert_eq!(command.unwrap().value, "scheduler");
        let kind_of = |text: &str| {
            let node = tree::parse(Path::new("m.yaml"), text).unwrap();
            let (kind, command) = redash_command(&object, &node);
            (kind, command.map(|command| command.value))
        };
        assert_eq!(
            kind_of("command: [/app/bin/docker-entrypoint]\nargs: [worker]\n"),
            (RoleKind::Worker, Some("worker".into()))
        );
        assert_eq!(
            kind_of("args: [scheduled_worker]\n"),
            (RoleKind::Worker, Some("scheduled_worker".into()))
        );
        assert_eq!(
            kind_of("command: [/bin/sh, -c, exec /app/bin/docker-entrypoint server]\n"),
            (RoleKind::Server, Some("server".into()))
        );
        assert_eq!(
            kind_of("command: [python, manage.py]\nargs: [server]\n"),
            (RoleKind::Server, Some("server".into()))
        );
        assert_eq!(
            kind_of("command: [bash]\nargs: [-c, sleep infinity]\n"),
            (RoleKind::Other, Some("bash -c sleep infinity".into()))
        );
        assert_eq!(kind_of("image: redash/redash\n"), (RoleKind::Other, None));
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/k8s")
            .join(name)
    }

    #[test]
    fn the_community_chart_rendered() {
        let path = fixture("helm-redash.yaml");
        let (roles, services) = read_manifests(&path).unwrap();
        let summary: Vec<_> = roles
            .iter()
            .map(|role| (role.name.as_str(), role.kind, role.copies()))
            .collect();
        assert_eq!(
            summary,
            [
                ("redash", RoleKind::Server, 1),
                ("redash-scheduler", RoleKind::Scheduler, 1),
                ("redash-adhocworker", RoleKind::Worker, 1),
                ("redash-genericworker", RoleKind::Worker, 1),
                ("redash-scheduledworker", RoleKind::Worker, 1),
                ("redash-migrations", RoleKind::Other, 1),
            ]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let line_of = |location: &Location| text.lines().nth(location.line - 1).unwrap().trim();
        let server = &roles[0];
        assert_eq!(server.command.as_ref().unwrap().value, "server");
        assert_eq!(server.memory_limit_mib.as_ref().unwrap().value, 2048);
        assert_eq!(server.health_check.as_ref().unwrap().value, "/ping");
        let url = server.var("REDASH_REDIS_URL").unwrap();
        assert_eq!(url.value, None);
        assert!(line_of(&url.location).starts_with("export REDASH_REDIS_URL="));
        let secret_key = server.var("REDASH_SECRET_KEY").unwrap();
        assert!(secret_key.from_secret_store && secret_key.value.is_none());
        let mail = server.var("REDASH_MAIL_PASSWORD").unwrap();
        assert!(mail.from_secret_store && mail.value.is_none());
        assert_eq!(roles[2].memory_limit_mib.as_ref().unwrap().value, 1430);
        assert_eq!(
            roles[2].var("QUEUES").unwrap().value.as_deref(),
            Some("queries")
        );
        assert_eq!(
            roles[1].update_strategy.as_ref().unwrap().value,
            UpdateStrategy::StopFirst
        );
        assert_eq!(
            line_of(&roles[1].update_strategy.as_ref().unwrap().location),
            "type: Recreate"
        );

        let postgres = &services[0];
        assert_eq!(postgres.kind, ServiceKind::Postgres);
        assert_eq!(postgres.name, "redash-postgresql");
        assert_eq!(
            postgres.storage.as_ref().unwrap().value,
            "volume claim template data"
        );
        let redis = &services[1];
        assert_eq!(redis.kind, ServiceKind::Redis);
        assert_eq!(
            redis.storage.as_ref().unwrap().value,
            "volume claim template redis-data"
        );
        let appendonly = &redis.settings["appendonly"];
        assert_eq!(appendonly.value, "yes");
        assert_eq!(line_of(&appendonly.location), "appendonly yes");
        assert_eq!(redis.settings["save"].value, "");
        assert_eq!(services.len(), 2);
    }

    #[test]
    fn a_kubectl_list_and_its_services() {
        let (roles, services) = read_manifests(&fixture("kubectl-list.yaml")).unwrap();
        let names: Vec<_> = roles.iter().map(|role| role.name.as_str()).collect();
        assert_eq!(
            names,
            ["redash-server", "redash-scheduler", "redash-worker"]
        );
        let server = &roles[0];
        assert_eq!(server.copies(), 2);
        // envFrom a ConfigMap: its values; a configMapKeyRef: the key's value.
        let host = server.var("REDASH_HOST").unwrap();
        assert_eq!(host.value.as_deref(), Some("https://redash.example.com"));
        assert!(!host.from_secret_store);
        assert_eq!(
            server.var("REDASH_LOG_LEVEL").unwrap().value.as_deref(),
            Some("INFO")
        );
        // envFrom a Secret: its key names only.
        let url = server.var("REDASH_DATABASE_URL").unwrap();
        assert!(url.from_secret_store && url.value.is_none());
        let summary: Vec<_> = services
            .iter()
            .map(|service| {
                (
                    service.name.as_str(),
                    service.kind,
                    service
                        .storage
                        .as_ref()
                        .map(|storage| storage.value.as_str()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "postgres",
                    ServiceKind::Postgres,
                    Some("persistentVolumeClaim redash-pg")
                ),
                ("redis", ServiceKind::Redis, None),
            ]
        );
        let redis = &services[1].settings;
        assert_eq!(redis["maxmemory-policy"].value, "allkeys-lru");
        assert_eq!(redis["maxmemory"].value, "256mb");
    }

    #[test]
    fn a_json_list_as_kubectl_prints_it() {
        let dir = std::env::temp_dir().join(format!("k8s-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.json");
        std::fs::write(
            &path,
            r#"{
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "scheduler"},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "template": {"spec": {"containers": [
                    {"name": "scheduler", "image": "redash/redash:10.1.0.b50633",
                     "args": ["scheduler"]}
                ]}}
            }
        }
    ]
}
"#,
        )
        .unwrap();
        let (roles, _) = read_manifests(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].kind, RoleKind::Scheduler);
        assert_eq!(roles[0].location.line, 13);
        assert_eq!(
            roles[0].update_strategy.as_ref().unwrap().value,
            UpdateStrategy::StopFirst
        );
    }

    #[test]
    fn script_exports_have_their_lines() {
        let node = tree::parse(
            Path::new("m.yaml"),
            "args:\n  - -c\n  - |\n    export A=1\n    exec x\n",
        )
        .unwrap();
        assert_eq!(script_exports(&node), [("A".to_owned(), 4)]);
    }
}
