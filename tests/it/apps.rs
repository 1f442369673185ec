//! Several Redash apps: three apps in one compose file on one host (each checked alone, the
//! host's memory summed over all of them), and a fleet file checking several apps in one run.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{repo_root, stderr, stdout};

fn run_in(dir: &Path, args: &[&str]) -> Output {
    crate::support::command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// `check` of the three-app compose fixture, as JSON: exit code and report.
fn three_apps(extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--compose",
        "tests/fixtures/apps/compose.yml",
        "--format",
        "json",
    ];
    args.extend(extra);
    let output = run_in(&repo_root(), &args);
    let code = output.status.code().unwrap();
    assert_ne!(code, 2, "check failed: {}", stderr(&output));
    (code, serde_json::from_str(&stdout(&output)).unwrap())
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == code)
        .collect()
}

#[test]
fn three_apps_on_one_host_are_checked_one_app_at_a_time() {
    let (code, report) = three_apps(&["--host-memory", "32GiB"]);
    // Three schedulers, one per app, are fine; ops runs two replicas of its own.
    let schedulers = findings(&report, "scheduler-not-single");
    assert_eq!(schedulers.len(), 1, "{report:#}");
    assert_eq!(schedulers[0]["app"], "ops");
    assert!(schedulers[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("2 schedulers would run on 10.1.0 (ops_scheduler x2)"));
    assert_eq!(code, 1);
    // Each app's own findings carry its name, and the secrets of three apps do not differ
    // "between roles".
    let changed = findings(&report, "workers-count-meaning-changed");
    let apps: Vec<&str> = changed
        .iter()
        .map(|finding| finding["app"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["analytics", "finance", "ops"]);
    assert!(findings(&report, "secret-key-differs-between-roles").is_empty());
    // The host fits every app: no memory finding.
    assert!(
        findings(&report, "memory-insufficient").is_empty(),
        "{report:#}"
    );
}

#[test]
fn the_host_memory_is_one_sum_over_every_app() {
    let (code, report) = three_apps(&["--host-memory", "4GiB"]);
    assert_eq!(code, 1);
    let memory = findings(&report, "memory-insufficient");
    assert_eq!(memory.len(), 1, "{report:#}");
    assert!(memory[0].get("app").is_none(), "the host is every app's");
    let message = memory[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the host has 4096 MiB; 10.1.0 needs about 4866 MiB at idle for the roles of the 3 apps on it"
        ),
        "{message}"
    );
    for part in [
        "analytics 1557 MiB (analytics_server 772 MiB",
        "finance 1557 MiB (",
        "ops 1752 MiB (",
        "ops_scheduler 2 x 195 MiB",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    // 4866 MiB fits in 5GiB: quiet.
    let (_, report) = three_apps(&["--host-memory", "5GiB"]);
    assert!(
        findings(&report, "memory-insufficient").is_empty(),
        "{report:#}"
    );
}

#[test]
fn every_format_names_the_app() {
    let root = repo_root();
    let args = |format: &'static str| {
        vec![
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--compose",
            "tests/fixtures/apps/compose.yml",
            "--host-memory",
            "32GiB",
            "--format",
            format,
        ]
    };
    let text = stdout(&run_in(&root, &args("text")));
    assert!(
        text.contains("  [ops] error[scheduler-not-single] tests/fixtures/apps/compose.yml:"),
        "{text}"
    );
    let markdown = stdout(&run_in(&root, &args("markdown")));
    assert!(
        markdown.contains("- [ ] [ops] **error** `scheduler-not-single`"),
        "{markdown}"
    );
    let sarif: Value = serde_json::from_str(&stdout(&run_in(&root, &args("sarif")))).unwrap();
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|result| result["ruleId"] == "scheduler-not-single")
        .unwrap();
    assert_eq!(result["properties"]["app"], "ops");
    assert!(result["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with("[ops] 2 schedulers"));
}

#[test]
fn one_app_stays_untagged() {
    let output = run_in(
        &repo_root(),
        &[
            "check",
            "--from",
            "8",
            "--to",
            "10",
            "--compose",
            "tests/fixtures/compose/v8.yml",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    for finding in report["findings"].as_array().unwrap() {
        assert!(finding.get("app").is_none(), "{finding:#}");
    }
}

/// `check --fleet` of `file` in `dir`, as JSON.
fn fleet(dir: &Path, file: &str) -> (i32, Value, String) {
    let output = run_in(dir, &["check", "--fleet", file, "--format", "json"]);
    let code = output.status.code().unwrap();
    let text = stdout(&output);
    let report = if code == 2 {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (code, report, stderr(&output))
}

#[test]
fn a_fleet_file_in_toml_or_yaml_checks_every_app_in_one_report() {
    let dir = repo_root().join("tests/fixtures/apps");
    let (toml_code, toml, _) = fleet(&dir, "fleet.toml");
    let (yaml_code, yaml, _) = fleet(&dir, "fleet.yml");
    assert_eq!(toml, yaml, "the two spellings are one fleet");
    // analytics has errors, finance none: the worst wins.
    assert_eq!((toml_code, yaml_code), (1, 1));
    let apps: Vec<&str> = toml["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|finding| finding["app"].as_str())
        .collect();
    assert!(
        apps.contains(&"analytics") && apps.contains(&"finance"),
        "{apps:?}"
    );
    assert!(toml["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|finding| finding["app"].is_string()));
    assert_eq!(
        toml["hops"],
        serde_json::json!(["8.0.0->10.1.0", "10.1.0->25.1.0"])
    );
    // Both rewrite tables on rds-main at 10.1.0 -> 25.1.0: named together, once.
    let shared: Vec<&Value> = findings(&toml, "table-rewrite-size");
    assert_eq!(shared.len(), 1, "{toml:#}");
    assert_eq!(shared[0]["app"], "analytics, finance");
    assert_eq!(shared[0]["hop"], "10.1.0->25.1.0");
    let message = shared[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("apps analytics and finance share the database server rds-main"),
        "{message}"
    );
    assert!(message.contains("analytics rewrites alerts"), "{message}");
}

#[test]
fn a_fleet_of_clean_apps_exits_0_and_one_bad_app_makes_it_1() {
    let fixtures = repo_root().join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let env = fixtures.join("compose/env");
    let v8 = fixtures.join("compose/v8.yml");
    let clean = format!(
        "[[apps]]\nname = \"finance\"\nfrom = \"10\"\nto = \"25.1\"\nenv_files = [{:?}]\n",
        env.display().to_string()
    );
    std::fs::write(dir.path().join("clean.toml"), &clean).unwrap();
    let (code, report, _) = fleet(dir.path(), "clean.toml");
    assert_eq!(code, 0, "{report:#}");
    let both = format!(
        "{clean}\n[[apps]]\nname = \"analytics\"\nfrom = \"8\"\nto = \"10\"\ncompose = {:?}\n",
        v8.display().to_string()
    );
    std::fs::write(dir.path().join("both.toml"), both).unwrap();
    let (code, report, _) = fleet(dir.path(), "both.toml");
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn a_fleet_file_holding_a_password_is_refused_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = repo_root().join("tests/fixtures/compose/env");
    for (name, line) in [
        (
            "url-in-variable.toml",
            "database_url_env = \"postgresql://finance:hunter2-secret@rds.example/finance\"",
        ),
        (
            "url-field.toml",
            "database_url = \"postgresql://finance:hunter2-secret@rds.example/finance\"",
        ),
    ] {
        let text = format!(
            "[[apps]]\nname = \"finance\"\nfrom = \"10\"\nenv_files = [{:?}]\n{line}\n",
            env.display().to_string()
        );
        std::fs::write(dir.path().join(name), text).unwrap();
        let (code, _, error) = fleet(dir.path(), name);
        assert_eq!(code, 2, "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(
            error.contains(name) && error.contains("password"),
            "{error}"
        );
    }
    // A URL without a password is still not a variable name.
    std::fs::write(
        dir.path().join("literal.yml"),
        "apps:\n  - name: finance\n    from: '10'\n    database_url_env: postgresql://rds.example/finance\n",
    )
    .unwrap();
    let (code, _, error) = fleet(dir.path(), "literal.yml");
    assert_eq!(code, 2);
    assert!(error.contains("is not a variable name"), "{error}");
}

#[test]
fn a_fleet_app_reads_its_database_from_the_variable_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let env = repo_root().join("tests/fixtures/compose/env");
    std::fs::write(
        dir.path().join("fleet.toml"),
        format!(
            "[[apps]]\nname = \"finance\"\nfrom = \"10\"\nenv_files = [{:?}]\ndatabase_url_env = \"FINANCE_DATABASE_URL_FOR_TESTS\"\n",
            env.display().to_string()
        ),
    )
    .unwrap();
    let (code, _, error) = fleet(dir.path(), "fleet.toml");
    assert_eq!(code, 2);
    assert!(
        error.contains("app finance of the fleet: FINANCE_DATABASE_URL_FOR_TESTS"),
        "{error}"
    );
}

#[test]
fn plan_takes_a_fleet_and_plans_every_app_from_its_own_release() {
    let fixtures = repo_root().join("tests/fixtures/apps");
    let text = run_in(&fixtures, &["plan", "--fleet", "fleet.toml"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let printed = stdout(&text);
    assert!(
        printed.starts_with(
            "App analytics\n=============\n\nUpgrade plan: Redash 8.0.0 -> 25.1.0 (2 hops)"
        ),
        "{printed}"
    );
    assert!(
        printed
            .contains("App finance\n===========\n\nUpgrade plan: Redash 10.1.0 -> 25.1.0 (1 hop)"),
        "{printed}"
    );
    let json = run_in(
        &fixtures,
        &["plan", "--fleet", "fleet.yml", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let document: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["type"], "fleet-plan");
    let apps: Vec<(&str, usize)> = document["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| {
            (
                app["app"].as_str().unwrap(),
                app["plan"]["hops"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(apps, [("analytics", 2), ("finance", 1)]);

    // An app without `from`: one line naming it, nothing on stdout.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.toml"),
        "[[apps]]\nname = \"ops\"\nto = \"10\"\n",
    )
    .unwrap();
    let missing = run_in(dir.path(), &["plan", "--fleet", "fleet.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stdout(&missing), "");
    assert!(
        stderr(&missing).contains("app ops of fleet.toml has no `from`"),
        "{}",
        stderr(&missing)
    );
}
