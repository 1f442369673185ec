//! Text for a terminal: 80 columns, styled with ANSI codes that the caller's stream strips when
//! colour is off (not a terminal, NO_COLOR, `--color never`).

pub(crate) mod check;
mod detect;
mod plan;

use std::io::Write;

use super::{snapshot, Document, Format, ReportError, Reporter};

pub struct TextReporter;

impl Reporter for TextReporter {
    fn format(&self) -> Format {
        Format::Text
    }

    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError> {
        match document {
            Document::Plan(plan) => plan::plan_text(out, plan)?,
            Document::Releases(knowledge) => plan::releases_text(out, knowledge)?,
            Document::Detection(detection) => detect::detection_text(out, detection)?,
            Document::Check(report) => check::findings_text(out, report)?,
            Document::CheckList => check::checks_text(out)?,
            Document::Explain(meta) => check::explain_text(out, meta)?,
            Document::Snapshot(summary) => {
                snapshot::write_text(out, &snapshot::snapshot_outline(summary))?
            }
            Document::SnapshotCheck(check) => {
                snapshot::write_text(out, &snapshot::snapshot_check_outline(check))?
            }
            Document::Restore(outcome) => {
                snapshot::write_text(out, &snapshot::restore_outline(outcome))?
            }
            Document::Verify(report) => {
                snapshot::write_text(out, &snapshot::verify_outline(report))?
            }
        }
        Ok(())
    }
}
