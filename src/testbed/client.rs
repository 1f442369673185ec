//! A blocking sqlx client for test set-up: the tests and the fixture tools are synchronous, so
//! each call runs to its end on one runtime shared by the whole process.

use std::sync::OnceLock;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection as _, Postgres};

use super::TestbedError;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("testbed-sql")
            .build()
            .expect("the test bed's runtime starts")
    })
}

fn sql_error(what: &str, error: sqlx::Error) -> TestbedError {
    TestbedError::Sql {
        what: what.to_owned(),
        cause: crate::db::describe(&error),
    }
}

/// One connection, used from synchronous code.
pub struct Client {
    connection: PgConnection,
}

impl Client {
    pub fn connect(options: &PgConnectOptions, what: &str) -> Result<Client, TestbedError> {
        runtime()
            .block_on(PgConnection::connect_with(options))
            .map(|connection| Client { connection })
            .map_err(|error| sql_error(what, error))
    }

    /// Runs one or more statements as a simple query (no parameters).
    pub fn batch_execute(&mut self, sql: &str) -> Result<(), TestbedError> {
        let connection = &mut self.connection;
        runtime()
            .block_on(sqlx::raw_sql(AssertSqlSafe(sql)).execute(connection))
            .map(drop)
            .map_err(|error| sql_error(first_line(sql), error))
    }

    /// Runs a statement with parameters, returning its rows.
    pub fn fetch_all(
        &mut self,
        query: Query<'_, Postgres, PgArguments>,
    ) -> Result<Vec<PgRow>, TestbedError> {
        let connection = &mut self.connection;
        runtime()
            .block_on(query.fetch_all(connection))
            .map_err(|error| sql_error("run a query", error))
    }

    /// Runs a statement that returns exactly one row.
    pub fn fetch_one(
        &mut self,
        query: Query<'_, Postgres, PgArguments>,
    ) -> Result<PgRow, TestbedError> {
        let connection = &mut self.connection;
        runtime()
            .block_on(query.fetch_one(connection))
            .map_err(|error| sql_error("run a query", error))
    }

    /// The first column of the one row `sql` returns.
    pub fn scalar<T>(&mut self, sql: &str) -> Result<T, TestbedError>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let row = self.fetch_one(sqlx::query(AssertSqlSafe(sql.to_owned())))?;
        sqlx::Row::try_get(&row, 0).map_err(|error| sql_error(first_line(sql), error))
    }

    /// `COPY ... FROM STDIN` with `data` in COPY text format.
    pub fn copy_in(&mut self, statement: &str, data: &[u8]) -> Result<(), TestbedError> {
        let connection = &mut self.connection;
        runtime()
            .block_on(async {
                let mut copy = connection.copy_in_raw(statement).await?;
                copy.send(data).await?;
                copy.finish().await
            })
            .map(drop)
            .map_err(|error| sql_error(statement, error))
    }
}

impl Client {
    /// Runs `COPY ... TO STDOUT` and counts the bytes it sends, without keeping them.
    pub fn copy_out_bytes(&mut self, statement: &str) -> Result<u64, TestbedError> {
        use futures_util::StreamExt as _;
        let connection = &mut self.connection;
        runtime()
            .block_on(async {
                let mut stream = connection.copy_out_raw(statement).await?;
                let mut bytes = 0u64;
                while let Some(chunk) = stream.next().await {
                    bytes += chunk?.len() as u64;
                }
                Ok::<u64, sqlx::Error>(bytes)
            })
            .map_err(|error| sql_error(statement, error))
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}
