//! What the image of a PostgreSQL or Redis service says about its version: shared by the checks
//! of the services around Redash.

use super::super::HopContext;
use crate::inputs::deployment::Located;
use crate::inputs::{Service, ServiceKind};
use crate::knowledge::model::{Release, VersionFact};

/// The tag of an image (`postgres:9.6-alpine` -> `9.6-alpine`), `None` when it has none; a
/// digest (`@sha256:...`) is not a tag.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image).trim();
    let colon = image.rfind(':')?;
    let tag = &image[colon + 1..];
    (!tag.contains('/') && !tag.is_empty()).then_some(tag)
}

/// The version numbers a tag starts with: `9.6-alpine` -> [9, 6], `13.4` -> [13, 4],
/// `7.2.0-v10` -> [7, 2, 0], `17-alpine` -> [17], `alpine` and `latest` -> [].
pub(crate) fn tag_version(tag: &str) -> Vec<u64> {
    let mut numbers = Vec::new();
    for part in tag.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let Ok(number) = digits.parse() else { break };
        numbers.push(number);
        if digits.len() < part.len() {
            break;
        }
    }
    numbers
}

/// The version the service's image names, as far as its tag says; empty when it says nothing.
pub(crate) fn service_version(service: &Service) -> Vec<u64> {
    service
        .image
        .as_ref()
        .and_then(|image| image_tag(&image.value))
        .map(tag_version)
        .unwrap_or_default()
}

/// How many leading numbers make a major version: PostgreSQL before 10 counts two (9.5 and 9.6
/// are different majors, each with its own data-directory format), later PostgreSQL and Redis one.
pub(crate) fn major_length(kind: ServiceKind, version: &[u64]) -> usize {
    match (kind, version.first()) {
        (ServiceKind::Postgres, Some(major)) if *major < 10 => 2,
        _ => 1,
    }
}

/// The major version as people write it (`9.6`, `13`, `7`), when the tag names one.
pub(crate) fn major_text(kind: ServiceKind, version: &[u64]) -> Option<String> {
    let length = major_length(kind, version);
    (version.len() >= length).then(|| {
        version[..length]
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
    })
}

/// Whether a version known only up to its first numbers (`9` may be any 9.x) is surely older
/// than `minimum` (`9.6`): a number the tag leaves out may be as high as it likes.
pub(crate) fn surely_older(version: &[u64], minimum: &str) -> Option<bool> {
    let minimum = tag_version(minimum);
    if minimum.is_empty() || version.is_empty() {
        return None;
    }
    for (index, needed) in minimum.iter().enumerate() {
        let Some(have) = version.get(index) else {
            return Some(false);
        };
        if have != needed {
            return Some(have < needed);
        }
    }
    Some(false)
}

/// The services of `kind` whose image is surely older than `minimum(target)` on this hop: once,
/// on the first hop whose target needs more than the image gives (or the plan's first hop, when
/// even the release running now needs more), with the version the image names.
pub(crate) fn older_than_target<'a>(
    hop: &HopContext<'a>,
    kind: ServiceKind,
    minimum: fn(&Release) -> &VersionFact,
) -> Vec<(&'a Service, &'a Located<String>, String)> {
    let needed = &minimum(hop.plan.to).version;
    let before = &minimum(hop.plan.from).version;
    let mut older = Vec::new();
    for service in &hop.deployment.services {
        if service.kind != kind {
            continue;
        }
        let Some(image) = &service.image else {
            continue;
        };
        let version = service_version(service);
        if surely_older(&version, needed) != Some(true) {
            continue;
        }
        if !hop.is_first && surely_older(&version, before) == Some(true) {
            continue;
        }
        let text = version
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        older.push((service, image, text));
    }
    older
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_their_versions() {
        assert_eq!(image_tag("postgres:9.6-alpine"), Some("9.6-alpine"));
        assert_eq!(image_tag("postgres"), None);
        assert_eq!(image_tag("registry:5000/postgres"), None);
        assert_eq!(image_tag("redis@sha256:abc"), None);
        assert_eq!(tag_version("9.6-alpine"), [9, 6]);
        assert_eq!(tag_version("9.5.6-alpine"), [9, 5, 6]);
        assert_eq!(tag_version("13.4"), [13, 4]);
        assert_eq!(tag_version("7.2.0-v10"), [7, 2, 0]);
        assert_eq!(tag_version("11.7.0-debian-10-r9"), [11, 7, 0]);
        assert_eq!(tag_version("17-alpine"), [17]);
        assert!(tag_version("alpine").is_empty());
        assert!(tag_version("latest").is_empty());
    }

    #[test]
    fn majors_of_postgres_before_10_have_two_numbers() {
        assert_eq!(
            major_text(ServiceKind::Postgres, &[9, 6]).as_deref(),
            Some("9.6")
        );
        assert_eq!(major_text(ServiceKind::Postgres, &[9]), None);
        assert_eq!(
            major_text(ServiceKind::Postgres, &[13, 4]).as_deref(),
            Some("13")
        );
        assert_eq!(
            major_text(ServiceKind::Redis, &[7, 2]).as_deref(),
            Some("7")
        );
        assert_eq!(major_text(ServiceKind::Redis, &[]), None);
    }

    #[test]
    fn only_surely_older_versions_are_older() {
        assert_eq!(surely_older(&[9, 5, 6], "9.6"), Some(true));
        assert_eq!(surely_older(&[9, 6], "9.6"), Some(false));
        assert_eq!(surely_older(&[9], "9.6"), Some(false));
        assert_eq!(surely_older(&[13], "9.6"), Some(false));
        assert_eq!(surely_older(&[2, 8], "3.0"), Some(true));
        assert_eq!(surely_older(&[3], "3.0"), Some(false));
        assert_eq!(surely_older(&[], "3.0"), None);
    }
}
