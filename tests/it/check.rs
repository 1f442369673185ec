//! `check`: every configuration check fires on an input made for it and stays quiet on the
//! corrected input; real shapes (official compose layouts, an ECS task-definition set, a multi_org
//! nginx); bad input.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{assert_golden, copy_tree, repo_root, stderr, stdout};

/// Runs the binary in `dir`, so that paths in the output are the short relative ones.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    crate::support::command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// A compose deployment: a shared block, a server, one worker on every queue and one scheduler,
/// with an env file holding the secrets. Each case changes one thing.
struct Setup {
    from: &'static str,
    to: &'static str,
    image: &'static str,
    shared_env: Vec<(&'static str, &'static str)>,
    server: Vec<(&'static str, &'static str)>,
    worker: Vec<(&'static str, &'static str)>,
    scheduler: Vec<(&'static str, &'static str)>,
    scheduler_replicas: u32,
    /// Compose `mem_limit` of the server, the worker and the scheduler.
    limits: [Option<&'static str>; 3],
    extra_args: Vec<&'static str>,
    extra_files: Vec<(&'static str, String)>,
}

impl Setup {
    /// A deployment that is ready for 8.0.0 -> 10.1.0.
    fn ready() -> Setup {
        Setup {
            from: "8",
            to: "10",
            image: "redash/redash:8.0.0.b32245",
            shared_env: vec![
                ("REDASH_COOKIE_SECRET", "cookie-secret-for-tests"),
                ("REDASH_SECRET_KEY", "secret-key-for-tests"),
                (
                    "REDASH_DATABASE_URL",
                    "postgresql://redash:db-password@postgres/redash",
                ),
            ],
            server: vec![("REDASH_WEB_WORKERS", "4")],
            worker: vec![],
            scheduler: vec![],
            scheduler_replicas: 1,
            limits: [None; 3],
            extra_args: vec!["--host-memory", "8GiB"],
            extra_files: vec![],
        }
    }

    fn compose(&self) -> String {
        fn environment(list: &[(&str, &str)]) -> String {
            if list.is_empty() {
                return String::new();
            }
            let mut text = String::from("    environment:\n");
            for (name, value) in list {
                text.push_str(&format!("      {name}: \"{value}\"\n"));
            }
            text
        }
        let limit = |index: usize| {
            self.limits[index].map_or_else(String::new, |limit| format!("    mem_limit: {limit}\n"))
        };
        format!(
            "x-redash-service: &redash-service\n  image: {}\n  env_file: redash.env\n  restart: always\nservices:\n  server:\n    <<: *redash-service\n    command: server\n{}{}  worker:\n    <<: *redash-service\n    command: worker\n{}{}  scheduler:\n    <<: *redash-service\n    command: scheduler\n    deploy:\n      replicas: {}\n{}{}",
            self.image,
            limit(0),
            environment(&self.server),
            limit(1),
            environment(&self.worker),
            self.scheduler_replicas,
            limit(2),
            environment(&self.scheduler),
        )
    }

    fn run(&self, format: &str) -> (i32, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yml"), self.compose()).unwrap();
        let env: String = self
            .shared_env
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        std::fs::write(dir.path().join("redash.env"), env).unwrap();
        for (name, text) in &self.extra_files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let mut args = vec![
            "check",
            "--from",
            self.from,
            "--to",
            self.to,
            "--compose",
            "compose.yml",
            "--format",
            format,
        ];
        args.extend(&self.extra_args);
        let output = run_in(dir.path(), &args);
        let code = output.status.code().unwrap();
        assert_ne!(code, 2, "check failed: {}", stderr(&output));
        (code, stdout(&output), dir)
    }

    fn codes(&self) -> Vec<String> {
        let (_, text, _dir) = self.run("json");
        let report: Value = serde_json::from_str(&text).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|finding| finding["code"].as_str().unwrap().to_owned())
            .collect()
    }
}

const NGINX_WITHOUT_REWRITE: &str =
    "server {\n  listen 80;\n  location / {\n    proxy_pass http://server:5000;\n  }\n}\n";
const NGINX_WITH_REWRITE: &str = "server {\n  listen 80;\n  location ~ ^/.*/static/images/ {\n    rewrite ^/.*/static/images/(.*) /static/images/$1;\n  }\n  location / {\n    proxy_pass http://server:5000;\n  }\n}\n";

/// Each check: the change that makes it fire. Applied to [`Setup::ready`], whose output must
/// not contain the code.
/// A check code and the change to a ready deployment that makes it fire.
type Case = (&'static str, Box<dyn Fn(&mut Setup)>);

fn cases() -> Vec<Case> {
    vec![
        (
            "queues-not-consumed",
            Box::new(|setup: &mut Setup| {
                setup.worker.push(("QUEUES", "queries,scheduled_queries"))
            }),
        ),
        (
            "queues-celery-obsolete",
            Box::new(|setup: &mut Setup| {
                setup.worker.push((
                    "QUEUES",
                    "celery,queries,scheduled_queries,schemas,periodic,emails,default",
                ))
            }),
        ),
        (
            "scheduler-not-single",
            Box::new(|setup: &mut Setup| setup.scheduler_replicas = 2),
        ),
        (
            "scheduler-queues-ignored",
            Box::new(|setup: &mut Setup| setup.scheduler.push(("WORKERS_COUNT", "1"))),
        ),
        (
            "workers-count-meaning-changed",
            Box::new(|setup: &mut Setup| setup.worker.push(("WORKERS_COUNT", "4"))),
        ),
        (
            "cookie-secret-missing",
            Box::new(|setup: &mut Setup| {
                setup
                    .shared_env
                    .retain(|(name, _)| *name != "REDASH_COOKIE_SECRET")
            }),
        ),
        (
            "secret-key-unset",
            Box::new(|setup: &mut Setup| {
                setup
                    .shared_env
                    .retain(|(name, _)| *name != "REDASH_SECRET_KEY")
            }),
        ),
        (
            "secret-key-differs-between-roles",
            Box::new(|setup: &mut Setup| setup.worker.push(("REDASH_SECRET_KEY", "another-key"))),
        ),
        (
            "setting-differs-between-roles",
            Box::new(|setup: &mut Setup| {
                setup
                    .server
                    .push(("REDASH_ENFORCE_PRIVATE_IP_BLOCK", "false"))
            }),
        ),
        (
            "connection-setting-not-read",
            Box::new(|setup: &mut Setup| {
                setup.worker.push(("REDIS_HOST", "redis"));
                setup.worker.push(("REDIS_PORT", "6379"));
            }),
        ),
        (
            "variable-removed",
            Box::new(|setup: &mut Setup| {
                setup
                    .server
                    .push(("REDASH_CELERY_BROKER", "redis://redis:6379/0"))
            }),
        ),
        (
            "redash-host-without-scheme",
            Box::new(|setup: &mut Setup| {
                setup.from = "25.8";
                setup.to = "latest";
                setup.image = "redash/redash:25.8.0";
                setup.shared_env.push(("REDASH_MULTI_ORG", "true"));
                setup.shared_env.push(("REDASH_HOST", "redash.example.com"));
            }),
        ),
        (
            "csrf-enforced-with-multi-org",
            Box::new(|setup: &mut Setup| {
                setup.shared_env.push(("REDASH_MULTI_ORG", "true"));
                setup.shared_env.push(("REDASH_ENFORCE_CSRF", "true"));
            }),
        ),
        (
            "gunicorn-binds-ipv6",
            Box::new(|setup: &mut Setup| {
                setup.from = "25.8";
                setup.to = "latest";
                setup.image = "redash/redash:25.8.0";
            }),
        ),
        (
            "module-removed",
            Box::new(|setup: &mut Setup| {
                setup.from = "10.1";
                setup.to = "latest";
                setup.image = "redash/redash:10.1.0.b50633";
                setup.shared_env.push((
                    "REDASH_ADDITIONAL_QUERY_RUNNERS",
                    "redash.query_runner.python,redash.query_runner.qubole",
                ));
            }),
        ),
        (
            "memory-insufficient",
            Box::new(|setup: &mut Setup| setup.extra_args = vec!["--host-memory", "2GiB"]),
        ),
        (
            "login-throttle-health-check",
            Box::new(|setup: &mut Setup| {
                setup
                    .server
                    .push(("REDASH_THROTTLE_LOGIN_PATTERN", "1000/minute"))
            }),
        ),
        (
            "multi-org-static-images",
            Box::new(|setup: &mut Setup| {
                setup.shared_env.push(("REDASH_MULTI_ORG", "true"));
                setup
                    .extra_files
                    .push(("nginx.conf", NGINX_WITHOUT_REWRITE.to_owned()));
                setup.extra_args.extend(["--nginx", "nginx.conf"]);
            }),
        ),
        (
            "image-platform-unavailable",
            Box::new(|setup: &mut Setup| setup.extra_args.extend(["--host-arch", "arm64"])),
        ),
        (
            "image-tag-mismatch",
            Box::new(|setup: &mut Setup| setup.image = "redash/redash:latest"),
        ),
    ]
}

#[test]
fn the_ready_deployment_is_clean() {
    let setup = Setup::ready();
    assert_eq!(setup.codes(), Vec::<String>::new());
    let (code, _, _dir) = setup.run("text");
    assert_eq!(code, 0);
}

#[test]
fn every_check_fires_on_its_case_and_the_ready_setup_stays_quiet() {
    for (code, change) in cases() {
        let mut setup = Setup::ready();
        change(&mut setup);
        let codes = setup.codes();
        assert!(
            codes.iter().any(|found| found == code),
            "{code} did not fire: {codes:?}"
        );
        let (_, text, _dir) = setup.run("text");
        assert_golden(&format!("checks/{code}.txt"), &text);
    }
}

#[test]
fn the_multi_org_rewrite_and_the_plain_url_keep_checks_quiet() {
    let mut setup = Setup::ready();
    setup.shared_env.push(("REDASH_MULTI_ORG", "true"));
    setup
        .extra_files
        .push(("nginx.conf", NGINX_WITH_REWRITE.to_owned()));
    setup.extra_args.extend(["--nginx", "nginx.conf"]);
    assert_eq!(setup.codes(), Vec::<String>::new());
}

#[test]
fn every_registered_check_has_a_case() {
    let listed = stdout(&run_in(&repo_root(), &["checks"]));
    let covered: Vec<&str> = cases().iter().map(|(code, _)| *code).collect();
    for line in listed.lines() {
        let code = line.split_whitespace().next().unwrap();
        assert!(
            covered.contains(&code)
                || code == "secret-in-plain-environment"
                || crate::db_checks::COVERED.contains(&code)
                || crate::platforms::COVERED.contains(&code)
                || crate::services::COVERED.contains(&code)
                || crate::helm::COVERED.contains(&code)
                || crate::k8s::COVERED.contains(&code)
                || crate::status::COVERED.contains(&code),
            "{code} has no firing case in check.rs"
        );
        assert!(
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{code} is not kebab-case"
        );
    }
}

fn ecs_args(set: &str) -> Vec<String> {
    let mut args: Vec<String> = ["check", "--from", "7", "--to", "10"]
        .map(String::from)
        .to_vec();
    for role in ["server", "adhoc-worker", "scheduled-worker", "scheduler"] {
        args.push("--ecs-task-def".into());
        args.push(format!("tests/fixtures/{set}/{role}.json"));
    }
    args
}

#[test]
fn the_celery_era_ecs_services_against_10_list_every_change() {
    let args = ecs_args("ecs-v7");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_in(&repo_root(), &args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "error[queues-not-consumed] tests/fixtures/ecs-v7/adhoc-worker.json:22",
        "error[queues-celery-obsolete] tests/fixtures/ecs-v7/scheduler.json:22",
        "warning[scheduler-queues-ignored] tests/fixtures/ecs-v7/scheduler.json:62",
        "warning[workers-count-meaning-changed] tests/fixtures/ecs-v7/adhoc-worker.json:62",
        "warning[secret-key-unset] tests/fixtures/ecs-v7/server.json:11",
        "warning[login-throttle-health-check] tests/fixtures/ecs-v7/server.json:59",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    let mut json_args = args.clone();
    json_args.extend(["--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&run_in(&repo_root(), &json_args))).unwrap();
    let first = &report["findings"][0];
    assert_eq!(first["hop"], "7.0.0->8.0.0");
    assert!(first["location"]["line"].as_u64().unwrap() > 0);
    assert!(!first["help"].as_str().unwrap().is_empty());
    let mut sarif_args = args.clone();
    sarif_args.extend(["--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&stdout(&run_in(&repo_root(), &sarif_args))).unwrap();
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report["findings"].as_array().unwrap().len());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for (result, finding) in results.iter().zip(report["findings"].as_array().unwrap()) {
        assert_eq!(result["ruleId"], finding["code"]);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], finding["code"],
            "ruleIndex points at the rule"
        );
        let level = match finding["severity"].as_str().unwrap() {
            "info" => "note",
            other => other,
        };
        assert_eq!(result["level"], level);
        let place = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            place["artifactLocation"]["uri"],
            finding["location"]["file"]
        );
        assert_eq!(place["region"]["startLine"], finding["location"]["line"]);
        assert_eq!(result["properties"]["hop"], finding["hop"]);
    }
}

#[test]
fn the_ecs_services_made_ready_for_10_have_no_error() {
    let args = ecs_args("ecs-v10");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_in(&repo_root(), &args);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(!stdout(&output).contains("error["));
}

#[test]
fn a_secret_in_plain_ecs_environment_is_flagged_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read_to_string(repo_root().join("tests/fixtures/ecs-v10/server.json"))
        .unwrap()
        .replace(
            "\"name\": \"REDASH_WEB_WORKERS\",",
            "\"name\": \"REDASH_COOKIE_SECRET\",\n                        \"value\": \"plain-cookie-secret-value\"\n                    },\n                    {\n                        \"name\": \"REDASH_WEB_WORKERS\",",
        );
    std::fs::write(dir.path().join("server.json"), plain).unwrap();
    let output = run_in(
        dir.path(),
        &[
            "check",
            "--from",
            "10.1",
            "--to",
            "latest",
            "--ecs-task-def",
            "server.json",
        ],
    );
    let text = stdout(&output);
    assert!(text.contains("secret-in-plain-environment"), "{text}");
    assert!(!text.contains("plain-cookie-secret-value"), "{text}");
    assert_golden("checks/secret-in-plain-environment.txt", &text);
    let quiet = run_in(
        &repo_root(),
        &[
            "check",
            "--from",
            "10.1",
            "--to",
            "latest",
            "--ecs-task-def",
            "tests/fixtures/ecs-v10/server.json",
        ],
    );
    assert!(!stdout(&quiet).contains("secret-in-plain-environment"));
}

#[test]
fn the_official_compose_layouts_of_8_and_10() {
    let root = repo_root();
    let old = run_in(
        &root,
        &[
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--compose",
            "tests/fixtures/compose/v8.yml",
            "--host-memory",
            "4GiB",
        ],
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        stdout(&old).contains("error[queues-not-consumed]"),
        "{}",
        stdout(&old)
    );
    let new = run_in(
        &root,
        &[
            "check",
            "--from",
            "10.1",
            "--to",
            "latest",
            "--compose",
            "tests/fixtures/compose/v10.yml",
            "--host-memory",
            "4GiB",
        ],
    );
    assert_eq!(new.status.code(), Some(0), "{}", stdout(&new));
}

#[test]
fn levels_can_be_changed_per_code() {
    let mut setup = Setup::ready();
    setup
        .server
        .push(("REDASH_THROTTLE_LOGIN_PATTERN", "1000/minute"));
    setup
        .extra_args
        .extend(["--deny", "login-throttle-health-check"]);
    let (code, text, _dir) = setup.run("text");
    assert_eq!(code, 1);
    assert!(
        text.contains("error[login-throttle-health-check]"),
        "{text}"
    );
    setup.extra_args = vec![
        "--host-memory",
        "8GiB",
        "--allow",
        "login-throttle-health-check",
    ];
    assert_eq!(setup.codes(), Vec::<String>::new());
}

#[test]
fn bad_input_is_one_line_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "bad.yml",
            "services:\n  server:\n    command: [server\n    image: x\n",
            "--compose",
            "bad.yml:",
        ),
        (
            "bad.json",
            "{\n  \"containerDefinitions\": [\n    {\"name\": \"server\",, }\n  ]\n}\n",
            "--ecs-task-def",
            "bad.json:",
        ),
        (
            "bad.env",
            "REDASH_LOG_LEVEL=INFO\nthis line has no equals sign\n",
            "--env-file",
            "bad.env:2:",
        ),
        (
            "bad.conf",
            "server {\n  listen 80;\n  location / {\n",
            "--nginx",
            "bad.conf:",
        ),
        ("missing.yml", "", "--compose", "does-not-exist.yml:"),
    ];
    for (name, text, option, expected) in files {
        if name != "missing.yml" {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let path = if name == "missing.yml" {
            "does-not-exist.yml"
        } else {
            name
        };
        let output = run_in(
            dir.path(),
            &["check", "--from", "8", "--to", "10", option, path],
        );
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(stdout(&output).is_empty(), "{name}: stdout not empty");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
        assert!(
            message.starts_with(&format!("error: {expected}")),
            "{name}: {message}"
        );
    }
}

#[test]
fn every_check_is_documented_with_sources() {
    use redash_upgrade::checks::CHECKS;
    use redash_upgrade::knowledge::model::Source;
    let mut codes = std::collections::HashSet::new();
    for check in CHECKS {
        assert!(
            codes.insert(check.code()),
            "{} registered twice",
            check.code()
        );
        let doc = check.meta();
        for (field, text) in [
            ("summary", doc.summary),
            ("what", doc.what),
            ("why", doc.why),
            ("fix", doc.fix),
        ] {
            assert!(text.len() > 20, "{}: {field} is too thin", check.code());
        }
        assert!(!doc.references.is_empty(), "{}: no reference", check.code());
        for reference in doc.references {
            assert!(
                Source(reference.to_string()).is_well_formed(),
                "{}: reference {reference} is not TAG:path or a URL",
                check.code()
            );
        }
    }
}

#[test]
fn a_multi_org_nginx_in_front_of_three_apps() {
    let fixture = repo_root().join("tests/fixtures/nginx");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture, dir.path());
    let mut setup = Setup::ready();
    setup.shared_env.push(("REDASH_MULTI_ORG", "true"));
    let nginx = dir.path().join("nginx.conf");
    let nginx = nginx.to_str().unwrap().to_owned();
    let nginx: &'static str = Box::leak(nginx.into_boxed_str());
    setup.extra_args.extend(["--nginx", nginx]);
    assert_eq!(
        setup.codes(),
        Vec::<String>::new(),
        "the included rewrite serves the icons"
    );
    // Without the snippet the multi_org app serves its login page instead of icons.
    let analytics = dir.path().join("conf.d/analytics.conf");
    let without = std::fs::read_to_string(&analytics)
        .unwrap()
        .replace("include snippets/multi-org-static.conf;", "");
    std::fs::write(&analytics, without).unwrap();
    assert_eq!(setup.codes(), vec!["multi-org-static-images".to_owned()]);
}

#[test]
fn a_health_check_on_login_is_flagged_and_one_on_ping_is_not() {
    let compose_with = |path: &str| {
        let mut setup = Setup::ready();
        setup.server.clear();
        setup.compose().replace(
            "    command: server\n",
            &format!(
                "    command: server\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:5000{path}\"]\n"
            ),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redash.env"),
        "REDASH_COOKIE_SECRET=c\nREDASH_SECRET_KEY=k\n",
    )
    .unwrap();
    for (path, fires) in [("/login", true), ("/ping", false)] {
        std::fs::write(dir.path().join("compose.yml"), compose_with(path)).unwrap();
        let output = run_in(
            dir.path(),
            &[
                "check",
                "--from",
                "8",
                "--to",
                "10",
                "--compose",
                "compose.yml",
                "--host-memory",
                "8GiB",
            ],
        );
        let text = stdout(&output);
        assert_eq!(
            text.contains("health check requests /login"),
            fires,
            "{path}: {text}"
        );
    }
}

#[test]
fn ecs_desired_counts_feed_the_scheduler_check() {
    let root = repo_root();
    let base = [
        "check",
        "--from",
        "10.1",
        "--to",
        "latest",
        "--ecs-task-def",
        "tests/fixtures/ecs-v10/scheduler.json",
        "--ecs-task-def",
        "tests/fixtures/ecs-v10/server.json",
    ];
    let single = run_in(&root, &base);
    assert!(!stdout(&single).contains("scheduler-not-single"));
    let doubled = run_in(
        &root,
        &[&base[..], &["--ecs-desired-count", "redash-scheduler=2"]].concat(),
    );
    assert!(
        stdout(&doubled).contains("error[scheduler-not-single]"),
        "{}",
        stdout(&doubled)
    );
}

#[test]
fn every_check_the_hop_data_names_exists_and_every_named_trigger_is_named() {
    use redash_upgrade::checks::{self, Trigger, CHECKS};
    let knowledge = redash_upgrade::knowledge::KnowledgeBase::embedded().unwrap();
    let mut named = std::collections::HashSet::new();
    for transition in &knowledge.transitions {
        for trigger in &transition.checks {
            assert!(
                checks::find(&trigger.code).is_some(),
                "upgrade-paths/hops/{}-{}.json names {}, which is no check",
                transition.from,
                transition.to,
                trigger.code
            );
            named.insert(trigger.code.as_str());
        }
    }
    for check in CHECKS {
        let meta = check.meta();
        assert_eq!(
            meta.trigger == Trigger::NamedByHop,
            named.contains(meta.code),
            "{}: its trigger is {:?}, and the hop data {} it",
            meta.code,
            meta.trigger,
            if named.contains(meta.code) {
                "names"
            } else {
                "does not name"
            }
        );
    }
}

#[test]
fn quotes_inside_queues_are_read_as_the_release_reads_them() {
    // supervisord removes quotes around one name, so this worker consumes every queue.
    let mut quoted_one = Setup::ready();
    quoted_one.worker.push((
        "QUEUES",
        r#"\"queries,scheduled_queries,schemas,periodic,emails,default\""#,
    ));
    assert_eq!(quoted_one.codes(), Vec::<String>::new());
    // Quotes around two space-separated names make them one queue named "schemas queries".
    let mut quoted_two = Setup::ready();
    quoted_two.worker.push((
        "QUEUES",
        r#"\"schemas queries\" scheduled_queries periodic emails default"#,
    ));
    let (_, text, _dir) = quoted_two.run("json");
    let report: Value = serde_json::from_str(&text).unwrap();
    let message = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["code"] == "queues-not-consumed")
        .unwrap_or_else(|| panic!("queues-not-consumed did not fire: {report}"))["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("no role consumes queries, schemas on 10.1.0"),
        "{message}"
    );
    assert!(
        message.contains("worker consumes a queue named `schemas queries`"),
        "{message}"
    );
}

#[test]
fn a_worker_already_laid_out_for_rq_keeps_its_workers_count_quiet() {
    let mut laid_out = Setup::ready();
    laid_out.worker.push((
        "QUEUES",
        "periodic,emails,default,queries,scheduled_queries,schemas",
    ));
    laid_out.worker.push(("WORKERS_COUNT", "4"));
    assert!(
        !laid_out
            .codes()
            .contains(&"workers-count-meaning-changed".to_owned()),
        "{:?}",
        laid_out.codes()
    );
}

#[test]
fn a_check_that_cannot_run_says_so_once_per_run() {
    let args = [
        "check",
        "--from",
        "7",
        "--to",
        "10",
        "--env-file",
        "tests/fixtures/compose/env",
        "--format",
        "json",
    ];
    let report: Value = serde_json::from_str(&stdout(&run_in(&repo_root(), &args))).unwrap();
    let not_run: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "check-could-not-run")
        .map(|finding| finding["message"].as_str().unwrap())
        .collect();
    assert_eq!(report["hops"].as_array().unwrap().len(), 2);
    assert_eq!(
        not_run,
        [
            "queues-not-consumed could not run: no roles: give --compose or --ecs-task-def so the workers are known",
            "memory-insufficient could not run: no memory limits in the files and no --host-memory",
        ]
    );
    assert_eq!(report["summary"]["not_run"], 2);
}

#[test]
fn the_official_v4_layout_keeps_its_database_in_no_volume_and_lacks_a_secret_from_7() {
    let check = |to: &str| {
        let output = run_in(
            &repo_root(),
            &[
                "check",
                "--from",
                "4",
                "--to",
                to,
                "--compose",
                "tests/fixtures/compose/v4.yml",
                "--host-memory",
                "4GiB",
                "--format",
                "json",
            ],
        );
        let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let errors: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["severity"] == "error")
            .map(|finding| finding["code"].as_str().unwrap().to_owned())
            .collect();
        (output.status.code(), errors, report)
    };
    // Upstream's 4.0.1 compose has the PostgreSQL volume commented out
    // (v4.0.1:docker-compose.production.yml:41-42): the database lives in the container.
    let (code, errors, report) = check("6");
    assert_eq!(code, Some(1), "{errors:?}");
    assert_eq!(errors, ["database-without-volume"]);
    // The 'schemas' queue that 4.x-6.x's own defaults leave unconsumed is a warning.
    assert!(report["findings"].as_array().unwrap().iter().any(|finding| {
        finding["code"] == "queues-not-consumed"
            && finding["severity"] == "warning"
            && finding["message"]
                .as_str()
                .unwrap()
                .starts_with("no role consumes schemas on 5.0.2, and neither does 5.0.2's own default QUEUES")
    }));
    // From 7.0.0 the worker decrypts data sources with the cookie secret only the server has.
    let (code, errors, _) = check("7");
    assert_eq!(code, Some(1));
    assert_eq!(
        errors,
        [
            "database-without-volume",
            "secret-key-differs-between-roles"
        ]
    );
}

#[test]
fn missing_memory_figures_are_named_as_missing() {
    let not_run = |from: &'static str, to: &'static str, image: &'static str| {
        let mut setup = Setup::ready();
        setup.from = from;
        setup.to = to;
        setup.image = image;
        setup.extra_args = vec![];
        let (_, text, _dir) = setup.run("json");
        let report: Value = serde_json::from_str(&text).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["code"] == "check-could-not-run")
            .map(|finding| finding["message"].as_str().unwrap().to_owned())
            .filter(|message| message.starts_with("memory-insufficient"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        not_run("8", "9-beta", "redash/redash:8.0.0.b32245"),
        ["memory-insufficient could not run: the knowledge base has no memory figures for 9.0.0-beta"]
    );
    assert_eq!(
        not_run("25.1", "25.8", "redash/redash:25.1.0"),
        ["memory-insufficient could not run: the knowledge base has no per-role memory figures for 25.8.0, only a recommended host of at least 4096 MiB: give --host-memory to compare"]
    );
}

/// The `memory-insufficient` findings of a run: severity, message and fix.
fn memory_findings(setup: &Setup) -> Vec<(String, String, String)> {
    let (_, text, _dir) = setup.run("json");
    let report: Value = serde_json::from_str(&text).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "memory-insufficient")
        .map(|finding| {
            let field = |name: &str| finding[name].as_str().unwrap().to_owned();
            (field("severity"), field("message"), field("help"))
        })
        .collect()
}

/// A ready deployment on the 7.0.0 -> 8.0.0 hop, where workers run Celery.
fn celery_setup() -> Setup {
    let mut setup = Setup::ready();
    setup.from = "7";
    setup.to = "8";
    setup.image = "redash/redash:7.0.0.b18042";
    setup
}

const CELERY_MODEL: &str = "about 88 MiB plus 102 MiB per Celery worker process, the line through 190 MiB measured at WORKERS_COUNT=1 and 292 MiB at 2, extrapolated beyond 2";
const RQ_MODEL: &str = "about 590 MiB per container whether it runs 1 or 2 RQ worker processes, 590 MiB measured at WORKERS_COUNT=1 and 589 MiB at 2, more not measured";
const FLOOR: &str = "Idle figures are a floor: large query results take more, by an amount no measurement gives, so leave room for your largest and watch `docker stats` after the hop.";

#[test]
fn a_celery_worker_needs_a_base_plus_an_increment_per_process() {
    // 8.0.0's idle worker containers: 190 MiB at concurrency 1, 292 MiB at 2.
    let mut setup = celery_setup();
    setup.limits[1] = Some("400m");
    setup.worker.push(("WORKERS_COUNT", "4"));
    assert_eq!(
        memory_findings(&setup),
        [(
            "error".to_owned(),
            format!("worker is limited to 400 MiB; on 8.0.0 it needs about 496 MiB at idle with 4 Celery worker processes (WORKERS_COUNT=4), extrapolated; model: {CELERY_MODEL}"),
            format!("Raise the limit to at least 496 MiB, the idle need, or lower WORKERS_COUNT (each Celery worker process adds about 102 MiB). {FLOOR}"),
        )]
    );
    // Within the measured counts the figure is the measurement, and the fix gives the need
    // itself, not a factor of it.
    setup.worker = vec![];
    setup.limits[1] = Some("250m");
    assert_eq!(
        memory_findings(&setup),
        [(
            "error".to_owned(),
            format!("worker is limited to 250 MiB; on 8.0.0 it needs about 292 MiB at idle with 2 Celery worker processes (WORKERS_COUNT unset: the default); model: {CELERY_MODEL}"),
            format!("Raise the limit to at least 292 MiB, the idle need, or lower WORKERS_COUNT (each Celery worker process adds about 102 MiB). {FLOOR}"),
        )]
    );
    setup.limits[1] = Some("300m");
    assert_eq!(memory_findings(&setup), []);
    setup.worker.push(("WORKERS_COUNT", "1"));
    setup.limits[1] = Some("200m");
    assert_eq!(memory_findings(&setup), []);
}

#[test]
fn an_rq_worker_container_is_one_figure_and_more_processes_are_unmeasured() {
    // 10.1's idle worker containers: 590 MiB at WORKERS_COUNT 1, 589 at 2.
    let mut setup = Setup::ready();
    setup.limits[1] = Some("700m");
    assert_eq!(memory_findings(&setup), []);
    setup.worker.push(("WORKERS_COUNT", "1"));
    assert_eq!(memory_findings(&setup), []);
    setup.worker = vec![("WORKERS_COUNT", "4")];
    assert_eq!(
        memory_findings(&setup),
        [(
            "warning".to_owned(),
            format!("worker is limited to 700 MiB; on 10.1.0 the figures cannot tell whether that is enough with 4 RQ worker processes (WORKERS_COUNT=4), more than were measured; model: {RQ_MODEL}"),
            format!("Measure one container at idle with 4 RQ worker processes (`docker stats`), or keep WORKERS_COUNT at 2 or less and run more containers. {FLOOR}"),
        )]
    );
    setup.limits[1] = Some("500m");
    assert_eq!(
        memory_findings(&setup),
        [(
            "error".to_owned(),
            format!("worker is limited to 500 MiB; on 10.1.0 it needs at least 590 MiB at idle with 4 RQ worker processes (WORKERS_COUNT=4), more than were measured; model: {RQ_MODEL}"),
            format!("Raise the limit above 590 MiB and measure one container at idle with 4 RQ worker processes (`docker stats`), or keep WORKERS_COUNT at 2 or less and run more containers. {FLOOR}"),
        )]
    );
}

#[test]
fn the_server_figure_is_at_four_web_workers() {
    let mut setup = Setup::ready();
    setup.limits[0] = Some("800m");
    assert_eq!(memory_findings(&setup), []);
    const SERVER_MODEL: &str = "about 772 MiB, measured only with 4 gunicorn web workers (REDASH_WEB_WORKERS=4, the default)";
    setup.server = vec![("REDASH_WEB_WORKERS", "8")];
    assert_eq!(
        memory_findings(&setup),
        [(
            "warning".to_owned(),
            format!("server is limited to 800 MiB; on 10.1.0 the figures cannot tell whether that is enough with 8 gunicorn web workers (REDASH_WEB_WORKERS=8), more than were measured; model: {SERVER_MODEL}"),
            format!("Measure one container at idle with 8 gunicorn web workers (`docker stats`), or keep REDASH_WEB_WORKERS at 4 or less and run more containers. {FLOOR}"),
        )]
    );
    // Fewer web workers than measured: quiet under the measured figure's limit, unknown below.
    setup.server = vec![("REDASH_WEB_WORKERS", "2")];
    assert_eq!(memory_findings(&setup), []);
    setup.limits[0] = Some("700m");
    assert_eq!(
        memory_findings(&setup),
        [(
            "warning".to_owned(),
            format!("server is limited to 700 MiB; on 10.1.0 the figures cannot tell whether that is enough with 2 gunicorn web workers (REDASH_WEB_WORKERS=2), fewer than were measured; model: {SERVER_MODEL}"),
            format!("Raise the limit to 772 MiB, the figure at 4, or measure one container at idle with 2 gunicorn web workers (`docker stats`). {FLOOR}"),
        )]
    );
}

#[test]
fn the_host_sum_follows_the_process_counts() {
    // 670 (server) + 88 + 16 x 102 (worker) + 275 (scheduler) is more than 8.0.0's 2048 MiB.
    let mut setup = celery_setup();
    setup.extra_args = vec!["--host-memory", "2GiB"];
    assert_eq!(memory_findings(&setup), []);
    setup.worker.push(("WORKERS_COUNT", "16"));
    assert_eq!(
        memory_findings(&setup),
        [(
            "error".to_owned(),
            "the host has 2048 MiB; 8.0.0 needs about 2665 MiB for these roles at idle and upstream recommends at least 2048 MiB; idle need: server 670 MiB (4 gunicorn web workers, REDASH_WEB_WORKERS=4; measured at 4); worker 1720 MiB (16 Celery worker processes, WORKERS_COUNT=16; 88 + 16 x 102 MiB, extrapolated); scheduler 275 MiB (1 Celery worker process, WORKERS_COUNT unset: the default; measured at 1)".to_owned(),
            format!("Move to a host with at least 2665 MiB, the roles' idle need, before the hop. {FLOOR} Count PostgreSQL and Redis too where they share the host."),
        )]
    );
    // On RQ a host that holds the sum still hears that a container runs more processes than
    // were measured.
    let mut setup = Setup::ready();
    setup.worker.push(("WORKERS_COUNT", "4"));
    assert_eq!(
        memory_findings(&setup),
        [(
            "info".to_owned(),
            format!("worker on 10.1.0 is counted at 590 MiB with 4 RQ worker processes (WORKERS_COUNT=4), more than were measured, so the host's sum may be low; model: {RQ_MODEL}"),
            "Measure one container at idle with 4 RQ worker processes (`docker stats`), or keep WORKERS_COUNT at 2 or less and run more containers.".to_owned(),
        )]
    );
}

#[test]
fn the_check_states_the_model_the_plan_prints() {
    let output = run_in(
        &repo_root(),
        &["plan", "--from", "7", "--to", "10", "--format", "json"],
    );
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let texts: Vec<&str> = plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|hop| hop["memory"]["figures"]["roles"]["worker"]["text"].as_str())
        .collect();
    assert_eq!(texts, [CELERY_MODEL, RQ_MODEL]);
    let text_plan = stdout(&run_in(
        &repo_root(),
        &["plan", "--from", "7", "--to", "10"],
    ));
    let joined = text_plan.split_whitespace().collect::<Vec<_>>().join(" ");
    for model in [CELERY_MODEL, RQ_MODEL] {
        assert!(joined.contains(model), "{model}");
    }
    assert!(!joined.contains("per worker process"));
}

#[test]
fn settings_must_agree_where_they_take_effect_and_urls_are_never_shown() {
    let findings = |setup: &Setup| -> Vec<Value> {
        let (_, text, _dir) = setup.run("json");
        let report: Value = serde_json::from_str(&text).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["code"] == "setting-differs-between-roles")
            .cloned()
            .collect()
    };
    // Mail settings on the server alone: the workers send the e-mail.
    let mut mail = Setup::ready();
    mail.server.push(("REDASH_MAIL_SERVER", "smtp.example.com"));
    let found = findings(&mail);
    assert_eq!(found.len(), 1, "{found:#?}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("REDASH_MAIL_SERVER is set on server but not on worker, scheduler,")
            || message.starts_with("REDASH_MAIL_SERVER is set on server but not on worker,"),
        "{message}"
    );
    assert_eq!(found[0]["severity"], "warning");

    // Runner lists that differ: the same list in another order is the same setting.
    let mut lists = Setup::ready();
    lists.shared_env.push((
        "REDASH_ADDITIONAL_QUERY_RUNNERS",
        "redash.query_runner.python,redash.query_runner.jql",
    ));
    lists.worker.push((
        "REDASH_ADDITIONAL_QUERY_RUNNERS",
        "redash.query_runner.jql, redash.query_runner.python",
    ));
    assert_eq!(findings(&lists), Vec::<Value>::new());
    lists.worker.pop();
    lists
        .worker
        .push(("REDASH_ADDITIONAL_QUERY_RUNNERS", "redash.query_runner.jql"));
    let found = findings(&lists);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0]["message"]
        .as_str()
        .unwrap()
        .contains("differs between"));

    // A worker on another database: an error, and neither URL (nor its password) is printed.
    let mut url = Setup::ready();
    url.worker.push((
        "REDASH_DATABASE_URL",
        "postgresql://redash:other-db-password@replica/redash",
    ));
    let (code, text, _dir) = url.run("json");
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&text).unwrap();
    let differs: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "setting-differs-between-roles")
        .collect();
    assert_eq!(differs.len(), 1, "{report:#}");
    assert_eq!(differs[0]["severity"], "error");
    assert!(differs[0]["message"]
        .as_str()
        .unwrap()
        .contains("values not shown"));
    for format in ["text", "markdown", "json", "sarif"] {
        let (_, text, _dir) = url.run(format);
        assert!(!text.contains("other-db-password"), "{format}");
        assert!(!text.contains("db-password@"), "{format}");
    }

    // The URL through its older name is the same setting.
    let mut fallback = Setup::ready();
    fallback
        .shared_env
        .retain(|(name, _)| *name != "REDASH_DATABASE_URL");
    fallback.server.push((
        "REDASH_DATABASE_URL",
        "postgresql://redash:db-password@postgres/redash",
    ));
    fallback.worker.push((
        "DATABASE_URL",
        "postgresql://redash:db-password@postgres/redash",
    ));
    fallback.scheduler.push((
        "DATABASE_URL",
        "postgresql://redash:db-password@postgres/redash",
    ));
    assert_eq!(findings(&fallback), Vec::<Value>::new());
}

#[test]
fn a_redis_given_in_parts_the_release_does_not_read_is_an_error_naming_the_default() {
    let mut parts = Setup::ready();
    parts.worker.push(("REDASH_REDIS_HOST", "redis"));
    parts
        .worker
        .push(("REDASH_REDIS_PASSWORD", "redis-password"));
    let (code, text, _dir) = parts.run("json");
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&text).unwrap();
    let found: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "connection-setting-not-read")
        .collect();
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(
        found[0]["message"],
        "worker gives its Redis connection as REDASH_REDIS_HOST, REDASH_REDIS_PASSWORD, which 10.1.0 does not read, and no REDASH_REDIS_URL: it will connect to the default (value of REDIS_URL, else redis://localhost:6379/0)"
    );
    assert!(!text.contains("redis-password"));
    // libpq's own variables are read: PGHOST is no finding.
    let mut libpq = Setup::ready();
    libpq.worker.push(("PGHOST", "postgres"));
    assert!(!libpq
        .codes()
        .contains(&"connection-setting-not-read".to_owned()));
    // With the URL set, the parts beside it are harmless.
    parts
        .worker
        .push(("REDASH_REDIS_URL", "redis://:redis-password@redis:6379/0"));
    assert!(!parts
        .codes()
        .contains(&"connection-setting-not-read".to_owned()));
}
