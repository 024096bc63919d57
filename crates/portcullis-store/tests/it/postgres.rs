//! The store suite on PostgreSQL (`postgres::suite::*`), plus what only a
//! shared server shows: two pools (two instances) racing on one database,
//! migrators starting together, the statement timeout, unreachable servers.
//!
//! `PORTCULLIS_TEST_POSTGRES` names a server (`postgres://postgres@127.0.0.1:5432`,
//! a role that may create databases; PostgreSQL 15 or newer, with ICU).
//! Every test creates its own database there and drops it afterwards, even
//! when the test panics. Without the variable, each test that needs a server
//! returns at once and one line says so; with it, a server that cannot be
//! used fails the tests rather than skipping them.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime};

use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::store::{SessionRecord, Store, StoreError};
use portcullis_store::{PgStore, PgStoreOptions};
use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::store_suite::{self, at};

/// The environment variable holding the test server's URL.
const SERVER_VARIABLE: &str = "PORTCULLIS_TEST_POSTGRES";

/// The test server's URL, or `None` (said once per run) when there is none.
fn server_url() -> Option<String> {
    static SKIP_NOTICE: Once = Once::new();
    match std::env::var(SERVER_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            SKIP_NOTICE.call_once(|| {
                // Straight to the process's stderr: libtest captures `eprintln!`
                // of passing tests, and this line must be seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping PostgreSQL store tests: {SERVER_VARIABLE} is not set"
                );
            });
            None
        }
        Err(error) => panic!("{SERVER_VARIABLE}: {error}"),
    }
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
    /// `None` when no test server is configured.
    pub(crate) async fn create() -> Option<Self> {
        Self::create_with("").await
    }

    /// `clauses` are appended to `CREATE DATABASE name` (e.g. a locale).
    pub(crate) async fn create_with(clauses: &str) -> Option<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let server = server_url()?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let name = format!(
            "portcullis_test_{}_{nanos}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = with_database(&server, "postgres");
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
        let url = with_database(&server, &name);
        Some(Self {
            name,
            url,
            admin_url,
        })
    }

    pub(crate) async fn connect(&self) -> PgStore {
        PgStore::connect(&self.url).await.expect("connect")
    }

    pub(crate) async fn connect_and_migrate(&self) -> PgStore {
        let store = self.connect().await;
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop may run on a runtime's thread, even while a panic unwinds
        // through a test: do the async work on a thread and runtime of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|error| error.to_string())?;
                // FORCE ends the connections a pool of the test may still hold.
                admin
                    .execute(sqlx::raw_sql(&format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await
                    .map_err(|error| error.to_string())?;
                admin.close().await.map_err(|error| error.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: thread panicked",
                self.name
            ),
        }
    }
}

/// A migrated store on a database of its own.
pub(crate) struct TestDatabase {
    // Fields drop in order: the pool before its database.
    pub(crate) store: PgStore,
    pub(crate) database: ScratchDatabase,
}

impl TestDatabase {
    /// `None` when no test server is configured.
    pub(crate) async fn new() -> Option<Self> {
        let database = ScratchDatabase::create().await?;
        let store = database.connect_and_migrate().await;
        Some(Self { store, database })
    }
}

crate::store_suite::store_suite_tests!(TestDatabase::new().await);

/// A live session of a new user, stored.
async fn stored_session(store: &dyn Store) -> SessionRecord {
    let user = store_suite::user("alice@example.com", at(0));
    store.insert_user(&user).await.unwrap();
    let session = store_suite::session(user.id, at(1));
    store.insert_session(&session).await.unwrap();
    session
}

/// The test database's store and a second pool on the same database.
async fn two_pools(database: &TestDatabase) -> [Arc<dyn Store>; 2] {
    [
        Arc::new(database.store.clone()),
        Arc::new(database.database.connect().await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refresh_rotation_from_two_pools() {
    // Two pools on one database stand for two server instances.
    let Some(database) = TestDatabase::new().await else {
        return;
    };
    let session = stored_session(&database.store).await;
    store_suite::exactly_one_rotation_wins(&two_pools(&database).await, session.id, 32, at(2))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_signing_key_from_two_pools() {
    let Some(database) = TestDatabase::new().await else {
        return;
    };
    store_suite::exactly_one_first_signing_key(&two_pools(&database).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_a_fresh_database() {
    let Some(database) = ScratchDatabase::create().await else {
        return;
    };
    let stores = [database.connect().await, database.connect().await];
    let barrier = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.migrate().await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("migrate");
    }
    let mut raw = PgConnection::connect(&database.url).await.unwrap();
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut raw)
            .await
            .unwrap();
    let expected: Vec<i64> = (1..=i64::try_from(applied.len()).unwrap()).collect();
    assert!(!applied.is_empty(), "migrations were applied");
    assert_eq!(applied, expected, "each migration applied once, in order");
    raw.close().await.unwrap();
    store_suite::users(&stores[1]).await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let Some(database) = TestDatabase::new().await else {
        return;
    };
    database.store.migrate().await.expect("second migrate");
    let again = database.database.connect_and_migrate().await;
    store_suite::users(&again).await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let Some(database) = TestDatabase::new().await else {
        return;
    };
    let mut raw = PgConnection::connect(&database.database.url).await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (9999, 'future.sql', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    store_suite::assert_refused_as_newer(database.store.migrate().await);
}

/// The schema orders text bytewise even where the database's locale would not.
#[tokio::test]
async fn text_order_is_bytewise_in_a_natural_language_locale() {
    let Some(database) =
        ScratchDatabase::create_with("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
            .await
    else {
        return;
    };
    let store = database.connect_and_migrate().await;
    store_suite::text_order_is_bytewise(&store).await;
}

#[tokio::test]
async fn a_statement_blocked_past_the_timeout_is_unavailable() {
    let Some(database) = ScratchDatabase::create().await else {
        return;
    };
    let store = PgStore::connect_with(
        &database.url,
        PgStoreOptions {
            statement_timeout: Duration::from_millis(300),
            ..PgStoreOptions::default()
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let session = stored_session(&store).await;

    // Another client holds the session's row until it rolls back.
    let mut blocker = PgConnection::connect(&database.url).await.unwrap();
    let mut transaction = blocker.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(session.id)
        .execute(&mut *transaction)
        .await
        .unwrap();

    let started = Instant::now();
    let result = store
        .rotate_refresh_token(session.id, 0, &RefreshSecretHash([1; 32]), at(2))
        .await;
    store_suite::assert_unavailable(result);
    assert!(started.elapsed() < Duration::from_secs(3), "timed out late");

    transaction.rollback().await.unwrap();
    blocker.close().await.unwrap();
    assert!(
        store
            .rotate_refresh_token(session.id, 0, &RefreshSecretHash([1; 32]), at(2))
            .await
            .unwrap(),
        "the lock gone, the same rotation succeeds"
    );
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let Some(database) = TestDatabase::new().await else {
        return;
    };
    database.store.close().await;
    store_suite::assert_unavailable(database.store.ping().await);
}

#[tokio::test]
async fn a_missing_database_is_an_error() {
    let Some(database) = ScratchDatabase::create().await else {
        return;
    };
    let missing = with_database(&database.url, &format!("{}_missing", database.name));
    let result = PgStore::connect(&missing).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_are_dropped_even_when_a_test_panics() {
    let Some(server) = server_url() else {
        return;
    };
    let (name_sender, name_receiver) = tokio::sync::oneshot::channel();
    let failing_test = tokio::spawn(async move {
        let database = TestDatabase::new().await.expect("server configured");
        name_sender.send(database.database.name.clone()).unwrap();
        panic!("a test failing on purpose, with its database open");
    });
    assert!(failing_test.await.unwrap_err().is_panic());
    let name = name_receiver.await.unwrap();
    let mut admin = PgConnection::connect(&with_database(&server, "postgres"))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "{name} should have been dropped");
    admin.close().await.unwrap();
}

// These need no server: they run with or without PORTCULLIS_TEST_POSTGRES.

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let result = PgStore::connect_with(
        &format!("postgres://postgres@127.0.0.1:{port}/portcullis"),
        PgStoreOptions {
            acquire_timeout: Duration::from_millis(300),
            ..PgStoreOptions::default()
        },
    )
    .await;
    store_suite::assert_unavailable(result);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_malformed_url_is_other() {
    for url in [
        "",
        "not a url",
        "postgres://host:notaport/db",
        "mysql://host/db",
        "sqlite://portcullis.db",
        "host=127.0.0.1 dbname=portcullis",
    ] {
        let result = PgStore::connect(url).await;
        assert!(
            matches!(result, Err(StoreError::Other(_))),
            "{url}: {result:?}"
        );
    }
}

#[test]
fn database_urls() {
    #[track_caller]
    fn check(server: &str, expected: &str) {
        assert_eq!(with_database(server, "db"), expected, "{server}");
    }
    check(
        "postgres://postgres@127.0.0.1:5432",
        "postgres://postgres@127.0.0.1:5432/db",
    );
    check(
        "postgres://postgres@127.0.0.1:5432/",
        "postgres://postgres@127.0.0.1:5432/db",
    );
    check("postgres://u:p@h/other", "postgres://u:p@h/db");
    check(
        "postgresql://h:1/x?sslmode=disable",
        "postgresql://h:1/db?sslmode=disable",
    );
    check(
        "postgres://h?application_name=t",
        "postgres://h/db?application_name=t",
    );
}

/// The account-change feed and the revocations miss nothing a long
/// transaction commits late, however long it ran, and the feed records what
/// no store method does: updates and truncations made by hand.
#[tokio::test]
async fn the_feeds_see_late_commits_and_the_account_feed_updates_and_truncations() {
    use portcullis_core::store::AccountChanged;

    let Some(database) = TestDatabase::new().await else {
        return;
    };
    let store = &database.store;
    let alice = store_suite::user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    store.set_roles(alice.id, &["admin".into()]).await.unwrap();
    let mut by_hand = PgConnection::connect(&database.database.url).await.unwrap();

    let before = store_suite::feed_position(store).await;
    let mut late = by_hand.begin().await.unwrap();
    sqlx::query("UPDATE users SET disabled = true WHERE id = $1")
        .bind(alice.id)
        .execute(&mut *late)
        .await
        .unwrap();
    // Readers move on while the transaction stays open.
    let (_, mut position) = store_suite::changes_after(store, before).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        position = store_suite::changes_after(store, position).await.1;
    }
    late.commit().await.unwrap();
    let (changes, position) = store_suite::changes_after(store, position).await;
    assert!(
        changes.contains(&AccountChanged::User(alice.id)),
        "the late commit is read: {changes:?}"
    );

    // The same for a revocation.
    let session = store_suite::session(alice.id, at(0));
    store.insert_session(&session).await.unwrap();
    let mut revocations = store.sessions_revoked_after(None).await.unwrap().position;
    let mut late = by_hand.begin().await.unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
        .bind(at(7).unix_timestamp())
        .bind(session.id)
        .execute(&mut *late)
        .await
        .unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let read = store
            .sessions_revoked_after(Some(revocations))
            .await
            .unwrap();
        assert!(read.sessions.is_empty(), "not committed yet: {read:?}");
        revocations = read.position;
    }
    late.commit().await.unwrap();
    let read = store
        .sessions_revoked_after(Some(revocations))
        .await
        .unwrap();
    assert!(
        read.sessions.contains(&(session.id, at(7))),
        "the late revocation is read: {read:?}"
    );

    sqlx::query("UPDATE user_roles SET role = 'viewer'")
        .execute(&mut by_hand)
        .await
        .unwrap();
    let (changes, position) = store_suite::changes_after(store, position).await;
    assert!(
        changes.contains(&AccountChanged::User(alice.id)),
        "{changes:?}"
    );

    sqlx::query("TRUNCATE user_roles")
        .execute(&mut by_hand)
        .await
        .unwrap();
    let (changes, _) = store_suite::changes_after(store, position).await;
    assert!(changes.contains(&AccountChanged::Everything), "{changes:?}");
    by_hand.close().await.unwrap();
}
