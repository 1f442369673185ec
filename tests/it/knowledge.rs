//! Invariants of the knowledge base in upgrade-paths/, and its canonical form.

use std::path::Path;

use redash_upgrade::knowledge::{canonical_form, KnowledgeBase, KnowledgeError, Origin};
use semver::Version;
use serde_json::Value;

use crate::support::{assert_matches_file, copy_tree, repo_root};

fn embedded() -> KnowledgeBase {
    KnowledgeBase::embedded().unwrap_or_else(|error| panic!("{error}"))
}

fn version(text: &str) -> Version {
    Version::parse(text).unwrap()
}

#[test]
fn embedded_knowledge_base_loads_without_violations() {
    let knowledge = embedded();
    assert!(knowledge.violations().is_empty());
    assert!(knowledge.releases.len() >= 15);
}

#[test]
fn the_directory_and_the_embedded_copy_agree() {
    let from_directory =
        KnowledgeBase::load(&Origin::Directory(repo_root().join("upgrade-paths"))).unwrap();
    let embedded = embedded();
    assert_eq!(from_directory.releases, embedded.releases);
    assert_eq!(from_directory.transitions, embedded.transitions);
}

#[test]
fn every_file_is_in_canonical_form() {
    for file in Origin::Directory(repo_root().join("upgrade-paths"))
        .files()
        .unwrap()
    {
        let canonical = canonical_form(&file).unwrap_or_else(|error| panic!("{error}"));
        assert_matches_file(&file.path, &canonical);
    }
}

#[test]
fn releases_cover_every_upstream_tag_from_4_0_0_to_26_3_0() {
    let knowledge = embedded();
    let versions: Vec<String> = knowledge
        .releases
        .iter()
        .map(|release| release.version.to_string())
        .collect();
    for expected in [
        "4.0.0",
        "4.0.1",
        "4.0.2",
        "5.0.0",
        "5.0.1",
        "5.0.2",
        "6.0.0",
        "7.0.0",
        "8.0.0",
        "9.0.0-beta",
        "10.0.0",
        "10.1.0",
        "25.1.0",
        "25.8.0",
        "26.3.0",
    ] {
        assert!(
            versions.contains(&expected.to_owned()),
            "missing release {expected}"
        );
    }
}

#[test]
fn transitions_chain_from_the_oldest_release_to_the_newest_without_gaps() {
    let knowledge = embedded();
    assert_eq!(knowledge.transitions.len(), knowledge.releases.len() - 1);
    let mut at = knowledge.releases[0].version.clone();
    for transition in &knowledge.transitions {
        assert_eq!(transition.from, at, "gap before {}", transition.to);
        at = transition.to.clone();
    }
    assert_eq!(at, version("26.3.0"));
}

#[test]
fn every_revision_parent_exists_in_the_same_or_an_older_release() {
    let knowledge = embedded();
    for release in &knowledge.releases {
        let graph = knowledge.graph_at(&release.version);
        assert!(
            graph.missing_parents().is_empty(),
            "{}: {:?}",
            release.version,
            graph.missing_parents()
        );
        for revision in &release.migrations {
            for parent in &revision.parents {
                assert!(
                    graph.get(parent).is_some(),
                    "{} -> {parent}",
                    revision.revision
                );
            }
        }
    }
}

#[test]
fn each_release_declares_the_heads_of_its_graph() {
    let knowledge = embedded();
    for release in &knowledge.releases {
        let mut computed = knowledge.graph_at(&release.version).heads();
        computed.sort_unstable();
        let mut declared: Vec<&str> = release.alembic_heads.iter().map(String::as_str).collect();
        declared.sort_unstable();
        assert_eq!(computed, declared, "{}", release.version);
    }
}

#[test]
fn releases_that_share_a_head_are_modelled_as_sharing_it() {
    let knowledge = embedded();
    let head = |text: &str| {
        knowledge
            .release(&version(text))
            .unwrap()
            .alembic_heads
            .clone()
    };
    assert_eq!(head("5.0.0"), head("6.0.0"));
    assert_eq!(head("7.0.0"), head("8.0.0"));
    assert_eq!(head("8.0.0"), head("9.0.0-beta"));
    assert_ne!(head("9.0.0-beta"), head("10.0.0"));
    let merge = knowledge
        .graph_at(&version("10.0.0"))
        .get("89bc7873a3e0")
        .unwrap();
    assert_eq!(
        merge.parents.len(),
        2,
        "the v10 merge revision has two parents"
    );
}

/// `covered`: an enclosing object names the source (a schema table covers its columns).
fn assert_sourced(value: &Value, place: &str, covered: bool) {
    const FACT_FIELDS: [&str; 8] = [
        "text",
        "description",
        "default",
        "command",
        "tag",
        "what",
        "meaning",
        "effect",
    ];
    match value {
        Value::Object(map) => {
            // A null field states no fact (an image tag that could not be confirmed, say).
            let sourced = map
                .get("source")
                .is_some_and(|source| source.as_str().is_some_and(|text| !text.is_empty()))
                || map
                    .get("sources")
                    .is_some_and(|sources| sources.as_array().is_some_and(|list| !list.is_empty()));
            let states_a_fact = FACT_FIELDS
                .iter()
                .any(|field| map.get(*field).is_some_and(|value| !value.is_null()));
            assert!(
                !states_a_fact || sourced || covered,
                "{place}: a fact without a source: {value}"
            );
            for (key, child) in map {
                assert_sourced(child, &format!("{place}.{key}"), covered || sourced);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                assert_sourced(child, &format!("{place}[{index}]"), covered);
            }
        }
        _ => {}
    }
}

#[test]
fn every_fact_carries_a_source() {
    for file in Origin::Embedded.files().unwrap() {
        let value: Value = serde_json::from_str(&file.text).unwrap();
        assert_sourced(&value, &file.path.display().to_string(), false);
    }
}

#[test]
fn every_env_var_a_release_reads_is_documented_and_secrets_are_marked() {
    let knowledge = embedded();
    for release in &knowledge.releases {
        for variable in &release.env {
            assert!(
                knowledge.env_doc(&variable.name).is_some(),
                "{} in {}",
                variable.name,
                release.version
            );
        }
    }
    for secret in [
        "REDASH_COOKIE_SECRET",
        "REDASH_SECRET_KEY",
        "REDASH_DATABASE_URL",
        "REDASH_MAIL_PASSWORD",
    ] {
        assert!(
            knowledge.is_secret(secret),
            "{secret} must be marked secret"
        );
    }
    assert!(!knowledge.is_secret("QUEUES"));
}

fn broken_copy(edit: impl FnOnce(&Path)) -> Result<KnowledgeBase, KnowledgeError> {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("upgrade-paths"), dir.path());
    edit(dir.path());
    KnowledgeBase::load(&Origin::Directory(dir.path().to_owned()))
}

#[test]
fn a_revision_whose_parent_is_unknown_is_rejected() {
    let error = broken_copy(|dir| {
        let path = dir.join("releases/7.0.0.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("\"71477dadd6ef\"", "\"ffffffffffff\"", 1),
        )
        .unwrap();
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("ffffffffffff"), "{message}");
    assert!(message.contains("releases/7.0.0.json"), "{message}");
}

#[test]
fn a_release_date_that_is_not_a_date_is_rejected() {
    let error = broken_copy(|dir| {
        let path = dir.join("releases/10.1.0.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let dated = text.replacen("\"released_on\": \"", "\"released_on\": \"around ", 1);
        assert_ne!(dated, text);
        std::fs::write(&path, dated).unwrap();
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("releases/10.1.0.json"), "{message}");
    assert!(message.contains("is not a YYYY-MM-DD date"), "{message}");
}

#[test]
fn a_check_trigger_without_a_source_is_rejected() {
    let error = broken_copy(|dir| {
        let path = dir.join("hops/25.1.0-25.8.0.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let unsourced = text.replacen(
            "\"source\": \"v25.8.0:migrations/versions/db0aca1ebd32_12_column_dashboard_layout.py\"\n",
            "\"source\": \"somewhere\"\n",
            1,
        );
        assert_ne!(unsourced, text);
        std::fs::write(&path, unsourced).unwrap();
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("check widget-position-not-integer"),
        "{message}"
    );
}

#[test]
fn a_missing_transition_is_a_gap() {
    let error = broken_copy(|dir| std::fs::remove_file(dir.join("hops/7.0.0-8.0.0.json")).unwrap())
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("expected one transition from 7.0.0 to 8.0.0"),
        "{error}"
    );
}

#[test]
fn an_unknown_field_names_the_file_and_line() {
    let error = broken_copy(|dir| {
        let path = dir.join("policy.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("{\n", "{\n  \"surprise\": 1,\n", 1)).unwrap();
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("policy.json:2:"), "{message}");
    assert!(message.contains("unknown field `surprise`"), "{message}");
}

#[test]
fn a_source_of_the_wrong_form_is_rejected() {
    let error = broken_copy(|dir| {
        let path = dir.join("policy.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen(
                "\"https://redash.io/help/open-source/admin-guide/how-to-upgrade\"",
                "\"my notes\"",
                1,
            ),
        )
        .unwrap();
    })
    .unwrap_err();
    assert!(error.to_string().contains("\"my notes\""), "{error}");
}
