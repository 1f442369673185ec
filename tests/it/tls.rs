//! Connections to a server that requires TLS, as managed PostgreSQL services do.

use redash_upgrade::db::{DatabaseUrl, DbError, ReadOnlySession, Timeouts};
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, PgServer, Scale, Tls};
use semver::Version;

use crate::support::{run, stderr, stdout};

#[test]
fn a_server_that_requires_tls_is_reached_over_tls() {
    let server = PgServer::start_with_tls(Tls::Required).unwrap_or_else(|error| panic!("{error}"));
    server.create_database("redash", None).unwrap();
    {
        let knowledge = KnowledgeBase::embedded().unwrap();
        let mut client = server.connect("redash").unwrap();
        testbed::load_release(
            &mut client,
            &knowledge,
            &Version::new(10, 1, 0),
            Scale::Small,
        )
        .unwrap();
    }
    let url = server.tcp_url("redash");

    let detected = run(&["detect", "--database-url", &url]);
    assert_eq!(detected.status.code(), Some(0), "{}", stderr(&detected));
    assert!(stdout(&detected).contains("Release:   10.0.0 or 10.1.0"));

    let required: DatabaseUrl = format!("{url}?sslmode=require").parse().unwrap();
    let mut session = ReadOnlySession::connect(&required, Timeouts::default()).unwrap();
    let encrypted: bool = session
        .read(|transaction| {
            transaction
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .map(|row| row.get(0))
                .map_err(|error| DbError::query("read pg_stat_ssl", &error))
        })
        .unwrap();
    assert!(encrypted);

    let plain = run(&[
        "detect",
        "--database-url",
        &format!("{url}?sslmode=disable"),
    ]);
    assert_eq!(plain.status.code(), Some(2));
    let message = stderr(&plain);
    assert!(
        message.starts_with("error: could not connect to postgresql://postgres:***@127.0.0.1:"),
        "{message}"
    );
    assert!(!message.contains(server.password()), "{message}");

    let verify = run(&[
        "detect",
        "--database-url",
        &format!("{url}?sslmode=verify-full"),
    ]);
    assert_eq!(verify.status.code(), Some(2));
    assert_eq!(
        stderr(&verify),
        "error: --database-url: sslmode=verify-full is not supported: use sslmode=require (encrypted, certificate not verified) or prefer\n"
    );
}
