//! Connections to a server that requires TLS, as managed PostgreSQL services do, with libpq's
//! sslmode: encrypted without verification (prefer, require), and verified against a root
//! certificate (verify-ca, verify-full with sslrootcert).

use redash_upgrade::db::{DatabaseUrl, ReadOnlySession, Timeouts};
use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, PgServer, Scale, Tls};
use semver::Version;
use sqlx::Row as _;

use crate::support::{run, stderr, stdout};

/// Whether a session opened with `url` runs over TLS, as the server sees it.
fn encrypted(url: &str) -> bool {
    let url: DatabaseUrl = url.parse().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut session = ReadOnlySession::open(&url, Timeouts::default())
            .await
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        let row = session
            .fetch_one(
                "read pg_stat_ssl",
                sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
            )
            .await
            .unwrap();
        session.close().await;
        row.get::<bool, _>(0)
    })
}

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
    let root = server.root_certificate();
    let root = root.display();

    let detected = run(&["detect", "--database-url", &url]);
    assert_eq!(detected.status.code(), Some(0), "{}", stderr(&detected));
    assert!(stdout(&detected).contains("Release:   10.0.0 or 10.1.0"));

    assert!(encrypted(&format!("{url}?sslmode=require")));
    assert!(encrypted(&format!(
        "{url}?sslmode=verify-ca&sslrootcert={root}"
    )));
    assert!(encrypted(&format!(
        "{url}?sslmode=verify-full&sslrootcert={root}"
    )));
    let by_name = url.replace("127.0.0.1", "localhost");
    assert!(encrypted(&format!(
        "{by_name}?sslmode=verify-full&sslrootcert={root}"
    )));

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

    // Without the test run's own authority, the certificate cannot be trusted.
    let unverifiable = run(&[
        "detect",
        "--database-url",
        &format!("{url}?sslmode=verify-full"),
    ]);
    assert_eq!(unverifiable.status.code(), Some(2));
    let message = stderr(&unverifiable);
    assert!(message.contains("certificate"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(!message.contains(server.password()), "{message}");

    let missing = run(&[
        "detect",
        "--database-url",
        &format!("{url}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "error: --database-url: sslrootcert /nonexistent/root.crt: no such file\n"
    );
}
