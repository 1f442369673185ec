//! Wording shared by the text and Markdown reports of a plan.

use crate::knowledge::model::Release;
use crate::plan::{EnvChange, HopPlan, Platform, UpgradePlan, HIDDEN_DEFAULT};

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

/// Lines describing the environment changes the operator must act on, the same in text and
/// Markdown: one per removal, rename and default change.
pub(crate) fn describe_env_to_act_on(hop: &HopPlan<'_>) -> Vec<String> {
    hop.env_to_act_on()
        .into_iter()
        .map(describe_env_change)
        .collect()
}

/// The heading of the added variables (how many, optional), and the rule that flags some of
/// them when it flags any.
pub(crate) fn env_added_title(hop: &HopPlan<'_>) -> (String, Option<String>) {
    let added = hop.env_added();
    let flagged = added
        .iter()
        .filter(|change| change.wanted().is_some())
        .count();
    let title = format!("Added variables ({}, optional)", added.len());
    let rule = (flagged > 0).then(|| {
        format!(
            "{FLAG}: a variable that turns on something {} lacks, as env-vars.json records it (its `wanted` field); coming from {} you most likely want it.",
            hop.from.version, hop.from.version
        )
    });
    (title, rule)
}

/// One line per added variable, flagged ones first: its default, what it does and, when
/// flagged, what the older release lacks.
pub(crate) fn describe_env_added(hop: &HopPlan<'_>) -> Vec<String> {
    hop.env_added()
        .into_iter()
        .map(|change| {
            let mut line = match change {
                EnvChange::Added {
                    name,
                    default,
                    secret,
                    ..
                } => format!("{name} (default: {})", shown_default(default, *secret)),
                other => describe_env_change(other),
            };
            if let Some(meaning) = change.meaning() {
                line.push_str(&format!(": {meaning}"));
            }
            if let Some(wanted) = change.wanted() {
                line = format!("{FLAG} {line}. {}", wanted.text);
            }
            line
        })
        .collect()
}

/// Marks an added variable an operator of the older release most likely wants.
pub(crate) const FLAG: &str = "[most likely wanted]";

/// The image of a release as the plan names it: its tag, or that the tag is unconfirmed (the
/// knowledge base's note says why; it does not mean there is no official image).
pub(crate) fn image_text(release: &Release) -> String {
    match &release.image.tag {
        Some(tag) => tag.clone(),
        None => format!("{} tag unconfirmed", release.version),
    }
}

/// How a step written for one kind of deployment is marked when the plan is not fitted to one.
pub(crate) fn platform_label(platform: Platform) -> String {
    format!("{} only", platform.name())
}

/// What the plan was fitted to, in one sentence.
pub(crate) fn deployment_text(plan: &UpgradePlan<'_>) -> String {
    match &plan.deployment {
        None => "none given; steps marked \"compose only\" or \"ECS only\" apply to that kind of deployment (give --compose or --ecs-task-def to fit them)".to_owned(),
        Some(fit) => {
            let files = fit.inputs.join(", ");
            match fit.platform {
                Some(_) => format!("{} ({files}); the steps are written for it", fit.describe()),
                None => format!(
                    "{} ({files}); steps marked \"compose only\" or \"ECS only\" apply to that kind of deployment",
                    fit.describe()
                ),
            }
        }
    }
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

/// The memory figures of a release in one paragraph: the host minimum, each measured role's
/// model of its idle need (as the `memory-insufficient` check applies it), and the note.
pub(crate) fn memory_figures_text(figures: &crate::knowledge::model::MemoryFigures) -> String {
    let mut parts = Vec::new();
    if let Some(host) = figures.host_minimum_mib {
        parts.push(format!("host at least {host} MiB"));
    }
    let roles: Vec<String> = figures
        .roles()
        .map(|(role, memory)| format!("{role} {}", memory.describe()))
        .collect();
    if !roles.is_empty() {
        parts.push(format!("idle need of one container: {}", roles.join("; ")));
    }
    format!("{}. {}", parts.join("; "), figures.note)
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

/// `[analytics] ` before a finding of one app among several; empty otherwise.
pub(crate) fn app_tag(finding: &crate::checks::Finding) -> String {
    finding
        .app
        .as_ref()
        .map(|app| format!("[{app}] "))
        .unwrap_or_default()
}

/// `512 B`, `130.0 KiB`, `42.9 MiB`.
pub(crate) fn byte_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list<T: AsRef<str>>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
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
