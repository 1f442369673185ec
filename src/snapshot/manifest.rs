//! The manifest beside a dump: what the database held at the instant the dump was taken, and
//! the size and SHA-256 of every file of the snapshot. Its contract is documented in README.md
//! ("Snapshots"); fields may be added, none renamed.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::canonical::{hex, parse_digest, ColumnKind, RowDigest};
use super::SnapshotError;
use crate::detect::DriftBaseline;

/// The `"type"` of a manifest.
pub const KIND: &str = "redash-upgrade-snapshot";
/// The manifest's file name in a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The SHA-256 of `manifest.json`, so that a changed byte in the manifest itself is found too.
pub const MANIFEST_SUM_FILE: &str = "manifest.json.sha256";
/// What the name of a snapshot directory still being written contains.
pub const PARTIAL_MARK: &str = ".partial-";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "type")]
    pub kind: String,
    pub format_version: u32,
    /// The tool that wrote it.
    pub tool_version: String,
    /// When the dump's instant was taken (UTC, RFC 3339).
    pub taken_at: String,
    pub source: Source,
    pub alembic: Alembic,
    pub release: ReleaseAtSnapshot,
    pub dump: Dump,
    /// Every file of the snapshot but the manifest and its sum, with its size and SHA-256.
    pub files: Vec<FileEntry>,
    /// Every table of the schema, by name.
    pub tables: Vec<TableManifest>,
}

/// The database the snapshot was taken from (the password never recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The URL, password masked.
    pub database_url: String,
    pub database: String,
    pub server_version: String,
    pub server_version_num: i32,
    /// `pg_control_system()`: tells one cluster from every other, and a restored copy from its
    /// origin (a restore into another cluster has another identifier).
    pub system_identifier: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alembic {
    /// The revisions in `alembic_version` (empty when it has none).
    pub revisions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseAtSnapshot {
    /// The releases the database matched (`detect`); several when it cannot tell them apart.
    pub candidates: Vec<Version>,
    /// Extra tables, columns, indexes, constraints and triggers the database had beyond the
    /// release's schema: a later `verify` expects them still there and nothing else new.
    pub drift: DriftBaseline,
    /// The other differences from the release's schema (missing objects, changed columns), one
    /// line each: a later `verify` does not count them again.
    pub other_drift: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    /// `custom` (one file) or `directory` (one directory, for `--jobs`).
    pub format: String,
    /// The file or directory, relative to the snapshot directory.
    pub path: String,
    /// `pg_dump --version`.
    pub pg_dump_version: String,
    pub jobs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableManifest {
    pub name: String,
    pub rows: u64,
    /// The table's content: SHA-256 of its row count and the sum of every row's digest (all
    /// columns, canonical form); see [`super::canonical::ContentSum`].
    pub content_sha256: String,
    /// Columns sorted by name, with their type and how they are hashed.
    pub columns: Vec<ColumnManifest>,
    /// Empty for a table without one.
    pub primary_key: Vec<String>,
    /// Per-row digests, for the tables that hold what users made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_digests: Option<RowDigests>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnManifest {
    pub name: String,
    #[serde(rename = "type")]
    pub sql_type: String,
    pub kind: ColumnKind,
}

/// Where a table's per-row digests are, and what each holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDigests {
    /// `rows/<table>.tsv`: a header line, then one line per row sorted by key: the key, the
    /// digest of the `stable` columns, then one digest per `separate` column.
    pub path: String,
    /// Columns no migration of any later release touches, hashed together.
    pub stable: Vec<String>,
    /// Columns some later migration adds, drops, retypes or rewrites, hashed one by one so that
    /// `verify` can compare each as the hops in between allow.
    pub separate: Vec<String>,
}

impl Manifest {
    pub fn table(&self, name: &str) -> Option<&TableManifest> {
        self.tables.iter().find(|table| table.name == name)
    }
}

impl TableManifest {
    pub fn column(&self, name: &str) -> Option<&ColumnManifest> {
        self.columns.iter().find(|column| column.name == name)
    }
}

/// One row's record in a rows file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRecord {
    pub stable: RowDigest,
    pub separate: Vec<RowDigest>,
}

/// The rows file's text: header, then rows sorted by key (numerically when keys are numbers).
pub fn rows_file_text(digests: &RowDigests, rows: &mut [(String, RowRecord)]) -> String {
    sort_keys(rows);
    let mut text = String::with_capacity(rows.len() * (40 + 33 * (1 + digests.separate.len())));
    text.push_str("#key\tstable");
    for column in &digests.separate {
        text.push('\t');
        text.push_str(column);
    }
    text.push('\n');
    for (key, record) in rows.iter() {
        text.push_str(key);
        text.push('\t');
        text.push_str(&hex(&record.stable));
        for digest in &record.separate {
            text.push('\t');
            text.push_str(&hex(digest));
        }
        text.push('\n');
    }
    text
}

/// Sorts by key, numerically when both keys are integers.
pub fn sort_keys<T>(rows: &mut [(String, T)]) {
    rows.sort_by(|left, right| compare_keys(&left.0, &right.0));
}

pub fn compare_keys(left: &str, right: &str) -> std::cmp::Ordering {
    match (left.parse::<i64>(), right.parse::<i64>()) {
        (Ok(left), Ok(right)) => left.cmp(&right),
        _ => left.cmp(right),
    }
}

/// Reads a rows file written by [`rows_file_text`].
pub fn read_rows_file(
    path: &Path,
    digests: &RowDigests,
) -> Result<BTreeMap<String, RowRecord>, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let malformed = |line: usize, why: &str| SnapshotError::Malformed {
        path: path.to_owned(),
        line,
        why: why.to_owned(),
    };
    let mut rows = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    let expected_header = {
        let mut header = "#key\tstable".to_owned();
        for column in &digests.separate {
            header.push('\t');
            header.push_str(column);
        }
        header
    };
    match lines.next() {
        Some((_, header)) if header == expected_header => {}
        _ => return Err(malformed(1, "the header does not match the manifest")),
    }
    for (index, line) in lines {
        let mut fields = line.split('\t');
        let key = fields.next().unwrap_or_default().to_owned();
        let digest = |field: Option<&str>| field.and_then(parse_digest);
        let stable = digest(fields.next()).ok_or_else(|| malformed(index + 1, "bad digest"))?;
        let mut separate = Vec::with_capacity(digests.separate.len());
        for _ in &digests.separate {
            separate.push(digest(fields.next()).ok_or_else(|| malformed(index + 1, "bad digest"))?);
        }
        if fields.next().is_some() {
            return Err(malformed(index + 1, "more fields than the header"));
        }
        if rows.insert(key, RowRecord { stable, separate }).is_some() {
            return Err(malformed(index + 1, "a key listed twice"));
        }
    }
    Ok(rows)
}

/// The size and SHA-256 of a file, read in blocks.
pub fn file_entry(root: &Path, relative: &str) -> Result<FileEntry, SnapshotError> {
    let path = root.join(relative);
    let io = |source| SnapshotError::Io {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok(FileEntry {
        path: relative.to_owned(),
        bytes,
        sha256: hex(hasher.finalize().as_slice()),
    })
}

/// What `snapshot verify` found wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProblem {
    pub path: String,
    pub problem: String,
}

/// Reads and checks a snapshot directory: not one still being written, a manifest whose sum
/// matches, and every file it lists there with its size and SHA-256. Returns the manifest and
/// the problems with the files (the manifest's own problems are errors).
pub fn open(directory: &Path) -> Result<(Manifest, Vec<FileProblem>), SnapshotError> {
    let name = directory
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains(PARTIAL_MARK) {
        return Err(SnapshotError::Unfinished(directory.to_owned()));
    }
    if !directory.is_dir() {
        return Err(SnapshotError::NotASnapshot {
            path: directory.to_owned(),
            why: "no such directory".into(),
        });
    }
    let manifest_path = directory.join(MANIFEST_FILE);
    let bytes = std::fs::read(&manifest_path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SnapshotError::NotASnapshot {
                path: directory.to_owned(),
                why: format!("it has no {MANIFEST_FILE}"),
            }
        } else {
            SnapshotError::Io {
                path: manifest_path.clone(),
                source,
            }
        }
    })?;
    let sum_path = directory.join(MANIFEST_SUM_FILE);
    let recorded = std::fs::read_to_string(&sum_path).map_err(|source| SnapshotError::Io {
        path: sum_path.clone(),
        source,
    })?;
    let actual = hex(Sha256::digest(&bytes).as_slice());
    if recorded.split_whitespace().next() != Some(actual.as_str()) {
        return Err(SnapshotError::ManifestChanged(manifest_path));
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|error| SnapshotError::Malformed {
            path: manifest_path.clone(),
            line: error.line(),
            why: error.to_string(),
        })?;
    if manifest.kind != KIND {
        return Err(SnapshotError::Malformed {
            path: manifest_path,
            line: 1,
            why: format!("\"type\" is not \"{KIND}\""),
        });
    }
    let mut problems = Vec::new();
    for entry in &manifest.files {
        if entry.path.contains("..") || entry.path.starts_with('/') {
            problems.push(FileProblem {
                path: entry.path.clone(),
                problem: "names a file outside the snapshot".into(),
            });
            continue;
        }
        match file_entry(directory, &entry.path) {
            Err(SnapshotError::Io { source, .. }) => problems.push(FileProblem {
                path: entry.path.clone(),
                problem: format!("cannot be read: {source}"),
            }),
            Err(other) => return Err(other),
            Ok(found) if found.bytes != entry.bytes => problems.push(FileProblem {
                path: entry.path.clone(),
                problem: format!("{} bytes, the manifest says {}", found.bytes, entry.bytes),
            }),
            Ok(found) if found.sha256 != entry.sha256 => problems.push(FileProblem {
                path: entry.path.clone(),
                problem: "its SHA-256 differs from the manifest's: the file changed".into(),
            }),
            Ok(_) => {}
        }
    }
    Ok((manifest, problems))
}

/// Where the snapshot's files are written until it is complete: beside `out`, under a name
/// that says so.
pub fn partial_directory(out: &Path) -> PathBuf {
    let parent = out
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    // The pid alone repeats: in a container every run may be pid 1.
    parent.join(format!(
        ".{name}{PARTIAL_MARK}{}-{nanos:08x}",
        std::process::id()
    ))
}
