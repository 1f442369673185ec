//! Invariants of the knowledge base in upgrade-paths/, and its canonical form.

use std::path::Path;

use redash_upgrade::knowledge::citation::{citations, problem, Citation, Found, Upstream};
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

#[test]
fn the_container_hostname_is_not_a_redash_variable() {
    let knowledge = embedded();
    for release in &knowledge.releases {
        assert!(
            !release
                .env
                .iter()
                .any(|variable| variable.name == "HOSTNAME"),
            "{}",
            release.version
        );
    }
    assert!(knowledge.env_doc("HOSTNAME").is_none());
}

#[test]
fn the_6_0_hop_claims_only_what_changed_in_settings() {
    let knowledge = embedded();
    let transition = knowledge
        .transitions
        .iter()
        .find(|transition| transition.to == version("6.0.0"))
        .unwrap();
    let texts: Vec<&str> = transition
        .breaking_changes
        .iter()
        .chain(&transition.process_changes)
        .map(|note| note.text.as_str())
        .chain(
            transition
                .required_actions
                .iter()
                .map(|action| action.text.as_str()),
        )
        .collect();
    // 5.0.2 already read REDASH_DATE_FORMAT as an organization setting, and already refused
    // boolean values that are not JSON (json.loads).
    assert!(
        !transition
            .breaking_changes
            .iter()
            .any(|note| note.text.starts_with("REDASH_DATE_FORMAT")
                || note.text.to_lowercase().contains("boolean")),
        "{texts:#?}"
    );
    assert!(
        !texts.iter().any(|text| text.contains("strictly")),
        "{texts:#?}"
    );
    let date_format = knowledge
        .release(&version("5.0.2"))
        .unwrap()
        .env
        .iter()
        .find(|variable| variable.name == "REDASH_DATE_FORMAT")
        .unwrap();
    assert_eq!(
        date_format.source.0,
        "v5.0.2:redash/settings/organization.py:18"
    );
}

#[test]
fn postgresql_9_6_is_needed_from_25_1_for_the_searchable_sql() {
    let knowledge = embedded();
    for release in &knowledge.releases {
        let minimum = &release.postgresql_minimum;
        if release.version >= version("25.1.0") {
            assert_eq!(minimum.version, "9.6", "{}", release.version);
            assert!(
                minimum
                    .source
                    .0
                    .starts_with("https://github.com/falcony-io/sqlalchemy-searchable/blob/1.2.0/sqlalchemy_searchable/expressions.sql#"),
                "{}: {}",
                release.version,
                minimum.source
            );
            assert!(
                minimum
                    .note
                    .as_deref()
                    .is_some_and(|note| note.contains("omitted upper bound")),
                "{}",
                release.version
            );
        } else {
            assert_ne!(minimum.version, "9.6", "{}", release.version);
        }
    }
}

#[test]
fn ten_zero_records_the_ghost_lock_job_and_9_beta_the_simba_driver() {
    let knowledge = embedded();
    let transition = |to: &str| {
        knowledge
            .transitions
            .iter()
            .find(|transition| transition.to == version(to))
            .unwrap()
    };
    assert!(transition("10.0.0")
        .process_changes
        .iter()
        .any(|note| note.text.contains("remove_ghost_locks")
            && note.source.0 == "v10.0.0:redash/tasks/schedule.py:64-68"));
    let beta = transition("9.0.0-beta");
    assert!(beta
        .breaking_changes
        .iter()
        .any(|note| note.text.contains("Simba") && note.source.0.contains("databricks.py")));
    assert!(beta
        .required_actions
        .iter()
        .any(|action| action.text.contains("Simba") && action.source.0.contains("Dockerfile")));
}

#[test]
fn an_action_setting_a_variable_the_target_does_not_read_is_rejected() {
    let error = broken_copy(|dir| {
        let path = dir.join("hops/8.0.0-9.0.0-beta.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let renamed = text.replacen(
            "\"sets_env\": \"REDASH_ENFORCE_PRIVATE_IP_BLOCK\"",
            "\"sets_env\": \"REDASH_NO_SUCH_VARIABLE\"",
            1,
        );
        assert_ne!(renamed, text);
        std::fs::write(&path, renamed).unwrap();
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("sets_env REDASH_NO_SUCH_VARIABLE is not read by 9.0.0-beta"),
        "{message}"
    );
}

#[test]
fn citations_parse_in_every_form_the_knowledge_base_writes() {
    let parsed = Citation::parse("v25.1.0:redash/settings/__init__.py:129-134").unwrap();
    assert_eq!(parsed.upstream, Upstream::Redash { tag: "v25.1.0" });
    assert_eq!(parsed.path, "redash/settings/__init__.py");
    assert_eq!(parsed.lines, Some((129, 134)));
    let line = Citation::parse("v9.0.0-beta:worker.conf:25").unwrap();
    assert_eq!(line.upstream.revision(), "v9.0.0-beta");
    assert_eq!(line.lines, Some((25, 25)));
    let file = Citation::parse("v25.1.0:Dockerfile").unwrap();
    assert_eq!((file.path, file.lines), ("Dockerfile", None));
    let setup = Citation::parse("setup@39abe4e:setup.sh:58").unwrap();
    assert_eq!(setup.upstream, Upstream::Setup { commit: "39abe4e" });
    for not_a_citation in [
        "https://github.com/getredash/redash/pull/5895",
        "redash/redash:10.1.0.b50633",
        "v25.1.0",
        "v25.1.0:",
        "v25.1.0:a.py:12x",
        "setup@xyz:setup.sh",
        "10.1.0:a.py",
    ] {
        assert_eq!(Citation::parse(not_a_citation), None, "{not_a_citation}");
    }
}

#[test]
fn a_citation_must_name_existing_lines_and_a_migration_s_code() {
    let file = |text: &str| Found::File(text.to_owned());
    let cite = |text: &'static str| Citation::parse(text).unwrap();
    let three_lines = file("a\nb\nc");
    assert_eq!(problem(&cite("v1.0.0:f.py:3"), &three_lines), None);
    assert_eq!(problem(&cite("v1.0.0:f.py:2-3"), &three_lines), None);
    assert_eq!(problem(&cite("v1.0.0:f.py"), &three_lines), None);
    let past = problem(&cite("v1.0.0:f.py:2-4"), &three_lines).unwrap();
    assert!(past.contains("line 4 is past the end"), "{past}");
    assert!(problem(&cite("v1.0.0:f.py:0"), &three_lines).is_some());
    assert!(problem(&cite("v1.0.0:f.py:3-2"), &three_lines).is_some());
    let missing = problem(&cite("v1.0.0:f.py:1"), &Found::Missing).unwrap();
    assert_eq!(missing, "no f.py at v1.0.0");
    assert_eq!(problem(&cite("v1.0.0:redash"), &Found::Directory), None);
    assert!(problem(&cite("v1.0.0:redash:1"), &Found::Directory).is_some());
    let migration = file(
        "\"\"\"add a column\n\nRevision ID: abc\n\"\"\"\nfrom alembic import op\n\n\
         revision = 'abc'\ndown_revision = 'def'\nbranch_labels = None\ndepends_on = None\n\n\n\
         def upgrade():\n    op.add_column('t', 'c')\n",
    );
    let path = "v1.0.0:migrations/versions/abc_add.py";
    let header = problem(&Citation::parse(&format!("{path}:3")).unwrap(), &migration).unwrap();
    assert!(header.contains("header"), "{header}");
    assert!(header.contains("end at line 10"), "{header}");
    assert_eq!(
        problem(&Citation::parse(&format!("{path}:14")).unwrap(), &migration),
        None
    );
    assert_eq!(
        problem(
            &Citation::parse(&format!("{path}:7-14")).unwrap(),
            &migration
        ),
        None
    );
    // Outside migrations a header is whatever the file starts with.
    assert_eq!(
        problem(&cite("v1.0.0:redash/models.py:3"), &migration),
        None
    );
}

#[test]
fn citations_are_found_as_sources_and_inside_sentences() {
    let knowledge = embedded();
    let found = citations(&knowledge);
    assert!(found.len() > 2_000, "{}", found.len());
    assert!(found.iter().any(
        |cited| cited.file == "upgrade-paths/hops/10.1.0-25.1.0.json"
            && cited.place.starts_with("breaking_changes[")
            && cited.place.ends_with("].source")
            && cited.text == "v25.1.0:redash/settings/__init__.py:134"
    ));
    assert!(found
        .iter()
        .any(|cited| cited.file == "upgrade-paths/releases/10.1.0.json"
            && cited.place == "postgresql_minimum.note (in text)"
            && cited.text == "v10.1.0:requirements.txt:27"));
    assert!(found
        .iter()
        .any(|cited| cited.file == "upgrade-paths/policy.json"
            && cited.place == "setup_script.source"
            && cited.text.starts_with("setup@")));
    assert!(found
        .iter()
        .any(|cited| cited.file == "upgrade-paths/known-bugs.json"
            && cited.place.contains("].sources[")));
    for cited in &found {
        assert!(
            Citation::parse(&cited.text).is_some(),
            "{}: {}",
            cited.place,
            cited.text
        );
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn verify_citations_names_the_citations_a_repository_does_not_back() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    let settings = repo.join("redash/settings");
    std::fs::create_dir_all(&settings).unwrap();
    // 130 lines: v25.1.0:redash/settings/__init__.py:129 holds, :134 and later do not.
    let text: String = (1..=130).map(|line| format!("line {line}\n")).collect();
    std::fs::write(settings.join("__init__.py"), text).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "settings"]);
    git(repo, &["tag", "v25.1.0"]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_verify-citations"))
        .arg("--upstream")
        .arg(repo.join(".git"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stdout.contains("upgrade-paths/releases/25.1.0.json: env[",),
        "{stdout}"
    );
    assert!(stdout.lines().any(|line| line.ends_with(
        "v25.1.0:redash/settings/__init__.py:134: line 134 is past the end of redash/settings/__init__.py at v25.1.0 (130 lines)"
    )), "{stdout}");
    assert!(
        !stdout.contains("v25.1.0:redash/settings/__init__.py:129:"),
        "line 129 exists: {stdout}"
    );
    assert!(stdout.contains(": no Dockerfile at v25.1.0"), "{stdout}");
    assert!(
        stdout.contains(": no redash/settings/__init__.py at v10.1.0"),
        "{stdout}"
    );
    assert!(
        stderr.contains("setup@ citations not checked (no --setup)"),
        "{stderr}"
    );
    let not_git = std::process::Command::new(env!("CARGO_BIN_EXE_verify-citations"))
        .arg("--upstream")
        .arg(dir.path().join("redash"))
        .output()
        .unwrap();
    assert_eq!(not_git.status.code(), Some(2));
}
