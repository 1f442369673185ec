//! How a hop's migrations are run: `docker run` of the hop's image, `docker compose run` of the
//! operator's service with the hop's image, or any command (`exec`). The database URL and the
//! secrets reach the command through its environment only: a command line is visible to every
//! user of the host (`ps`) and ends up in logs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncReadExt as _;

/// The variables passed through to the migration when set in this environment: the
/// migrations that encrypt data-source and destination options read the secret key.
pub const SECRET_VARIABLES: [&str; 2] = ["REDASH_SECRET_KEY", "REDASH_COOKIE_SECRET"];

/// Lines of the runner's output kept in the report.
const OUTPUT_LINES_KEPT: usize = 40;

#[derive(Debug, Clone)]
pub enum Runner {
    /// `docker run --rm` of the hop's image.
    Docker { network: Option<String> },
    /// `docker compose run --rm --no-deps` of the operator's service, its image set to the
    /// hop's by an override file of ours.
    Compose {
        files: Vec<PathBuf>,
        project: Option<String>,
        service: String,
    },
    /// Any command, through `sh -c`, with the placeholders filled in.
    Exec { template: String },
}

/// What a hop's migration needs to know.
#[derive(Debug, Clone)]
pub struct HopCommand {
    pub index: usize,
    pub from: String,
    pub to: String,
    pub image: Option<String>,
    pub from_head: String,
    pub to_head: String,
    /// The release's own migration command (`manage db upgrade`).
    pub migrate: String,
    /// A name for the container, so that a resumed run can remove one left running.
    pub container: String,
}

/// A command ready to run, and how it is shown (the same: no secret is ever on it).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rendered {
    pub program: String,
    pub args: Vec<String>,
    /// The variables the command gets from the environment (names only).
    pub environment: Vec<String>,
    /// Files the command needs, written before it runs (the compose override).
    pub files: Vec<(PathBuf, String)>,
}

impl Rendered {
    pub fn shown(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_word)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{runner} runner: the knowledge base confirms no image for {release}; use --runner exec with an image you trust")]
    NoImage {
        runner: &'static str,
        release: String,
    },
    #[error("--exec: {0}")]
    Template(String),
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A word as a POSIX shell reads it back unchanged.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_./:=@,+%".contains(character))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

impl Runner {
    pub fn name(&self) -> &'static str {
        match self {
            Runner::Docker { .. } => "docker",
            Runner::Compose { .. } => "compose",
            Runner::Exec { .. } => "exec",
        }
    }

    /// What the runner is, for the journal and the report.
    pub fn describe(&self) -> String {
        match self {
            Runner::Docker { network: None } => "docker".into(),
            Runner::Docker {
                network: Some(network),
            } => format!("docker (network {network})"),
            Runner::Compose {
                files,
                project,
                service,
            } => format!(
                "compose: service {service} of {}{}",
                files
                    .iter()
                    .map(|file| file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                project
                    .as_ref()
                    .map(|project| format!(" (project {project})"))
                    .unwrap_or_default()
            ),
            Runner::Exec { template } => format!("exec: {template}"),
        }
    }

    /// Checks an exec template before anything runs: its placeholders are known, and it does
    /// not carry the database URL itself.
    pub fn validate(&self) -> Result<(), RunnerError> {
        let Runner::Exec { template } = self else {
            return Ok(());
        };
        if template.trim().is_empty() {
            return Err(RunnerError::Template("the command is empty".into()));
        }
        let mut rest = template.as_str();
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                break;
            };
            let name = &after[..end];
            if !PLACEHOLDERS.contains(&name)
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(RunnerError::Template(format!(
                    "unknown placeholder {{{name}}} (known: {})",
                    PLACEHOLDERS
                        .iter()
                        .map(|known| format!("{{{known}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
            rest = &after[end + 1..];
        }
        if template.contains("postgres://") || template.contains("postgresql://") {
            return Err(RunnerError::Template(
                "the command holds a database URL: the runner gets it as REDASH_DATABASE_URL in its environment".into(),
            ));
        }
        Ok(())
    }

    /// The command for `hop`, the database URL and `passed` variables in its environment.
    pub fn render(
        &self,
        hop: &HopCommand,
        passed: &[String],
        work: &Path,
    ) -> Result<Rendered, RunnerError> {
        let mut environment = vec!["REDASH_DATABASE_URL".to_owned()];
        environment.extend(passed.iter().cloned());
        let migrate: Vec<String> = hop.migrate.split_whitespace().map(str::to_owned).collect();
        let image = |runner: &'static str| {
            hop.image.clone().ok_or_else(|| RunnerError::NoImage {
                runner,
                release: hop.to.clone(),
            })
        };
        match self {
            Runner::Docker { network } => {
                let mut args = vec![
                    "run".to_owned(),
                    "--rm".into(),
                    "--name".into(),
                    hop.container.clone(),
                ];
                if let Some(network) = network {
                    args.extend(["--network".into(), network.clone()]);
                }
                for name in &environment {
                    args.extend(["--env".into(), name.clone()]);
                }
                args.push(image("docker")?);
                args.extend(migrate);
                Ok(Rendered {
                    program: "docker".into(),
                    args,
                    environment,
                    files: Vec::new(),
                })
            }
            Runner::Compose {
                files,
                project,
                service,
            } => {
                let image = image("compose")?;
                let override_path = work.join(format!("hop-{}-compose.override.yml", hop.index));
                let override_text = format!(
                    "# Written by redash-upgrade rehearse: the hop to {} runs the image of that release.\nservices:\n  {service}:\n    image: {image}\n",
                    hop.to
                );
                let mut args = vec!["compose".to_owned()];
                if let Some(project) = project {
                    args.extend(["--project-name".into(), project.clone()]);
                }
                for file in files {
                    args.extend(["--file".into(), file.display().to_string()]);
                }
                args.extend([
                    "--file".into(),
                    override_path.display().to_string(),
                    "run".into(),
                    "--rm".into(),
                    "--no-deps".into(),
                    "--name".into(),
                    hop.container.clone(),
                ]);
                for name in &environment {
                    args.extend(["--env".into(), name.clone()]);
                }
                args.push(service.clone());
                args.extend(migrate);
                Ok(Rendered {
                    program: "docker".into(),
                    args,
                    environment,
                    files: vec![(override_path, override_text)],
                })
            }
            Runner::Exec { template } => {
                let mut command = template.clone();
                for (name, value) in [
                    ("from", Some(hop.from.clone())),
                    ("to", Some(hop.to.clone())),
                    ("from_head", Some(hop.from_head.clone())),
                    ("to_head", Some(hop.to_head.clone())),
                    ("image", hop.image.clone()),
                ] {
                    let placeholder = format!("{{{name}}}");
                    if command.contains(&placeholder) {
                        let value = value.ok_or_else(|| RunnerError::NoImage {
                            runner: "exec",
                            release: hop.to.clone(),
                        })?;
                        command = command.replace(&placeholder, &shell_word(&value));
                    }
                }
                Ok(Rendered {
                    program: "sh".into(),
                    args: vec!["-c".into(), command],
                    environment,
                    files: Vec::new(),
                })
            }
        }
    }

    /// The command that removes a container a killed run left behind, if the runner makes one.
    pub fn cleanup(&self, hop: &HopCommand) -> Option<Rendered> {
        match self {
            Runner::Docker { .. } | Runner::Compose { .. } => Some(Rendered {
                program: "docker".into(),
                args: vec!["rm".into(), "--force".into(), hop.container.clone()],
                environment: Vec::new(),
                files: Vec::new(),
            }),
            Runner::Exec { .. } => None,
        }
    }
}

const PLACEHOLDERS: [&str; 5] = ["from", "to", "image", "from_head", "to_head"];

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit_code: Option<i32>,
    /// The last lines of stdout and stderr together, secrets masked.
    pub output_tail: Vec<String>,
    pub duration: Duration,
}

/// Masks every secret value in `text`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut masked = text.to_owned();
    let mut secrets: Vec<&String> = secrets.iter().filter(|secret| secret.len() >= 4).collect();
    // The longest first: a URL holds its password.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    for secret in secrets {
        masked = masked.replace(secret.as_str(), "***");
    }
    masked
}

/// Runs `rendered` with `environment` added to ours, writing its output (masked) to `log`.
/// `started` is told the child's process group as soon as it runs, so that a resumed run can
/// stop one a killed run left behind.
pub async fn run(
    rendered: &Rendered,
    environment: &[(String, String)],
    secrets: &[String],
    log: &Path,
    started: impl FnOnce(u32),
) -> Result<RunOutcome, RunnerError> {
    for (path, text) in &rendered.files {
        crate::rehearse::journal::write_atomically(path, text.as_bytes()).map_err(|source| {
            RunnerError::Write {
                path: path.clone(),
                source,
            }
        })?;
    }
    let began = std::time::Instant::now();
    let mut command = tokio::process::Command::new(&rendered.program);
    command
        .args(&rendered.args)
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    {
        command.process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; the child dies with us, so no migration goes on
        // unwatched after a kill.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().map_err(|source| RunnerError::Spawn {
        program: rendered.program.clone(),
        source,
    })?;
    if let Some(pid) = child.id() {
        started(pid);
    }
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (_, _, status) = tokio::join!(
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err),
        child.wait()
    );
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if !err.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(&err));
    }
    let text = mask(&text, secrets);
    let _ = crate::rehearse::journal::write_atomically(log, text.as_bytes());
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let output_tail = lines[lines.len().saturating_sub(OUTPUT_LINES_KEPT)..].to_vec();
    Ok(RunOutcome {
        exit_code: status.ok().and_then(|status| status.code()),
        output_tail,
        duration: began.elapsed(),
    })
}

/// Stops a process group a killed run left behind (the journal recorded it), and waits for it
/// to be gone: its migration must not go on while the copy is rolled back.
#[cfg(unix)]
pub fn stop_leftover(process_group: u32) {
    let group = -(process_group as i32);
    // SAFETY: kill with a negative pid signals a process group; no memory is involved.
    unsafe {
        if libc::kill(group, 0) != 0 {
            return;
        }
        libc::kill(group, libc::SIGKILL);
    }
    for _ in 0..100 {
        // SAFETY: as above.
        if unsafe { libc::kill(group, 0) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(not(unix))]
pub fn stop_leftover(_process_group: u32) {}
