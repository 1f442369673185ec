//! Markdown for a change ticket: checklists an on-call engineer ticks off.

mod check;
mod plan;

use std::io::Write;

use super::{snapshot, Document, Format, ReportError, Reporter};

pub struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn format(&self) -> Format {
        Format::Markdown
    }

    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError> {
        match document {
            Document::Plan(plan) => plan::plan_markdown(out, plan)?,
            Document::Check(report) => check::findings_markdown(out, report)?,
            Document::Restore(outcome) => {
                snapshot::write_markdown(out, &snapshot::restore_outline(outcome))?
            }
            Document::Verify(report) => {
                snapshot::write_markdown(out, &snapshot::verify_outline(report))?
            }
            other => return Err(self.unsupported(other)),
        }
        Ok(())
    }
}
