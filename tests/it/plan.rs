//! The planner: version parsing, stops, revisions per hop, bad input.

use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::plan::{plan as make_plan, resolve, PlanError, UpgradePlan};

fn knowledge() -> KnowledgeBase {
    KnowledgeBase::embedded().unwrap_or_else(|error| panic!("{error}"))
}

fn revisions(plan: &UpgradePlan<'_>, hop: usize) -> Vec<String> {
    plan.hops[hop]
        .revisions
        .iter()
        .map(|revision| revision.revision.clone())
        .collect()
}

#[test]
fn versions_are_accepted_in_every_form_operators_type() {
    let knowledge = knowledge();
    for (input, expected) in [
        ("7", "7.0.0"),
        ("v7", "7.0.0"),
        ("7.0", "7.0.0"),
        ("7.0.0", "7.0.0"),
        ("V7.0.0", "7.0.0"),
        ("9-beta", "9.0.0-beta"),
        ("9.0.0-beta", "9.0.0-beta"),
        ("9", "9.0.0-beta"),
        ("10", "10.1.0"),
        ("10.1", "10.1.0"),
        ("10.0", "10.0.0"),
        ("4", "4.0.2"),
        ("25", "25.8.0"),
        ("latest", "26.3.0"),
    ] {
        let resolved =
            resolve(&knowledge, input, "--to").unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(resolved.version.to_string(), expected, "{input}");
    }
}

#[test]
fn a_bare_major_says_which_release_it_means() {
    let knowledge = knowledge();
    let resolved = resolve(&knowledge, "10", "--to").unwrap();
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("--to 10 means 10.1.0, the newest 10.x release")
    );
    let exact = resolve(&knowledge, "10.1.0", "--to").unwrap();
    assert_eq!(exact.resolution, None);
    let beta = resolve(&knowledge, "9", "--from").unwrap();
    assert!(beta.resolution.unwrap().contains("pre-release"));
}

#[test]
fn unknown_and_malformed_versions_are_one_line_errors_naming_the_option() {
    let knowledge = knowledge();
    let unknown = resolve(&knowledge, "11", "--to").unwrap_err();
    let message = unknown.to_string();
    assert!(matches!(unknown, PlanError::UnknownVersion { .. }));
    assert!(
        message.starts_with("--to 11: no such Redash release (known: 4.0.0,"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    for bad in ["abc", "", "7.x", "1.2.3.4", "7-"] {
        let error = resolve(&knowledge, bad, "--from").unwrap_err();
        assert!(
            matches!(error, PlanError::MalformedVersion { .. }),
            "{bad}: {error}"
        );
        assert!(error.to_string().starts_with("--from "));
    }
    let missing_final = resolve(&knowledge, "9.0.0", "--to").unwrap_err();
    assert!(matches!(missing_final, PlanError::UnknownVersion { .. }));
}

#[test]
fn equal_and_backward_requests_are_refused() {
    let knowledge = knowledge();
    let same = make_plan(&knowledge, "10.1", "10").unwrap_err();
    assert!(matches!(same, PlanError::SameVersion { .. }), "{same}");
    let backward = make_plan(&knowledge, "10", "7").unwrap_err();
    assert!(matches!(backward, PlanError::Downgrade { .. }));
    assert!(
        backward.to_string().contains("restoring the snapshot"),
        "{backward}"
    );
}

#[test]
fn seven_to_ten_stops_at_eight_and_skips_the_beta_and_ten_zero() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "7", "10").unwrap();
    assert_eq!(plan.path(), ["7.0.0", "8.0.0", "10.1.0"]);
    let skipped: Vec<String> = plan
        .skipped
        .iter()
        .map(|skipped| skipped.version.to_string())
        .collect();
    assert_eq!(skipped, ["9.0.0-beta", "10.0.0"]);
    assert!(plan.skipped[1].reason.contains("10.1.0"));
    assert!(
        revisions(&plan, 0).is_empty(),
        "7.0.0 and 8.0.0 share a head"
    );
    assert_eq!(
        revisions(&plan, 1),
        ["0ec979123ba4", "d7d747033183", "89bc7873a3e0"]
    );
}

#[test]
fn eight_to_ten_applies_the_v10_revisions_including_the_merge() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "8", "10").unwrap();
    assert_eq!(plan.path(), ["8.0.0", "10.1.0"]);
    let applied = revisions(&plan, 0);
    assert!(applied.contains(&"89bc7873a3e0".to_owned()));
    assert_eq!(
        applied.last().map(String::as_str),
        Some("89bc7873a3e0"),
        "the merge comes after both parents"
    );
    assert_eq!(plan.hops[0].from_head(), "e5c7a4e2df4d");
    assert_eq!(plan.hops[0].to_head(), "89bc7873a3e0");
}

#[test]
fn ten_to_latest_passes_over_25_1_for_25_8() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "10", "latest").unwrap();
    assert_eq!(plan.path(), ["10.1.0", "25.8.0", "26.3.0"]);
    assert_eq!(
        revisions(&plan, 0),
        [
            "fd4fc850d7ea",
            "1038c2174f5d",
            "7ce5925f832b",
            "7205816877ec",
            "9e8c841d1a30",
            "1655999df5e3",
            "db0aca1ebd32"
        ]
    );
    assert!(revisions(&plan, 1).is_empty());
    let skipped = plan
        .skipped
        .iter()
        .find(|skipped| skipped.version.to_string() == "25.1.0")
        .unwrap();
    assert!(
        skipped.reason.contains("9e8c841d1a30"),
        "{}",
        skipped.reason
    );
}

#[test]
fn four_to_latest_walks_every_major_line() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "26.3").unwrap();
    assert_eq!(
        plan.path(),
        ["4.0.0", "4.0.2", "5.0.2", "6.0.0", "7.0.0", "8.0.0", "10.1.0", "25.8.0", "26.3.0"]
    );
}

#[test]
fn every_hop_of_four_to_latest_chains_revisions_from_head_to_head() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "latest").unwrap();
    let mut applied: Vec<String> = knowledge
        .graph_at(&plan.from.version)
        .ancestry(plan.hops[0].from.alembic_heads.iter().map(String::as_str))
        .into_iter()
        .map(str::to_owned)
        .collect();
    for hop in &plan.hops {
        for revision in &hop.revisions {
            for parent in &revision.parents {
                assert!(
                    applied.contains(parent),
                    "{} applied before its parent {parent}",
                    revision.revision
                );
            }
            assert!(
                !applied.contains(&revision.revision),
                "{} applied twice",
                revision.revision
            );
            applied.push(revision.revision.clone());
        }
        if let Some(last) = hop.revisions.last() {
            assert_eq!(last.revision, hop.to_head());
        } else {
            assert_eq!(hop.from_head(), hop.to_head());
        }
    }
    let total: usize = knowledge
        .releases
        .iter()
        .map(|release| release.migrations.len())
        .sum();
    assert_eq!(
        applied.len(),
        total,
        "every revision of 26.3.0 is applied exactly once"
    );
}

#[test]
fn an_explicit_target_that_is_not_a_stop_is_still_reached() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "8", "9-beta").unwrap();
    assert_eq!(plan.path(), ["8.0.0", "9.0.0-beta"]);
    assert_eq!(plan.hops[0].reason.text, "the target you asked for");
    let plan = plan_to_25_1(&knowledge);
    assert_eq!(plan.path(), ["10.1.0", "25.1.0"]);
    assert!(plan.hops[0]
        .known_bugs
        .iter()
        .any(|bug| bug.url.ends_with("/7272")));
}

fn plan_to_25_1(knowledge: &KnowledgeBase) -> UpgradePlan<'_> {
    make_plan(knowledge, "10.1.0", "25.1.0").unwrap()
}

#[test]
fn the_v7_hop_is_irreversible_and_names_its_rollback_snapshot() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "6", "7").unwrap();
    let hop = &plan.hops[0];
    assert!(hop.is_irreversible());
    assert!(hop
        .irreversible_revisions()
        .iter()
        .any(|revision| revision.revision == "98af61feea92"));
    assert_eq!(hop.snapshot_file, "redash-6.0.0-before-7.0.0.dump");
    assert!(hop
        .rollback_command()
        .contains("redash-6.0.0-before-7.0.0.dump"));
}

#[test]
fn env_changes_come_from_the_releases_and_hide_secret_defaults() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "10.0", "10.1").unwrap();
    let cookie = plan.hops[0]
        .env_changes
        .iter()
        .find(|change| change.name() == "REDASH_COOKIE_SECRET")
        .expect("10.1.0 removes the cookie secret's default");
    assert_eq!(cookie.kind(), "default-changed");
    let plan = make_plan(&knowledge, "8", "10").unwrap();
    let kinds: Vec<(&str, &str)> = plan.hops[0]
        .env_changes
        .iter()
        .map(|change| (change.name(), change.kind()))
        .collect();
    assert!(kinds.contains(&("RQ_REDIS_URL", "added")), "{kinds:?}");
    assert!(
        kinds.contains(&("REDASH_CELERY_BROKER", "removed")),
        "{kinds:?}"
    );
}
