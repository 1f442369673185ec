//! The services around Redash (its PostgreSQL and its Redis), read from compose files and
//! Kubernetes manifests: each check fires on the fixture made for it and stays quiet on the
//! upstream setup layouts (tests/fixtures/services).

use serde_json::Value;

use crate::support::{repo_root, stderr, stdout};

/// The codes of the checks of this module, for the registry test of check.rs.
pub const COVERED: &[&str] = &[
    "database-without-volume",
    "service-image-floats",
    "postgres-older-than-target",
    "redis-older-than-target",
    "redis-may-drop-jobs",
];

/// One finding of a service check: code, severity, hop, file:line, message.
#[derive(Debug)]
struct Found {
    code: String,
    severity: String,
    hop: String,
    at: String,
    message: String,
}

/// `check --from FROM --to TO --<input> FILE --format json` in tests/fixtures/services, and the
/// findings of the service checks.
fn findings(input: &str, file: &str, from: &str, to: &str) -> Vec<Found> {
    let output = crate::support::command()
        .args([
            "check",
            "--from",
            from,
            "--to",
            to,
            input,
            file,
            "--host-memory",
            "8GiB",
            "--format",
            "json",
        ])
        .current_dir(repo_root().join("tests/fixtures/services"))
        .output()
        .expect("the binary runs");
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| COVERED.contains(&finding["code"].as_str().unwrap()))
        .map(|finding| Found {
            code: finding["code"].as_str().unwrap().to_owned(),
            severity: finding["severity"].as_str().unwrap().to_owned(),
            hop: finding["hop"].as_str().unwrap().to_owned(),
            at: format!(
                "{}:{}",
                finding["location"]["file"].as_str().unwrap(),
                finding["location"]["line"]
            ),
            message: finding["message"].as_str().unwrap().to_owned(),
        })
        .collect()
}

fn compose(file: &str, from: &str, to: &str) -> Vec<Found> {
    findings("--compose", file, from, to)
}

fn summary(found: &[Found]) -> Vec<(String, String, String)> {
    found
        .iter()
        .map(|found| (found.code.clone(), found.severity.clone(), found.at.clone()))
        .collect()
}

fn triple(code: &str, severity: &str, at: &str) -> (String, String, String) {
    (code.to_owned(), severity.to_owned(), at.to_owned())
}

#[test]
fn the_upstream_setup_layouts_keep_every_service_check_quiet() {
    // getredash/setup at 5dbd05f: postgres:9.6-alpine on a host directory, redis:5.0-alpine.
    let old = compose("setup-v8.yml", "8", "latest");
    assert!(old.is_empty(), "{old:?}");
    // getredash/setup today: pgautoupgrade:17-alpine on a host directory, redis:7-alpine.
    let new = compose("setup-current.yml", "10.1", "latest");
    assert!(new.is_empty(), "{new:?}");
}

#[test]
fn a_database_without_volume_is_an_error_naming_the_service() {
    let found = compose("no-volume.yml", "8", "10");
    assert_eq!(
        summary(&found),
        [triple(
            "database-without-volume",
            "error",
            "no-volume.yml:26"
        )]
    );
    assert!(
        found[0].message.starts_with(
            "the PostgreSQL service postgres keeps its data directory in no persistent volume"
        ),
        "{}",
        found[0].message
    );
    // Reported once, not per hop.
    assert_eq!(compose("no-volume.yml", "8", "latest").len(), 1);
}

#[test]
fn latest_and_distribution_only_tags_float_and_pinned_majors_do_not() {
    let found = compose("floating.yml", "8", "10");
    assert_eq!(
        summary(&found),
        [
            triple("service-image-floats", "warning", "floating.yml:18"),
            triple("service-image-floats", "warning", "floating.yml:20"),
        ]
    );
    assert!(
        found[0].message.contains("redis:alpine"),
        "{}",
        found[0].message
    );
    assert!(
        found[1].message.contains("postgres:latest"),
        "{}",
        found[1].message
    );
    assert!(found[1]
        .message
        .contains("does not start on the existing data directory"));
}

#[test]
fn old_servers_are_reported_on_the_first_hop_that_needs_more() {
    // 9.5 is enough up to 10.1.0; 25.x needs 9.6 (SQLAlchemy-Searchable 1.2). Redis 3.0 is the
    // floor of every release, so redis:3.0-alpine is quiet and only redis:2.8-alpine is not.
    let found = compose("old-servers.yml", "8", "latest");
    let hops: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|found| (found.code.as_str(), found.hop.as_str(), found.at.as_str()))
        .collect();
    assert_eq!(
        hops,
        [
            (
                "redis-older-than-target",
                "8.0.0->10.1.0",
                "old-servers.yml:22"
            ),
            (
                "postgres-older-than-target",
                "10.1.0->25.8.0",
                "old-servers.yml:26"
            ),
        ]
    );
    assert!(found.iter().all(|found| found.severity == "error"));
    assert!(found[0]
        .message
        .contains("legacy-redis runs redis:2.8-alpine, Redis 2.8"));
    assert!(found[1]
        .message
        .contains("postgres runs postgres:9.5.6-alpine, PostgreSQL 9.5.6; 25.8.0 needs 9.6"));
    // Up to 10.1.0 the PostgreSQL is new enough.
    let early = compose("old-servers.yml", "8", "10");
    assert!(early
        .iter()
        .all(|found| found.code != "postgres-older-than-target"));
}

#[test]
fn redis_eviction_and_persistence_are_read_from_commands_and_config_files() {
    let found = compose("redis-cache.yml", "8", "10");
    assert_eq!(
        summary(&found),
        [
            // --maxmemory 256mb --maxmemory-policy allkeys-lru on the command line
            triple("redis-may-drop-jobs", "warning", "redis-cache.yml:19"),
            // volatile-lru in bitnami's REDIS_EXTRA_FLAGS: only keys with a TTL
            triple("redis-may-drop-jobs", "info", "redis-cache.yml:24"),
            // save "" in the mounted redis.conf
            triple("redis-may-drop-jobs", "warning", "redis.conf:3"),
        ]
    );
    assert!(found[0].message.contains("service redis evicts any key"));
    assert!(found[1].message.contains("queued jobs carry no TTL"));
    assert!(found[2].message.contains("service queue persists nothing"));
}

#[test]
fn kubernetes_services_fire_the_same_checks() {
    let found = findings("--k8s", "k8s/risky.yaml", "10.1", "latest");
    let mut codes: Vec<(String, String, String)> = summary(&found);
    codes.sort();
    assert_eq!(
        codes,
        [
            // StatefulSet without volumeClaimTemplates
            triple("database-without-volume", "error", "k8s/risky.yaml:20"),
            triple("postgres-older-than-target", "error", "k8s/risky.yaml:21"),
            triple("redis-may-drop-jobs", "warning", "k8s/risky.yaml:42"),
            triple("redis-may-drop-jobs", "warning", "k8s/risky.yaml:61"),
            triple("redis-older-than-target", "error", "k8s/risky.yaml:41"),
            triple("service-image-floats", "warning", "k8s/risky.yaml:60"),
        ]
    );
    let safe = findings("--k8s", "k8s/safe.yaml", "10.1", "latest");
    assert!(safe.is_empty(), "{safe:?}");
}

#[test]
fn a_compose_file_of_services_alone_is_checked_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yml"),
        "services:\n  postgres:\n    image: postgres:latest\n",
    )
    .unwrap();
    let output = crate::support::command()
        .args([
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--compose",
            "compose.yml",
            "--format",
            "json",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["code"].as_str().unwrap())
        .filter(|code| COVERED.contains(code))
        .collect();
    assert_eq!(codes, ["database-without-volume", "service-image-floats"]);
}
