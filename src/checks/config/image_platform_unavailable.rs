//! `image-platform-unavailable`: a role runs on a platform the target release's image is not
//! built for.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};

pub struct ImagePlatformUnavailable;

static META: CheckMeta = CheckMeta {
    code: "image-platform-unavailable",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "a role runs on a CPU architecture the target's official image is not built for",
    what: "Takes each role's platform (compose `platform`, ECS `runtimePlatform.cpuArchitecture`, \
           or --host-arch) and the platforms the target release's official image is built for \
           (from the release's build, in the knowledge base), and lists the roles whose platform \
           is not among them. Releases whose build the knowledge base does not know are not \
           checked.",
    why: "Images up to 10.1.0 are built for linux/amd64 only; from 25.1.0 they are also built \
          for linux/arm64. On a platform the image lacks, the container does not start (`exec \
          format error`) or runs under emulation, slowly, if the host has it set up. A hop that \
          moves to or from such an image changes what runs where.",
    fix: "Run those roles on hosts (or ECS capacity) of a platform the image is built for, or \
          set the service's platform explicitly (compose `platform: linux/amd64`) where the \
          host emulates it, before the hop.",
    references: &[
        "v10.1.0:.circleci/docker_build:9-13",
        "v25.1.0:.github/workflows/preview-image.yml:98",
    ],
};

impl ConfigCheck for ImagePlatformUnavailable {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, hop: &HopContext<'_>) -> bool {
        hop.plan.to.image.platforms.is_some()
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(built) = &hop.plan.to.image.platforms else {
            return Ok(Vec::new());
        };
        let deployment = hop.deployment;
        let mut reports = Vec::new();
        for role in deployment.running_roles() {
            let Some(platform) = deployment.platform_of(role) else {
                continue;
            };
            if built.platforms.iter().any(|known| known == platform) {
                continue;
            }
            reports.push(Report {
                severity: None,
                effect: None,
                message: format!(
                    "{} runs on {platform}, but the {} image is built for {} only",
                    role.name,
                    hop.plan.to.version,
                    built.platforms.join(" and ")
                ),
                location: role
                    .platform
                    .as_ref()
                    .map(|platform| platform.location.clone())
                    .or_else(|| Some(role.location.clone())),
                help: format!(
                    "Run {} on {} before the hop, or set its platform where the host emulates it.",
                    role.name,
                    built.platforms.join(" or ")
                ),
            });
        }
        Ok(reports)
    }
}
