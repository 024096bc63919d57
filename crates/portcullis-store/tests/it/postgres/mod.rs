//! The store suite on PostgreSQL (`postgres::suite::*`), and the server
//! and databases every PostgreSQL test runs on; the tests that only a
//! shared server has are in `shared_server`.
//!
//! The server is `PORTCULLIS_TEST_POSTGRES` (e.g.
//! `postgres://postgres@127.0.0.1:5432`: a role that may create databases;
//! PostgreSQL 15 or newer, with ICU), or, when it is unset,
//! [`DEFAULT_SERVER`] if a server answers there, so a developer with a local
//! PostgreSQL runs these tests without a flag. Where neither answers, every
//! test that needs a server is reported as ignored, with the reason; where
//! the variable is set and its server cannot be used, they fail: a
//! configured server that is down must not pass as "skipped". Every test
//! creates its own schema, in a database the run makes once ([`RUN_DATABASE`]),
//! or its own database where it needs a whole one, and drops it
//! afterwards, even when it panics.

mod shared_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use portcullis_core::store::Store;
use portcullis_store::PgStore;
use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::harness::{Backend, Unavailable};

pub(crate) use shared_server::trials;

/// The environment variable holding the test server's URL.
const SERVER_VARIABLE: &str = "PORTCULLIS_TEST_POSTGRES";

/// Where a server is looked for when [`SERVER_VARIABLE`] is unset.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// How long finding the server may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The store suite's backend: a database of its own on the test server.
pub(crate) struct Postgres;

impl Backend for Postgres {
    type Database = TestDatabase;
    const NAME: &'static str = "postgres";

    fn available() -> Result<(), Unavailable> {
        server().map(drop)
    }

    async fn fresh() -> TestDatabase {
        TestDatabase::new().await
    }

    fn store(database: &TestDatabase) -> Arc<dyn Store> {
        Arc::new(database.store.clone())
    }

    async fn another_pool(database: &TestDatabase) -> Arc<dyn Store> {
        Arc::new(store_at(&database.database.url).await)
    }
}

/// The test server's URL, found once per run: [`SERVER_VARIABLE`], or
/// [`DEFAULT_SERVER`] when that answers.
pub(crate) fn server() -> Result<&'static str, Unavailable> {
    static SERVER: OnceLock<Result<String, Unavailable>> = OnceLock::new();
    SERVER
        .get_or_init(find_server)
        .as_deref()
        .map_err(Clone::clone)
}

/// Whether a server is configured or answers at the default address.
pub(crate) fn available() -> Result<(), Unavailable> {
    server().map(drop)
}

fn find_server() -> Result<String, Unavailable> {
    match std::env::var(SERVER_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => match probe(&url) {
            Ok(()) => Ok(url),
            Err(error) => Err(Unavailable::Broken(format!(
                "{SERVER_VARIABLE}={url} is set, but that server cannot be used: {error}"
            ))),
        },
        Ok(_) | Err(std::env::VarError::NotPresent) => match probe(DEFAULT_SERVER) {
            Ok(()) => Ok(DEFAULT_SERVER.to_owned()),
            Err(error) => Err(Unavailable::Skip(format!(
                "needs PostgreSQL: {SERVER_VARIABLE} is unset and no server answers at {DEFAULT_SERVER} ({error})"
            ))),
        },
        Err(error) => Err(Unavailable::Broken(format!("{SERVER_VARIABLE}: {error}"))),
    }
}

/// Connects to `server`'s `postgres` database and runs a statement.
fn probe(server: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let connect = async {
            let mut connection = PgConnection::connect(&with_database(server, "postgres")).await?;
            connection.execute("SELECT 1").await?;
            connection.close().await
        };
        match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
            Ok(connected) => connected.map_err(|error| error.to_string()),
            Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
        }
    })
}

/// `url` with its database (the path) replaced by `database`, query kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    let query = query.map(|query| format!("?{query}")).unwrap_or_default();
    format!("{}/{database}{query}", &base[..path_start])
}

/// A new, empty database on the test server, dropped when this is dropped.
pub(crate) struct ScratchDatabase {
    pub(crate) name: String,
    /// Connects to this database.
    pub(crate) url: String,
    /// Connects to the server's `postgres` database, to create and drop others.
    admin_url: String,
}

impl ScratchDatabase {
    pub(crate) async fn create() -> Self {
        Self::create_with("").await
    }

    /// `clauses` are appended to `CREATE DATABASE name` (e.g. a locale).
    pub(crate) async fn create_with(clauses: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let server = server().unwrap_or_else(|unavailable| panic!("{unavailable:?}"));
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let name = format!(
            "portcullis_test_{}_{nanos}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = with_database(server, "postgres");
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("{SERVER_VARIABLE}={server}: {error}"));
        // Through `Executor`: `RawSql::execute`'s future is not provably `Send`.
        admin
            .execute(sqlx::raw_sql(&format!(
                "CREATE DATABASE \"{name}\" {clauses}"
            )))
            .await
            .unwrap_or_else(|error| panic!("creating database {name}: {error}"));
        admin.close().await.ok();
        let url = with_database(server, &name);
        Self {
            name,
            url,
            admin_url,
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections a pool of the test may still hold.
        administer(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            &format!("drop test database {}", self.name),
        );
    }
}

/// Runs `statements` on the database at `url`, and reports (does not
/// panic) if that fails: for `Drop`, which may run on a runtime's thread,
/// even while a panic unwinds through a test, so the work is done on a
/// thread and runtime of its own.
fn administer(url: &str, statements: &str, what: &str) {
    let (url, statements) = (url.to_owned(), statements.to_owned());
    let done = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(async {
            let mut admin = PgConnection::connect(&url)
                .await
                .map_err(|error| error.to_string())?;
            admin
                .execute(sqlx::raw_sql(&statements))
                .await
                .map_err(|error| error.to_string())?;
            admin.close().await.map_err(|error| error.to_string())
        })
    })
    .join();
    match done {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("could not {what}: {error}"),
        Err(_) => eprintln!("could not {what}: thread panicked"),
    }
}

/// The database that holds this run's [`TestSchema`]s: made by the first
/// that needs it, dropped by `main` once every test ran
/// ([`drop_run_database`]). A schema per test rather than a database:
/// `DROP DATABASE` waits for a checkpoint (0.7–1 s on the CI machine, one
/// after another), `DROP SCHEMA` does not.
static RUN_DATABASE: tokio::sync::Mutex<Option<ScratchDatabase>> =
    tokio::sync::Mutex::const_new(None);

/// Drops this run's database, if a test made one.
pub(crate) fn drop_run_database() {
    drop(RUN_DATABASE.blocking_lock().take());
}

/// A new, empty schema in this run's database, alone on the search path of
/// every connection made with `url`; dropped when this is dropped.
pub(crate) struct TestSchema {
    pub(crate) name: String,
    /// Connects to the run's database, with this schema for search path
    /// and its name for application name (which `pg_stat_activity` shows).
    pub(crate) url: String,
    /// Connects to the run's database.
    run_url: String,
}

impl TestSchema {
    pub(crate) async fn create() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let run_url = {
            let mut run = RUN_DATABASE.lock().await;
            if run.is_none() {
                *run = Some(ScratchDatabase::create().await);
            }
            run.as_ref().expect("made above").url.clone()
        };
        let name = format!("test_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let separator = if run_url.contains('?') { '&' } else { '?' };
        // Made before the schema, so that it drops whatever came to be.
        let schema = Self {
            url: format!(
                "{run_url}{separator}options=-c%20search_path%3D{name}&application_name={name}"
            ),
            name,
            run_url,
        };
        let mut admin = PgConnection::connect(&schema.run_url)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", schema.run_url));
        admin
            .execute(sqlx::raw_sql(&format!("CREATE SCHEMA {}", schema.name)))
            .await
            .unwrap_or_else(|error| panic!("creating schema {}: {error}", schema.name));
        admin.close().await.ok();
        schema
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Ends the connections a pool of the test may still hold, as
        // `DROP DATABASE … WITH (FORCE)` would (only this run's database's:
        // another run's schemas have the same names).
        administer(
            &self.run_url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = '{name}'
                   AND pid <> pg_backend_pid();
                 DROP SCHEMA IF EXISTS {name} CASCADE",
                name = self.name
            ),
            &format!("drop test schema {}", self.name),
        );
    }
}

/// A store on the database (or schema) at `url`.
pub(crate) async fn store_at(url: &str) -> PgStore {
    PgStore::connect(url).await.expect("connect")
}

/// A store on the database (or schema) at `url`, migrated.
pub(crate) async fn migrated_store_at(url: &str) -> PgStore {
    let store = store_at(url).await;
    store.migrate().await.expect("migrate");
    store
}

/// A migrated store on a schema of its own.
pub(crate) struct TestDatabase {
    // Fields drop in order: the pool before its schema.
    pub(crate) store: PgStore,
    pub(crate) database: TestSchema,
}

impl TestDatabase {
    pub(crate) async fn new() -> Self {
        let database = TestSchema::create().await;
        let store = migrated_store_at(&database.url).await;
        Self { store, database }
    }
}
