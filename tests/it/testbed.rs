//! The test bed itself: every release fixture loads, with the era's data formats.

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
            .query_one("SELECT version_num FROM alembic_version", &[])
            .unwrap()
            .get(0);
        assert!(!stamp.is_empty(), "{version}");
        let orgs: i64 = client
            .query_one("SELECT count(*) FROM organizations", &[])
            .unwrap()
            .get(0);
        assert_eq!(orgs, 3, "{version}: orgs");
        let searchable: i64 = client
            .query_one(
                "SELECT count(*) FROM queries WHERE search_vector IS NOT NULL",
                &[],
            )
            .unwrap()
            .get(0);
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
