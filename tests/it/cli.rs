//! What a user sees: golden output of every format, --help, exit codes and error lines.

use crate::support::{assert_golden, run, stderr, stdout};

#[test]
fn plan_7_to_10_text_matches_golden() {
    let output = run(&["plan", "--from", "7", "--to", "10"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_golden("plan-7-10.txt", &stdout(&output));
    assert_eq!(stderr(&output), "");
}

#[test]
fn plan_7_to_10_markdown_matches_golden() {
    let output = run(&["plan", "--from", "7", "--to", "10", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0));
    assert_golden("plan-7-10.md", &stdout(&output));
}

#[test]
fn plan_7_to_10_json_matches_golden() {
    let output = run(&["plan", "--from", "7", "--to", "10", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_golden("plan-7-10.json", &text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["from"], "7.0.0");
    assert_eq!(value["to"], "10.1.0");
    for field in [
        "from",
        "to",
        "image",
        "alembic",
        "irreversible",
        "steps",
        "env_changes",
        "known_bugs",
    ] {
        assert!(
            value["hops"][0].get(field).is_some(),
            "hop field {field} is part of the contract"
        );
    }
    for field in ["from_head", "to_head", "revisions"] {
        assert!(
            value["hops"][1]["alembic"].get(field).is_some(),
            "alembic field {field}"
        );
    }
}

#[test]
fn text_output_fits_80_columns_and_has_no_colour_when_piped() {
    let output = run(&["plan", "--from", "4", "--to", "latest"]);
    let text = stdout(&output);
    for line in text.lines() {
        let words_longer = line
            .split_whitespace()
            .any(|word| word.chars().count() > 60);
        assert!(
            line.chars().count() <= 80 || words_longer,
            "too wide: {line}"
        );
    }
    assert!(!text.contains('\u{1b}'), "no ANSI codes on a pipe");
}

#[test]
fn colour_is_forced_by_always_and_never_used_with_no_color() {
    let output = run(&["--color", "always", "plan", "--from", "7", "--to", "8"]);
    assert!(stdout(&output).contains('\u{1b}'));
    let output = crate::support::command()
        .args(["plan", "--from", "7", "--to", "8"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains('\u{1b}'));
}

#[test]
fn help_matches_golden() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert_golden("help.txt", &stdout(&output));
    let output = run(&["plan", "--help"]);
    assert_golden("plan-help.txt", &stdout(&output));
    for command in ["detect", "check"] {
        let output = run(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        assert_golden(&format!("{command}-help.txt"), &stdout(&output));
    }
}

#[test]
fn releases_lists_every_release_with_image_python_and_head() {
    let output = run(&["releases"]);
    assert_eq!(output.status.code(), Some(0));
    assert_golden("releases.txt", &stdout(&output));
    let output = run(&["releases", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["releases"].as_array().unwrap().len(), 15);
}

fn assert_one_line_failure(args: &[&str], expected: &str) {
    let output = run(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    assert_eq!(stdout(&output), "", "no partial output on failure");
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.starts_with("error: "), "{error}");
    assert!(error.contains(expected), "{error}");
}

#[test]
fn bad_input_fails_with_one_line_and_exit_code_2() {
    assert_one_line_failure(
        &["plan", "--from", "11"],
        "--from 11: no such Redash release (known: 4.0.0",
    );
    assert_one_line_failure(
        &["plan", "--from", "seven"],
        "--from \"seven\": not a version",
    );
    assert_one_line_failure(
        &["plan", "--from", "10", "--to", "10.1.0"],
        "are the same release",
    );
    assert_one_line_failure(
        &["plan", "--from", "10", "--to", "7"],
        "restoring the snapshot",
    );
    assert_one_line_failure(
        &["--upgrade-paths", "/nonexistent/kb", "plan", "--from", "7"],
        "--upgrade-paths /nonexistent/kb: not a directory",
    );
}

#[test]
fn plan_4_to_latest_json_chains_every_hop_from_start_head_to_end_head() {
    let output = run(&["plan", "--from", "4", "--to", "latest", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hops = value["hops"].as_array().unwrap();
    assert_eq!(
        hops.first().unwrap()["alembic"]["from_head"],
        "969126bd800f"
    );
    assert_eq!(hops.last().unwrap()["alembic"]["to_head"], "db0aca1ebd32");
    for pair in hops.windows(2) {
        assert_eq!(
            pair[0]["alembic"]["to_head"],
            pair[1]["alembic"]["from_head"]
        );
        assert_eq!(pair[0]["to"], pair[1]["from"]);
    }
    let mut applied = vec![hops[0]["alembic"]["from_head"].as_str().unwrap().to_owned()];
    for hop in hops {
        let details = hop["alembic"]["details"].as_array().unwrap();
        for detail in details {
            for parent in detail["parents"].as_array().unwrap() {
                let parent = parent.as_str().unwrap().to_owned();
                assert!(
                    applied.contains(&parent),
                    "{} comes before its parent {parent}",
                    detail["revision"]
                );
            }
            applied.push(detail["revision"].as_str().unwrap().to_owned());
        }
        let last = details
            .last()
            .map_or(hop["alembic"]["from_head"].as_str(), |detail| {
                detail["revision"].as_str()
            });
        assert_eq!(
            last,
            hop["alembic"]["to_head"].as_str(),
            "hop {} ends at its head",
            hop["to"]
        );
    }
}

#[test]
fn no_secret_value_reaches_any_plan_output() {
    let cookie_default = "c292a0a3aa32397cdb050e233733900f";
    for format in ["text", "markdown", "json"] {
        let output = run(&["plan", "--from", "4", "--to", "latest", "--format", format]);
        assert!(
            !stdout(&output).contains(cookie_default),
            "{format} prints the built-in secret"
        );
    }
}
