//! Faults inside the server: a password hash must never hold a database
//! connection. (A database that goes away is `services/database_outage.rs`,
//! which needs a PostgreSQL cluster of its own.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestServer, text};

/// With one database connection and logins hashing at the default cost, a
/// request that needs the database is never queued behind a hash: no login
/// holds the connection while it hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_hash_never_holds_a_database_connection() {
    let server = TestServer::spawn_with(&[
        "--db-max-connections",
        "1",
        "--db-acquire-timeout",
        "2s",
        "--hashing-workers",
        "1",
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "16",
        "--throttle",
        "false",
    ])
    .await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let access = text(&tokens, "access_token");
    let hashing_started = Instant::now();
    let logins: Vec<_> = (0..6)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/token");
            tokio::spawn(async move {
                let body = json!({ "grant_type": "password", "username": "alice@example.com", "password": PASSWORD });
                client.post(url).json(&body).send().await.map(|r| r.status())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(
            server.get_authorized("/me", &access).await.status(),
            StatusCode::OK
        );
        slowest = slowest.max(started.elapsed());
    }
    let mut answered = 0;
    for login in logins {
        assert_eq!(login.await.unwrap().unwrap(), StatusCode::OK);
        answered += 1;
    }
    assert_eq!(answered, 6);
    let hashing = hashing_started.elapsed();
    assert!(
        hashing > Duration::from_millis(500),
        "hashing took only {hashing:?}: the test proves nothing"
    );
    // A /me that waited for the connection behind even one hash would show it.
    assert!(
        slowest < hashing / 6,
        "GET /me waited {slowest:?} for the database"
    );
}
