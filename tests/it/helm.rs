//! Values files of the community Helm chart: the roles they give, the chart-generation check, and
//! that the secrets they hold never leave the tool.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redash_upgrade::inputs::helm::read_values;
use redash_upgrade::inputs::{RoleKind, ServiceKind, UpdateStrategy};
use redash_upgrade::knowledge::KnowledgeBase;
use serde_json::Value;

use crate::support::{repo_root, run, stderr, stdout};

const CODE: &str = "helm-chart-mismatches-image";

/// The checks whose firing case is here rather than in check.rs.
#[allow(dead_code)]
pub const COVERED: [&str; 1] = [CODE];

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/helm").join(name)
}

fn path_text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `check --format json` with `args`: the exit code and the findings.
fn check_json(args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let output = run(&all);
    let report: Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|error| panic!("{error}: {}", stderr(&output)));
    let findings = report["findings"].as_array().unwrap().clone();
    (output.status.code(), findings)
}

fn with_code<'a>(findings: &'a [Value], code: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|finding| finding["code"] == code)
        .collect()
}

#[test]
fn chart_2_values_give_the_chart_roles_with_their_commands_and_defaults() {
    let knowledge = KnowledgeBase::embedded().unwrap();
    let path = fixture("chart-2.4.0-values.yaml");
    let (roles, services, chart) =
        read_values(&path, Some("2.4.0"), &knowledge.helm_chart).unwrap();
    assert_eq!(chart.generation, "2.x");
    assert_eq!(chart.assumed, None);
    let summary: Vec<(&str, RoleKind, &str)> = roles
        .iter()
        .map(|role| {
            (
                role.name.as_str(),
                role.kind,
                role.command.as_ref().unwrap().value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("redash", RoleKind::Server, "server"),
            ("redash-adhocworker", RoleKind::Worker, "worker"),
            ("redash-scheduledworker", RoleKind::Scheduler, "scheduler"),
            ("redash-upgrade", RoleKind::Other, "manage.py db upgrade"),
        ]
    );
    let server = &roles[0];
    assert_eq!(
        server.image.as_ref().unwrap().value,
        "redash/redash:8.0.0.b32245"
    );
    assert_eq!(server.replicas.as_ref().unwrap().value, 2);
    assert_eq!(server.memory_limit_mib.as_ref().unwrap().value, 2048);
    assert_eq!(
        server.var("REDASH_HOST").unwrap().value.as_deref(),
        Some("https://redash.example.com")
    );
    // The chart keeps these in a Secret: set, from a secret store, value never read.
    for name in [
        "REDASH_SECRET_KEY",
        "REDASH_COOKIE_SECRET",
        "REDASH_MAIL_PASSWORD",
        "REDASH_DATABASE_PASSWORD",
        "REDASH_REDIS_PASSWORD",
        "REDASH_DATABASE_URL",
        "REDASH_REDIS_URL",
    ] {
        let value = server.var(name).unwrap_or_else(|| panic!("{name} not set"));
        assert_eq!(value.value, None, "{name}");
        assert!(value.from_secret_store, "{name}");
    }
    assert_eq!(
        server
            .var("REDASH_DATABASE_HOSTNAME")
            .unwrap()
            .value
            .as_deref(),
        Some("redash-postgresql")
    );
    let adhoc = &roles[1];
    assert_eq!(
        adhoc.var("QUEUES").unwrap().value.as_deref(),
        Some("queries,celery")
    );
    assert_eq!(
        adhoc.var("WORKERS_COUNT").unwrap().value.as_deref(),
        Some("4")
    );
    assert_eq!(adhoc.var("QUEUES").unwrap().location.line, 25);
    assert_eq!(adhoc.memory_limit_mib.as_ref().unwrap().value, 3072);
    // Defaults the file does not set are located at the chart's own values.yaml.
    let scheduled = &roles[2];
    assert_eq!(scheduled.replicas.as_ref().unwrap().value, 1);
    assert!(scheduled
        .replicas
        .as_ref()
        .unwrap()
        .location
        .file
        .starts_with("helm@v2.4.0:values.yaml"));
    // No template of chart 2.x sets a strategy: Kubernetes rolls the scheduler over.
    assert!(matches!(
        scheduled.update_strategy.as_ref().unwrap().value,
        UpdateStrategy::Overlapping { .. }
    ));
    let kinds: Vec<(ServiceKind, &str, Option<&str>, bool)> = services
        .iter()
        .map(|service| {
            (
                service.kind,
                service.name.as_str(),
                service.image.as_ref().map(|image| image.value.as_str()),
                service.storage.is_some(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                ServiceKind::Postgres,
                "redash-postgresql",
                Some("bitnami/postgresql:9.6.17-debian-10-r3"),
                true
            ),
            (ServiceKind::Redis, "redash-redis-master", None, true),
        ]
    );
}

#[test]
fn a_workers_map_gives_one_worker_per_entry_and_a_scheduler_that_stops_first() {
    let knowledge = KnowledgeBase::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.yaml");
    std::fs::write(
        &path,
        "image:\n  tag: 25.8.0\nworkers:\n  adhoc:\n    replicaCount: 3\n  reports:\n    env:\n      QUEUES: reports\nworker:\n  resources:\n    limits:\n      memory: 1Gi\npostgresql:\n  enabled: false\nexternalPostgreSQL: postgresql://redash:pl4nted-db-password@db.internal/redash\nredis:\n  enabled: false\nexternalRedisSecret:\n  name: redis-url\n  key: url\n",
    )
    .unwrap();
    let (roles, services, chart) = read_values(&path, None, &knowledge.helm_chart).unwrap();
    assert_eq!(chart.generation, "4.0.x");
    assert!(chart.assumed.as_deref().unwrap().contains("`workers` map"));
    let names: Vec<&str> = roles.iter().map(|role| role.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "redash",
            "redash-adhocworker",
            "redash-genericworker",
            "redash-reportsworker",
            "redash-scheduledworker",
            "redash-scheduler",
            "redash-migrations"
        ]
    );
    let adhoc = &roles[1];
    assert_eq!(
        adhoc.image.as_ref().unwrap().value,
        "docker.io/redash/redash:25.8.0"
    );
    assert_eq!(adhoc.replicas.as_ref().unwrap().value, 3);
    assert_eq!(adhoc.memory_limit_mib.as_ref().unwrap().value, 1024);
    assert_eq!(
        adhoc.var("QUEUES").unwrap().value.as_deref(),
        Some("queries")
    );
    assert_eq!(
        roles[3].var("QUEUES").unwrap().value.as_deref(),
        Some("reports")
    );
    let database = adhoc.var("REDASH_DATABASE_URL").unwrap();
    assert_eq!(
        database.value.as_deref(),
        Some("postgresql://redash:********@db.internal/redash")
    );
    assert!(adhoc.var("REDASH_REDIS_URL").unwrap().from_secret_store);
    // values.yaml of 4.0.x ships `secretKey: test`: the role has a secret key, from the Secret.
    assert!(adhoc.var("REDASH_SECRET_KEY").unwrap().from_secret_store);
    assert_eq!(roles[5].kind, RoleKind::Scheduler);
    assert_eq!(
        roles[5].update_strategy.as_ref().unwrap().value,
        UpdateStrategy::StopFirst
    );
    assert!(services.is_empty(), "{services:?}");
}

#[test]
fn a_celery_chart_with_an_rq_target_names_the_chart_to_use() {
    let values = fixture("chart-2.4.0-values.yaml");
    for version in [Some("2.4.0"), None] {
        let mut args = vec![
            "--from",
            "8",
            "--to",
            "10",
            "--helm-values",
            path_text(&values),
        ];
        if let Some(version) = version {
            args.extend(["--helm-chart-version", version]);
        }
        let (code, findings) = check_json(&args);
        assert_eq!(code, Some(1));
        let found = with_code(&findings, CODE);
        assert_eq!(found.len(), 1, "{findings:#?}");
        let finding = found[0];
        assert_eq!(finding["severity"], "error");
        let message = finding["message"].as_str().unwrap();
        assert!(
            message.contains("redash-scheduledworker runs `scheduler`"),
            "{message}"
        );
        assert!(message.contains("10.1.0 runs RQ"), "{message}");
        let help = finding["help"].as_str().unwrap();
        assert!(
            help.contains("chart 3.0.x (`helm upgrade --version 3.0.1`)"),
            "{help}"
        );
        assert_eq!(finding["location"]["file"], path_text(&values));
        assert_eq!(finding["location"]["line"], 32);
    }
}

#[test]
fn a_chart_that_fits_the_target_is_quiet() {
    let values = fixture("chart-3.0.1-values.yaml");
    for version in [Some("3.0.1"), None] {
        let mut args = vec![
            "--from",
            "8",
            "--to",
            "10",
            "--helm-values",
            path_text(&values),
        ];
        if let Some(version) = version {
            args.extend(["--helm-chart-version", version]);
        }
        let (_, findings) = check_json(&args);
        assert!(with_code(&findings, CODE).is_empty(), "{findings:#?}");
        assert!(!findings.is_empty(), "other checks still run");
    }
}

#[test]
fn an_rq_chart_with_a_celery_target_and_a_newer_chart_with_an_older_image_fire() {
    let values = fixture("chart-3.0.1-values.yaml");
    let (_, findings) = check_json(&[
        "--from",
        "7",
        "--to",
        "8",
        "--helm-values",
        path_text(&values),
    ]);
    let found = with_code(&findings, CODE);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert!(found[0]["message"]
        .as_str()
        .unwrap()
        .contains("8.0.0 runs Celery"));
    assert!(found[0]["help"]
        .as_str()
        .unwrap()
        .contains("--version 2.4.0"));

    // Chart 4.0.1's layout with a 10.x image: the workers' liveness probe needs 25.1.0.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.yaml");
    std::fs::write(
        &path,
        "image:\n  tag: 10.1.0.b50633\nworkers:\n  adhoc:\n    replicaCount: 1\n",
    )
    .unwrap();
    let (_, findings) = check_json(&[
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&path),
        "--helm-chart-version",
        "4.0.1",
    ]);
    let found = with_code(&findings, CODE);
    assert_eq!(found.len(), 1, "{findings:#?}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(message.contains("workers_healthcheck"), "{message}");
    assert!(found[0]["help"]
        .as_str()
        .unwrap()
        .contains("--version 3.0.1"));
    let (_, findings) = check_json(&[
        "--from",
        "10",
        "--to",
        "25",
        "--helm-values",
        path_text(&path),
        "--helm-chart-version",
        "4.0.1",
    ]);
    assert!(with_code(&findings, CODE).is_empty(), "{findings:#?}");
}

#[test]
fn the_generation_assumed_from_the_values_is_said() {
    let values = fixture("chart-2.4.0-values.yaml");
    let output = run(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&values),
    ]);
    let text = stdout(&output);
    assert!(
        text.contains("Assumed: the Helm values are for chart 2.x"),
        "{text}"
    );
    let json = run(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&values),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(report["assumed"][0]
        .as_str()
        .unwrap()
        .starts_with("the Helm values are for chart 2.x"));
    let output = run(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&values),
        "--helm-chart-version",
        "v2.4.0",
    ]);
    assert!(
        stdout(&output).contains("(Helm chart 2.x)"),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains("Assumed:"), "{}", stdout(&output));
}

#[test]
fn planted_secrets_never_appear_in_any_format() {
    let inputs = [
        vec!["--helm-values", "chart-2.4.0-values.yaml"],
        vec!["--helm-values", "chart-3.0.1-values.yaml"],
        vec!["--k8s", "chart-2.4.0-values.rendered.yaml"],
    ];
    for input in inputs {
        let file = fixture(input[1]);
        for format in ["text", "markdown", "json", "sarif"] {
            let output = run(&[
                "check",
                "--from",
                "8",
                "--to",
                "10",
                input[0],
                path_text(&file),
                "--format",
                format,
            ]);
            assert!(
                output.status.code().is_some_and(|code| code < 2),
                "{}",
                stderr(&output)
            );
            let all = format!("{}{}", stdout(&output), stderr(&output));
            assert!(
                !all.contains("pl4nted"),
                "{format} {input:?} leaks a secret:\n{all}"
            );
        }
    }
}

#[test]
fn malformed_values_fail_with_the_file_and_line() {
    let values = fixture("malformed-values.yaml");
    let output = run(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&values),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(
        text.contains(&format!("{}:5:", path_text(&values))),
        "{text}"
    );
    let good = fixture("chart-2.4.0-values.yaml");
    let output = run(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--helm-values",
        path_text(&good),
        "--helm-chart-version",
        "latest",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--helm-chart-version latest: not a chart version"));
}

/// The values file and the manifests `helm template` renders from it give the same findings
/// (the rendered containers build REDASH_DATABASE_URL and REDASH_REDIS_URL in a script they
/// source from a ConfigMap, which the manifest reader follows).
#[test]
fn values_and_their_rendered_manifests_give_the_same_findings() {
    let codes = |input: &str, file: &str| -> BTreeSet<(String, String)> {
        let (_, findings) = check_json(&[
            "--from",
            "8",
            "--to",
            "10",
            input,
            path_text(&fixture(file)),
        ]);
        findings
            .iter()
            .map(|finding| {
                (
                    finding["code"].as_str().unwrap().to_owned(),
                    finding["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let from_values = codes("--helm-values", "chart-2.4.0-values.yaml");
    let rendered = codes("--k8s", "chart-2.4.0-values.rendered.yaml");
    assert!(from_values.contains(&(CODE.to_owned(), "error".to_owned())));
    assert_eq!(rendered, from_values);
}

#[test]
fn the_chart_generations_are_validated() {
    use redash_upgrade::knowledge::model::Source;
    let mut knowledge = KnowledgeBase::embedded().unwrap();
    let of_chart = |knowledge: &KnowledgeBase| -> Vec<String> {
        knowledge
            .violations()
            .into_iter()
            .filter(|violation| violation.file == "upgrade-paths/helm-chart.json")
            .map(|violation| violation.message)
            .collect()
    };
    assert_eq!(of_chart(&knowledge), Vec::<String>::new());
    let chart = &mut knowledge.helm_chart;
    // 2.x (Celery) stretched over the RQ releases; 3.0.x's server cited by nothing checkable.
    chart.generations[0].fits.below = None;
    chart.generations[1].roles[0].source = Source("the chart".into());
    chart.generations.swap(1, 2);
    let found = of_chart(&knowledge);
    for expected in [
        "generations 3.1.x and 3.0.x overlap or are out of order",
        "2.x: fits 10.1.0 which runs RQ, not Celery",
        "3.0.x role server: source \"the chart\" is not helm@TAG:path, TAG:path or an https URL",
    ] {
        assert!(
            found.iter().any(|message| message == expected),
            "{expected}: {found:#?}"
        );
    }
}

#[test]
fn no_role_keeps_a_planted_secret() {
    let knowledge = KnowledgeBase::embedded().unwrap();
    for (file, version) in [
        ("chart-2.4.0-values.yaml", "2.4.0"),
        ("chart-3.0.1-values.yaml", "3.0.1"),
    ] {
        let (roles, _, _) =
            read_values(&fixture(file), Some(version), &knowledge.helm_chart).unwrap();
        for role in &roles {
            for (name, value) in &role.env {
                let text = value.value.as_deref().unwrap_or("");
                assert!(
                    !text.contains("pl4nted"),
                    "{file}: {} {name}={text}",
                    role.name
                );
            }
        }
    }
    let (roles, _, _) = read_values(
        &fixture("chart-3.0.1-values.yaml"),
        None,
        &knowledge.helm_chart,
    )
    .unwrap();
    assert_eq!(
        roles[0]
            .var("REDASH_LIMITER_STORAGE")
            .unwrap()
            .value
            .as_deref(),
        Some("redis://:********@limiter.internal:6379/1")
    );
}
