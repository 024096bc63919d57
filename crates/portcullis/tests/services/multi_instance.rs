//! Many instances, one truth: two real server processes on one PostgreSQL
//! database behave as one server. Revocations and account changes made
//! through either reach the other within a second, a key rotation is served
//! and accepted by both,
//! concurrent refreshes spread over both yield one successor, and failed
//! logins count across both, even when they arrive all at once. A
//! transaction left open, which holds the feeds of both back, shows on
//! their metrics.
//!
//! They need a PostgreSQL server (see `crate::harness`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestServer, jwt_header, kid_of_algorithm, rotated_keys, text};

/// Two server processes on one fresh PostgreSQL database.
async fn two_instances(extra: &[&str]) -> (TestServer, TestServer) {
    let database = crate::harness::postgres_database();
    let first = TestServer::spawn_process_on(&database, extra).await;
    let second = TestServer::spawn_process_on(&database, extra).await;
    (first, second)
}

/// Polls `path` on `server` with `token` until it answers `expected`; returns how long that took.
async fn time_until(
    server: &TestServer,
    path: &str,
    token: &str,
    expected: StatusCode,
) -> Duration {
    let started = Instant::now();
    loop {
        if server.get_authorized(path, token).await.status() == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} never answered {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn a_logout_on_one_instance_is_refused_by_the_other_within_a_second() {
    let (first, second) = two_instances(&[]).await;
    let tokens = first.user_with_tokens("alice@example.com").await;
    let access = text(&tokens, "access_token");
    assert_eq!(
        second.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );

    assert_eq!(first.logout(&access).await.status(), StatusCode::NO_CONTENT);
    let took = time_until(&second, "/me", &access, StatusCode::UNAUTHORIZED).await;
    assert!(
        took < Duration::from_secs(1),
        "the other instance refused it only after {took:?}"
    );
    let refresh = second.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(
        refresh.status(),
        StatusCode::BAD_REQUEST,
        "the refresh token died at once too"
    );
}

pub(crate) async fn a_user_disabled_from_the_command_line_is_refused_by_every_instance_within_a_second()
 {
    let (first, second) = two_instances(&[]).await;
    let tokens = first.user_with_tokens("bob@example.com").await;
    let access = text(&tokens, "access_token");
    let disabled = first.cli(&["user", "disable", "--email", "bob@example.com"], None);
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    for server in [&first, &second] {
        let took = time_until(server, "/me", &access, StatusCode::UNAUTHORIZED).await;
        assert!(took < Duration::from_secs(1), "refused only after {took:?}");
    }
}

pub(crate) async fn a_rotated_key_is_served_and_accepted_by_every_instance() {
    let (first, second) = two_instances(&[]).await;
    let before = first.user_with_tokens("carol@example.com").await;
    let old_kid = jwt_header(&text(&before, "access_token"))["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // At once, to see both instances sign with it; `keys rotate` alone
    // publishes it first (tested with a moving clock in `signing_keys`).
    let rotated = first.cli(&["keys", "rotate", "--now"], None);
    let new_kid = kid_of_algorithm(&rotated_keys(&rotated), "EdDSA");
    assert_ne!(new_kid, old_kid);

    // Each instance reloads its keys every half second.
    let started = Instant::now();
    for server in [&first, &second] {
        loop {
            let kids: BTreeSet<String> = server
                .jwks()
                .await
                .iter()
                .map(|key| key["kid"].as_str().unwrap().to_owned())
                .collect();
            if kids.contains(&new_kid) {
                assert!(
                    kids.contains(&old_kid),
                    "the old key stays while its tokens live"
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{new_kid} never served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let after = first.login("carol@example.com", PASSWORD).await;
    let access = text(&after, "access_token");
    assert_eq!(jwt_header(&access)["kid"], new_kid.as_str());
    assert_eq!(
        second.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );
    let old_access = text(&before, "access_token");
    assert_eq!(
        second.get_authorized("/me", &old_access).await.status(),
        StatusCode::OK
    );
}

pub(crate) async fn concurrent_refreshes_spread_over_two_instances_yield_one_successor() {
    let (first, second) = two_instances(&[]).await;
    let servers = Arc::new([first, second]);
    let mut refresh_token = text(
        &servers[0].user_with_tokens("dave@example.com").await,
        "refresh_token",
    );
    for round in 0..3 {
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let racers: Vec<_> = (0..16)
            .map(|racer| {
                let servers = Arc::clone(&servers);
                let barrier = Arc::clone(&barrier);
                let refresh_token = refresh_token.clone();
                tokio::spawn(async move {
                    let server = &servers[racer % 2];
                    barrier.wait().await;
                    let response = server.refresh(&refresh_token).await;
                    assert_eq!(
                        response.status(),
                        StatusCode::OK,
                        "round {round}, racer {racer}"
                    );
                    text(&response.json().await.unwrap(), "refresh_token")
                })
            })
            .collect();
        let mut successors = BTreeSet::new();
        for racer in racers {
            successors.insert(racer.await.unwrap());
        }
        assert_eq!(
            successors.len(),
            1,
            "round {round}: two valid refresh tokens"
        );
        refresh_token = successors.into_iter().next().unwrap();
    }
    assert_eq!(
        servers[1].refresh(&refresh_token).await.status(),
        StatusCode::OK
    );
}

pub(crate) async fn failed_logins_count_across_instances() {
    let (first, second) = two_instances(&["--throttle-ip-attempts", "1000"]).await;
    first.sign_up("erin@example.com").await;
    for attempt in 0..5 {
        let server = if attempt % 2 == 0 { &first } else { &second };
        let response = server
            .token(json!({ "grant_type": "password", "username": "erin@example.com", "password": "wrong password" }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "failure {attempt}"
        );
    }
    for server in [&first, &second] {
        let response = server.password_grant("erin@example.com", PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "five failures on two instances lock the account"
        );
    }
}

/// Guesses at one account sent all at once to two instances: no more are
/// checked than the free attempts, whichever instance each reached.
pub(crate) async fn concurrent_guesses_over_two_instances_get_only_the_free_attempts() {
    let (first, second) = two_instances(&[
        "--throttle-ip-attempts",
        "1000",
        "--throttle-account-attempts",
        "3",
    ])
    .await;
    first.sign_up("faye@example.com").await;
    let (first, second) = (Arc::new(first), Arc::new(second));
    let guesses: Vec<_> = (0..12)
        .map(|guess| {
            let server = Arc::clone(if guess % 2 == 0 { &first } else { &second });
            tokio::spawn(async move {
                server
                    .password_grant("faye@example.com", &format!("wrong guess {guess}"))
                    .await
                    .status()
            })
        })
        .collect();
    let mut checked = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::BAD_REQUEST => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 3, "exactly the three free attempts were checked");
}

pub(crate) async fn a_user_deleted_on_one_instance_is_refused_by_the_other_within_a_second() {
    let (first, second) = two_instances(&[]).await;
    let admin = first.admin_access_token().await;
    let tokens = first.user_with_tokens("frank@example.com").await;
    let access = text(&tokens, "access_token");
    let id = text(&crate::helpers::jwt_claims(&access), "sub");
    assert_eq!(
        second.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );

    let deleted = first
        .client
        .delete(first.url(&format!("/users/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // Introspection trusts the token and the deny list alone, never the
    // account, so it shows whether the revocation itself arrived.
    let started = Instant::now();
    loop {
        let answer: serde_json::Value = second
            .client
            .post(second.url("/token/introspect"))
            .bearer_auth(&admin)
            .json(&json!({ "token": access }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["active"] == false {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still active after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restarted = second.kill_and_restart().await;
    let answer: serde_json::Value = restarted
        .client
        .post(restarted.url("/token/introspect"))
        .bearer_auth(&admin)
        .json(&json!({ "token": access }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], false, "a restarted instance still knows");
}

/// Each instance keeps accounts and roles in memory; a change made through
/// the other instance must still show in its `GET /me` within a second.
pub(crate) async fn account_and_role_changes_on_one_instance_show_in_me_on_the_other_within_a_second()
 {
    let (first, second) = two_instances(&[]).await;
    let admin = first.admin_access_token().await;
    first.set_role("reader", &["books:read"]);
    first.add_user("grace@example.com", &["reader"]);
    let access = text(
        &first.login("grace@example.com", PASSWORD).await,
        "access_token",
    );
    let id = text(&crate::helpers::jwt_claims(&access), "sub");
    let me = |server: &TestServer| {
        let request = server.client.get(server.url("/me")).bearer_auth(&access);
        async move {
            let me: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            me
        }
    };
    assert_eq!(me(&second).await["permissions"], json!(["books:read"]));

    let changes = [
        (
            first
                .client
                .patch(first.url(&format!("/users/{id}")))
                .json(&json!({ "roles": ["reader", "writer"], "name": "Grace H." })),
            "roles",
            json!(["reader", "writer"]),
        ),
        (
            first
                .client
                .put(first.url("/roles/writer"))
                .json(&json!({ "permissions": ["books:write"] })),
            "permissions",
            json!(["books:read", "books:write"]),
        ),
    ];
    for (change, field, expected) in changes {
        let changed = change.bearer_auth(&admin).send().await.unwrap();
        assert_eq!(changed.status(), StatusCode::OK, "{field}");
        assert_eq!(
            me(&first).await[field],
            expected,
            "at once where it was made"
        );
        let started = Instant::now();
        while me(&second).await[field] != expected {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{field} still not {expected} on the other instance after {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(me(&second).await["name"], "Grace H.");
}

/// A transaction left open after a write holds the feeds back; `/metrics`
/// says for how long, and stops saying so once it ends.
pub(crate) async fn a_transaction_left_open_shows_on_the_feeds_held_back_gauge() {
    let database = crate::harness::postgres_database();
    let server = TestServer::spawn_process_on(&database, &[]).await;
    let (commit, committed) = transaction_left_open(database.url());
    let held_back = held_back_seconds_once(&server, |seconds| seconds >= 2.0).await;
    assert!(held_back < 60.0, "{held_back}");
    commit.send(()).unwrap();
    committed.join().unwrap();
    held_back_seconds_once(&server, |seconds| seconds < 1.0).await;
}

/// Opens a transaction that writes on the database at `url` and keeps it
/// open, on a thread of its own, until told to commit.
fn transaction_left_open(url: &str) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    use sqlx::Connection as _;
    let url = url.to_owned();
    let (commit, told) = std::sync::mpsc::channel();
    let (opened, open) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("BEGIN; SELECT pg_current_xact_id();")
                .execute(&mut connection)
                .await
                .unwrap();
            opened.send(()).unwrap();
            told.recv().unwrap();
            sqlx::raw_sql("COMMIT")
                .execute(&mut connection)
                .await
                .unwrap();
        });
    });
    open.recv().expect("the transaction opens");
    (commit, thread)
}

/// Polls `portcullis_feeds_held_back_seconds` until `wanted` holds (it is
/// measured every 5 s); returns it.
async fn held_back_seconds_once(server: &TestServer, wanted: impl Fn(f64) -> bool) -> f64 {
    let started = Instant::now();
    loop {
        let page = server.get("/metrics").await.text().await.unwrap();
        let seconds = page
            .lines()
            .find_map(|line| line.strip_prefix("portcullis_feeds_held_back_seconds "))
            .map(|value| value.trim().parse::<f64>().unwrap());
        if let Some(seconds) = seconds.filter(|seconds| wanted(*seconds)) {
            return seconds;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the gauge stayed at {seconds:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Makes a personal access token through `server`; returns `(id, token)`.
async fn new_personal_token(server: &TestServer, access: &str) -> (String, String) {
    let created = server
        .client
        .post(server.url("/me/tokens"))
        .bearer_auth(access)
        .json(&json!({ "name": "ci", "scopes": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: serde_json::Value = created.json().await.unwrap();
    (text(&body, "id"), text(&body, "token"))
}

/// Uses `token` on both instances several times, so that each keeps it in
/// its account cache (a use reads no database once it is kept there).
async fn use_on_both(first: &TestServer, second: &TestServer, token: &str) {
    for _ in 0..3 {
        for server in [first, second] {
            assert_eq!(
                server.get_authorized("/me", token).await.status(),
                StatusCode::OK
            );
        }
    }
}

pub(crate) async fn a_personal_token_deleted_on_one_instance_is_refused_by_every_instance_within_a_second()
 {
    let (first, second) = two_instances(&[]).await;
    let tokens = first.user_with_tokens("gina@example.com").await;
    let access = text(&tokens, "access_token");
    let (id, pat) = new_personal_token(&first, &access).await;
    use_on_both(&first, &second, &pat).await;

    let deleted = first
        .client
        .delete(first.url(&format!("/me/tokens/{id}")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        first.get_authorized("/me", &pat).await.status(),
        StatusCode::UNAUTHORIZED,
        "the instance that deleted it refuses it at once"
    );
    let took = time_until(&second, "/me", &pat, StatusCode::UNAUTHORIZED).await;
    assert!(
        took < Duration::from_secs(1),
        "the other instance refused it only after {took:?}"
    );
}

pub(crate) async fn a_personal_token_deleted_in_sql_or_of_a_disabled_owner_is_refused_by_every_instance_within_a_second()
 {
    let database = crate::harness::postgres_database();
    let first = TestServer::spawn_process_on(&database, &[]).await;
    let second = TestServer::spawn_process_on(&database, &[]).await;
    let tokens = first.user_with_tokens("hugo@example.com").await;
    let access = text(&tokens, "access_token");
    let (id, deleted_by_hand) = new_personal_token(&first, &access).await;
    let (_, of_disabled_owner) = new_personal_token(&first, &access).await;
    use_on_both(&first, &second, &deleted_by_hand).await;
    use_on_both(&first, &second, &of_disabled_owner).await;

    // By hand, past both instances: only the feed can tell them.
    let store = database.store().await;
    let id = id.parse().unwrap();
    assert!(store.delete_personal_token(id).await.unwrap());
    for server in [&first, &second] {
        let took = time_until(server, "/me", &deleted_by_hand, StatusCode::UNAUTHORIZED).await;
        assert!(took < Duration::from_secs(1), "refused only after {took:?}");
        assert_eq!(
            server
                .get_authorized("/me", &of_disabled_owner)
                .await
                .status(),
            StatusCode::OK,
            "the owner's other token still counts"
        );
    }

    let disabled = first.cli(&["user", "disable", "--email", "hugo@example.com"], None);
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    for server in [&first, &second] {
        let took = time_until(server, "/me", &of_disabled_owner, StatusCode::UNAUTHORIZED).await;
        assert!(took < Duration::from_secs(1), "refused only after {took:?}");
    }
}
