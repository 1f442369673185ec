//! CPU architectures: a role on a platform the target image is not built for, and data sources
//! whose drivers the target's image for that platform lacks.

use serde_json::Value;

/// The database check these tests make fire (the configuration one has a case in check.rs too).
pub const COVERED: [&str; 1] = ["runner-unusable-on-platform"];

use crate::pg::fixture_db;
use crate::support::{command, repo_root, stderr, stdout};

fn codes_and_messages(args: &[&str]) -> Vec<(String, String)> {
    let output = command()
        .args(args)
        .args(["--format", "json"])
        .current_dir(repo_root())
        .env("FIXTURE_KEY", redash_upgrade::testbed::FIXTURE_SECRET_KEY)
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            (
                finding["code"].as_str().unwrap().to_owned(),
                finding["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn messages_of(found: &[(String, String)], code: &str) -> Vec<String> {
    found
        .iter()
        .filter(|(found, _)| found == code)
        .map(|(_, message)| message.clone())
        .collect()
}

#[test]
fn an_arm64_task_cannot_run_an_amd64_only_image_and_can_run_a_multi_platform_one() {
    let arm = "tests/fixtures/ecs-arm64/adhoc-worker.json";
    let to_ten = codes_and_messages(&["check", "--from", "8", "--to", "10", "--ecs-task-def", arm]);
    assert_eq!(
        messages_of(&to_ten, "image-platform-unavailable"),
        ["redash-adhoc-worker runs on linux/arm64, but the 10.1.0 image is built for linux/amd64 only"]
    );
    let to_25 = codes_and_messages(&[
        "check",
        "--from",
        "10.1",
        "--to",
        "25.8",
        "--ecs-task-def",
        arm,
    ]);
    assert_eq!(
        messages_of(&to_25, "image-platform-unavailable"),
        Vec::<String>::new()
    );
    // The same task without runtimePlatform, on a host said to be amd64, is fine; said to be
    // arm64, it is not.
    let plain = "tests/fixtures/ecs-v10/adhoc-worker.json";
    let amd = codes_and_messages(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--ecs-task-def",
        plain,
        "--host-arch",
        "amd64",
    ]);
    assert_eq!(
        messages_of(&amd, "image-platform-unavailable"),
        Vec::<String>::new()
    );
    let said_arm = codes_and_messages(&[
        "check",
        "--from",
        "8",
        "--to",
        "10",
        "--ecs-task-def",
        plain,
        "--host-arch",
        "aarch64",
    ]);
    assert_eq!(
        messages_of(&said_arm, "image-platform-unavailable").len(),
        1
    );
}

#[test]
fn data_sources_whose_driver_the_arm64_image_lacks_are_named() {
    let db = fixture_db("10.1.0");
    db.execute("UPDATE data_sources SET type = 'databricks' WHERE id IN (2, 4)");
    let url = db.tcp_url();
    let compose = "tests/fixtures/compose/v10.yml";
    let run = |arch: Option<&str>| {
        let mut args = vec![
            "check",
            "--database-url",
            &url,
            "--from",
            "10.1",
            "--to",
            "25.8",
            "--compose",
            compose,
            "--host-memory",
            "16GiB",
        ];
        if let Some(arch) = arch {
            args.extend(["--host-arch", arch]);
        }
        messages_of(&codes_and_messages(&args), "runner-unusable-on-platform")
    };
    let on_arm = run(Some("arm64"));
    assert_eq!(on_arm.len(), 1, "{on_arm:?}");
    assert!(
        on_arm[0]
            .starts_with("databricks data sources stop working on 25.8.0's linux/arm64 image (")
            && on_arm[0].ends_with("): ids 2, 4 (2 in all)"),
        "{on_arm:?}"
    );
    assert_eq!(run(Some("amd64")), Vec::<String>::new());
    assert_eq!(run(None), Vec::<String>::new());
}
