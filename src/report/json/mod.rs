//! JSON for scripts: one pretty-printed object per run, tagged with `"type"`. The contracts are
//! in README.md; fields may be added, none renamed or removed.

pub(crate) mod check;
mod detect;
mod plan;

use std::io::Write;

use serde_json::Value;

use super::{snapshot, Document, Format, ReportError, Reporter};

pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn format(&self) -> Format {
        Format::Json
    }

    fn write(&self, out: &mut dyn Write, document: &Document<'_>) -> Result<(), ReportError> {
        let value: Value = match document {
            Document::Plan(plan) => plan::plan_json(plan),
            Document::Releases(knowledge) => plan::releases_json(knowledge),
            Document::Detection(detection) => detect::detection_json(detection),
            Document::Check(report) => check::findings_json(report),
            Document::Snapshot(summary) => snapshot::snapshot_json(summary),
            Document::SnapshotCheck(check) => snapshot::snapshot_check_json(check),
            Document::Restore(outcome) => snapshot::restore_json(outcome),
            Document::Verify(report) => snapshot::verify_json(report),
            other => return Err(self.unsupported(other)),
        };
        serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
        Ok(())
    }
}
