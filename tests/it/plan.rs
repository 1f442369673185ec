//! The planner: version parsing, stops, revisions per hop, bad input.

use redash_upgrade::inputs::{Deployment, DeploymentFiles};
use redash_upgrade::knowledge::{KnowledgeBase, Origin};
use redash_upgrade::plan::{
    plan as make_plan, plan_for, resolve, EnvChange, Phase, PlanError, Platform, UpgradePlan,
};

use crate::support::{command, copy_tree, repo_root, run, stderr, stdout};

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

fn deployment(files: DeploymentFiles) -> Deployment {
    files.read().unwrap_or_else(|error| panic!("{error}"))
}

fn ecs_v7() -> Deployment {
    let dir = repo_root().join("tests/fixtures/ecs-v7");
    deployment(DeploymentFiles {
        ecs_task_definitions: ["server", "adhoc-worker", "scheduled-worker", "scheduler"]
            .iter()
            .map(|name| dir.join(format!("{name}.json")))
            .collect(),
        ..DeploymentFiles::default()
    })
}

fn compose_v8() -> Deployment {
    deployment(DeploymentFiles {
        compose: Some(repo_root().join("tests/fixtures/compose/v8.yml")),
        ..DeploymentFiles::default()
    })
}

/// Whether a step tells the operator to do something with compose (a mention of "old compose
/// files" as the reason for a general step is not an instruction).
fn speaks_of_compose(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("the compose file")
        || lower.contains("docker compose")
        || lower.contains("docker-compose")
        || lower.contains("setup.sh")
}

fn speaks_of_ecs(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("task definition") || lower.contains("task-definition") || text.contains("ECS")
}

#[test]
fn an_ecs_deployment_is_not_told_to_edit_a_compose_file_or_run_docker_compose() {
    let knowledge = knowledge();
    let deployment = ecs_v7();
    let plan = plan_for(&knowledge, "7", "10", Some(&deployment)).unwrap();
    assert_eq!(plan.platform(), Some(Platform::Ecs));
    for hop in &plan.hops {
        for step in &hop.steps {
            assert!(
                !speaks_of_compose(&step.text),
                "{}: {}",
                hop.id(),
                step.text
            );
            assert_ne!(step.platform, Some(Platform::Compose), "{}", step.text);
        }
    }
    let ten = &plan.hops[1];
    for wanted in [
        "one-off ECS task",
        "scheduler's task definition",
        "forced new deployment",
    ] {
        assert!(
            ten.steps.iter().any(|step| step.text.contains(wanted)),
            "no ECS step says {wanted:?}"
        );
    }
}

#[test]
fn a_compose_deployment_is_not_told_about_task_definitions() {
    let knowledge = knowledge();
    let deployment = compose_v8();
    let plan = plan_for(&knowledge, "8", "10", Some(&deployment)).unwrap();
    assert_eq!(plan.platform(), Some(Platform::Compose));
    let steps = &plan.hops[0].steps;
    for step in steps {
        assert!(!speaks_of_ecs(&step.text), "{}", step.text);
    }
    assert!(steps.iter().any(|step| step
        .text
        .contains("docker compose run --rm server manage db upgrade")));
    assert!(steps
        .iter()
        .any(|step| step.text.contains("docker-compose up --force-recreate")));
}

#[test]
fn without_deployment_files_every_kind_specific_step_is_marked_with_its_kind() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "latest").unwrap();
    assert_eq!(plan.platform(), None);
    let mut kinds = Vec::new();
    for hop in &plan.hops {
        for step in &hop.steps {
            if speaks_of_compose(&step.text) && !speaks_of_ecs(&step.text) {
                assert_eq!(step.platform, Some(Platform::Compose), "{}", step.text);
            }
            if speaks_of_ecs(&step.text) && !speaks_of_compose(&step.text) {
                assert_eq!(step.platform, Some(Platform::Ecs), "{}", step.text);
            }
            kinds.extend(step.platform);
        }
    }
    assert!(kinds.contains(&Platform::Compose) && kinds.contains(&Platform::Ecs));
    // An env file does not tell the kind: both kinds of steps stay, marked.
    let env_only = deployment(DeploymentFiles {
        env_files: vec![repo_root().join("tests/fixtures/compose/env")],
        ..DeploymentFiles::default()
    });
    let plan = plan_for(&knowledge, "8", "10", Some(&env_only)).unwrap();
    assert_eq!(plan.platform(), None);
    assert!(plan.hops[0]
        .steps
        .iter()
        .any(|step| step.platform == Some(Platform::Ecs)));
    let text = stdout(&run(&["plan", "--from", "8", "--to", "10"]));
    assert!(
        text.contains("[pre-flight] (compose only) Edit the compose file"),
        "{text}"
    );
    assert!(text.contains("[pre-flight] (ECS only) Edit the scheduler's task definition"));
}

fn environment_step<'p>(plan: &'p UpgradePlan<'_>, hop: usize) -> &'p str {
    plan.hops[hop]
        .steps
        .iter()
        .find(|step| step.text.starts_with("Prepare the environment"))
        .map(|step| step.text.as_str())
        .expect("an environment step")
}

#[test]
fn the_environment_step_counts_only_what_must_be_acted_on() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "7", "10").unwrap();
    let eight = environment_step(&plan, 0);
    assert!(
        eight.contains(
            "act on the one environment change listed for this hop (1 with a changed default)"
        ),
        "{eight}"
    );
    assert!(
        eight.contains("the 39 added variables are optional"),
        "{eight}"
    );
    let ten = environment_step(&plan, 1);
    let act = plan.hops[1].env_to_act_on();
    assert!(act.iter().all(|change| change.kind() != "added"));
    assert!(
        ten.contains(&format!("act on the {} environment changes", act.len())),
        "{ten}"
    );
    assert!(ten.contains("1 now required"), "{ten}");
    assert!(
        act.iter()
            .any(|change| change.name() == "REDASH_COOKIE_SECRET" && change.now_required()),
        "10.1.0 requires the cookie secret"
    );
    // With files, the step names what they set that the target no longer reads.
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("redash.env");
    std::fs::write(&env, "REDASH_CELERY_BROKER=redis://redis:6379/0\n").unwrap();
    let files = deployment(DeploymentFiles {
        env_files: vec![env],
        ..DeploymentFiles::default()
    });
    let plan = plan_for(&knowledge, "8", "10", Some(&files)).unwrap();
    let step = environment_step(&plan, 0);
    assert!(
        step.contains("they set REDASH_CELERY_BROKER (") && step.contains("redash.env:1)"),
        "{step}"
    );
    assert!(
        step.contains("no role in them sets REDASH_COOKIE_SECRET, which 10.1.0 requires"),
        "{step}"
    );
}

fn added<'p>(plan: &'p UpgradePlan<'_>, hop: usize, name: &str) -> &'p EnvChange {
    plan.hops[hop]
        .env_changes
        .iter()
        .find(|change| change.name() == name && change.kind() == "added")
        .unwrap_or_else(|| panic!("{name} is not added on hop {hop}"))
}

#[test]
fn added_variables_say_what_they_mean_and_the_wanted_ones_are_flagged() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "7", "8").unwrap();
    let search = added(&plan, 0, "MULTI_BYTE_SEARCH_ENABLED");
    assert!(search.meaning().unwrap().contains("multi-byte"));
    let wanted = search.wanted().expect("flagged coming from 7.0.0");
    assert_eq!(wanted.source.0, "v8.0.0:CHANGELOG.md:104");
    assert_eq!(
        plan.hops[0].env_added()[0].name(),
        "MULTI_BYTE_SEARCH_ENABLED",
        "flagged variables come first"
    );
    assert!(added(&plan, 0, "MAX_REQUESTS").wanted().is_none());
    let later = make_plan(&knowledge, "10", "latest").unwrap();
    assert!(added(&later, 0, "REDASH_GUNICORN_TIMEOUT")
        .wanted()
        .is_some());
    let text = stdout(&run(&["plan", "--from", "7", "--to", "8"]));
    assert!(
        text.contains("- [most likely wanted] MULTI_BYTE_SEARCH_ENABLED (default: false): Org"),
        "{text}"
    );
    assert!(text.contains("a variable that turns on something 7.0.0 lacks"));
}

#[test]
fn whether_an_added_variable_is_flagged_follows_env_vars_json() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("upgrade-paths"), dir.path());
    let path = dir.path().join("env-vars.json");
    let mut catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for doc in catalog["vars"].as_array_mut().unwrap() {
        if doc["name"] == "MULTI_BYTE_SEARCH_ENABLED" {
            assert!(doc.as_object_mut().unwrap().remove("wanted").is_some());
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&catalog).unwrap()).unwrap();
    let knowledge = KnowledgeBase::load(&Origin::Directory(dir.path().to_owned())).unwrap();
    let plan = make_plan(&knowledge, "7", "8").unwrap();
    assert!(added(&plan, 0, "MULTI_BYTE_SEARCH_ENABLED")
        .wanted()
        .is_none());
    assert!(!environment_step(&plan, 0).contains("flagged"));
}

fn phase_texts<'p>(plan: &'p UpgradePlan<'_>, hop: usize, phase: Phase) -> Vec<&'p str> {
    plan.hops[hop]
        .steps
        .iter()
        .filter(|step| step.phase == phase)
        .map(|step| step.text.as_str())
        .collect()
}

#[test]
fn every_hop_is_rehearsed_on_a_restored_copy_with_schedules_mail_and_exports_off() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "latest").unwrap();
    for (index, hop) in plan.hops.iter().enumerate() {
        let rehearse = phase_texts(&plan, index, Phase::Rehearse);
        let all = rehearse.join("\n");
        assert!(all.contains("restored copy"), "{}", hop.id());
        for setting in [
            "REDASH_FEATURE_DISABLE_REFRESH_QUERIES=true",
            "REDASH_MAIL_SERVER=",
            "REDASH_EVENT_REPORTING_WEBHOOKS empty",
            "REDASH_VERSION_CHECK=false",
        ] {
            assert!(all.contains(setting), "{}: {setting}", hop.id());
        }
        assert!(all.contains("redash-upgrade detect"), "{}", hop.id());
        let step = hop
            .steps
            .iter()
            .find(|step| step.text.contains("REDASH_FEATURE_DISABLE_REFRESH_QUERIES"))
            .unwrap();
        let read = hop
            .to
            .env
            .iter()
            .find(|variable| variable.name == "REDASH_FEATURE_DISABLE_REFRESH_QUERIES")
            .expect("every release reads it");
        assert_eq!(step.source.as_ref(), Some(&read.source), "{}", hop.id());
        let verify = phase_texts(&plan, index, Phase::Verify).join("\n");
        assert!(
            verify.contains("redash-upgrade detect")
                && verify.contains(&hop.to.version.to_string()),
            "{}",
            hop.id()
        );
    }
    let ten = make_plan(&knowledge, "10.0", "10.1").unwrap();
    let detect = phase_texts(&ten, 0, Phase::Verify)
        .into_iter()
        .find(|text| text.contains("redash-upgrade detect"))
        .unwrap();
    assert!(
        detect.contains("10.0.0 or 10.1.0, which share the head 89bc7873a3e0"),
        "{detect}"
    );
    let detect = phase_texts(&plan_to_25_1(&knowledge), 0, Phase::Verify).join("\n");
    assert!(detect.contains("it must name 25.1.0;"), "{detect}");
}

#[test]
fn the_refresh_switch_is_named_only_where_the_target_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("upgrade-paths"), dir.path());
    let path = dir.path().join("releases/8.0.0.json");
    let mut release: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    release["env"]
        .as_array_mut()
        .unwrap()
        .retain(|variable| variable["name"] != "REDASH_FEATURE_DISABLE_REFRESH_QUERIES");
    std::fs::write(&path, serde_json::to_string_pretty(&release).unwrap()).unwrap();
    let knowledge = KnowledgeBase::load(&Origin::Directory(dir.path().to_owned())).unwrap();
    let plan = make_plan(&knowledge, "7", "10").unwrap();
    let eight = phase_texts(&plan, 0, Phase::Rehearse).join("\n");
    assert!(
        !eight.contains("REDASH_FEATURE_DISABLE_REFRESH_QUERIES"),
        "{eight}"
    );
    assert!(
        eight.contains("keep the copy's scheduler stopped"),
        "{eight}"
    );
    let ten = phase_texts(&plan, 1, Phase::Rehearse).join("\n");
    assert!(ten.contains("REDASH_FEATURE_DISABLE_REFRESH_QUERIES=true"));
}

fn python_review(plan: &UpgradePlan<'_>, hop: usize) -> Option<String> {
    plan.hops[hop]
        .steps
        .iter()
        .find(|step| {
            step.text
                .contains("saved queries of the Python data source")
        })
        .map(|step| step.text.clone())
}

#[test]
fn saved_python_queries_are_reviewed_on_the_hop_that_moves_to_python_3() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "7", "10").unwrap();
    assert_eq!(python_review(&plan, 0), None, "8.0.0 still runs Python 2.7");
    let review = python_review(&plan, 1).expect("8.0.0 -> 10.1.0 moves to Python 3");
    assert!(review.contains("ds.type IN ('python')"), "{review}");
    assert!(
        review.contains("Python 3.7 where 8.0.0 ran Python 2.7"),
        "{review}"
    );
    let beta = make_plan(&knowledge, "8", "9-beta").unwrap();
    assert!(
        python_review(&beta, 0).is_some(),
        "9.0.0-beta already runs Python 3"
    );
    let ten = make_plan(&knowledge, "9-beta", "10").unwrap();
    assert_eq!(python_review(&ten, 0), None, "both run Python 3");
    let deployment = ecs_v7();
    let fitted = plan_for(&knowledge, "7", "10", Some(&deployment)).unwrap();
    let review = python_review(&fitted, 1).unwrap();
    assert!(
        review.contains("The files given enable it (") && review.contains("server.json:"),
        "{review}"
    );
}

#[test]
fn an_unconfirmed_image_is_called_unconfirmed_not_missing() {
    let knowledge = knowledge();
    let plan = make_plan(&knowledge, "4.0.0", "5").unwrap();
    let choose = &plan.hops[0].steps[0].text;
    assert!(
        choose.contains("the 4.0.2 image tag is unconfirmed: No official source names"),
        "{choose}"
    );
    for format in ["text", "markdown", "json"] {
        let output = stdout(&run(&[
            "plan", "--from", "4.0.0", "--to", "5", "--format", format,
        ]));
        assert!(!output.contains("no official image"), "{format}: {output}");
        assert!(output.contains("unconfirmed"), "{format}");
    }
}

#[test]
fn the_markdown_is_a_change_ticket_with_version_date_and_inputs() {
    let output = command()
        .env("REDASH_UPGRADE_DATE", "2025-06-30")
        .current_dir(repo_root())
        .args([
            "plan",
            "--from",
            "8",
            "--to",
            "10",
            "--compose",
            "tests/fixtures/compose/v8.yml",
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = stdout(&output);
    let head: Vec<&str> = markdown.lines().take(4).collect();
    assert_eq!(head[0], "# Upgrade Redash from 8.0.0 to 10.1.0");
    assert_eq!(
        head[2],
        format!(
            "- Prepared: 2025-06-30 (UTC) with redash-upgrade {}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(
        head[3].starts_with("- Deployment files checked: a docker compose deployment (tests/fixtures/compose/v8.yml)"),
        "{}",
        head[3]
    );
    assert!(markdown.contains("### Rehearse on a restored copy"));
    let bad = command()
        .env("REDASH_UPGRADE_DATE", "2025-02-30")
        .args(["plan", "--from", "8", "--to", "10", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("REDASH_UPGRADE_DATE \"2025-02-30\": not a date"));
}

#[test]
fn without_the_date_variable_the_ticket_is_dated_today_in_utc() {
    let output = command()
        .env_remove("REDASH_UPGRADE_DATE")
        .args(["plan", "--from", "8", "--to", "10", "--format", "markdown"])
        .output()
        .unwrap();
    let markdown = stdout(&output);
    let line = markdown.lines().nth(2).unwrap();
    let date = line
        .strip_prefix("- Prepared: ")
        .and_then(|rest| rest.split_once(" (UTC)"))
        .map(|(date, _)| date)
        .unwrap_or_else(|| panic!("{line}"));
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let year: u64 = date[..4].parse().unwrap();
    assert_eq!(date.len(), 10, "{date}");
    assert_eq!(year, 1970 + days * 4 / 1461, "{date}");
}

#[test]
fn the_json_carries_the_rehearse_phase_step_kinds_and_what_to_act_on() {
    let output = stdout(&run(&[
        "plan", "--from", "8", "--to", "10", "--format", "json",
    ]));
    let plan: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(plan["deployment"], serde_json::Value::Null);
    let hop = &plan["hops"][0];
    let steps = hop["steps"].as_array().unwrap();
    assert!(steps.iter().any(|step| step["phase"] == "rehearse"));
    assert!(steps.iter().any(|step| step["platform"] == "ecs"));
    assert!(steps.iter().any(|step| step["platform"] == "compose"));
    let changes = hop["env_changes"].as_array().unwrap();
    let broker = changes
        .iter()
        .find(|change| change["name"] == "REDASH_CELERY_BROKER")
        .unwrap();
    assert_eq!(broker["act"], true);
    let rq = changes
        .iter()
        .find(|change| change["name"] == "RQ_REDIS_URL")
        .unwrap();
    assert_eq!(rq["act"], false);
    assert!(rq["meaning"].as_str().unwrap().contains("Redis"));
    assert_eq!(rq["wanted"], serde_json::Value::Null);
}

#[test]
fn memory_figures_are_modelled_from_the_measured_process_counts() {
    use redash_upgrade::knowledge::model::{MeasuredRange, MemoryModel};
    let knowledge = knowledge();
    let memory = |version: &str| {
        knowledge
            .release(&semver::Version::parse(version).unwrap())
            .unwrap()
            .memory
            .clone()
            .unwrap()
    };
    // 8.0.0: Celery workers at concurrency 1 and 2 (190, 292 MiB) give 88 + 102 per process.
    let celery = memory("8.0.0");
    let worker = celery.worker.as_ref().unwrap();
    assert_eq!(
        worker.model(),
        MemoryModel::PerProcess {
            base_mib: 88,
            per_process_mib: 102
        }
    );
    assert_eq!([1, 2, 4].map(|count| worker.need(count)), [190, 292, 496]);
    assert_eq!(worker.range(4), MeasuredRange::Above);
    let scheduler = celery.scheduler.as_ref().unwrap();
    assert_eq!(scheduler.model(), MemoryModel::Flat { mib: 275 });
    assert_eq!(scheduler.range(1), MeasuredRange::Within);
    // 10.x: worker containers at WORKERS_COUNT 1 and 2 (590, 589 MiB) do not grow: one figure
    // per container, and 4 processes were not measured.
    for version in ["10.0.0", "10.1.0"] {
        let rq = memory(version);
        let worker = rq.worker.as_ref().unwrap();
        assert_eq!(worker.model(), MemoryModel::Flat { mib: 590 });
        assert_eq!([1, 2, 4].map(|count| worker.need(count)), [590, 590, 590]);
        assert_eq!(worker.range(2), MeasuredRange::Within);
        assert_eq!(worker.range(4), MeasuredRange::Above);
        let server = rq.server.as_ref().unwrap();
        assert_eq!(server.measured_counts(), [4]);
        assert_eq!(server.range(2), MeasuredRange::Below);
        assert!(rq.scheduler.as_ref().unwrap().processes.is_none());
    }
    for version in ["25.1.0", "25.8.0", "26.3.0"] {
        let host_only = memory(version);
        assert!(!host_only.has_role_figures(), "{version}");
        assert_eq!(host_only.host_minimum_mib, Some(4096));
    }
}

#[test]
fn the_plan_states_each_roles_memory_model() {
    let markdown = stdout(&run(&[
        "plan", "--from", "7", "--to", "10", "--format", "markdown",
    ]));
    let memory: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with("- host at least"))
        .collect();
    assert_eq!(memory.len(), 2, "{markdown}");
    assert!(memory[0].starts_with(
        "- host at least 2048 MiB; idle need of one container: server about 670 MiB, measured only with 4 gunicorn web workers (REDASH_WEB_WORKERS=4, the default); worker about 88 MiB plus 102 MiB per Celery worker process, the line through 190 MiB measured at WORKERS_COUNT=1 and 292 MiB at 2, extrapolated beyond 2; scheduler about 275 MiB, measured only with 1 Celery worker process (WORKERS_COUNT=1, the default). Idle docker stats"
    ), "{}", memory[0]);
    assert!(memory[1].starts_with(
        "- host at least 4096 MiB; idle need of one container: server about 772 MiB, measured only with 4 gunicorn web workers (REDASH_WEB_WORKERS=4, the default); worker about 590 MiB per container whether it runs 1 or 2 RQ worker processes, 590 MiB measured at WORKERS_COUNT=1 and 589 MiB at 2, more not measured; scheduler about 195 MiB. Idle docker stats"
    ), "{}", memory[1]);
    // Only a host minimum: as before.
    let latest = stdout(&run(&[
        "plan", "--from", "25.1", "--to", "25.8", "--format", "markdown",
    ]));
    assert!(
        latest.contains("- host at least 4096 MiB. No per-container measurements"),
        "{latest}"
    );
}

#[test]
fn the_plan_json_keeps_the_memory_fields_and_adds_the_model() {
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(&[
        "plan", "--from", "7", "--to", "10", "--format", "json",
    ])))
    .unwrap();
    let hops = json["hops"].as_array().unwrap();
    let figures = |hop: &serde_json::Value| hop["memory"]["figures"].clone();
    let celery = figures(&hops[0]);
    // The contract's first fields, with the values they always had.
    assert_eq!(
        [
            &celery["server_mib"],
            &celery["worker_process_mib"],
            &celery["scheduler_mib"],
            &celery["host_minimum_mib"]
        ],
        [670, 190, 275, 2048]
            .map(serde_json::Value::from)
            .each_ref()
    );
    assert_eq!(
        celery["roles"]["worker"]["model"],
        serde_json::json!({"kind": "per-process", "base_mib": 88, "per_process_mib": 102})
    );
    assert_eq!(
        celery["roles"]["worker"]["processes"],
        serde_json::json!({"variable": "WORKERS_COUNT", "unit": "Celery worker process", "default": 2})
    );
    let rq = figures(hops.last().unwrap());
    assert_eq!(rq["worker_process_mib"], 590);
    assert_eq!(
        rq["roles"]["worker"]["model"],
        serde_json::json!({"kind": "flat", "mib": 590})
    );
    assert_eq!(
        rq["roles"]["worker"]["measured"],
        serde_json::json!([{"processes": 1, "mib": 590}, {"processes": 2, "mib": 589}])
    );
    assert_eq!(
        rq["roles"]["scheduler"]["processes"],
        serde_json::Value::Null
    );
    assert!(hops.last().unwrap()["memory"]["text"]
        .as_str()
        .unwrap()
        .starts_with("host at least 4096 MiB; idle need of one container: server about 772 MiB"));
}
