//! Markdown for a change ticket: checklists an on-call engineer ticks off.

mod check;
mod plan;

use std::io::Write;

use super::{Document, Format, ReportError, Reporter};

pub struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn format(&self) -> Format {
        Format::Markdown
    }

    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError> {
        match document {
            Document::Plan(plan) => plan::plan_markdown(out, plan)?,
            Document::Check(report) => check::findings_markdown(out, report)?,
            other => return Err(self.unsupported(other)),
        }
        Ok(())
    }
}
