//! `alembic-stamp-problem`: the database's alembic stamp cannot be trusted to plan from.

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::LiveDatabase;
use crate::detect::{Basis, StampState};

pub struct AlembicStampProblem;

static META: CheckMeta = CheckMeta {
    code: "alembic-stamp-problem",
    severity: Severity::Error,
    trigger: Trigger::OncePerPlan,
    effect: Some(Effect::Aborts),
    summary: "alembic_version is missing, empty, doubled, unknown or contradicted by the schema",
    what: "Runs the same detection as `redash-upgrade detect`: reads alembic_version and compares \
           the schema with every release's, and reports a stamp that is missing, empty, has \
           several rows, names a revision no release ships or no release's head, or disagrees \
           with the schema.",
    why: "`manage.py db upgrade` applies the revisions between the stamp and the new head. A \
          wrong stamp makes it re-run migrations that already ran (and fail on existing columns) \
          or skip ones that never ran (and leave the schema behind the code).",
    fix: "Find out what the schema really is (`redash-upgrade detect`), then set the stamp to \
          that release's head with `manage.py db stamp REVISION` on a snapshot-backed copy first.",
    references: &[
        "v10.1.0:migrations/env.py",
        "v10.1.0:redash/cli/database.py",
    ],
};

#[async_trait::async_trait]
impl DatabaseCheck for AlembicStampProblem {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    async fn run(
        &self,
        _hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let detection = database.detection();
        let stamp = detection.stamp_revisions.join(", ");
        let problem = match detection.stamp_state {
            StampState::Missing => Some("the database has no alembic_version table".to_owned()),
            StampState::Empty => Some("alembic_version is empty".to_owned()),
            StampState::Multiple => Some(format!("alembic_version has several rows ({stamp})")),
            StampState::Unknown => Some(format!("the stamp {stamp} is no revision of any known release")),
            StampState::Ok => match (&detection.revision_shipped_in, &detection.disagreement) {
                (Some(release), _) => Some(format!(
                    "the stamp {stamp} ships with {release} but is no release's head (an upgrade stopped part-way)"
                )),
                (None, Some(disagreement)) => Some(format!(
                    "the stamp {stamp} disagrees with the schema, which matches {} (the schema is {} of the stamp)",
                    disagreement
                        .schema_matches
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    disagreement.direction
                )),
                (None, None) if detection.basis == Basis::Schema => {
                    Some(format!("the stamp {stamp} could not be used"))
                }
                (None, None) => None,
            },
        };
        Ok(problem
            .into_iter()
            .map(|message| Report {
                severity: None,
                effect: None,
                message,
                location: None,
                help: "Run `redash-upgrade detect` and fix the stamp before any hop.".into(),
            })
            .collect())
    }
}
