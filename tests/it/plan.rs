//! The planner: version parsing, stops, revisions per hop, bad input.

use redash_upgrade::knowledge::{KnowledgeBase, Origin};
use redash_upgrade::plan::{plan as make_plan, resolve, Phase, PlanError, UpgradePlan};

use crate::support::{copy_tree, repo_root};

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

fn hop_texts<'k>(plan: &UpgradePlan<'k>, hop: usize) -> Vec<String> {
    let hop = &plan.hops[hop];
    hop.steps
        .iter()
        .map(|step| step.text.clone())
        .chain(
            hop.breaking_changes()
                .into_iter()
                .chain(hop.process_changes())
                .chain(hop.user_notes())
                .map(|note| note.text.clone()),
        )
        .collect()
}

#[test]
fn referrer_policy_keeps_its_name_in_25_1_and_feature_policy_is_a_new_variable() {
    let knowledge = knowledge();
    let plan = plan_to_25_1(&knowledge);
    let changes: Vec<(&str, &str)> = plan.hops[0]
        .env_changes
        .iter()
        .map(|change| (change.name(), change.kind()))
        .collect();
    assert!(
        changes.contains(&("REDASH_FEATURE_POLICY", "added")),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|(name, _)| *name == "REDASH_REFERRER_POLICY"),
        "REDASH_REFERRER_POLICY is read by 10.1.0 and 25.1.0 alike: {changes:?}"
    );
    assert!(plan.hops[0].breaking_changes().iter().any(|note| note
        .text
        .contains("Feature-Policy header now comes from the new REDASH_FEATURE_POLICY")
        && note.source.0 == "v25.1.0:redash/settings/__init__.py:134"));
}

#[test]
fn the_25_1_plan_says_the_version_check_still_reports_to_version_redash_io() {
    let knowledge = knowledge();
    let plan = plan_to_25_1(&knowledge);
    let texts = hop_texts(&plan, 0);
    assert!(
        !texts.iter().any(|text| text.contains("version check")
            && text.contains("removed")
            && !text.contains("brought back")),
        "25.1.0 still has the version check: {texts:#?}"
    );
    let step = plan.hops[0]
        .steps
        .iter()
        .find(|step| step.text.contains("https://version.redash.io"))
        .expect("a step names the host the version check reports to");
    assert!(step.text.contains("REDASH_VERSION_CHECK=false"));
    assert_eq!(
        step.source.as_ref().map(|source| source.0.as_str()),
        Some("v25.1.0:redash/tasks/schedule.py:82-83")
    );
    assert!(texts
        .iter()
        .any(|text| text.contains("usage counts") && text.contains("consent")));
}

fn advises_disabling_the_private_ip_block(text: &str) -> bool {
    text.contains("set REDASH_ENFORCE_PRIVATE_IP_BLOCK=false")
}

#[test]
fn a_plan_to_9_beta_does_not_advise_the_private_ip_setting_it_ignores() {
    let knowledge = knowledge();
    let beta = make_plan(&knowledge, "8", "9-beta").unwrap();
    let texts = hop_texts(&beta, 0);
    assert!(
        !texts
            .iter()
            .any(|text| advises_disabling_the_private_ip_block(text)),
        "{texts:#?}"
    );
    assert!(beta.hops[0].steps.iter().any(|step| step
        .text
        .starts_with("Do not count on REDASH_ENFORCE_PRIVATE_IP_BLOCK in 9.0.0-beta")));
    assert!(beta.hops[0]
        .known_bugs
        .iter()
        .any(|bug| bug.id == "private-ip-block-not-disableable-9-beta"));
    // 10.x honours the variable: the same transition's advice is kept there.
    let ten = make_plan(&knowledge, "8", "10").unwrap();
    assert!(ten.hops[0]
        .steps
        .iter()
        .any(|step| advises_disabling_the_private_ip_block(&step.text)));
    assert!(!ten.hops[0]
        .known_bugs
        .iter()
        .any(|bug| bug.id == "private-ip-block-not-disableable-9-beta"));
}

#[test]
fn whether_a_plan_advises_a_variable_follows_the_release_data() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("upgrade-paths"), dir.path());
    let path = dir.path().join("releases/9.0.0-beta.json");
    let mut release: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let variable = release["env"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|variable| variable["name"] == "REDASH_ENFORCE_PRIVATE_IP_BLOCK")
        .unwrap();
    assert!(variable
        .as_object_mut()
        .unwrap()
        .remove("ignored")
        .is_some());
    std::fs::write(&path, serde_json::to_string_pretty(&release).unwrap()).unwrap();
    let knowledge = KnowledgeBase::load(&Origin::Directory(dir.path().to_owned())).unwrap();
    let plan = make_plan(&knowledge, "8", "9-beta").unwrap();
    assert!(plan.hops[0]
        .steps
        .iter()
        .any(|step| advises_disabling_the_private_ip_block(&step.text)));
}

fn bug_ids<'k>(plan: &UpgradePlan<'k>, hop: usize) -> Vec<&'k str> {
    plan.hops[hop]
        .known_bugs
        .iter()
        .map(|bug| bug.id.as_str())
        .collect()
}

#[test]
fn a_schedule_without_until_stops_refreshes_from_7_0_until_9_beta() {
    let knowledge = knowledge();
    let seven = make_plan(&knowledge, "6", "7").unwrap();
    assert!(bug_ids(&seven, 0).contains(&"schedule-without-until-key"));
    let eight = make_plan(&knowledge, "7", "8").unwrap();
    assert!(bug_ids(&eight, 0).contains(&"schedule-without-until-key"));
    let beta = make_plan(&knowledge, "8", "9-beta").unwrap();
    let ids = bug_ids(&beta, 0);
    assert!(!ids.contains(&"schedule-without-until-key"), "{ids:?}");
    assert!(
        ids.contains(&"schedule-without-until-key-disabled"),
        "{ids:?}"
    );
    let bug = seven.hops[0]
        .known_bugs
        .iter()
        .find(|bug| bug.id == "schedule-without-until-key")
        .unwrap();
    assert!(bug.effect.contains("refresh_queries"), "{}", bug.effect);
}

#[test]
fn hops_up_to_9_beta_warn_that_create_db_stamps_an_existing_database() {
    let knowledge = knowledge();
    let beta = make_plan(&knowledge, "8", "9-beta").unwrap();
    assert!(bug_ids(&beta, 0).contains(&"create-db-stamps-existing-database"));
    let ten = make_plan(&knowledge, "9-beta", "10.0").unwrap();
    assert!(!bug_ids(&ten, 0).contains(&"create-db-stamps-existing-database"));
}

#[test]
fn every_hop_warns_against_running_the_setup_script_again() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "latest").unwrap();
    for hop in &plan.hops {
        assert!(
            hop.steps.iter().any(|step| step.phase == Phase::PreFlight
                && step.text.contains("--overwrite")
                && step
                    .source
                    .as_ref()
                    .is_some_and(|source| source.0.starts_with("setup@"))),
            "{}",
            hop.id()
        );
    }
}

#[test]
fn the_container_hostname_is_no_environment_change() {
    let knowledge = knowledge();
    for (from, to) in [("6", "7"), ("8", "10"), ("4.0.0", "latest")] {
        let plan = make_plan(&knowledge, from, to).unwrap();
        for hop in &plan.hops {
            assert!(
                !hop.env_changes
                    .iter()
                    .any(|change| change.name() == "HOSTNAME"),
                "{}",
                hop.id()
            );
        }
    }
}
