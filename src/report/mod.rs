//! How results leave the tool: exit codes, colour policy and text layout.

pub mod exit;

/// `--color`: whether output carries ANSI styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn to_anstream(self) -> anstream::ColorChoice {
        match self {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        }
    }
}

/// The width text output is wrapped to, so it reads on an 80-column terminal.
pub const TEXT_WIDTH: usize = 80;

/// Word-wraps `text` to `width` columns: the first line starts with `first`, the others with
/// `rest`. A word longer than a line stays whole.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut line_has_word = false;
    for word in text.split_whitespace() {
        let fits =
            line.chars().count() + usize::from(line_has_word) + word.chars().count() <= width;
        if line_has_word && !fits {
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            line_has_word = false;
        }
        if line_has_word {
            line.push(' ');
        }
        line.push_str(word);
        line_has_word = true;
    }
    lines.push(line);
    lines
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
