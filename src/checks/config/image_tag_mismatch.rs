//! `image-tag-mismatch`: a role's image is not the hop's source release, or is not pinned.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::deployment::Located;

pub struct ImageTagMismatch;

static META: CheckMeta = CheckMeta {
    code: "image-tag-mismatch",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "an image tag that is unpinned or not the release the hop starts from",
    what: "Reads each role's image. `latest` or no tag is reported; a Redash image whose tag does \
           not name the hop's starting release is reported on the first hop.",
    why: "The plan assumes the deployment runs the release it starts from: an image that is \
          already newer has run (or will run) migrations out of order, and `latest` changes under \
          you at the next pull or task restart, which can start an unplanned hop.",
    fix: "Pin every role to the official tag of the release you run now (see `redash-upgrade \
          releases`), and change it only as each hop says.",
    references: &["https://hub.docker.com/r/redash/redash/tags"],
};

impl ConfigCheck for ImageTagMismatch {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        // A shared compose block gives many roles one image line: one finding per line.
        let mut images: Vec<(&Located<String>, Vec<&str>)> = Vec::new();
        for role in hop.deployment.running_roles() {
            let Some(image) = &role.image else { continue };
            match images.iter_mut().find(|(seen, _)| *seen == image) {
                Some((_, roles)) => roles.push(&role.name),
                None => images.push((image, vec![&role.name])),
            }
        }
        let official = hop.plan.from.image.tag.as_deref();
        let mut reports = Vec::new();
        for (image, roles) in images {
            let who = format!(
                "{} {}",
                roles.join(", "),
                if roles.len() == 1 { "runs" } else { "run" }
            );
            let tag = image
                .value
                .rsplit_once(':')
                .map(|(_, tag)| tag)
                .filter(|tag| !tag.contains('/'));
            let report = match tag {
                None | Some("latest") => Some((
                    format!("{who} {} without a pinned tag", image.value),
                    "Pin the image to the tag of the release running now.".to_owned(),
                )),
                // The deployment describes what runs before the first hop; later hops change it.
                Some(tag) if hop.is_first && image.value.contains("redash/redash") => {
                    let starts = tag.starts_with(&hop.plan.from.version.to_string())
                        || official.is_some_and(|official| official.ends_with(tag));
                    (!starts).then(|| {
                        (
                            format!(
                                "{who} {} but the hop starts from {}",
                                image.value, hop.plan.from.version
                            ),
                            format!(
                                "Run {} until this hop, or plan from the release the image is.",
                                official.unwrap_or("the official image")
                            ),
                        )
                    })
                }
                Some(_) => None,
            };
            if let Some((message, help)) = report {
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message,
                    location: Some(image.location.clone()),
                    help,
                });
            }
        }
        Ok(reports)
    }
}
