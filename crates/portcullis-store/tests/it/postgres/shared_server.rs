//! What only a shared PostgreSQL server shows: two pools (two instances)
//! racing on one database, migrators starting together, the statement
//! timeout, locks and read-only databases, transactions left open,
//! unreachable servers and malformed URLs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::store::{
    AccountStore as _, DatabaseHealth as _, FeedStore as _, SessionRecord, SessionStore as _,
    Store, StoreError,
};
use portcullis_store::{PgStore, PgStoreOptions};
use sqlx::{Connection as _, Executor as _, PgConnection};

use super::{
    ScratchDatabase, TestDatabase, TestSchema, available, migrated_store_at, server, store_at,
    with_database,
};
use crate::harness::trials;
use crate::store_suite::{self, at};

/// The tests of this module; those that need a server are ignored without one.
pub(crate) fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = trials!["postgres" needing available:
        MultiThread concurrent_refresh_rotation_from_two_pools,
        MultiThread concurrent_first_signing_key_from_two_pools,
        MultiThread concurrent_migrations_on_a_fresh_database,
        CurrentThread migrations_are_idempotent,
        MultiThread migrations_wait_for_an_earlier_release_not_for_other_schemas,
        CurrentThread a_newer_schema_is_refused,
        CurrentThread text_order_is_bytewise_in_a_natural_language_locale,
        CurrentThread a_statement_blocked_past_the_timeout_is_unavailable,
        CurrentThread a_closed_store_is_unavailable,
        CurrentThread a_missing_database_is_an_error,
        MultiThread databases_are_dropped_even_when_a_test_panics,
        CurrentThread the_feeds_see_late_commits_and_the_account_feed_updates_and_truncations,
        MultiThread dropped_writes_leave_no_connection_idle_in_a_transaction,
        CurrentThread a_table_lock_held_elsewhere_is_not_writable,
        CurrentThread a_read_only_database_is_not_writable,
        CurrentThread a_key_stored_without_an_algorithm_is_ed25519,
    ];
    // These need no server: they run with or without one.
    trials.extend(trials!["postgres":
        CurrentThread an_unreachable_server_is_unavailable,
        CurrentThread a_malformed_url_is_other,
        CurrentThread database_urls,
    ]);
    trials
}

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
        Arc::new(store_at(&database.database.url).await),
    ]
}

async fn concurrent_refresh_rotation_from_two_pools() {
    // Two pools on one database stand for two server instances.
    let database = TestDatabase::new().await;
    let session = stored_session(&database.store).await;
    store_suite::exactly_one_rotation_wins(&two_pools(&database).await, session.id, 32, at(2))
        .await;
}

async fn concurrent_first_signing_key_from_two_pools() {
    let database = TestDatabase::new().await;
    store_suite::exactly_one_first_signing_key(&two_pools(&database).await).await;
}

async fn concurrent_migrations_on_a_fresh_database() {
    let database = ScratchDatabase::create().await;
    let stores = [store_at(&database.url).await, store_at(&database.url).await];
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
    // The numbers of the schema's files (one may be missing while the
    // branch that adds it is not merged).
    let mut expected: Vec<i64> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name[..4].parse().expect("NNNN_name.sql")
            })
            .collect();
    expected.sort_unstable();
    assert!(!applied.is_empty(), "migrations were applied");
    assert_eq!(applied, expected, "each migration applied once, in order");
    raw.close().await.unwrap();
    store_suite::users(&stores[1]).await;
}

/// A migration waits for an instance of an earlier release migrating the
/// same database (which takes one fixed key), and not for one migrating
/// another schema of it.
async fn migrations_wait_for_an_earlier_release_not_for_other_schemas() {
    let [busy, free, waiting] = [
        TestSchema::create().await,
        TestSchema::create().await,
        TestSchema::create().await,
    ];
    let earlier_releases_key = i64::from_be_bytes(*b"portcull");
    // A migrator of `busy`, mid-migration, holding what this release's take.
    let mut of_busy = PgConnection::connect(&busy.url).await.unwrap();
    of_busy
        .execute(sqlx::raw_sql(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock_shared({earlier_releases_key});
             SELECT pg_advisory_xact_lock(hashtextextended(
                 'portcullis migrations ' || current_schema(), 0))"
        )))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), migrated_store_at(&free.url))
        .await
        .expect("migrating one schema does not wait for another's migrator");
    // Done, before an earlier release's migrator may begin.
    of_busy.execute(sqlx::raw_sql("ROLLBACK")).await.unwrap();

    // An earlier release migrating: it took one key for the whole database.
    let mut earlier_release = PgConnection::connect(&busy.url).await.unwrap();
    earlier_release
        .execute(sqlx::raw_sql(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({earlier_releases_key})"
        )))
        .await
        .unwrap();
    let url = waiting.url.clone();
    let migration = tokio::spawn(async move { migrated_store_at(&url).await });
    // Outside any transaction: inside one, `pg_stat_activity` stays as first read.
    let mut observer = PgConnection::connect(&busy.url).await.unwrap();
    let started = Instant::now();
    loop {
        let waits: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1
               AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
        )
        .bind(&waiting.name)
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if waits == 1 {
            break;
        }
        assert!(
            !migration.is_finished(),
            "migrated beside an earlier release"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the migrator never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    earlier_release
        .execute(sqlx::raw_sql("COMMIT"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), migration)
        .await
        .expect("the migration goes on once the earlier release is done")
        .unwrap();
}

async fn migrations_are_idempotent() {
    let database = TestDatabase::new().await;
    database.store.migrate().await.expect("second migrate");
    let again = migrated_store_at(&database.database.url).await;
    store_suite::users(&again).await;
}

async fn a_newer_schema_is_refused() {
    let database = TestDatabase::new().await;
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
async fn text_order_is_bytewise_in_a_natural_language_locale() {
    let database =
        ScratchDatabase::create_with("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
            .await;
    let store = migrated_store_at(&database.url).await;
    store_suite::text_order_is_bytewise(&store).await;
}

async fn a_statement_blocked_past_the_timeout_is_unavailable() {
    let database = ScratchDatabase::create().await;
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

async fn a_closed_store_is_unavailable() {
    let database = TestDatabase::new().await;
    database.store.close().await;
    store_suite::assert_unavailable(database.store.ping().await);
}

async fn a_missing_database_is_an_error() {
    let database = ScratchDatabase::create().await;
    let missing = with_database(&database.url, &format!("{}_missing", database.name));
    let result = PgStore::connect(&missing).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
}

async fn databases_are_dropped_even_when_a_test_panics() {
    let server = server().expect("a server");
    let (names_sender, names_receiver) = tokio::sync::oneshot::channel();
    let failing_test = tokio::spawn(async move {
        let scratch = ScratchDatabase::create().await;
        let database = TestDatabase::new().await;
        names_sender
            .send((
                scratch.name.clone(),
                database.database.name.clone(),
                database.database.url.clone(),
            ))
            .unwrap();
        panic!("a test failing on purpose, with its databases open");
    });
    assert!(failing_test.await.unwrap_err().is_panic());
    let (scratch, schema, schema_url) = names_receiver.await.unwrap();
    let mut admin = PgConnection::connect(&with_database(server, "postgres"))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&scratch)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "{scratch} should have been dropped");
    admin.close().await.unwrap();
    let mut run = PgConnection::connect(&schema_url).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
        .bind(&schema)
        .fetch_one(&mut run)
        .await
        .unwrap();
    assert_eq!(left, 0, "{schema} should have been dropped");
    run.close().await.unwrap();
}

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

async fn database_urls() {
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
async fn the_feeds_see_late_commits_and_the_account_feed_updates_and_truncations() {
    use portcullis_core::store::AccountChanged;

    let database = TestDatabase::new().await;
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

/// Writes dropped at any point leave no connection of the test database
/// idle inside a transaction (what sqlx 0.8.6 does to a `BEGIN` dropped
/// in flight), and every write that answered is committed.
async fn dropped_writes_leave_no_connection_idle_in_a_transaction() {
    let database = TestDatabase::new().await;
    let [writer, observer] = two_pools(&database).await;
    store_suite::dropped_writes_apply_whole_or_not_at_all(Arc::clone(&writer), observer).await;
    store_suite::wait_until_idle(&*writer).await;
    let mut by_hand = PgConnection::connect(&database.database.url).await.unwrap();
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT state || ': ' || coalesce(query, '') FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND application_name = current_setting('application_name')
           AND state LIKE 'idle in transaction%'",
    )
    .fetch_all(&mut by_hand)
    .await
    .unwrap();
    assert!(
        open.is_empty(),
        "connections idle in a transaction: {open:?}"
    );
    by_hand.close().await.unwrap();
}

/// Another client holding a lock that keeps writers out of `sessions`
/// makes the store not writable, said within the check's bound, and
/// writable again once it lets go.
async fn a_table_lock_held_elsewhere_is_not_writable() {
    let database = TestDatabase::new().await;
    database.store.check_writable().await.expect("writable");
    let mut holder = PgConnection::connect(&database.database.url).await.unwrap();
    let mut transaction = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE sessions IN SHARE MODE")
        .execute(&mut *transaction)
        .await
        .unwrap();
    let release = async move { transaction.rollback().await.unwrap() };
    store_suite::not_writable_until(&database.store, release).await;
    holder.close().await.unwrap();
}

/// A database whose transactions are read-only (a standby, or one made
/// read-only by hand) answers reads, and says it cannot write.
async fn a_read_only_database_is_not_writable() {
    // The setting is the database's: this test needs one of its own.
    let database = ScratchDatabase::create().await;
    migrated_store_at(&database.url).await;
    let mut by_hand = PgConnection::connect(&database.url).await.unwrap();
    by_hand
        .execute(sqlx::raw_sql(&format!(
            "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
            database.name
        )))
        .await
        .unwrap();
    by_hand.close().await.unwrap();
    // The setting holds for sessions that start after it.
    let read_only = store_at(&database.url).await;
    read_only.ping().await.unwrap();
    assert_eq!(read_only.count_users().await.unwrap(), 0);
    store_suite::assert_unavailable(read_only.check_writable().await);
    store_suite::assert_unavailable(
        read_only
            .insert_user(&store_suite::user("alice@example.com", at(0)))
            .await,
    );
}

/// A key written as before `0010_key_algorithms.sql` (no `algorithm`
/// column named) reads back as Ed25519, as the migration makes every
/// existing key.
async fn a_key_stored_without_an_algorithm_is_ed25519() {
    use portcullis_core::keys::SigningAlgorithm;
    use portcullis_core::store::KeyStore as _;

    let database = TestDatabase::new().await;
    let mut by_hand = PgConnection::connect(&database.database.url).await.unwrap();
    by_hand
        .execute(sqlx::raw_sql(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, active_from, retiring_since)
             VALUES ('old', decode('302e', 'hex'), decode(repeat('00', 32), 'hex'), 0, 0, NULL)",
        ))
        .await
        .unwrap();
    by_hand.close().await.unwrap();
    let keys = database.store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].algorithm, SigningAlgorithm::EdDSA);
    assert_eq!(keys[0].public_key, [0; 32]);
}
