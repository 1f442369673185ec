//! The test bed itself: every release fixture loads, with the era's data formats.

use redash_upgrade::fernet::FernetKey;
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, Scale};
use sqlx::Row as _;

use crate::pg::{fixture_db, server};

const STOP_RELEASES: [&str; 9] = [
    "4.0.2", "5.0.2", "6.0.0", "7.0.0", "8.0.0", "10.1.0", "25.1.0", "25.8.0", "26.3.0",
];

#[test]
fn every_stop_release_fixture_loads_with_data_and_its_stamp() {
    for version in STOP_RELEASES {
        let db = fixture_db(version);
        let mut client = db.client();
        let stamp: String = client
            .scalar("SELECT version_num FROM alembic_version")
            .unwrap();
        assert!(!stamp.is_empty(), "{version}");
        let orgs: i64 = client.scalar("SELECT count(*) FROM organizations").unwrap();
        assert_eq!(orgs, 3, "{version}: orgs");
        let searchable: i64 = client
            .scalar("SELECT count(*) FROM queries WHERE search_vector IS NOT NULL")
            .unwrap();
        assert!(
            searchable > 100,
            "{version}: the search trigger fired on load"
        );
    }
}

#[test]
fn the_server_listens_on_loopback_and_a_socket() {
    let server = server();
    assert!(server.port() > 0);
    assert!(server
        .socket_dir()
        .join(format!(".s.PGSQL.{}", server.port()))
        .exists());
}

#[test]
fn a_machine_without_a_server_gets_told_what_to_install() {
    let missing = std::path::Path::new("/nonexistent/postgresql/bin");
    let error = match redash_upgrade::testbed::PgServer::start_with_bindir(Some(missing)) {
        Ok(_) => panic!("a server started from a directory without binaries"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("/nonexistent/postgresql/bin has no initdb"),
        "{error}"
    );
    assert!(error.contains("apt-get install -y postgresql"), "{error}");
}

fn script(version: &str, scale: Scale) -> Vec<u8> {
    let knowledge = KnowledgeBase::embedded().unwrap();
    let schema = knowledge
        .schema_of(&semver::Version::parse(version).unwrap())
        .unwrap();
    let mut out = Vec::new();
    for table in &testbed::generate(&knowledge, schema, scale).tables {
        table.write_script(&mut out).unwrap();
    }
    out
}

#[test]
fn the_generator_is_deterministic_and_follows_the_schema() {
    assert_eq!(
        script("10.1.0", Scale::Small),
        script("10.1.0", Scale::Small)
    );
    let old = String::from_utf8(script("4.0.2", Scale::Small)).unwrap();
    let new = String::from_utf8(script("26.3.0", Scale::Small)).unwrap();
    assert!(
        !old.contains("COPY \"favorites\""),
        "4.0.2 has no favorites table"
    );
    assert!(new.contains("COPY \"favorites\""));
    assert!(old.contains("\"profile_image_url\"") && !new.contains("\"profile_image_url\""));
}

#[test]
fn each_era_stores_schedules_options_and_invitations_its_own_way() {
    let legacy = fixture_db("4.0.2");
    let mut client = legacy.client();
    let schedules: Vec<String> = client
        .fetch_all(sqlx::query(
            "SELECT schedule FROM queries WHERE schedule IS NOT NULL",
        ))
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(schedules.len() > 20);
    assert!(schedules.iter().any(|value| value.contains(':')));
    for value in &schedules {
        let ok = value.chars().all(|c| c.is_ascii_digit())
            || (value.len() == 5 && value.as_bytes()[2] == b':');
        assert!(ok, "not a legacy schedule: {value}");
    }
    let plain: i64 = client
        .scalar("SELECT count(*) FROM data_sources WHERE options::json->>'host' IS NOT NULL")
        .unwrap();
    assert!(plain > 0, "4.0.2 keeps data-source options as plain JSON");

    let current = fixture_db("26.3.0");
    let mut client = current.client();
    let weekly: i64 = client
        .scalar("SELECT count(*) FROM queries WHERE jsonb_typeof(schedule) = 'object' AND schedule->>'day_of_week' = 'Monday'")
            .unwrap();
    assert!(weekly > 0);
    let invited: i64 = client
        .scalar("SELECT count(*) FROM users WHERE details->>'is_invitation_pending' = 'true' AND password_hash IS NULL")
            .unwrap();
    assert!(invited > 0);
    let key = FernetKey::from_secret(testbed::FIXTURE_SECRET_KEY);
    for row in client
        .fetch_all(sqlx::query(
            "SELECT type, encrypted_options FROM data_sources",
        ))
        .unwrap()
    {
        let token: Vec<u8> = row.get(1);
        let options: serde_json::Value =
            serde_json::from_slice(&key.decrypt(&token).unwrap()).unwrap();
        assert!(options.is_object(), "{}", row.get::<String, _>(0));
    }
    let wrong = FernetKey::from_secret("another key");
    let token: Vec<u8> = client
        .scalar("SELECT encrypted_options FROM notification_destinations LIMIT 1")
        .unwrap();
    assert!(wrong.decrypt(&token).is_err());
}
