//! Kubernetes manifests (`--k8s`) and ECS service definitions (`--ecs-service`): the roles and
//! services they describe, how a deploy replaces the scheduler, and that a Secret's values never
//! reach a report.

use std::path::Path;

use serde_json::Value;

use crate::support::{command, repo_root, stderr, stdout};

/// The check these tests make fire (check.rs has no compose case for it: compose has no update
/// strategy).
pub const COVERED: [&str; 1] = ["scheduler-update-overlaps"];

const HELM: &str = "tests/fixtures/k8s/helm-redash.yaml";
const LIST: &str = "tests/fixtures/k8s/kubectl-list.yaml";
const SECRET_VALUE: &str = "s3cr3t-value-from-secret";

/// Runs `check --from 8 --to 10` with `args` in the repository and returns the JSON report.
fn check_json(args: &[&str]) -> Value {
    let output = command()
        .args(["check", "--from", "8", "--to", "10", "--format", "json"])
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// `(code, message, line)` of every finding.
fn findings(report: &Value) -> Vec<(String, String, u64)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            (
                finding["code"].as_str().unwrap().to_owned(),
                finding["message"].as_str().unwrap().to_owned(),
                finding["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn of_code<'a>(found: &'a [(String, String, u64)], code: &str) -> Vec<&'a (String, String, u64)> {
    found.iter().filter(|(found, _, _)| found == code).collect()
}

fn line_of(path: &Path, line: u64) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .nth(line as usize - 1)
        .unwrap()
        .trim()
        .to_owned()
}

/// The helm fixture with its scheduler's strategy changed by `change`, in a temporary directory.
fn helm_variant(change: impl Fn(String) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redash.yaml");
    let text = std::fs::read_to_string(repo_root().join(HELM)).unwrap();
    let changed = change(text.clone());
    assert_ne!(changed, text, "the change applies");
    std::fs::write(&path, changed).unwrap();
    (dir, path)
}

const RECREATE: &str = "  strategy:\n    type: Recreate\n";

#[test]
fn the_community_chart_with_recreate_is_clean_and_its_roles_are_found() {
    let report = check_json(&["--k8s", HELM]);
    assert_eq!(findings(&report), Vec::new(), "{report:#}");
    // Two scheduler replicas: the roles are there, counted by spec.replicas.
    let (_dir, path) = helm_variant(|text| {
        text.replace(
            "  replicas: 1\n  strategy:\n    type: Recreate\n",
            "  replicas: 2\n  strategy:\n    type: Recreate\n",
        )
    });
    let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
    let single = of_code(&found, "scheduler-not-single");
    assert_eq!(single.len(), 1, "{found:?}");
    assert_eq!(
        single[0].1,
        "2 schedulers would run on 10.1.0 (redash-scheduler x2)"
    );
    assert_eq!(line_of(&path, single[0].2), "replicas: 2");
}

#[test]
fn an_autoscaler_on_the_scheduler_counts_its_maximum() {
    let (_dir, path) = helm_variant(|text| {
        text + "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  \
                name: redash-scheduler\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    \
                kind: Deployment\n    name: redash-scheduler\n  minReplicas: 1\n  maxReplicas: 3\n"
    });
    let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
    let single = of_code(&found, "scheduler-not-single");
    assert_eq!(single.len(), 1, "{found:?}");
    assert_eq!(
        single[0].1,
        "3 schedulers would run on 10.1.0 (redash-scheduler x3)"
    );
    assert_eq!(line_of(&path, single[0].2), "maxReplicas: 3");
}

#[test]
fn a_scheduler_on_a_rolling_update_overlaps_and_recreate_does_not() {
    for (name, change) in [
        ("default strategy", "" as &str),
        (
            "explicit maxSurge",
            "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n",
        ),
    ] {
        let (_dir, path) = helm_variant(|text| text.replacen(RECREATE, change, 1));
        let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
        let overlaps = of_code(&found, "scheduler-update-overlaps");
        assert_eq!(overlaps.len(), 1, "{name}: {found:?}");
        let how = if change.is_empty() {
            "RollingUpdate, maxSurge 25%"
        } else {
            "RollingUpdate, maxSurge 1"
        };
        assert_eq!(
            overlaps[0].1,
            format!(
                "a deploy of redash-scheduler starts the new scheduler before the old one stops ({how})"
            ),
            "{name}"
        );
        let at = line_of(&path, overlaps[0].2);
        if change.is_empty() {
            assert_eq!(at, "replicas: 1", "{name}: the spec that lacks a strategy");
        } else {
            assert_eq!(at, "type: RollingUpdate", "{name}");
        }
    }
    // maxSurge 0 with one replica: the old pod stops before the new one starts.
    let (_dir, path) = helm_variant(|text| {
        text.replacen(
            RECREATE,
            "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 1\n",
            1,
        )
    });
    let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
    assert!(
        of_code(&found, "scheduler-update-overlaps").is_empty(),
        "{found:?}"
    );
}

#[test]
fn a_kubectl_list_is_read_without_the_pods_its_deployments_own() {
    let found = findings(&check_json(&["--k8s", LIST]));
    let codes: Vec<&str> = found.iter().map(|(code, _, _)| code.as_str()).collect();
    // One scheduler despite its ReplicaSet and Pod being listed too.
    assert!(!codes.contains(&"scheduler-not-single"), "{found:?}");
    let overlaps = of_code(&found, "scheduler-update-overlaps");
    assert_eq!(overlaps.len(), 1, "{found:?}");
    assert_eq!(
        line_of(&repo_root().join(LIST), overlaps[0].2),
        "type: RollingUpdate"
    );
    // The worker's QUEUES, and Redis's eviction policy from its args.
    assert_eq!(
        of_code(&found, "queues-celery-obsolete")[0].1,
        "redash-worker lists the Celery queue `celery` in QUEUES (queries,scheduled_queries,celery), which 10.1.0 never uses"
    );
    assert!(codes.contains(&"redis-may-drop-jobs"), "{found:?}");
    // envFrom of a ConfigMap gives values; envFrom of a Secret gives names only.
    assert!(!codes.contains(&"cookie-secret-missing"), "{found:?}");
    assert!(!codes.contains(&"redash-host-without-scheme"), "{found:?}");
}

#[test]
fn an_ecs_service_with_maximum_percent_200_overlaps_and_100_does_not() {
    let run = |service: &str| {
        let mut args: Vec<String> = Vec::new();
        for role in ["server", "adhoc-worker", "scheduled-worker", "scheduler"] {
            args.push("--ecs-task-def".into());
            args.push(format!("tests/fixtures/ecs-v10/{role}.json"));
        }
        args.push("--ecs-service".into());
        args.push(format!("tests/fixtures/ecs/{service}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        findings(&check_json(&args))
    };
    let overlapping = run("scheduler-service-max-200.json");
    let overlaps = of_code(&overlapping, "scheduler-update-overlaps");
    assert_eq!(overlaps.len(), 1, "{overlapping:?}");
    assert_eq!(
        overlaps[0].1,
        "a deploy of redash-scheduler starts the new scheduler before the old one stops (maximumPercent 200)"
    );
    assert_eq!(
        line_of(
            &repo_root().join("tests/fixtures/ecs/scheduler-service-max-200.json"),
            overlaps[0].2
        ),
        "\"maximumPercent\": 200,"
    );
    let stop_first = run("scheduler-service-max-100.json");
    assert!(
        of_code(&stop_first, "scheduler-update-overlaps").is_empty(),
        "{stop_first:?}"
    );
}

#[test]
fn an_ecs_service_of_no_given_task_definition_is_an_error() {
    let output = command()
        .args([
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--ecs-task-def",
            "tests/fixtures/ecs-v10/server.json",
            "--ecs-service",
            "tests/fixtures/ecs/scheduler-service-max-200.json",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: tests/fixtures/ecs/scheduler-service-max-200.json: no --ecs-task-def of family redash-scheduler\n"
    );
}

#[test]
fn a_directory_of_manifests_reads_as_the_file() {
    let (dir, path) = helm_variant(|text| text.replacen(RECREATE, "", 1));
    let split = dir.path().join("rendered");
    std::fs::create_dir(&split).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for (index, document) in text.split("\n---\n").enumerate() {
        let extension = ["yaml", "yml"][index % 2];
        std::fs::write(
            split.join(format!("{index:02}.{extension}")),
            format!("{document}\n"),
        )
        .unwrap();
    }
    std::fs::write(split.join("README.md"), "not a manifest: [").unwrap();
    let strip = |found: Vec<(String, String, u64)>| -> Vec<(String, String)> {
        found
            .into_iter()
            .map(|(code, message, _)| (code, message))
            .collect()
    };
    let from_file = strip(findings(&check_json(&["--k8s", path.to_str().unwrap()])));
    let from_dir = strip(findings(&check_json(&["--k8s", split.to_str().unwrap()])));
    assert!(!from_file.is_empty());
    assert_eq!(from_dir, from_file);
}

#[test]
fn a_secret_value_never_reaches_a_report() {
    let (_dir, rolling) = helm_variant(|text| text.replacen(RECREATE, "", 1));
    for manifest in [HELM, LIST, rolling.to_str().unwrap()] {
        let text = std::fs::read_to_string(repo_root().join(manifest)).unwrap();
        assert!(text.contains(SECRET_VALUE), "{manifest} plants the value");
        for format in ["text", "markdown", "json", "sarif"] {
            let output = command()
                .args(["check", "--from", "8", "--to", "10", "--k8s", manifest])
                .args(["--format", format])
                .current_dir(repo_root())
                .output()
                .unwrap();
            assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
            let all = format!("{}{}", stdout(&output), stderr(&output));
            assert!(!all.is_empty());
            assert!(
                !all.contains(SECRET_VALUE) && !all.contains("czNjcjN0"),
                "{manifest} --format {format} shows the Secret's value:\n{all}"
            );
        }
    }
}

#[test]
fn an_arm64_node_selector_needs_an_arm64_image() {
    let found = findings(&check_json(&["--k8s", "tests/fixtures/k8s/arm64.yaml"]));
    let platform = of_code(&found, "image-platform-unavailable");
    let messages: Vec<&str> = platform
        .iter()
        .map(|(_, message, _)| message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "redash-server runs on linux/arm64, but the 10.1.0 image is built for linux/amd64 only",
            "redash-scheduler runs on linux/arm64, but the 10.1.0 image is built for linux/amd64 only",
        ]
    );
    let path = repo_root().join("tests/fixtures/k8s/arm64.yaml");
    assert_eq!(line_of(&path, platform[0].2), "kubernetes.io/arch: arm64");
    assert_eq!(line_of(&path, platform[1].2), "- arm64");
}

#[test]
fn a_malformed_manifest_is_one_line_naming_file_and_line() {
    let output = command()
        .args([
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--k8s",
            "tests/fixtures/k8s/malformed.yaml",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: tests/fixtures/k8s/malformed.yaml:18: "),
        "{message}"
    );
}

#[test]
fn settings_that_must_agree_and_connections_in_parts_are_read_from_manifests() {
    // Quiet on the chart as rendered: every role builds both URLs in its wrapper.
    let report = check_json(&["--k8s", HELM]);
    let found = findings(&report);
    assert!(of_code(&found, "setting-differs-between-roles").is_empty());
    assert!(of_code(&found, "connection-setting-not-read").is_empty());

    // The private-address block given to the server's container alone.
    let (_dir, path) = helm_variant(|text| {
        text.replacen(
            "              exec /app/bin/docker-entrypoint server\n          env:\n",
            "              exec /app/bin/docker-entrypoint server\n          env:\n            - name: REDASH_ENFORCE_PRIVATE_IP_BLOCK\n              value: \"false\"\n",
            1,
        )
    });
    let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
    let differs = of_code(&found, "setting-differs-between-roles");
    assert_eq!(differs.len(), 1, "{found:?}");
    assert!(
        differs[0].1.starts_with(
            "REDASH_ENFORCE_PRIVATE_IP_BLOCK is set on redash but not on redash-adhocworker"
        ),
        "{}",
        differs[0].1
    );
    assert_eq!(
        line_of(&path, differs[0].2),
        "- name: REDASH_ENFORCE_PRIVATE_IP_BLOCK"
    );

    // A wrapper that no longer exports the Redis URL: the parts alone reach the server.
    let (_dir, path) = helm_variant(|text| {
        text.replacen(
            "                export REDASH_REDIS_URL=\"redis://:${REDASH_REDIS_PASSWORD}@${REDASH_REDIS_HOSTNAME}:${REDASH_REDIS_PORT}/${REDASH_REDIS_NAME}\"\n              else\n                export REDASH_REDIS_URL=\"redis://${REDASH_REDIS_HOSTNAME}:${REDASH_REDIS_PORT}/${REDASH_REDIS_NAME}\"\n",
            "                true\n              else\n                true\n",
            1,
        )
    });
    let found = findings(&check_json(&["--k8s", path.to_str().unwrap()]));
    let parts = of_code(&found, "connection-setting-not-read");
    assert_eq!(parts.len(), 1, "{found:?}");
    assert!(
        parts[0]
            .1
            .starts_with("redash gives its Redis connection as REDASH_REDIS_"),
        "{}",
        parts[0].1
    );
}
