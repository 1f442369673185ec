//! Progress bars: drawn on stderr for a person watching a terminal, never in CI or when stderr
//! is redirected. The engine decides and hands a [`Progress`] to long work; checks never build
//! their own.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where long work reports how far it got.
#[derive(Clone, Default)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Draws nothing.
    pub fn hidden() -> Progress {
        Progress { bars: None }
    }

    /// Draws on stderr.
    pub fn on_stderr() -> Progress {
        Progress {
            bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// [`Progress::on_stderr`] when [`progress_wanted`], else [`Progress::hidden`].
    pub fn for_this_process() -> Progress {
        if progress_wanted() {
            Progress::on_stderr()
        } else {
            Progress::hidden()
        }
    }

    /// A line of the run's log on stderr, always (above the bars while they are drawn): long
    /// commands say which step they are at, in CI logs too.
    pub fn log(&self, line: &str) {
        use std::io::Write as _;
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    /// A bar counting `unit`s done out of `total`, with the time it has run (`--wait-drained`).
    pub fn counter(&self, total: u64, unit: &str) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::hidden();
        };
        let bar = bars.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{bar:30}} {{pos}}/{{len}} {unit} done, {{msg}} ({{elapsed}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }

    /// A bar counting the rows of `what`, out of `estimate` when known.
    pub fn rows(&self, what: &str, estimate: Option<u64>) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::hidden();
        };
        let bar = bars.add(ProgressBar::new(estimate.unwrap_or(0)));
        bar.set_message(what.to_owned());
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} rows")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }
}

/// Whether to draw progress bars on stderr: only for a person watching a terminal, never in CI
/// (where the bar's redraws fill the log) and never when stderr is redirected.
pub fn show_progress(stderr_is_terminal: bool, in_ci: bool) -> bool {
    stderr_is_terminal && !in_ci
}

/// [`show_progress`] for this process.
pub fn progress_wanted() -> bool {
    use std::io::IsTerminal;
    show_progress(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some_and(|value| !value.is_empty() && value != "false"),
    )
}

#[cfg(test)]
mod progress_tests {
    #[test]
    fn bars_only_on_a_terminal_outside_ci() {
        assert!(super::show_progress(true, false));
        assert!(!super::show_progress(true, true));
        assert!(!super::show_progress(false, false));
    }
}
