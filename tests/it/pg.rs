//! One throwaway PostgreSQL server for the whole test run, and a fresh database per test cloned
//! from a template per release fixture. A machine without a server fails these tests loudly.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use redash_upgrade::knowledge::KnowledgeBase;
use redash_upgrade::testbed::{self, Client, PgServer, Scale};
use semver::Version;

pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| match PgServer::start() {
        Ok(server) => server,
        Err(error) => panic!("{error}"),
    })
}

/// A database that is dropped when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn tcp_url(&self) -> String {
        server().tcp_url(&self.name)
    }
    pub fn client(&self) -> Client {
        server().connect(&self.name).unwrap()
    }
    pub fn execute(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = server().drop_database(&self.name);
    }
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}", COUNTER.fetch_add(1, Ordering::SeqCst))
}

pub fn empty_db() -> TestDb {
    let name = unique_name("empty");
    server().create_database(&name, None).unwrap();
    TestDb { name }
}

/// A private copy of the small fixture of `version` (`"10.1.0"`); `"fork"` is the fork fixture,
/// `"upgraded-10.1.0"` the 4.0.2 fixture brought forward through every release to 10.1.0.
pub fn fixture_db(version: &str) -> TestDb {
    let template = template(version);
    let name = unique_name(&format!("t_{}", template.trim_start_matches("tpl_")));
    server().create_database(&name, Some(&template)).unwrap();
    TestDb { name }
}

fn template(version: &str) -> String {
    static BUILT: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashSet::new()));
    let name = format!("tpl_{}", version.replace(['.', '-'], "_"));
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.contains(&name) {
        return name;
    }
    let server = server();
    if server.database_exists(&name).unwrap() {
        server.drop_database(&name).unwrap();
    }
    server.create_database(&name, None).unwrap();
    {
        let knowledge = KnowledgeBase::embedded().unwrap();
        let mut client = server.connect(&name).unwrap();
        let oldest = Version::new(4, 0, 2);
        let load = |client: &mut Client, release: &Version| {
            testbed::load_release(client, &knowledge, release, Scale::Small)
                .unwrap_or_else(|error| panic!("loading the {version} fixture: {error}"))
        };
        if version == "fork" {
            load(&mut client, &oldest);
            testbed::apply_fork(&mut client).unwrap();
        } else if let Some(target) = version.strip_prefix("upgraded-") {
            load(&mut client, &oldest);
            testbed::simulate_upgrade(
                &mut client,
                &knowledge,
                &oldest,
                &Version::parse(target).unwrap(),
            )
            .unwrap_or_else(|error| panic!("upgrading to {target}: {error}"));
        } else {
            load(&mut client, &Version::parse(version).unwrap());
        }
    }
    built.insert(name.clone());
    name
}
