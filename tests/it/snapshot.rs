//! `snapshot`, `snapshot verify`, `restore` and `verify` against a real throwaway PostgreSQL,
//! with the real pg_dump and pg_restore, on the release fixtures.

use std::path::Path;
use std::process::Output;

use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, PgServer, Scale};
use semver::Version;

use crate::support::{command, stderr, stdout};

/// A server with database `redash` loaded with `release`'s fixture (the fork's on 4.0.2 when
/// `fork`), and an empty `staging`.
pub fn server_with(release: &Version, fork: bool) -> PgServer {
    let server = PgServer::start().unwrap_or_else(|error| panic!("{error}"));
    server.create_database("redash", None).unwrap();
    server.create_database("staging", None).unwrap();
    let knowledge = KnowledgeBase::embedded().unwrap();
    let mut client = server.connect("redash").unwrap();
    testbed::load_release(&mut client, &knowledge, release, Scale::Small).unwrap();
    if fork {
        testbed::apply_fork(&mut client).unwrap();
    }
    server
}

/// Runs the binary with `REDASH_DATABASE_URL` set to `url` (never on the command line).
pub fn run_with_url(url: &str, args: &[&str]) -> Output {
    command()
        .env("REDASH_DATABASE_URL", url)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn snapshot_restore_verify_round_trip_on_10_1() {
    let server = server_with(&Version::new(10, 1, 0), false);
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    let taken = run_with_url(&server.tcp_url("redash"), &["snapshot", "--out", path(&snap)]);
    assert_eq!(taken.status.code(), Some(0), "{}{}", stdout(&taken), stderr(&taken));
    println!("{}", stdout(&taken));
    let checked = command().args(["snapshot", "verify", path(&snap)]).output().unwrap();
    assert_eq!(checked.status.code(), Some(0), "{}{}", stdout(&checked), stderr(&checked));
    println!("{}", stdout(&checked));
    let restored = run_with_url(&server.tcp_url("staging"), &["restore", path(&snap), "--yes"]);
    println!("{}{}", stdout(&restored), stderr(&restored));
    assert_eq!(restored.status.code(), Some(0));
    let verified = run_with_url(&server.tcp_url("staging"), &["verify", "--baseline", path(&snap)]);
    println!("{}{}", stdout(&verified), stderr(&verified));
    assert_eq!(verified.status.code(), Some(0));
}
