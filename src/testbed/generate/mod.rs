//! The deterministic data set of a Redash metadata database after some years of use: several
//! orgs, users in every state, data sources of several kinds, queries scheduled, archived,
//! drafted, failing and parameterised, dashboards with text widgets, alerts with destinations,
//! events and the rest. Values take the era's format from the release's schema: a legacy
//! `schedule` string while the column is `character varying(10)`, a JSON object after; plain JSON
//! `options` on data sources before 7.0, Fernet tokens after.
//!
//! One file per table or tight group of tables, each adding its stage to [`Generator`]:
//! `organizations` (organizations, groups), `users`, `data_sources` (data_sources,
//! data_source_groups), `queries` (query_results, queries, visualizations), `dashboards`
//! (dashboards, widgets), `alerts` (notification_destinations, alerts, alert_subscriptions),
//! `sharing` (api_keys, access_permissions), `favorites`, `query_snippets`, `events` (events,
//! changes). Every value comes from one seeded generator, so the stages must keep drawing from it
//! in the same order for the data set to stay the same.

mod alerts;
mod clock;
mod dashboards;
mod data_sources;
mod events;
mod favorites;
mod organizations;
mod output;
mod queries;
mod query_snippets;
mod sharing;
mod users;

use crate::fernet::FernetKey;
use crate::knowledge::schema::ReleaseSchema;
use crate::knowledge::KnowledgeBase;

use super::copy::CopyTable;
use super::rng::Rng;
use clock::Clock;
use organizations::ORGS;
use output::Output;

/// The secret the fixtures encrypt data-source and destination options with (public test data).
pub const FIXTURE_SECRET_KEY: &str = "fixture-secret-key-for-tests-only";

const SEED: u64 = 0x5EDA_5400_0000_0001;

/// How much data: `Small` for tests, `Large` for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Small,
    Large,
}

impl Scale {
    fn orgs(self) -> usize {
        match self {
            Scale::Small => 3,
            Scale::Large => 5,
        }
    }
    fn users_per_org(self) -> usize {
        match self {
            Scale::Small => 12,
            Scale::Large => 120,
        }
    }
    fn queries_per_org(self) -> usize {
        match self {
            Scale::Small => 40,
            Scale::Large => 3_000,
        }
    }
    fn results_per_org(self) -> usize {
        match self {
            Scale::Small => 60,
            Scale::Large => 40_000,
        }
    }
    fn events_per_org(self) -> usize {
        match self {
            Scale::Small => 300,
            Scale::Large => 200_000,
        }
    }
    fn dashboards_per_org(self) -> usize {
        match self {
            Scale::Small => 6,
            Scale::Large => 300,
        }
    }
}

impl std::str::FromStr for Scale {
    type Err = String;
    fn from_str(text: &str) -> Result<Scale, String> {
        match text {
            "small" => Ok(Scale::Small),
            "large" => Ok(Scale::Large),
            other => Err(format!("unknown scale {other:?} (expected small or large)")),
        }
    }
}

/// Every table's rows, in an order that satisfies the foreign keys.
pub struct Dataset {
    pub tables: Vec<CopyTable>,
}

/// Generates the data set for `schema`'s releases, dated by the first of them in `knowledge`.
pub fn generate(knowledge: &KnowledgeBase, schema: &ReleaseSchema, scale: Scale) -> Dataset {
    let mut generator = Generator::new(knowledge, schema, scale);
    for (index, &(name, slug)) in ORGS.iter().take(scale.orgs()).enumerate() {
        let org = generator.organization(index, name, slug);
        let groups = generator.groups(&org);
        let users = generator.users(&org, &groups);
        let sources = generator.data_sources(&org, &groups);
        let queries = generator.queries(&org, &users, &sources);
        let dashboards = generator.dashboards(&org, &users, &queries);
        let destinations = generator.notification_destinations(&org, &users);
        generator.alerts(&users, &queries, &destinations);
        generator.favorites(&org, &users, &queries, &dashboards);
        generator.query_snippets(&org, &users);
        generator.events(&org, &users, &queries, &dashboards);
    }
    Dataset {
        tables: generator.out.finish(),
    }
}

/// Everything the stages share: the release's formats, the seeded randomness, the rows written
/// so far and the next id of every table.
struct Generator<'a> {
    era: Era<'a>,
    clock: Clock,
    rng: Rng,
    key: FernetKey,
    out: Output,
    scale: Scale,
    ids: Ids,
}

impl<'a> Generator<'a> {
    fn new(knowledge: &KnowledgeBase, schema: &'a ReleaseSchema, scale: Scale) -> Generator<'a> {
        // The schema's first release, so that every release sharing the schema gets the same data.
        let first = knowledge
            .release(&schema.releases[0])
            .expect("validated: every release of a schema has a release file");
        Generator {
            era: Era { schema },
            clock: Clock::before(first),
            rng: Rng::new(SEED),
            key: FernetKey::from_secret(FIXTURE_SECRET_KEY),
            out: Output::new(schema),
            scale,
            ids: Ids::default(),
        }
    }
}

/// The format of the release's columns where Redash changed a value's shape.
struct Era<'a> {
    schema: &'a ReleaseSchema,
}

impl Era<'_> {
    fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        self.schema
            .table(table)?
            .column(column)
            .map(|column| column.sql_type.as_str())
    }
    fn legacy_schedule(&self) -> bool {
        self.column_type("queries", "schedule")
            .is_some_and(|sql_type| sql_type.starts_with("character varying"))
    }
}

/// Ids run on across orgs, as the tables' sequences would.
#[derive(Default)]
struct Ids {
    user: Sequence,
    group: Sequence,
    data_source: Sequence,
    data_source_group: Sequence,
    query: Sequence,
    query_result: Sequence,
    visualization: Sequence,
    change: Sequence,
    access_permission: Sequence,
    dashboard: Sequence,
    widget: Sequence,
    api_key: Sequence,
    destination: Sequence,
    alert: Sequence,
    subscription: Sequence,
    favorite: Sequence,
    snippet: Sequence,
    event: Sequence,
}

#[derive(Default)]
struct Sequence {
    last: i64,
}

impl Sequence {
    /// The id `next` will hand out, for a stage whose rows are referred to as a range.
    fn upcoming(&self) -> i64 {
        self.last + 1
    }
    fn next(&mut self) -> i64 {
        self.last += 1;
        self.last
    }
}

/// The org every later stage of it writes rows for.
struct Org {
    index: usize,
    id: i64,
    name: &'static str,
    slug: &'static str,
    created: i64,
}

/// The org's users, ids `first..first + count`.
struct Users {
    first: i64,
    count: usize,
}

impl Users {
    fn pick(&self, rng: &mut Rng) -> i64 {
        self.first + rng.below(self.count as u64) as i64
    }
}

/// Options as Redash encrypts them: `json.dumps(..., sort_keys=True)`.
fn sorted_json(value: &serde_json::Value) -> String {
    let sorted: std::collections::BTreeMap<&String, &serde_json::Value> = value
        .as_object()
        .map(|map| map.iter().collect())
        .unwrap_or_default();
    serde_json::to_string(&sorted).expect("JSON values serialise")
}

fn iv_from(rng: &mut Rng) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    iv[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    iv
}

const TOPICS: [&str; 10] = [
    "signups",
    "revenue",
    "churn",
    "orders",
    "sessions",
    "refunds",
    "tickets",
    "inventory",
    "deploys",
    "latency",
];
