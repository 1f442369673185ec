//! Reading `upgrade-paths/`, from the copy embedded at build time or from a directory.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use serde::de::DeserializeOwned;

use super::helm_chart::HelmChart;
use super::model::{EnvCatalog, KnownBugs, PathPolicy, Release, Transition};
use super::schema::ReleaseSchema;
use super::{KnowledgeBase, KnowledgeError};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/upgrade-paths");

/// One data file: its path as shown in messages, and its text.
#[derive(Debug, Clone)]
pub struct DataFile {
    pub path: PathBuf,
    pub text: String,
}

/// Where the knowledge base is read from.
#[derive(Debug, Clone)]
pub enum Origin {
    Embedded,
    Directory(PathBuf),
}

impl Origin {
    /// Every `.json` file of the knowledge base, sorted by path.
    pub fn files(&self) -> Result<Vec<DataFile>, KnowledgeError> {
        let mut files = match self {
            Origin::Embedded => embedded_files(),
            Origin::Directory(root) => directory_files(root)?,
        };
        files.sort_by(|left, right| left.path.cmp(&right.path));
        Ok(files)
    }
}

fn embedded_files() -> Vec<DataFile> {
    fn walk(dir: &Dir<'static>, into: &mut Vec<DataFile>) {
        for file in dir.files() {
            if file.path().extension().is_some_and(|ext| ext == "json") {
                into.push(DataFile {
                    path: Path::new("upgrade-paths").join(file.path()),
                    text: file.contents_utf8().unwrap_or_default().to_owned(),
                });
            }
        }
        for sub in dir.dirs() {
            walk(sub, into);
        }
    }
    let mut files = Vec::new();
    walk(&EMBEDDED, &mut files);
    files
}

fn directory_files(root: &Path) -> Result<Vec<DataFile>, KnowledgeError> {
    fn walk(dir: &Path, into: &mut Vec<DataFile>) -> Result<(), KnowledgeError> {
        let entries = std::fs::read_dir(dir).map_err(|source| KnowledgeError::Read {
            path: dir.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| KnowledgeError::Read {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if path.is_dir() {
                walk(&path, into)?;
            } else if path.extension().is_some_and(|ext| ext == "json") {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| KnowledgeError::Read {
                        path: path.clone(),
                        source,
                    })?;
                into.push(DataFile { path, text });
            }
        }
        Ok(())
    }
    if !root.is_dir() {
        return Err(KnowledgeError::NotADirectory {
            path: root.to_owned(),
        });
    }
    let mut files = Vec::new();
    walk(root, &mut files)?;
    Ok(files)
}

/// Which kind of data a file holds, by its place in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Release,
    Transition,
    KnownBugs,
    EnvCatalog,
    Policy,
    Schema,
    HelmChart,
}

impl FileKind {
    pub fn of(path: &Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?;
        let parent = path
            .parent()
            .and_then(|parent| parent.file_name())
            .and_then(|parent| parent.to_str());
        match (parent, name) {
            (Some("releases"), _) => Some(FileKind::Release),
            (Some("hops"), _) => Some(FileKind::Transition),
            (Some("schemas"), _) => Some(FileKind::Schema),
            (_, "known-bugs.json") => Some(FileKind::KnownBugs),
            (_, "env-vars.json") => Some(FileKind::EnvCatalog),
            (_, "policy.json") => Some(FileKind::Policy),
            (_, "helm-chart.json") => Some(FileKind::HelmChart),
            _ => None,
        }
    }
}

pub(super) fn parse<T: DeserializeOwned>(file: &DataFile) -> Result<T, KnowledgeError> {
    serde_json::from_str(&file.text).map_err(|error| KnowledgeError::Parse {
        path: file.path.clone(),
        line: error.line(),
        column: error.column(),
        message: strip_position(&error.to_string()),
    })
}

/// serde_json appends " at line L column C"; the error names the position itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

pub(super) fn assemble(files: &[DataFile]) -> Result<KnowledgeBase, KnowledgeError> {
    let mut releases: Vec<Release> = Vec::new();
    let mut transitions: Vec<Transition> = Vec::new();
    let mut schemas: Vec<ReleaseSchema> = Vec::new();
    let mut known_bugs = None;
    let mut env_catalog = None;
    let mut policy = None;
    let mut helm_chart = None;
    for file in files {
        match FileKind::of(&file.path) {
            Some(FileKind::Release) => releases.push(parse(file)?),
            Some(FileKind::Transition) => transitions.push(parse(file)?),
            Some(FileKind::Schema) => schemas.push(parse(file)?),
            Some(FileKind::KnownBugs) => known_bugs = Some(parse::<KnownBugs>(file)?),
            Some(FileKind::EnvCatalog) => env_catalog = Some(parse::<EnvCatalog>(file)?),
            Some(FileKind::Policy) => policy = Some(parse::<PathPolicy>(file)?),
            Some(FileKind::HelmChart) => helm_chart = Some(parse::<HelmChart>(file)?),
            None => {
                return Err(KnowledgeError::UnexpectedFile {
                    path: file.path.clone(),
                })
            }
        }
    }
    releases.sort_by(|left, right| left.version.cmp(&right.version));
    transitions.sort_by(|left, right| left.from.cmp(&right.from));
    schemas.sort_by(|left, right| left.releases.first().cmp(&right.releases.first()));
    Ok(KnowledgeBase {
        releases,
        transitions,
        schemas,
        known_bugs: known_bugs.ok_or(KnowledgeError::MissingFile {
            name: "known-bugs.json",
        })?,
        env_catalog: env_catalog.ok_or(KnowledgeError::MissingFile {
            name: "env-vars.json",
        })?,
        policy: policy.ok_or(KnowledgeError::MissingFile {
            name: "policy.json",
        })?,
        helm_chart: helm_chart.ok_or(KnowledgeError::MissingFile {
            name: "helm-chart.json",
        })?,
    })
}

/// The file's data written back in the one form the repository keeps: parsed into its type and
/// serialised again, so a reordered, misspelled or hand-formatted file shows up as a difference.
pub fn canonical_form(file: &DataFile) -> Result<String, KnowledgeError> {
    fn again<T: DeserializeOwned + serde::Serialize>(
        file: &DataFile,
    ) -> Result<String, KnowledgeError> {
        let value: T = parse(file)?;
        let mut text = serde_json::to_string_pretty(&value).expect("knowledge types serialise");
        text.push('\n');
        Ok(text)
    }
    match FileKind::of(&file.path) {
        Some(FileKind::Release) => again::<Release>(file),
        Some(FileKind::Transition) => again::<Transition>(file),
        Some(FileKind::KnownBugs) => again::<KnownBugs>(file),
        Some(FileKind::EnvCatalog) => again::<EnvCatalog>(file),
        Some(FileKind::Policy) => again::<PathPolicy>(file),
        Some(FileKind::Schema) => again::<ReleaseSchema>(file),
        Some(FileKind::HelmChart) => again::<HelmChart>(file),
        None => Err(KnowledgeError::UnexpectedFile {
            path: file.path.clone(),
        }),
    }
}
