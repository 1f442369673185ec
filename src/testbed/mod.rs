//! The test bed: a throwaway PostgreSQL server and realistic Redash metadata databases of every
//! release, generated deterministically. Used by the integration tests and the benchmark
//! harnesses, never by the `redash-upgrade` command itself.

mod client;
mod copy;
mod ddl;
mod generate;
mod redis;
mod rng;
mod server;
mod upgrade;
mod usage;

pub use crate::db::quote_ident;
pub use crate::status::resp::RedisReply;
pub use client::Client;
pub use copy::{CopyTable, Value};
pub use ddl::{finish_sql, schema_sql, DdlError};
pub use generate::{generate, Dataset, Scale, FIXTURE_SECRET_KEY};
pub use redis::{RedisServer, REDIS_SERVER_ENV};
pub use server::{PgServer, Tls, BINDIR_ENV, SUPERUSER};
pub use upgrade::{simulate_upgrade, simulate_upgrade_with};
pub use usage::{
    add_usage_history, OrgUsage, PlantedEvent, UsageHistory, UsageSummary, QUIET_DAY, QUIET_HOURS,
};

use crate::knowledge::KnowledgeBase;
use semver::Version;

/// In-house changes of the fork fixture, applied on top of a 4.0.2 database.
pub const FORK_SQL: &str = include_str!("../../fixtures/fork-4.0.2.sql");

/// Why the test bed could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error("no PostgreSQL server to test against: {why}; {hint}")]
    NoServer { why: String, hint: &'static str },
    #[error("no Redis server to test against: {why}; {hint}")]
    NoRedis { why: String, hint: &'static str },
    #[error("the throwaway Redis server failed: {why}\n{log}")]
    RedisFailed { why: String, log: String },
    #[error("the throwaway PostgreSQL server failed: {why}\n{log}")]
    ServerFailed { why: String, log: String },
    #[error("could not {what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("could not {what}: {cause}")]
    Sql { what: String, cause: String },
    #[error("no release {0} in the knowledge base")]
    UnknownRelease(Version),
    #[error(transparent)]
    Ddl(#[from] DdlError),
}

/// The database a fresh install of a release would have after some use: its schema, the
/// generated data set and the alembic stamp, ready to load or to write as a psql script.
pub struct ReleaseFixture {
    pub schema_sql: String,
    pub dataset: Dataset,
    /// Keys, indexes, sequence positions and the stamp, added after the data.
    pub finish_sql: String,
}

impl ReleaseFixture {
    pub fn new(
        knowledge: &KnowledgeBase,
        version: &Version,
        scale: Scale,
    ) -> Result<ReleaseFixture, TestbedError> {
        let unknown = || TestbedError::UnknownRelease(version.clone());
        let release = knowledge.release(version).ok_or_else(unknown)?;
        let schema = knowledge.schema_of(version).ok_or_else(unknown)?;
        Ok(ReleaseFixture {
            schema_sql: schema_sql(schema)?,
            dataset: generate(knowledge, schema, scale),
            finish_sql: finish_sql(schema, &release.alembic_heads)?,
        })
    }

    pub fn load(&self, client: &mut Client) -> Result<(), TestbedError> {
        client.batch_execute(&self.schema_sql)?;
        for table in &self.dataset.tables {
            table.copy_into(client)?;
        }
        client.batch_execute(&self.finish_sql)
    }

    pub fn write_script(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        out.write_all(self.schema_sql.as_bytes())?;
        for table in &self.dataset.tables {
            table.write_script(out)?;
        }
        out.write_all(self.finish_sql.as_bytes())
    }
}

/// Creates the schema of `version`, loads the generated data set into it and stamps alembic.
pub fn load_release(
    client: &mut Client,
    knowledge: &KnowledgeBase,
    version: &Version,
    scale: Scale,
) -> Result<(), TestbedError> {
    ReleaseFixture::new(knowledge, version, scale)?.load(client)
}

/// Applies the fork fixture's in-house changes (4.0.2 only).
pub fn apply_fork(client: &mut Client) -> Result<(), TestbedError> {
    client.batch_execute(FORK_SQL)
}

/// The benchmarks' database: `database` created on `server` and loaded with the large 10.1.0
/// fixture, vacuumed, analysed and checkpointed so that every run starts alike. Returns how long
/// loading took.
pub fn load_benchmark_database(
    server: &PgServer,
    knowledge: &KnowledgeBase,
    database: &str,
) -> Result<std::time::Duration, TestbedError> {
    server.create_database(database, None)?;
    let started = std::time::Instant::now();
    let mut client = server.connect(database)?;
    load_release(
        &mut client,
        knowledge,
        &Version::new(10, 1, 0),
        Scale::Large,
    )?;
    client.batch_execute("VACUUM ANALYZE")?;
    client.batch_execute("CHECKPOINT")?;
    Ok(started.elapsed())
}
