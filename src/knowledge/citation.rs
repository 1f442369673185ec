//! Citations of upstream files in the knowledge base, and what makes one wrong.
//!
//! A citation is `TAG:path[:line[-line]]` in getredash/redash, `setup@SHA:path[:line[-line]]`
//! in getredash/setup or `helm@TAG:path[:line[-line]]` in getredash/contrib-helm-chart (whose
//! tags, `v2.4.0` or `redash-4.0.1`, would otherwise read as Redash's), as a whole `source` or written inside a sentence. The maintainer harness
//! `verify-citations` (src/bin/verify-citations.rs) reads the cited files from git and asks
//! [`problem`] whether each citation holds; nothing here touches git, so the rules are tested
//! on their own.

use serde::Serialize;
use serde_json::Value;

use super::KnowledgeBase;

/// The repository a citation points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream<'a> {
    /// getredash/redash at a release tag (`v25.1.0`).
    Redash { tag: &'a str },
    /// getredash/setup at a commit (`39abe4e`).
    Setup { commit: &'a str },
    /// getredash/contrib-helm-chart at a tag (`v2.4.0`, `redash-4.0.1`).
    HelmChart { tag: &'a str },
}

impl Upstream<'_> {
    /// The revision as git names it.
    pub fn revision(&self) -> &str {
        match self {
            Upstream::Redash { tag } => tag,
            Upstream::Setup { commit } => commit,
            Upstream::HelmChart { tag } => tag,
        }
    }
}

/// One parsed citation: a file at a revision, optionally lines of it (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Citation<'a> {
    pub upstream: Upstream<'a>,
    pub path: &'a str,
    pub lines: Option<(usize, usize)>,
}

impl<'a> Citation<'a> {
    /// Parses `v25.1.0:redash/settings/__init__.py:129`, `...:129-134`, `v25.1.0:Dockerfile` or
    /// `setup@39abe4e:setup.sh:58`; `None` for URLs and any other text.
    pub fn parse(text: &'a str) -> Option<Citation<'a>> {
        let (reference, rest) = text.split_once(':')?;
        let upstream = if let Some(commit) = reference.strip_prefix("setup@") {
            if commit.len() < 7 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            Upstream::Setup { commit }
        } else if let Some(tag) = reference.strip_prefix("helm@") {
            if tag.is_empty() || tag.contains(char::is_whitespace) {
                return None;
            }
            Upstream::HelmChart { tag }
        } else {
            let version = reference.strip_prefix('v')?;
            if !version.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            Upstream::Redash { tag: reference }
        };
        if rest.is_empty() || rest.starts_with("//") || rest.contains(char::is_whitespace) {
            return None;
        }
        let (path, lines) = match rest.rsplit_once(':') {
            Some((path, suffix)) => match parse_lines(suffix) {
                Some(lines) => (path, Some(lines)),
                None => return None,
            },
            None => (rest, None),
        };
        if path.is_empty() {
            return None;
        }
        Some(Citation {
            upstream,
            path,
            lines,
        })
    }
}

fn parse_lines(suffix: &str) -> Option<(usize, usize)> {
    let number = |text: &str| {
        (!text.is_empty() && text.chars().all(|c| c.is_ascii_digit()))
            .then(|| text.parse::<usize>().ok())
            .flatten()
    };
    match suffix.split_once('-') {
        Some((first, last)) => Some((number(first)?, number(last)?)),
        None => number(suffix).map(|line| (line, line)),
    }
}

/// What the cited revision holds at the cited path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    File(String),
    Directory,
    Missing,
}

/// Why a citation does not hold, or `None` when it does: the file must exist at the revision,
/// cited lines must exist in it (1-based, first <= last), and lines cited in an alembic
/// migration must reach past its header (docstring, imports, revision identifiers) into code.
pub fn problem(citation: &Citation<'_>, found: &Found) -> Option<String> {
    let revision = citation.upstream.revision();
    let text = match found {
        Found::Missing => {
            return Some(format!("no {} at {revision}", citation.path));
        }
        Found::Directory if citation.lines.is_some() => {
            return Some(format!(
                "{} is a directory at {revision}; lines name a file",
                citation.path
            ));
        }
        Found::Directory => return None,
        Found::File(text) => text,
    };
    let (first, last) = citation.lines?;
    let count = text.lines().count();
    if first == 0 || last < first {
        return Some(format!("{first}-{last} is not a range of lines"));
    }
    if last > count {
        return Some(format!(
            "line {last} is past the end of {} at {revision} ({count} lines)",
            citation.path
        ));
    }
    if is_migration(citation) {
        let header = text
            .lines()
            .enumerate()
            .filter(|(_, line)| is_revision_identifier(line))
            .map(|(index, _)| index + 1)
            .last();
        if let Some(header) = header {
            if last <= header {
                return Some(format!(
                    "line {last} is in the migration's header (docstring, imports and revision identifiers end at line {header}), not in its code"
                ));
            }
        }
    }
    None
}

/// `revision = '...'`, `down_revision = ...`, `branch_labels = ...`, `depends_on = ...`: the
/// module-level identifiers that end an alembic migration's header.
fn is_revision_identifier(line: &str) -> bool {
    ["revision", "down_revision", "branch_labels", "depends_on"]
        .iter()
        .any(|name| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
}

fn is_migration(citation: &Citation<'_>) -> bool {
    matches!(citation.upstream, Upstream::Redash { .. })
        && citation.path.starts_with("migrations/versions/")
        && citation.path.ends_with(".py")
}

/// A citation found in the knowledge base: the file it is in, where in that file, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cited {
    pub file: String,
    /// The field, as a JSON path (`env[12].source`); `(in text)` when the citation is written
    /// inside a sentence rather than being the whole value.
    pub place: String,
    pub text: String,
}

/// Every citation in the knowledge base, as a whole value or inside a sentence, in file order.
pub fn citations(knowledge: &KnowledgeBase) -> Vec<Cited> {
    let mut found = Vec::new();
    let mut walk = |file: String, value: Value| walk(&file, "", &value, &mut found);
    for release in &knowledge.releases {
        walk(
            format!("upgrade-paths/releases/{}.json", release.version),
            to_value(release),
        );
    }
    for transition in &knowledge.transitions {
        walk(
            format!(
                "upgrade-paths/hops/{}-{}.json",
                transition.from, transition.to
            ),
            to_value(transition),
        );
    }
    for schema in &knowledge.schemas {
        let first = schema
            .releases
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        walk(
            format!("upgrade-paths/schemas/{first}.json"),
            to_value(schema),
        );
    }
    walk(
        "upgrade-paths/known-bugs.json".into(),
        to_value(&knowledge.known_bugs),
    );
    walk(
        "upgrade-paths/env-vars.json".into(),
        to_value(&knowledge.env_catalog),
    );
    walk(
        "upgrade-paths/policy.json".into(),
        to_value(&knowledge.policy),
    );
    walk(
        "upgrade-paths/helm-chart.json".into(),
        to_value(&knowledge.helm_chart),
    );
    found
}

fn to_value(data: &impl Serialize) -> Value {
    serde_json::to_value(data).expect("knowledge types serialise")
}

fn walk(file: &str, place: &str, value: &Value, found: &mut Vec<Cited>) {
    match value {
        Value::String(text) => {
            let mut push = |place: String, text: &str| {
                found.push(Cited {
                    file: file.to_owned(),
                    place,
                    text: text.to_owned(),
                })
            };
            if Citation::parse(text).is_some() {
                push(place.to_owned(), text);
            } else {
                for token in text.split_whitespace() {
                    let token = token
                        .trim_start_matches(|c: char| "([\"'".contains(c))
                        .trim_end_matches(|c: char| ")],;:.\"'".contains(c));
                    if Citation::parse(token).is_some() {
                        push(format!("{place} (in text)"), token);
                    }
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(file, &format!("{place}[{index}]"), item, found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let place = if place.is_empty() {
                    key.clone()
                } else {
                    format!("{place}.{key}")
                };
                walk(file, &place, item, found);
            }
        }
        _ => {}
    }
}
