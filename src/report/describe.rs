//! Wording shared by the text and Markdown reports of a plan.

use crate::plan::{EnvChange, HIDDEN_DEFAULT};

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

/// The memory figures of a release in one sentence.
pub(crate) fn memory_figures_text(figures: &crate::knowledge::model::MemoryFigures) -> String {
    let mut parts = Vec::new();
    if let Some(host) = figures.host_minimum_mib {
        parts.push(format!("host at least {host} MiB"));
    }
    if let Some(server) = figures.server_mib {
        parts.push(format!("server about {server} MiB"));
    }
    if let Some(worker) = figures.worker_process_mib {
        parts.push(format!("about {worker} MiB per worker process"));
    }
    if let Some(scheduler) = figures.scheduler_mib {
        parts.push(format!("scheduler about {scheduler} MiB"));
    }
    format!("{}. {}", parts.join(", "), figures.note)
}

/// `2 error(s), 7 warning(s), 0 note(s)`, and how many checks could not run when some could not.
pub(crate) fn summary_line(report: &crate::checks::CheckReport) -> String {
    use crate::checks::Severity;
    let mut line = format!(
        "{} error(s), {} warning(s), {} note(s)",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info) - report.not_run()
    );
    if report.not_run() > 0 {
        line.push_str(&format!(
            "; {} check(s) could not run (--require-all makes that a failure)",
            report.not_run()
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use crate::report::wrap;

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
