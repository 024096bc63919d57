//! Storms of bad clients (issue 10, finding 1 and its instruments): clients
//! that hang up mid-request, and clients that send too slowly, by the dozen
//! at once. Meanwhile every honest client is served, and a `2xx` means the
//! write is committed; afterwards sign-up, login, logout and the command
//! line work, `/readyz` says so, and no database connection is left inside
//! a transaction. Each storm lasts a few seconds. The suite runs on SQLite
//! and, in CI, again on PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::helpers::{PASSWORD, TestServer, assert_exit, login_body, stdout, text};

/// How long each storm blows.
const STORM: Duration = Duration::from_secs(3);

/// Clients of a storm at once.
const STORM_CLIENTS: usize = 32;

/// Longest an honest client's round (two or three requests) may take
/// while a storm blows.
const HONEST_ROUND: Duration = Duration::from_secs(2);

/// Flags for a server under a storm: every request it gets from
/// 127.0.0.1 is let through the limits per address.
const LET_THE_STORM_THROUGH: [&str; 4] = ["--throttle", "false", "--signup-per-address", "100000"];

/// An HTTP/1.1 request with a JSON body, as one client would write it.
fn raw_post(path: &str, bearer: Option<&str>, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let authorization = bearer
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `request` whole and hangs up after `after`, whatever the answer.
async fn send_and_hang_up(address: &str, request: &[u8], after: Duration) {
    if let Ok(mut stream) = TcpStream::connect(address).await {
        let _ = stream.write_all(request).await;
        tokio::time::sleep(after).await;
    }
}

/// Logs in, logs out, and checks that the `204` meant it: the refresh
/// token is refused at once. Returns how many rounds it made.
async fn honest_logouts(server: Arc<TestServer>, email: String, until: Instant) -> u32 {
    let mut rounds = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let tokens = server.login(&email, PASSWORD).await;
        let response = server.logout(&text(&tokens, "access_token")).await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "an honest logout"
        );
        let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
        assert_eq!(
            refreshed.status(),
            StatusCode::BAD_REQUEST,
            "a session whose logout answered 204 is revoked"
        );
        assert!(started.elapsed() < HONEST_ROUND, "{:?}", started.elapsed());
        rounds += 1;
    }
    rounds
}

/// Signs up new users, and checks that each `201` meant it: the user can
/// log in at once.
async fn honest_sign_ups(server: Arc<TestServer>, prefix: String, until: Instant) -> u32 {
    let mut rounds = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let email = format!("{prefix}-{rounds}@example.com");
        let response = server.sign_up_with(&email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED, "an honest sign-up");
        let login = server.token(login_body(&email, PASSWORD)).await;
        assert_eq!(
            login.status(),
            StatusCode::OK,
            "a user whose sign-up answered 201"
        );
        assert!(started.elapsed() < HONEST_ROUND, "{:?}", started.elapsed());
        rounds += 1;
    }
    rounds
}

/// After a storm: what every user and operator needs still works, and no
/// connection to the database is left inside a transaction.
async fn assert_everything_still_works(server: &TestServer, email: &str) {
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK, "/readyz after the storm");
    let response = server
        .sign_up_with(&format!("after-{email}"), PASSWORD)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "a sign-up after the storm"
    );
    let tokens = server.login(email, PASSWORD).await;
    assert_eq!(
        server.logout(&text(&tokens, "access_token")).await.status(),
        StatusCode::NO_CONTENT,
        "a logout after the storm"
    );
    assert_eq!(
        server
            .refresh(&text(&tokens, "refresh_token"))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let added = server.cli(
        &[
            "user",
            "add",
            "--email",
            &format!("cli-{email}"),
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert_exit(&added, 0, "a write from the command line after the storm");
    let listed = server.cli(&["user", "list"], None);
    assert_exit(&listed, 0, "user list after the storm");
    assert!(stdout(&listed).contains(&format!("cli-{email}")));
    if server.database().is_postgres() {
        assert_eq!(
            connections_in_a_transaction(server.database().url()).await,
            0,
            "no connection of the server is left inside a transaction"
        );
    }
    let log = server.log();
    for sign_of_trouble in ["panicked", "transaction depth"] {
        assert!(
            !log.contains(sign_of_trouble),
            "{sign_of_trouble} in the log:\n{log}"
        );
    }
}

/// Connections to the database at `url` (of its application name: the
/// server's) idle inside a transaction, once any write still finishing has
/// had a moment.
async fn connections_in_a_transaction(url: &str) -> i64 {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
    let started = Instant::now();
    loop {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database()
               AND application_name = current_setting('application_name')
               AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        if count == 0 || started.elapsed() > Duration::from_secs(3) {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clients send sign-ups (of taken and of new emails), logins and logouts
/// and hang up 0–300 ms later, as the reviewer's flood did, while honest
/// clients log out and sign up and check each answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disconnect_storm_leaves_every_write_whole_and_the_database_free() {
    let server = Arc::new(TestServer::spawn_with(&LET_THE_STORM_THROUGH).await);
    server.sign_up("taken@example.com").await;
    server.sign_up("honest@example.com").await;
    let mut doomed_sessions = Vec::new();
    for _ in 0..STORM_CLIENTS {
        let tokens = server.login("taken@example.com", PASSWORD).await;
        doomed_sessions.push(text(&tokens, "access_token"));
    }

    let until = Instant::now() + STORM;
    let mut storm = JoinSet::new();
    for (client, access_token) in doomed_sessions.into_iter().enumerate() {
        let address = server.address().to_owned();
        storm.spawn(async move {
            let mut sent = 0u64;
            while Instant::now() < until {
                let request = match sent % 4 {
                    0 => raw_post(
                        "/users",
                        None,
                        &json!({ "email": "taken@example.com", "password": PASSWORD }),
                    ),
                    1 => raw_post(
                        "/users",
                        None,
                        &json!({ "email": format!("storm-{client}-{sent}@example.com"), "password": PASSWORD }),
                    ),
                    2 => raw_post("/token", None, &login_body("taken@example.com", PASSWORD)),
                    _ => raw_post("/logout", Some(&access_token), &json!({})),
                };
                let hang_up_after = Duration::from_millis((client as u64 * 37 + sent * 53) % 300);
                send_and_hang_up(&address, &request, hang_up_after).await;
                sent += 1;
            }
            sent
        });
    }
    let logouts = tokio::spawn(honest_logouts(
        Arc::clone(&server),
        "honest@example.com".to_owned(),
        until,
    ));
    let sign_ups = tokio::spawn(honest_sign_ups(
        Arc::clone(&server),
        "honest".to_owned(),
        until,
    ));
    let mut sent = 0;
    while let Some(client) = storm.join_next().await {
        sent += client.unwrap();
    }
    assert!(sent >= 100, "the storm sent only {sent} requests");
    assert!(logouts.await.unwrap() > 0, "no honest logout got through");
    assert!(sign_ups.await.unwrap() > 0, "no honest sign-up got through");

    assert_everything_still_works(&server, "taken@example.com").await;
}

/// Clients trickle headers, or a sign-up's body, a byte at a time, far
/// slower than the timeouts allow, while honest clients sign up and log
/// out; the slow ones are cut off, the honest ones never wait on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_client_storm_delays_no_honest_client_and_leaves_nothing_behind() {
    let mut flags = LET_THE_STORM_THROUGH.to_vec();
    flags.extend(["--http-header-timeout", "1s", "--http-body-timeout", "1s"]);
    let server = Arc::new(TestServer::spawn_with(&flags).await);
    server.sign_up("honest@example.com").await;

    let until = Instant::now() + STORM;
    let mut storm = JoinSet::new();
    for client in 0..STORM_CLIENTS * 4 {
        let address = server.address().to_owned();
        storm.spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let slowly = if client % 2 == 0 {
                b"GET /me HTTP/1.1\r\nHost: portcullis\r\nAuthorization: Bearer x\r\n\r\n".to_vec()
            } else {
                // A sign-up's headers at once; its body will trickle.
                let mut request = raw_post(
                    "/users",
                    None,
                    &json!({ "email": format!("slow-{client}@example.com"), "password": PASSWORD }),
                );
                let body_starts = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let body = request.split_off(body_starts);
                stream.write_all(&request).await.unwrap();
                body
            };
            trickle(stream, &slowly, until).await
        });
    }
    let logouts = tokio::spawn(honest_logouts(
        Arc::clone(&server),
        "honest@example.com".to_owned(),
        until,
    ));
    let sign_ups = tokio::spawn(honest_sign_ups(
        Arc::clone(&server),
        "honest".to_owned(),
        until,
    ));
    assert!(logouts.await.unwrap() > 0, "no honest logout got through");
    assert!(sign_ups.await.unwrap() > 0, "no honest sign-up got through");
    let mut cut_off = 0;
    while let Some(client) = storm.join_next().await {
        cut_off += usize::from(client.unwrap());
    }
    assert_eq!(cut_off, STORM_CLIENTS * 4, "every slow client was cut off");

    assert_everything_still_works(&server, "honest@example.com").await;
}

/// Writes `bytes` one every 100 ms until the server closes the connection
/// (what it answered before, a `408`, is fine); returns whether it did
/// before `until` and a second more.
async fn trickle(mut stream: TcpStream, bytes: &[u8], until: Instant) -> bool {
    for byte in bytes {
        if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if Instant::now() > until + Duration::from_secs(1) {
            return false;
        }
    }
    // Everything sent slowly but still within the timeouts: the server
    // must have answered, or be about to close.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer))
        .await
        .is_ok()
}
