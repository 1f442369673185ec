//! The schema changes of upstream's migrations, re-expressed for the test bed, so that a 4.0.2
//! fixture can be brought forward hop by hop into the "upgraded" shape production databases have
//! (added columns at the end of tables, defaults and nullability the models never declared).
//! The data a faithful run changes is changed too, so that a simulated hop leaves the rows as a
//! real one would (schedules, encrypted options, tags, query hashes, widget grids), in our own
//! SQL; every UPDATE of `queries` also fires the fixture's search trigger, which recomputes
//! `search_vector` as upstream's trigger does. Only the Redis-only migration is left out.

use semver::Version;
use sqlx::{AssertSqlSafe, Row as _};

use crate::fernet::FernetKey;
use crate::knowledge::KnowledgeBase;

use super::ddl::{function_sql, type_sql};
use super::generate::FIXTURE_SECRET_KEY;
use super::{Client, TestbedError};

/// One hop: the release that first ships these migrations, and what they do.
struct Hop {
    first_release: Version,
    steps: &'static [Step],
}

enum Step {
    Sql(&'static str),
    /// Moves the plain JSON `options` of a table into a Fernet-encrypted `encrypted_options`.
    Encrypt(&'static str),
    /// Creates the search-parser functions and type the release's schema has and the DB lacks.
    SearchHelpers,
}

const HOPS: &[Hop] = &[
    Hop {
        // 1daa601d3ae5, d4c798575877, e7004224f284, a92d92aa678e, 0f740a081d20, 71477dadd6ef
        first_release: Version::new(5, 0, 0),
        steps: &[Step::Sql(
            "ALTER TABLE users ADD COLUMN disabled_at timestamp with time zone;
             CREATE TABLE favorites (
               updated_at timestamp with time zone NOT NULL,
               created_at timestamp with time zone NOT NULL,
               id serial NOT NULL,
               object_type character varying(255) NOT NULL,
               object_id integer NOT NULL,
               user_id integer NOT NULL,
               PRIMARY KEY (id),
               FOREIGN KEY (user_id) REFERENCES users (id));
             ALTER TABLE favorites ADD COLUMN org_id integer NOT NULL;
             ALTER TABLE favorites ADD FOREIGN KEY (org_id) REFERENCES organizations (id);
             ALTER TABLE dashboards ADD COLUMN tags character varying[];
             ALTER TABLE queries ADD COLUMN tags character varying[];
             UPDATE dashboards SET tags = ARRAY[substring(name FROM '^([A-Za-z ]+):')]
              WHERE name ~ '^[A-Za-z ]+:';
             ALTER TABLE favorites ADD CONSTRAINT unique_favorite UNIQUE (object_type, object_id, user_id);",
        )],
    },
    Hop {
        // 640888ce445d, e7f8a917aa8e, 73beceabb948, 98af61feea92, e5c7a4e2df4d
        first_release: Version::new(7, 0, 0),
        steps: &[
            Step::Sql(
                "ALTER TABLE queries ADD COLUMN old_schedule character varying(10);
                 UPDATE queries SET old_schedule = schedule;
                 ALTER TABLE queries DROP COLUMN schedule;
                 ALTER TABLE queries ADD COLUMN schedule text NOT NULL DEFAULT '{}';
                 UPDATE queries SET schedule = CASE
                   WHEN old_schedule IS NULL
                     THEN '{\"interval\": null, \"until\": null, \"day_of_week\": null, \"time\": null}'
                   WHEN old_schedule LIKE '%:%'
                     THEN json_build_object('interval', 86400, 'until', NULL, 'day_of_week', NULL, 'time', old_schedule)::text
                   ELSE json_build_object('interval', old_schedule, 'until', NULL, 'day_of_week', NULL, 'time', NULL)::text
                 END;
                 ALTER TABLE queries DROP COLUMN old_schedule;
                 ALTER TABLE users ADD COLUMN details json DEFAULT '{}';
                 ALTER TABLE queries ALTER COLUMN schedule DROP NOT NULL, ALTER COLUMN schedule DROP DEFAULT;
                 UPDATE queries SET schedule = NULL
                  WHERE schedule::json->>'interval' IS NULL AND schedule::json->>'until' IS NULL
                    AND schedule::json->>'day_of_week' IS NULL AND schedule::json->>'time' IS NULL;",
            ),
            Step::Encrypt("data_sources"),
        ],
    },
    Hop {
        // d7d747033183, 0ec979123ba4, 89bc7873a3e0
        first_release: Version::new(10, 0, 0),
        steps: &[
            Step::Encrypt("notification_destinations"),
            Step::Sql("ALTER TABLE dashboards ADD COLUMN options json NOT NULL DEFAULT '{}';"),
        ],
    },
    Hop {
        // fd4fc850d7ea, 1038c2174f5d, 7ce5925f832b, 7205816877ec, 9e8c841d1a30
        first_release: Version::new(25, 1, 0),
        steps: &[
            Step::Sql(
                "ALTER TABLE users ALTER COLUMN details TYPE jsonb USING details::jsonb;
                 UPDATE users SET details = details::jsonb
                   || ('{\"profile_image_url\": \"' || profile_image_url || '\"}')::jsonb;
                 ALTER TABLE users DROP COLUMN profile_image_url;",
            ),
            Step::SearchHelpers,
            Step::Sql(
                "ALTER TABLE queries ALTER COLUMN options TYPE jsonb USING options::jsonb,
                                     ALTER COLUMN options DROP NOT NULL;
                 ALTER TABLE queries ALTER COLUMN schedule TYPE jsonb USING schedule::jsonb;
                 ALTER TABLE events ALTER COLUMN additional_properties TYPE jsonb
                   USING additional_properties::jsonb;
                 ALTER TABLE organizations ALTER COLUMN settings TYPE jsonb USING settings::jsonb,
                                           ALTER COLUMN settings DROP NOT NULL;
                 ALTER TABLE alerts ALTER COLUMN options TYPE jsonb USING options::jsonb,
                                    ALTER COLUMN options DROP NOT NULL;
                 ALTER TABLE dashboards ALTER COLUMN options TYPE jsonb USING options::jsonb;
                 ALTER TABLE dashboards ALTER COLUMN layout TYPE jsonb USING layout::jsonb;
                 ALTER TABLE changes ALTER COLUMN change TYPE jsonb USING change::jsonb;
                 ALTER TABLE visualizations ALTER COLUMN options TYPE jsonb USING options::jsonb;
                 ALTER TABLE widgets ALTER COLUMN options TYPE jsonb USING options::jsonb;",
            ),
            // 1038c2174f5d and 9e8c841d1a30 both give every query a fresh hash, the second
            // overwriting the first: an md5 of the text once block comments and every bit of
            // white space are gone. Ours skips what the second adds (auto-limit, the runner's
            // statement splitting), which fixtures never need; the values only have to change
            // the way a real run changes them.
            Step::Sql(
                "UPDATE queries SET query_hash = md5(
                   regexp_replace(regexp_replace(query, '/[*].*?[*]/', '', 'gn'), '[[:space:]]+', '', 'g'));",
            ),
        ],
    },
    Hop {
        // 1655999df5e3, db0aca1ebd32: data only, in our own words
        first_release: Version::new(25, 8, 0),
        steps: &[Step::Sql(
            "UPDATE alerts SET options = options || '{\"selector\": \"first\"}'
              WHERE options->>'selector' IS NULL;
             UPDATE widgets SET options = jsonb_set(jsonb_set(options,
                 '{position,col}', to_jsonb((options #>> '{position,col}')::int * 2)),
                 '{position,sizeX}', to_jsonb((options #>> '{position,sizeX}')::int * 2));",
        )],
    },
];

/// Brings a database at `from` (a fixture) forward to `to`, hop by hop, and stamps it, in one
/// transaction.
pub fn simulate_upgrade(
    client: &mut Client,
    knowledge: &KnowledgeBase,
    from: &Version,
    to: &Version,
) -> Result<(), TestbedError> {
    simulate_upgrade_with(client, knowledge, from, to, &|| ())
}

/// [`simulate_upgrade`], calling `before_commit` with every change made and not yet committed
/// (a test stops the process there to see an interrupted migration roll back).
pub fn simulate_upgrade_with(
    client: &mut Client,
    knowledge: &KnowledgeBase,
    from: &Version,
    to: &Version,
    before_commit: &dyn Fn(),
) -> Result<(), TestbedError> {
    let target = knowledge
        .release(to)
        .ok_or_else(|| TestbedError::UnknownRelease(to.clone()))?;
    let schema = knowledge
        .schema_of(to)
        .ok_or_else(|| TestbedError::UnknownRelease(to.clone()))?;
    client.batch_execute("BEGIN")?;
    let result = (|| {
        for hop in HOPS
            .iter()
            .filter(|hop| &hop.first_release > from && &hop.first_release <= to)
        {
            for step in hop.steps {
                match step {
                    Step::Sql(sql) => client.batch_execute(sql)?,
                    Step::Encrypt(table) => encrypt_options(client, table)?,
                    Step::SearchHelpers => {
                        let mut sql = String::new();
                        for type_name in &schema.types {
                            sql.push_str(&type_sql(type_name)?);
                        }
                        for function in &schema.functions {
                            if function.name != "queries_search_vector_update" {
                                sql.push_str(&function_sql(schema, function)?);
                            }
                        }
                        client.batch_execute(&sql)?;
                    }
                }
            }
        }
        let stamp = target.alembic_heads.join("");
        client.fetch_all(sqlx::query("UPDATE alembic_version SET version_num = $1").bind(stamp))?;
        before_commit();
        client.batch_execute("COMMIT")
    })();
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK");
    }
    result
}

/// As the encryption migrations do: add `encrypted_options` at the end, fill it, drop `options`.
fn encrypt_options(client: &mut Client, table: &str) -> Result<(), TestbedError> {
    let key = FernetKey::from_secret(FIXTURE_SECRET_KEY);
    client.batch_execute(&format!(
        "ALTER TABLE {table} ADD COLUMN encrypted_options bytea"
    ))?;
    let rows = client.fetch_all(sqlx::query(AssertSqlSafe(format!(
        "SELECT id, options FROM {table} ORDER BY id"
    ))))?;
    for row in rows {
        let id: i32 = row.get(0);
        let options: String = row.get(1);
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&id.to_be_bytes());
        let token = key.encrypt_with(options.as_bytes(), 1_550_000_000, iv);
        client.fetch_all(
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {table} SET encrypted_options = $1 WHERE id = $2"
            )))
            .bind(token.into_bytes())
            .bind(id),
        )?;
    }
    client.batch_execute(&format!(
        "ALTER TABLE {table} DROP COLUMN options; \
         ALTER TABLE {table} ALTER COLUMN encrypted_options SET NOT NULL"
    ))
}
