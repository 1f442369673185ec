//! What a user sees, beyond the recorded cases in `tests/cmd/`: the JSON contracts, the layout
//! rules of text output, colour policy.

use crate::support::{run, stdout};

#[test]
fn plan_7_to_10_json_matches_golden() {
    let output = run(&["plan", "--from", "7", "--to", "10", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
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
fn releases_lists_every_release_with_image_python_and_head() {
    let output = run(&["releases", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["releases"].as_array().unwrap().len(), 15);
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
