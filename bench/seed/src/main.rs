//! `portcullis-bench-seed`: fills a Portcullis database with many users and
//! sessions, so load benchmarks run against a database of realistic size.
//!
//! It writes straight through [`portcullis_store`] (SQLite or PostgreSQL,
//! chosen by the URL like `portcullis --database`) and the
//! [`portcullis_core::store::Store`] trait, after applying the migrations, so
//! the rows are exactly what the server itself would write:
//!
//! - users `seed-{i}@bench.invalid` (`i` from `--first`, default 0), no roles,
//!   all sharing ONE Argon2id hash of `--password` made with the default
//!   settings (hashing a million passwords would take hours; sharing one hash
//!   changes nothing for the server, which salts and verifies per row). The
//!   server's default Argon2 settings match, so logging in as a seeded user
//!   works and never rehashes;
//! - sessions spread round-robin over those users, each with a fresh
//!   per-session refresh key and the hash of a first refresh token, as a
//!   password grant creates them. The tokens themselves are discarded: the
//!   sessions only give the tables their size.
//!
//! Inserts run `--concurrency` at a time (default 8), each its own
//! transaction. On SQLite they still commit one after another (one writer),
//! but the overlap hides the per-call overhead.
//!
//! ```sh
//! cargo run --release -p portcullis-bench-seed -- \
//!     --database bench.db --users 1000000 --sessions 1000000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use portcullis_core::hashing::{Argon2Settings, PasswordHashString, PasswordHasher};
use portcullis_core::refresh::{RefreshToken, SessionRefreshKey};
use portcullis_core::store::{SessionOrigin, SessionRecord, Store, StoreError, UserRecord};
use portcullis_core::{AuthSettings, Email, Password};
use portcullis_store::{PgStore, PgStoreOptions, SqliteStore, SqliteStoreOptions};
use time::OffsetDateTime;
use tokio::task::JoinSet;
use uuid::Uuid;

/// Loads N users and M sessions into a Portcullis database.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// SQLite file path (or `sqlite://` URL), or a `postgres://` URL.
    #[arg(long, env = "PORTCULLIS_DATABASE")]
    database: String,
    /// Users to create.
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Sessions to create, spread round-robin over the new users.
    #[arg(long, default_value_t = 0)]
    sessions: u64,
    /// The password of every seeded user.
    #[arg(long, default_value = "correct horse battery staple")]
    password: String,
    /// Index of the first user (`seed-{first}@bench.invalid`), to add to an
    /// already seeded database without clashing.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Insert calls in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.sessions > 0 && args.users == 0 {
        bail!("--sessions needs at least one user to belong to (--users)");
    }
    let concurrency = args.concurrency.max(1);
    let store = open_store(&args.database, concurrency).await?;

    let started = Instant::now();
    let hasher = PasswordHasher::new(Argon2Settings::default(), 1)
        .context("setting up the password hasher")?;
    let hash = hasher
        .hash(&Password::normalise(&args.password))
        .await
        .context("hashing the password")?;
    eprintln!("hashed the shared password in {:.2?}", started.elapsed());

    let loading = Instant::now();
    let user_ids = seed_users(&store, &args, &hash, concurrency)
        .await
        .context("inserting users")?;
    let users_done = loading.elapsed();
    seed_sessions(&store, &user_ids, args.sessions, concurrency)
        .await
        .context("inserting sessions")?;
    let total = loading.elapsed();
    let sessions_time = total.saturating_sub(users_done);

    eprintln!(
        "done: {} users in {:.1?} ({}), {} sessions in {:.1?} ({}); total {:.1?}",
        args.users,
        users_done,
        rate(args.users, users_done),
        args.sessions,
        sessions_time,
        rate(args.sessions, sessions_time),
        total,
    );
    Ok(())
}

/// Opens the database the way `portcullis` does (PostgreSQL for
/// `postgres://` URLs, SQLite otherwise) and applies the migrations.
async fn open_store(url: &str, concurrency: usize) -> anyhow::Result<Arc<dyn Store>> {
    let connections = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let store: Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = PgStore::connect_with(
                url,
                PgStoreOptions {
                    max_connections: connections,
                    // Bulk loading: no statement is expected to be slow, but a busy
                    // server sharing the database should not make the load fail.
                    statement_timeout: Duration::from_secs(60),
                    ..PgStoreOptions::default()
                },
            )
            .await
            .context("opening the PostgreSQL database")?;
            store.migrate().await.context("applying migrations")?;
            Arc::new(store)
        } else {
            let store = SqliteStore::connect_with(
                url,
                SqliteStoreOptions {
                    max_connections: connections,
                    acquire_timeout: Duration::from_secs(60),
                },
            )
            .await
            .with_context(|| format!("opening the SQLite database {url}"))?;
            store.migrate().await.context("applying migrations")?;
            Arc::new(store)
        };
    Ok(store)
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>8} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .expect("the progress template is valid"),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Inserts the users; returns their ids in order.
async fn seed_users(
    store: &Arc<dyn Store>,
    args: &Args,
    hash: &PasswordHashString,
    concurrency: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let bar = progress(args.users, "users");
    let mut ids = Vec::with_capacity(usize::try_from(args.users).unwrap_or(0));
    let mut in_flight = JoinSet::new();
    let now = now_seconds();
    for i in args.first..args.first + args.users {
        if in_flight.len() >= concurrency {
            finish_one(&mut in_flight, &bar).await?;
        }
        let email = format!("seed-{i}@bench.invalid");
        let record = UserRecord {
            id: Uuid::now_v7(),
            email: Email::parse(&email).map_err(|e| anyhow::anyhow!("{email}: {e}"))?,
            name: None,
            roles: Vec::new(),
            password_hash: hash.clone(),
            disabled: false,
            email_verified: false,
            created_at: now,
        };
        ids.push(record.id);
        let store = Arc::clone(store);
        in_flight.spawn(async move {
            store.insert_user(&record).await.map_err(|error| match error {
                StoreError::Conflict => anyhow::anyhow!(
                    "{email} already exists: seed a fresh database, or pass --first past the users already there"
                ),
                other => anyhow::Error::new(other).context(email),
            })
        });
    }
    while !in_flight.is_empty() {
        finish_one(&mut in_flight, &bar).await?;
    }
    bar.finish();
    Ok(ids)
}

/// Inserts `count` sessions, round-robin over `users`.
async fn seed_sessions(
    store: &Arc<dyn Store>,
    users: &[Uuid],
    count: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let bar = progress(count, "sessions");
    // The server's default absolute lifetime (the issuer plays no part in it).
    let max_age = AuthSettings::with_defaults(String::new()).session_max_age;
    let mut in_flight = JoinSet::new();
    let now = now_seconds();
    for i in 0..count {
        if in_flight.len() >= concurrency {
            finish_one(&mut in_flight, &bar).await?;
        }
        let user_index = usize::try_from(i).unwrap_or(usize::MAX) % users.len();
        let session_id = Uuid::now_v7();
        // As a password grant does; the token itself is thrown away.
        let first = RefreshToken::first(session_id);
        let record = SessionRecord {
            id: session_id,
            user_id: users[user_index],
            created_at: now,
            last_used_at: now,
            expires_at: now + max_age,
            revoked_at: None,
            refresh_key: SessionRefreshKey::generate(),
            refresh_generation: 0,
            refresh_hash: first.secret.hash(),
            scope: None,
            user_agent: Some("portcullis-bench-seed".to_owned()),
            ip: Some("127.0.0.1".to_owned()),
            origin: SessionOrigin::Api,
        };
        let store = Arc::clone(store);
        in_flight.spawn(async move {
            store
                .insert_session(&record)
                .await
                .with_context(|| format!("session {session_id}"))
        });
    }
    while !in_flight.is_empty() {
        finish_one(&mut in_flight, &bar).await?;
    }
    bar.finish();
    Ok(())
}

/// Waits for one insert, failing on its error.
async fn finish_one(
    in_flight: &mut JoinSet<anyhow::Result<()>>,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    if let Some(joined) = in_flight.join_next().await {
        joined.context("an insert task panicked")??;
        bar.inc(1);
    }
    Ok(())
}

/// Now, to the second, as the store keeps times.
fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn rate(count: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if count == 0 || seconds == 0.0 {
        return "-".to_owned();
    }
    let per_second = count as f64 / seconds;
    format!("{per_second:.0}/s")
}
