//! Latency of a refresh-token rotation at the store, the database work the
//! server does per `grant_type=refresh_token` (`Grants::refresh`):
//! read the session, then move its refresh chain one generation forward with
//! the compare-and-set `Store::rotate_refresh_token`.
//!
//! One user and one session live in a fresh database; each iteration rotates
//! from the session's current generation to the next (the generation is kept
//! in a counter and checked against the row read), so every
//! compare-and-set succeeds and writes, as a real rotation does.
//!
//! - `sqlite/read_then_rotate`: the hot path, on a SQLite file in a temporary
//!   directory with the store's own settings (WAL, `synchronous=NORMAL`: no
//!   fsync per commit, so this is not bounded by the disk's flush latency).
//! - `sqlite/session_read` and `sqlite/rotate`: its two halves alone.
//! - `postgres/…`: the same three on a PostgreSQL database this benchmark
//!   creates and drops, only when `PORTCULLIS_BENCH_POSTGRES` names a server
//!   (`postgres://postgres@127.0.0.1:5432`, a role that may create databases).
//!   PostgreSQL commits with `synchronous_commit` as the server has it (on by
//!   default: one WAL flush per rotation).
//!
//! Sequential, one request at a time: the latency a single refresh sees, not
//! the throughput of many. The full grant also reads the user and the roles
//! and signs an access token (`benches/tokens.rs` in `portcullis-core`).
//!
//! Run with `cargo bench -p portcullis-store --bench refresh_rotation`.

use std::cell::Cell;
use std::hint::black_box;
use std::time::SystemTime;

use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::refresh::{RefreshSecretHash, SessionRefreshKey};
use portcullis_core::store::{SessionOrigin, SessionRecord, Store, UserRecord};
use portcullis_store::{PgStore, SqliteStore};
use sqlx::{Connection as _, Executor as _, PgConnection};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;
use uuid::Uuid;

/// The environment variable naming a PostgreSQL server to benchmark on too.
const POSTGRES_VARIABLE: &str = "PORTCULLIS_BENCH_POSTGRES";

/// Inserts one user with one fresh session (generation 0); returns the session id.
async fn seed(store: &impl Store) -> Uuid {
    let now = OffsetDateTime::now_utc();
    let user = UserRecord {
        id: Uuid::now_v7(),
        email: Email::parse("bench@example.com").expect("a valid email"),
        name: Some("Bench".to_owned()),
        roles: vec!["admin".to_owned()],
        password_hash: PasswordHashString(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        ),
        disabled: false,
        email_verified: false,
        created_at: now,
    };
    store.insert_user(&user).await.expect("insert user");
    let session = SessionRecord {
        id: Uuid::now_v7(),
        user_id: user.id,
        created_at: now,
        last_used_at: now,
        expires_at: now + Duration::days(90),
        revoked_at: None,
        refresh_key: SessionRefreshKey::generate(),
        refresh_generation: 0,
        refresh_hash: RefreshSecretHash([0; 32]),
        scope: None,
        user_agent: Some("criterion".to_owned()),
        ip: Some("127.0.0.1".to_owned()),
        origin: SessionOrigin::Api,
    };
    store
        .insert_session(&session)
        .await
        .expect("insert session");
    session.id
}

/// A distinct next hash per generation, as a real chain has.
fn next_hash(generation: u64) -> RefreshSecretHash {
    let mut hash = [0; 32];
    hash[..8].copy_from_slice(&generation.to_be_bytes());
    RefreshSecretHash(hash)
}

/// Benchmarks the three measurements on `store` under `group`.
fn rotation_benches(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &Runtime,
    store: &impl Store,
) {
    let session_id = runtime.block_on(seed(store));
    // The session's generation, one ahead after every successful rotation.
    let generation = Cell::new(0_u64);
    let (store, generation) = (&store, &generation);

    group.bench_function("session_read", |b| {
        b.to_async(runtime).iter(|| async move {
            store
                .session(black_box(session_id))
                .await
                .expect("read session")
                .expect("the session exists")
        });
    });
    group.bench_function("rotate", |b| {
        b.to_async(runtime).iter(|| async move {
            let from = generation.get();
            let rotated = store
                .rotate_refresh_token(
                    session_id,
                    from,
                    &next_hash(from),
                    OffsetDateTime::now_utc(),
                )
                .await
                .expect("rotate");
            assert!(rotated, "the compare-and-set lost at generation {from}");
            generation.set(from + 1);
        });
    });
    group.bench_function("read_then_rotate", |b| {
        b.to_async(runtime).iter(|| async move {
            let session = store
                .session(session_id)
                .await
                .expect("read session")
                .expect("the session exists");
            let from = generation.get();
            assert_eq!(session.refresh_generation, from);
            let rotated = store
                .rotate_refresh_token(
                    session_id,
                    from,
                    &next_hash(from),
                    OffsetDateTime::now_utc(),
                )
                .await
                .expect("rotate");
            assert!(rotated, "the compare-and-set lost at generation {from}");
            generation.set(from + 1);
        });
    });
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

fn sqlite(c: &mut Criterion) {
    let runtime = runtime();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("portcullis.db");
    let store = runtime.block_on(async {
        let store = SqliteStore::connect(path.to_str().expect("a UTF-8 path"))
            .await
            .expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        store
    });
    let mut group = c.benchmark_group("sqlite");
    rotation_benches(&mut group, &runtime, &store);
    group.finish();
    runtime.block_on(store.close());
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

/// Runs `statement` on the server's `postgres` database.
async fn admin(server: &str, statement: &str) {
    let mut connection = PgConnection::connect(&with_database(server, "postgres"))
        .await
        .unwrap_or_else(|error| panic!("{POSTGRES_VARIABLE}={server}: {error}"));
    connection
        .execute(sqlx::raw_sql(statement))
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
    connection.close().await.ok();
}

/// Drops the benchmark's database when dropped, even if a benchmark panicked.
struct Scratch<'a> {
    runtime: &'a Runtime,
    server: String,
    name: String,
    /// Connects to the benchmark's database.
    url: String,
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        self.runtime.block_on(admin(&self.server, &statement));
    }
}

fn postgres(c: &mut Criterion) {
    let Some(server) = std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
    else {
        eprintln!("skipping the PostgreSQL rotation benchmarks: {POSTGRES_VARIABLE} is not set");
        return;
    };
    let runtime = runtime();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    let name = format!("portcullis_bench_{}_{nanos}", std::process::id());
    runtime.block_on(admin(&server, &format!("CREATE DATABASE \"{name}\"")));
    let scratch = Scratch {
        runtime: &runtime,
        url: with_database(&server, &name),
        server,
        name,
    };
    let store = runtime.block_on(async {
        let store = PgStore::connect(&scratch.url)
            .await
            .expect("connect to PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        store
    });
    let mut group = c.benchmark_group("postgres");
    // A commit waits for a WAL flush (about a millisecond here): more time
    // for the same 100 samples.
    group.measurement_time(std::time::Duration::from_secs(10));
    rotation_benches(&mut group, &runtime, &store);
    group.finish();
    runtime.block_on(store.close());
    drop(scratch);
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
