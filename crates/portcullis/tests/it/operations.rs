//! Operating the server: health and readiness probes, graceful shutdown on
//! SIGTERM, what the log says (and never says), and staying responsive under
//! load.
//!
//! Two tests need the real, default Argon2 cost (a login must take long
//! enough to be "in flight", and hashing must be heavy enough to starve
//! anything queued behind it); they pass the `--argon2-*` flags themselves.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, Reply, TestServer, login_body, text};

/// The contract's default Argon2 cost, instead of the harness's cheap one.
const DEFAULT_ARGON2: &[&str] = &["--argon2-memory-kib", "19456", "--argon2-iterations", "2"];

const WRONG: &str = "not the right password at all";

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let server = TestServer::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_in_flight_logins_finish() {
    let server =
        TestServer::spawn_process_with(&[DEFAULT_ARGON2, &["--hashing-workers", "1"]].concat())
            .await;
    server.sign_up("alice@example.com").await;

    let logins: Vec<_> = (0..4)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/token");
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .json(&login_body("alice@example.com", PASSWORD))
                    .send()
                    .await;
                (response.map(|r| r.status()), Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let signalled = Instant::now();
    let exited_cleanly = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.terminate()
    })
    .await
    .unwrap();

    let mut answered_after_the_signal = 0;
    for login in logins {
        let (status, answered) = login.await.unwrap();
        assert_eq!(
            status.expect("an in-flight login is answered, not cut off"),
            StatusCode::OK
        );
        if answered > signalled {
            answered_after_the_signal += 1;
        }
    }
    assert!(
        answered_after_the_signal > 0,
        "no login was still in flight at SIGTERM: the test proved nothing"
    );
    assert!(exited_cleanly, "the server exits with 0 after SIGTERM");
}

#[tokio::test]
async fn the_log_never_contains_passwords_or_tokens() {
    // At debug level, as an operator chasing a problem would run it.
    let server = TestServer::spawn_with_env(&[("RUST_LOG", "debug")]).await;
    server.sign_up("alice@example.com").await;
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let me = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let failed = server.password_grant("alice@example.com", WRONG).await;
    assert_eq!(failed.status(), StatusCode::BAD_REQUEST);
    let logout = server.logout(&text(&refreshed, "access_token")).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let log = server.log();
    assert!(log.contains("listening on"), "the log was captured: {log}");
    let mut secrets = vec![
        ("the password", PASSWORD.to_owned()),
        ("the wrong password", WRONG.to_owned()),
    ];
    for (which, response) in [("first", &tokens), ("refreshed", &refreshed)] {
        let access = text(response, "access_token");
        let signature = access.rsplit('.').next().unwrap().to_owned();
        let refresh = text(response, "refresh_token");
        let refresh_tail = refresh[refresh.len() - 32..].to_owned();
        secrets.push((which, access));
        secrets.push((which, signature));
        secrets.push((which, refresh));
        secrets.push((which, refresh_tail));
    }
    for (which, secret) in secrets {
        assert!(
            !log.contains(&secret),
            "the log contains {which} secret {secret:?}:\n{log}"
        );
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = TestServer::spawn_process_with(&["--log-format", "json"]).await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let failed = server.password_grant("alice@example.com", WRONG).await;
    assert_eq!(failed.status(), StatusCode::BAD_REQUEST);
    let me = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::OK);

    let log = server.log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
    }
}

#[tokio::test]
async fn the_first_start_on_an_empty_database_says_how_to_create_an_admin() {
    let server = TestServer::spawn().await;
    let log = server.log();
    let hint = log
        .lines()
        .find(|line| line.contains("portcullis user add") && line.contains("--role admin"));
    assert!(
        hint.is_some(),
        "no hint to create the first admin in:\n{log}"
    );

    server.sign_up("alice@example.com").await;
    let restarted = server.kill_and_restart().await;
    let log = restarted.log();
    assert!(
        !log.contains("portcullis user add"),
        "the hint is only for an empty database:\n{log}"
    );
}

#[tokio::test]
async fn a_postgresql_server_without_autovacuum_is_named_at_start() {
    let server = TestServer::spawn().await;
    let autovacuum_off = if server.database().is_postgres() {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(server.database().url())
            .await
            .expect("connect to PostgreSQL");
        let (autovacuum, track_counts): (String, String) =
            sqlx::query_as("SELECT current_setting('autovacuum'), current_setting('track_counts')")
                .fetch_one(&mut connection)
                .await
                .unwrap();
        autovacuum == "off" || track_counts == "off"
    } else {
        false
    };
    let log = server.log();
    assert_eq!(
        log.contains("autovacuum is off"),
        autovacuum_off,
        "autovacuum off: {autovacuum_off}; the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_mixed_requests_never_fail() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    server.sign_up("bob@example.com").await;
    let access = text(&tokens, "access_token");

    let requests: Vec<_> = (0..200)
        .map(|n| {
            let client = server.client.clone();
            let base = server.base.clone();
            let access = access.clone();
            tokio::spawn(async move {
                let (kind, request) = match n % 3 {
                    0 => (
                        "GET /me",
                        client.get(format!("{base}/me")).bearer_auth(access),
                    ),
                    1 => (
                        "wrong login",
                        client
                            .post(format!("{base}/token"))
                            .json(&login_body("bob@example.com", WRONG)),
                    ),
                    _ => ("GET /healthz", client.get(format!("{base}/healthz"))),
                };
                (kind, request.send().await.map(|r| r.status()))
            })
        })
        .collect();
    for request in requests {
        let (kind, status) = request.await.unwrap();
        let status = status.unwrap_or_else(|e| panic!("{kind}: no answer: {e}"));
        let expected: &[StatusCode] = match kind {
            "wrong login" => &[StatusCode::BAD_REQUEST, StatusCode::TOO_MANY_REQUESTS],
            _ => &[StatusCode::OK],
        };
        assert!(expected.contains(&status), "{kind}: {status}");
    }

    let me = server.get_authorized("/me", &access).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the server still answers afterwards"
    );
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_checks_do_not_queue_behind_password_hashing() {
    let server =
        TestServer::spawn_with(&[DEFAULT_ARGON2, &["--hashing-workers", "2"]].concat()).await;
    server.sign_up("alice@example.com").await;
    let access = text(
        &server.login("alice@example.com", PASSWORD).await,
        "access_token",
    );

    let logins: Vec<_> = (0..16)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/token");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&login_body("alice@example.com", PASSWORD))
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut slowest = Duration::ZERO;
    let mut checked_during_the_storm = 0;
    for _ in 0..50 {
        let storm_on = logins.iter().any(|login| !login.is_finished());
        let started = Instant::now();
        let me = server.get_authorized("/me", &access).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(me.status(), StatusCode::OK);
        if storm_on {
            checked_during_the_storm += 1;
        }
    }
    for login in logins {
        assert_eq!(login.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    assert!(
        checked_during_the_storm >= 10,
        "only {checked_during_the_storm} checks ran during the storm"
    );
    assert!(
        slowest < Duration::from_millis(200),
        "a GET /me took {slowest:?} while passwords were hashed"
    );
}

/// The value of the Prometheus sample `name{labels}` in `page`, if present.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn metrics_count_requests_logins_throttling_and_reuse() {
    let server = TestServer::spawn_process_with(&["--refresh-reuse-grace", "0s"]).await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    for _ in 0..6 {
        server
            .password_grant("alice@example.com", "not the password")
            .await;
    }
    let access = text(&tokens, "access_token");
    server.get_authorized("/me", &access).await;
    let some_id = format!("/me/sessions/{}", uuid_like());
    server
        .client
        .delete(server.url(&some_id))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let refresh = text(&tokens, "refresh_token");
    assert_eq!(server.refresh(&refresh).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        server.refresh(&refresh).await.status(),
        StatusCode::BAD_REQUEST,
        "reuse"
    );

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let page = response.text().await.unwrap();
    for (series, at_least) in [
        (r#"portcullis_logins_total{outcome="success"}"#, 1.0),
        (r#"portcullis_logins_total{outcome="invalid_grant"}"#, 5.0),
        (r#"portcullis_logins_total{outcome="throttled"}"#, 1.0),
        ("portcullis_throttled_attempts_total", 1.0),
        ("portcullis_refresh_reuse_detected_total", 1.0),
        (
            r#"portcullis_http_requests_total{method="GET",route="/me",status="200"}"#,
            1.0,
        ),
        (
            r#"portcullis_http_request_duration_seconds_count{method="GET",route="/me",status="200"}"#,
            1.0,
        ),
        (
            r#"portcullis_http_requests_total{method="DELETE",route="/me/sessions/{id}",status="404"}"#,
            1.0,
        ),
        (r#"portcullis_db_pool_connections{state="idle"}"#, 0.0),
        ("portcullis_password_hash_wait_seconds_count", 7.0),
        (
            r#"portcullis_in_memory_entries{structure="verified_access_tokens"}"#,
            1.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="denied_sessions"}"#,
            1.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="cached_accounts"}"#,
            0.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="cached_personal_tokens"}"#,
            0.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="refresh_failure_addresses"}"#,
            0.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="accounts_being_checked"}"#,
            0.0,
        ),
        (
            r#"portcullis_in_memory_entries{structure="unwritten_personal_token_uses"}"#,
            0.0,
        ),
    ] {
        let value =
            sample(&page, series).unwrap_or_else(|| panic!("{series} missing from:\n{page}"));
        assert!(
            value >= at_least,
            "{series} = {value}, expected at least {at_least}"
        );
    }
    assert!(
        !page.contains(&access) && !page.contains("alice"),
        "no token or email becomes a label"
    );
}

/// Whatever methods and paths clients make up, `/metrics` has a bounded
/// number of request series: methods outside the API are `other` and paths
/// no route matches are `unmatched` (issue 10, finding 2: each made-up
/// method was a new series, and memory grew with them).
#[tokio::test]
async fn metrics_have_a_bounded_number_of_series_whatever_clients_send() {
    let server = TestServer::spawn_process().await;
    for n in 0..100 {
        let made_up = reqwest::Method::from_bytes(format!("MADEUP{n}").as_bytes()).unwrap();
        for (method, path) in [
            (made_up.clone(), "/healthz".to_owned()),
            (made_up, format!("/nowhere/{n}")),
            (reqwest::Method::GET, format!("/no/such/path/{n}")),
        ] {
            let response = server
                .client
                .request(method, server.url(&path))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{path}");
        }
    }
    let page = server.get("/metrics").await.text().await.unwrap();
    let series: Vec<&str> = page
        .lines()
        .filter(|line| line.starts_with("portcullis_http_requests_total{"))
        .collect();
    assert!(
        series.len() <= 6,
        "{} request series after 300 made-up requests:\n{}",
        series.len(),
        series.join("\n")
    );
    for line in &series {
        assert!(
            !line.contains("MADEUP") && !line.contains("/nowhere") && !line.contains("/no/such"),
            "a client's method or path became a label: {line}"
        );
    }
    for expected in [
        r#"portcullis_http_requests_total{method="other",route="/healthz",status="405"}"#,
        r#"portcullis_http_requests_total{method="other",route="unmatched",status="404"}"#,
        r#"portcullis_http_requests_total{method="GET",route="unmatched",status="404"}"#,
    ] {
        assert_eq!(
            sample(&page, expected),
            Some(100.0),
            "{expected} in:\n{page}"
        );
    }
}

/// A UUID no session has, as text.
fn uuid_like() -> String {
    "01890000-0000-7000-8000-000000000000".to_owned()
}

/// Issue 10, finding 8: a sign-up for an address already taken answers 409
/// without hashing, so duplicate sign-ups cannot become a flood of Argon2
/// work that slows every login.
#[tokio::test]
async fn a_sign_up_for_a_taken_address_hashes_nothing() {
    let server = TestServer::spawn_process().await;
    server.sign_up("alice@example.com").await;
    let hashes = || async {
        let page = server.get("/metrics").await.text().await.unwrap();
        sample(&page, "portcullis_password_hash_wait_seconds_count").unwrap_or(0.0)
    };
    let before = hashes().await;
    assert!(before >= 1.0, "the first sign-up hashed");
    for _ in 0..10 {
        let response = server
            .sign_up_with("Alice@Example.com", "another fine passphrase")
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
    }
    assert_eq!(hashes().await, before, "no duplicate sign-up hashed");
}

/// Issue 10, finding 1: `/readyz` notices a database that answers reads but
/// cannot take a write (its write lock held by someone else), and says so,
/// then recovers when the lock goes.
#[tokio::test]
async fn readiness_notices_a_database_that_cannot_take_a_write() {
    use sqlx::Connection as _;
    let server = TestServer::spawn().await;
    let ready = || async { Reply::of(server.get("/readyz").await).await };
    assert_eq!(ready().await.status, StatusCode::OK);

    // Another client holds the write lock: SQLite's, or on PostgreSQL a
    // lock that lets reads through and keeps writers out.
    let database = server.database();
    let lock_holder: Box<dyn std::any::Any> = match database.sqlite_file() {
        Some(file) => {
            let mut connection =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                    .await
                    .unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut connection)
                .await
                .unwrap();
            Box::new(connection)
        }
        None => {
            let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE sessions IN SHARE MODE")
                .execute(&mut connection)
                .await
                .unwrap();
            Box::new(connection)
        }
    };
    let started = std::time::Instant::now();
    let refused = ready().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered quickly"
    );
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text()
    );
    assert!(
        refused.text().contains("cannot take a write"),
        "{}",
        refused.text()
    );
    assert!(!refused.header("retry-after").is_empty());

    drop(lock_holder);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while ready().await.status != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
