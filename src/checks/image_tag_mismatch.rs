//! `image-tag-mismatch`: a role's image is not the hop's source release, or is not pinned.

use super::{CannotRun, Check, CheckMeta, HopContext, Report, Severity};

pub struct ImageTagMismatch;

static META: CheckMeta = CheckMeta {
    code: "image-tag-mismatch",
    severity: Severity::Warning,
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

impl Check for ImageTagMismatch {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        // The deployment describes what runs before the first hop; later hops change the tag.
        let first_hop = hop.is_first;
        let mut reports = Vec::new();
        for role in hop.deployment.running_roles() {
            let Some(image) = &role.image else { continue };
            let tag = image
                .value
                .rsplit_once(':')
                .map(|(_, tag)| tag)
                .filter(|tag| !tag.contains('/'));
            match tag {
                None | Some("latest") => reports.push(Report {
                    message: format!("{} runs {} without a pinned tag", role.name, image.value),
                    location: Some(image.location.clone()),
                    help: "Pin the image to the tag of the release running now.".into(),
                }),
                Some(tag) if first_hop && image.value.contains("redash/redash") => {
                    let expected = hop.from.version.to_string();
                    let starts = tag.starts_with(&expected)
                        || hop
                            .from
                            .image
                            .tag
                            .as_deref()
                            .is_some_and(|official| official.ends_with(tag));
                    if !starts {
                        reports.push(Report {
                            message: format!(
                                "{} runs {} but the hop starts from {}",
                                role.name, image.value, hop.from.version
                            ),
                            location: Some(image.location.clone()),
                            help: format!(
                                "Run {} until this hop, or plan from the release the image is.",
                                hop.from
                                    .image
                                    .tag
                                    .as_deref()
                                    .unwrap_or("the official image")
                            ),
                        });
                    }
                }
                Some(_) => {}
            }
        }
        // A shared compose block gives many roles one image line: one finding per line.
        let mut merged: Vec<Report> = Vec::new();
        for report in reports {
            match merged
                .iter_mut()
                .find(|seen| seen.location == report.location && report.location.is_some())
            {
                Some(seen) => {
                    let role = report
                        .message
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let (head, tail) = seen
                        .message
                        .split_once(" runs ")
                        .unwrap_or((&seen.message, ""));
                    seen.message = format!("{head}, {role} run {tail}");
                }
                None => merged.push(report),
            }
        }
        Ok(merged)
    }
}
