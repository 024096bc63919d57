//! The store suite on SQLite (`sqlite::suite::*`), plus what only a file
//! database has: URL forms, migrations run twice or at once, data that
//! outlives the process's pool, another connection holding the write lock.
//!
//! Every test gets its own file in its own temporary directory. SQLite is
//! always there (it is compiled in): these tests never skip.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::store::{
    AccountStore as _, DatabaseHealth as _, SessionStore as _, Store, StoreError,
};
use portcullis_store::{SqliteStore, SqliteStoreOptions};
use tempfile::TempDir;

use crate::harness::{Backend, Unavailable, trials};
use crate::store_suite;

/// The store suite's backend: a file in a temporary directory.
pub(crate) struct Sqlite;

impl Backend for Sqlite {
    type Database = TestDatabase;
    const NAME: &'static str = "sqlite";

    fn available() -> Result<(), Unavailable> {
        Ok(())
    }

    async fn fresh() -> TestDatabase {
        TestDatabase::new().await
    }

    fn store(database: &TestDatabase) -> Arc<dyn Store> {
        Arc::new(database.store.clone())
    }

    async fn another_pool(database: &TestDatabase) -> Arc<dyn Store> {
        Arc::new(open(&database.path()).await)
    }
}

/// The tests that only SQLite has.
pub(crate) fn trials() -> Vec<libtest_mimic::Trial> {
    trials!["sqlite":
        MultiThread concurrent_first_signing_key_from_two_pools,
        CurrentThread accepted_url_forms_create_the_file,
        CurrentThread unusable_locations_are_errors,
        CurrentThread file_is_wal_and_foreign_keys_are_enforced,
        CurrentThread migrations_are_idempotent,
        MultiThread concurrent_migrations_apply_once,
        CurrentThread a_newer_schema_is_refused,
        CurrentThread data_survives_reopening_the_file,
        CurrentThread a_closed_store_is_unavailable,
        CurrentThread changes_made_by_hand_reach_the_account_change_feed,
        CurrentThread a_key_stored_without_an_algorithm_is_ed25519,
        CurrentThread a_write_lock_held_elsewhere_is_not_writable,
        CurrentThread a_read_only_database_is_not_writable,
    ]
}

/// A migrated store on a fresh file; the directory lives as long as this does.
pub(crate) struct TestDatabase {
    directory: TempDir,
    store: SqliteStore,
}

impl TestDatabase {
    async fn new() -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let store = open(&directory.path().join("portcullis.db")).await;
        Self { directory, store }
    }

    fn path(&self) -> PathBuf {
        self.directory.path().join("portcullis.db")
    }
}

async fn open(path: &Path) -> SqliteStore {
    let store = SqliteStore::connect(path.to_str().expect("UTF-8 path"))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

async fn concurrent_first_signing_key_from_two_pools() {
    // Two pools on one file stand for two server instances starting together.
    let database = TestDatabase::new().await;
    let other = open(&database.path()).await;
    store_suite::exactly_one_first_signing_key(&[
        Arc::new(database.store.clone()),
        Arc::new(other),
    ])
    .await;
}

async fn accepted_url_forms_create_the_file() {
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path().to_str().unwrap();
    let cases = [
        (
            format!("sqlite://{base}/double-slash.db"),
            "double-slash.db",
        ),
        (format!("sqlite:{base}/single-colon.db"), "single-colon.db"),
        (format!("{base}/plain-path.db"), "plain-path.db"),
        (
            format!("sqlite://{base}/with-options.db?mode=rwc"),
            "with-options.db",
        ),
    ];
    for (url, file) in cases {
        let store = SqliteStore::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        store.ping().await.unwrap();
        assert!(
            directory.path().join(file).is_file(),
            "{url} should create {file}"
        );
        store.close().await;
    }
}

async fn unusable_locations_are_errors() {
    let directory = tempfile::tempdir().unwrap();
    let missing_parent = directory.path().join("no/such/dir/x.db");
    let result = SqliteStore::connect(missing_parent.to_str().unwrap()).await;
    assert!(result.is_err(), "{result:?}");
    let result = SqliteStore::connect("sqlite://x.db?mode=nonsense").await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
}

async fn file_is_wal_and_foreign_keys_are_enforced() {
    let database = TestDatabase::new().await;
    // WAL is a property of the file: a plain connection sees it.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(database.path());
    let mut raw = sqlx::ConnectOptions::connect(&options).await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    drop(raw);

    // Foreign keys are per connection and off by default in SQLite.
    let store = SqliteStore::connect_with(
        database.path().to_str().unwrap(),
        SqliteStoreOptions {
            max_connections: 2,
            ..SqliteStoreOptions::default()
        },
    )
    .await
    .unwrap();
    let dangling = store_suite::session(uuid::Uuid::now_v7(), store_suite::at(0));
    let result = store.insert_session(&dangling).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    assert!(store.session(dangling.id).await.unwrap().is_none());
}

async fn migrations_are_idempotent() {
    let database = TestDatabase::new().await;
    database
        .store
        .migrate()
        .await
        .expect("second migrate on the same pool");
    let again = open(&database.path()).await;
    again.migrate().await.expect("migrate from a new pool");
    store_suite::users(&again).await;
}

async fn concurrent_migrations_apply_once() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("portcullis.db");
    let url = path.to_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let store = SqliteStore::connect(&url).await.expect("connect");
                store.migrate().await.expect("migrate");
                store
            })
        })
        .collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.expect("task"));
    }
    store_suite::users(&stores[0]).await;
}

async fn a_newer_schema_is_refused() {
    let database = TestDatabase::new().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(database.path());
    let mut raw = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (9999, 'future.sql', 0)")
        .execute(&mut raw)
        .await
        .unwrap();
    drop(raw);
    store_suite::assert_refused_as_newer(database.store.migrate().await);
}

async fn data_survives_reopening_the_file() {
    let database = TestDatabase::new().await;
    let alice_email = portcullis_core::email::Email::parse("alice@example.com").unwrap();
    store_suite::users(&database.store).await;
    let before = database.store.list_users().await.unwrap();
    database.store.close().await;

    let reopened = open(&database.path()).await;
    let after = reopened.list_users().await.unwrap();
    assert_eq!(
        after
            .iter()
            .map(|u| (u.id, u.email.clone(), u.roles.clone()))
            .collect::<Vec<_>>(),
        before
            .iter()
            .map(|u| (u.id, u.email.clone(), u.roles.clone()))
            .collect::<Vec<_>>(),
    );
    assert!(
        reopened
            .user_by_email(&alice_email)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_closed_store_is_unavailable() {
    let database = TestDatabase::new().await;
    database.store.close().await;
    store_suite::assert_unavailable(database.store.ping().await);
}

/// Changes made by hand in SQL, which no store method makes, reach the
/// account-change feed too: the triggers, not the store, write it.
/// A key written as before `0010_key_algorithms.sql` (no `algorithm`
/// column named) reads back as Ed25519, as the migration makes every
/// existing key.
async fn a_key_stored_without_an_algorithm_is_ed25519() {
    use portcullis_core::keys::SigningAlgorithm;
    use portcullis_core::store::KeyStore as _;

    let database = TestDatabase::new().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(database.path());
    let mut by_hand = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, active_from, retiring_since)
         VALUES ('old', x'302e', zeroblob(32), 0, 0, NULL)",
    )
    .execute(&mut by_hand)
    .await
    .unwrap();
    drop(by_hand);
    let keys = database.store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].algorithm, SigningAlgorithm::EdDSA);
    assert_eq!(keys[0].public_key, [0; 32]);
}

async fn changes_made_by_hand_reach_the_account_change_feed() {
    use portcullis_core::store::AccountChanged;

    let database = TestDatabase::new().await;
    let store = &database.store;
    let alice = store_suite::user("alice@example.com", store_suite::at(0));
    store.insert_user(&alice).await.unwrap();
    store.set_roles(alice.id, &["admin".into()]).await.unwrap();
    store
        .put_role(&portcullis_core::roles::Role {
            name: "editor".into(),
            permissions: ["posts:edit".to_owned()].into(),
        })
        .await
        .unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(database.path());
    let mut by_hand = sqlx::ConnectOptions::connect(&options).await.unwrap();
    for (statement, expected) in [
        (
            "UPDATE user_roles SET role = 'viewer'",
            AccountChanged::User(alice.id),
        ),
        (
            "UPDATE role_permissions SET permission = 'posts:read'",
            AccountChanged::Roles,
        ),
        ("UPDATE roles SET name = name", AccountChanged::Roles),
        (
            "INSERT OR REPLACE INTO users (id, email, password_hash, disabled, created_at)
             SELECT id, email, password_hash, 1, created_at FROM users",
            AccountChanged::User(alice.id),
        ),
    ] {
        let position = store_suite::feed_position(store).await;
        sqlx::query(statement).execute(&mut by_hand).await.unwrap();
        let (changes, _) = store_suite::changes_after(store, position).await;
        assert_eq!(changes, [expected].into(), "{statement}");
    }
}

/// Another connection holding the write lock makes the store not writable,
/// said within the check's bound, and writable again once it lets go.
async fn a_write_lock_held_elsewhere_is_not_writable() {
    let database = TestDatabase::new().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(database.path());
    let mut holder = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let release = async {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
    };
    store_suite::not_writable_until(&database.store, release).await;
}

/// A database opened read-only answers reads, and says it cannot write.
async fn a_read_only_database_is_not_writable() {
    let database = TestDatabase::new().await;
    let url = format!("sqlite://{}?mode=ro", database.path().display());
    let read_only = SqliteStore::connect(&url).await.expect("open read-only");
    read_only.ping().await.unwrap();
    assert_eq!(read_only.count_users().await.unwrap(), 0);
    let result = read_only.check_writable().await;
    assert!(result.is_err(), "{result:?}");
    database
        .store
        .check_writable()
        .await
        .expect("the read-write store is");
}
