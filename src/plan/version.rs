//! Turning what an operator types (`7`, `v7`, `7.0`, `9-beta`, `latest`) into a known release.

use semver::Version;

use super::PlanError;
use crate::knowledge::KnowledgeBase;

/// A release picked from the operator's input, and how it was picked when that is not obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVersion {
    pub input: String,
    pub version: Version,
    /// Set when the input named a line or `latest` rather than one release.
    pub resolution: Option<String>,
}

struct Pattern {
    numbers: Vec<u64>,
    pre: Option<String>,
}

fn parse_pattern(input: &str) -> Option<Pattern> {
    let text = input.trim().to_ascii_lowercase();
    let text = text.strip_prefix('v').unwrap_or(&text);
    let (numeric, pre) = match text.split_once('-') {
        Some((numeric, pre)) if !pre.is_empty() => (numeric, Some(pre.to_owned())),
        Some(_) => return None,
        None => (text, None),
    };
    let numbers: Option<Vec<u64>> = numeric.split('.').map(|part| part.parse().ok()).collect();
    let numbers = numbers?;
    if numbers.is_empty() || numbers.len() > 3 {
        return None;
    }
    Some(Pattern { numbers, pre })
}

fn matches(pattern: &Pattern, version: &Version) -> bool {
    let parts = [version.major, version.minor, version.patch];
    let numbers_match = pattern
        .numbers
        .iter()
        .zip(parts)
        .all(|(wanted, actual)| *wanted == actual);
    let pre_matches = match &pattern.pre {
        Some(pre) => version.pre.as_str() == pre,
        // A full x.y.z names a release exactly; a shorter prefix names a line.
        None => pattern.numbers.len() < 3 || version.pre.is_empty(),
    };
    numbers_match && pre_matches
}

/// Resolves `input`, given for the command-line option `option`.
pub fn resolve(
    knowledge: &KnowledgeBase,
    input: &str,
    option: &'static str,
) -> Result<ResolvedVersion, PlanError> {
    if input.trim().eq_ignore_ascii_case("latest") {
        let latest = knowledge.latest().version.clone();
        return Ok(ResolvedVersion {
            input: input.to_owned(),
            resolution: Some(format!(
                "{option} latest means {latest}, the newest known release"
            )),
            version: latest,
        });
    }
    let pattern = parse_pattern(input).ok_or_else(|| PlanError::MalformedVersion {
        option,
        input: input.to_owned(),
    })?;
    let candidates: Vec<&Version> = knowledge
        .releases
        .iter()
        .map(|release| &release.version)
        .filter(|version| matches(&pattern, version))
        .collect();
    // Prefer the newest final release of the line; a line with only pre-releases gives its newest.
    let chosen = candidates
        .iter()
        .rev()
        .find(|version| version.pre.is_empty())
        .or_else(|| candidates.last())
        .copied()
        .ok_or_else(|| PlanError::UnknownVersion {
            option,
            input: input.to_owned(),
            known: known_list(knowledge),
        })?;
    let exact = pattern.numbers.len() == 3;
    let resolution = (!exact).then(|| {
        let line = pattern
            .numbers
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let which = if candidates.len() == 1 {
            "the only"
        } else {
            "the newest"
        };
        let pre = if chosen.pre.is_empty() {
            ""
        } else {
            " (a pre-release)"
        };
        format!(
            "{option} {} means {chosen}, {which} {line}.x release{pre}",
            input.trim()
        )
    });
    Ok(ResolvedVersion {
        input: input.to_owned(),
        version: chosen.clone(),
        resolution,
    })
}

pub(super) fn known_list(knowledge: &KnowledgeBase) -> String {
    knowledge
        .releases
        .iter()
        .map(|release| release.version.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
