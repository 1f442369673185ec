//! Renderers of a plan: readable text, an on-call Markdown checklist, and JSON.

mod json;
mod markdown;
mod text;

pub use json::{plan_json, releases_json};
pub use markdown::plan_markdown;
pub use text::{plan_text, releases_text};

use super::hop::{EnvChange, HIDDEN_DEFAULT};

pub use crate::report::{wrap, TEXT_WIDTH};

pub(crate) fn fixed_in_text(bug: &crate::knowledge::model::KnownBug) -> String {
    match &bug.fixed_in {
        Some(version) => format!("fixed in {version}"),
        None => "not fixed upstream".to_owned(),
    }
}

pub(crate) fn shown_default(default: &Option<String>, secret: bool) -> String {
    match default {
        Some(_) if secret => HIDDEN_DEFAULT.to_owned(),
        Some(value) if value.is_empty() => "empty".to_owned(),
        Some(value) => value.clone(),
        None => "none".to_owned(),
    }
}

/// Lines describing the environment changes, the same in text and Markdown: one per removal,
/// rename and default change, and one list of the added names (their defaults are in the JSON).
pub(crate) fn describe_env_changes(changes: &[EnvChange]) -> Vec<String> {
    let added: Vec<&str> = changes
        .iter()
        .filter(|change| matches!(change, EnvChange::Added { .. }))
        .map(EnvChange::name)
        .collect();
    let mut lines: Vec<String> = changes
        .iter()
        .filter(|change| !matches!(change, EnvChange::Added { .. }))
        .map(describe_env_change)
        .collect();
    if !added.is_empty() {
        lines.push(format!("added ({}): {}", added.len(), added.join(", ")));
    }
    lines
}

/// One line describing an environment change.
pub(crate) fn describe_env_change(change: &EnvChange) -> String {
    match change {
        EnvChange::Added {
            name,
            default,
            secret,
            ..
        } => format!(
            "added {name} (default: {})",
            shown_default(default, *secret)
        ),
        EnvChange::Removed { name, .. } => format!("removed {name}: no longer read"),
        EnvChange::DefaultChanged {
            name,
            old,
            new,
            secret,
            ..
        } => match new {
            None => format!(
                "{name}: default removed (was {}), so it must now be set",
                shown_default(old, *secret)
            ),
            Some(_) if *secret => format!("{name}: default changed (values not shown)"),
            Some(_) => format!(
                "{name}: default {} -> {}",
                shown_default(old, *secret),
                shown_default(new, *secret)
            ),
        },
        EnvChange::Renamed {
            from,
            to,
            old_name_still_read,
            ..
        } => {
            let still = if *old_name_still_read {
                "the old name is still read as a fallback"
            } else {
                "the old name is ignored"
            };
            format!("renamed {from} -> {to} ({still})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_lines_within_width_and_indents_continuations() {
        let lines = wrap("one two three four five six", 12, "- ", "  ");
        assert_eq!(lines, vec!["- one two", "  three four", "  five six"]);
    }

    #[test]
    fn wrap_leaves_an_overlong_word_whole() {
        let lines = wrap("a averyveryverylongword b", 10, "", "");
        assert_eq!(lines, vec!["a", "averyveryverylongword", "b"]);
    }
}
