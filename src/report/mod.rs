//! How results leave the tool: one reporter per format (text, Markdown, JSON, SARIF) shared by
//! every command, exit codes, colour policy, text layout and progress bars.

pub mod archive;
pub(crate) mod describe;
pub mod exit;
pub mod inventory;
mod json;
mod markdown;
mod progress;
pub mod rehearsal;
mod sarif;
pub mod smoke;
pub mod snapshot;
pub mod status;
mod text;

use std::io::Write;

use crate::checks::{CheckMeta, CheckReport};
use crate::detect::Detection;
use crate::knowledge::KnowledgeBase;
use crate::plan::UpgradePlan;

pub use progress::{progress_wanted, show_progress, Progress};

/// What a command hands to a reporter.
pub enum Document<'a> {
    Plan(&'a UpgradePlan<'a>),
    Releases(&'a KnowledgeBase),
    Detection(&'a Detection),
    Check(&'a CheckReport),
    /// The registry, as `redash-upgrade checks` lists it.
    CheckList,
    /// One check's documentation, as `redash-upgrade explain CODE` prints it.
    Explain(&'static CheckMeta),
    Snapshot(&'a crate::snapshot::SnapshotSummary),
    SnapshotCheck(&'a snapshot::SnapshotCheck),
    Restore(&'a crate::snapshot::RestoreOutcome),
    Verify(&'a crate::verify::VerifyReport),
}

impl Document<'_> {
    /// The `"type"` of the document in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Plan(_) => "plan",
            Document::Releases(_) => "releases",
            Document::Detection(_) => "detect",
            Document::Check(_) => "check",
            Document::CheckList => "checks",
            Document::Explain(_) => "explain",
            Document::Snapshot(_) => "snapshot",
            Document::SnapshotCheck(_) => "snapshot-verify",
            Document::Restore(_) => "restore",
            Document::Verify(_) => "verify",
        }
    }
}

/// An output format. Each command offers the formats that suit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable on an 80-column terminal.
    Text,
    /// A checklist for the change ticket.
    Markdown,
    /// The documented JSON contracts; every document carries `"type"`.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Sarif => "sarif",
        }
    }
}

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("--format {format} is not available for {document}")]
    Unsupported {
        format: &'static str,
        document: &'static str,
    },
    #[error("failed to write the output")]
    Io(#[from] std::io::Error),
}

/// Writes documents in one format.
pub trait Reporter {
    fn format(&self) -> Format;
    /// Writes `document` to `out`, or says it is not offered in this format.
    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError>;

    fn unsupported(&self, document: &Document<'_>) -> ReportError {
        ReportError::Unsupported {
            format: self.format().name(),
            document: document.kind(),
        }
    }
}

/// The reporter of `format`.
pub fn reporter(format: Format) -> &'static dyn Reporter {
    match format {
        Format::Text => &text::TextReporter,
        Format::Markdown => &markdown::MarkdownReporter,
        Format::Json => &json::JsonReporter,
        Format::Sarif => &sarif::SarifReporter,
    }
}

/// Renders `document` whole before anything is written, so a failure never leaves half a
/// report on stdout.
pub fn render(format: Format, document: &Document<'_>) -> Result<Vec<u8>, ReportError> {
    let mut rendered = Vec::new();
    reporter(format).write(&mut rendered, document)?;
    Ok(rendered)
}

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
