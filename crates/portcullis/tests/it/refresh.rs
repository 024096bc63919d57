//! The refresh grant (API.md "Refresh token"): every refresh rotates the
//! refresh token and issues a new access token; the token just rotated,
//! re-presented within the reuse grace, yields the very same successor; reuse
//! after the grace, or of an older token, revokes the whole session; a forged
//! token is merely refused and never revokes anything; concurrent refreshes
//! with one token never yield two different refresh tokens; idle and absolute
//! session lifetimes end refreshing; a refresh may narrow the scope.
//!
//! These tests never read the database: a session's state is observed only
//! through the token endpoint, `/me` and `/me/sessions` (the command line is
//! used only to create a role and a user).

use std::collections::BTreeSet;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{PASSWORD, TestServer, assert_oauth_error, jwt_claims, session_id, text};

/// Refreshes and asserts success; returns the token response.
async fn refresh_ok(server: &TestServer, refresh_token: &str) -> Value {
    let response = server.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh should succeed");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Refreshes and asserts `400 invalid_grant`.
async fn assert_refresh_refused(server: &TestServer, refresh_token: &str) {
    assert_oauth_error(
        server.refresh(refresh_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

async fn refresh_with_scope(
    server: &TestServer,
    refresh_token: &str,
    scope: &str,
) -> reqwest::Response {
    server.token(json!({ "grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope })).await
}

async fn me_status(server: &TestServer, access_token: &str) -> StatusCode {
    server.get_authorized("/me", access_token).await.status()
}

/// Waits up to the contract's one second for an access token to be refused.
async fn assert_refused_within_a_second(server: &TestServer, access_token: &str) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let status = me_status(server, access_token).await;
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the access token still gets {status} after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ids of the caller's live sessions.
async fn listed_sessions(server: &TestServer, access_token: &str) -> BTreeSet<String> {
    let response = server.get_authorized("/me/sessions", access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let sessions: Vec<Value> = response.json().await.unwrap();
    sessions.iter().map(|session| text(session, "id")).collect()
}

fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(count + 8);
    while bytes.len() < count {
        let word = std::collections::hash_map::RandomState::new().hash_one(bytes.len());
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.truncate(count);
    bytes
}

/// A refresh token with the session id of `genuine`, the given generation and
/// a made-up secret (wire form: session id 16 bytes, generation 8 bytes big
/// endian, secret 32 bytes).
fn forged(genuine: &str, generation: u64, secret: &[u8]) -> String {
    let decoded = URL_SAFE_NO_PAD
        .decode(genuine)
        .expect("a refresh token is base64url");
    assert_eq!(decoded.len(), 56, "the refresh token wire form changed");
    let mut bytes = decoded[..16].to_vec();
    bytes.extend_from_slice(&generation.to_be_bytes());
    bytes.extend_from_slice(secret);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn generation_of(refresh_token: &str) -> u64 {
    let decoded = URL_SAFE_NO_PAD.decode(refresh_token).unwrap();
    u64::from_be_bytes(decoded[16..24].try_into().unwrap())
}

/// A user holding the role `editor` (`a:read a:write`), created from the command line.
fn add_editor(server: &TestServer, email: &str) {
    server.set_role("editor", &["a:read", "a:write"]);
    server.add_user(email, &["editor"]);
}

#[tokio::test]
async fn each_refresh_returns_a_new_pair_and_the_new_refresh_token_works() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let sid = session_id(&login);
    let mut refresh_tokens = BTreeSet::from([text(&login, "refresh_token")]);
    let mut access_tokens = BTreeSet::from([text(&login, "access_token")]);
    let mut current = text(&login, "refresh_token");
    for _ in 0..3 {
        let refreshed = refresh_ok(&server, &current).await;
        assert_eq!(refreshed["token_type"], "Bearer");
        assert_eq!(refreshed["expires_in"], 900);
        assert_eq!(refreshed["scope"], login["scope"]);
        let refresh_token = text(&refreshed, "refresh_token");
        let access_token = text(&refreshed, "access_token");
        assert!(
            refresh_token.len() >= 43,
            "a refresh token carries at least 256 bits"
        );
        assert!(
            refresh_tokens.insert(refresh_token.clone()),
            "the refresh token was not renewed"
        );
        assert!(
            access_tokens.insert(access_token.clone()),
            "the access token was not renewed"
        );
        assert_eq!(
            session_id(&refreshed),
            sid,
            "a refresh stays in its session"
        );
        assert_eq!(me_status(&server, &access_token).await, StatusCode::OK);
        current = refresh_token;
    }
}

#[tokio::test]
async fn the_token_just_rotated_returns_the_same_successor_within_the_grace() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let first = text(&login, "refresh_token");
    let rotated = refresh_ok(&server, &first).await;
    let successor = text(&rotated, "refresh_token");

    for attempt in 0..2 {
        let again = refresh_ok(&server, &first).await;
        assert_eq!(
            text(&again, "refresh_token"),
            successor,
            "attempt {attempt}: a different successor"
        );
        assert_eq!(session_id(&again), session_id(&login));
        assert_eq!(
            me_status(&server, &text(&again, "access_token")).await,
            StatusCode::OK
        );
    }

    let next = refresh_ok(&server, &successor).await;
    assert_ne!(text(&next, "refresh_token"), successor);
    assert_eq!(
        me_status(&server, &text(&next, "access_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        me_status(&server, &text(&login, "access_token")).await,
        StatusCode::OK
    );
    let sessions = listed_sessions(&server, &text(&next, "access_token")).await;
    assert!(
        sessions.contains(&session_id(&login)),
        "the session is still live"
    );
    refresh_ok(&server, &text(&next, "refresh_token")).await;
}

#[tokio::test]
async fn reuse_after_the_grace_revokes_the_whole_session() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let victim = server.login("ada@example.com", PASSWORD).await;
    let other = server.login("ada@example.com", PASSWORD).await;
    let victim_sid = session_id(&victim);
    let other_access = text(&other, "access_token");
    assert!(
        listed_sessions(&server, &other_access)
            .await
            .contains(&victim_sid)
    );

    let stolen = text(&victim, "refresh_token");
    let rotated = refresh_ok(&server, &stolen).await;
    // Past the default reuse grace of 10 s.
    server.advance_clock(time::Duration::seconds(11));

    assert_refresh_refused(&server, &stolen).await;
    assert_refresh_refused(&server, &text(&rotated, "refresh_token")).await;
    assert_refresh_refused(&server, &stolen).await;
    for access_token in [
        text(&victim, "access_token"),
        text(&rotated, "access_token"),
    ] {
        assert_refused_within_a_second(&server, &access_token).await;
    }
    let listed = listed_sessions(&server, &other_access).await;
    assert!(
        !listed.contains(&victim_sid),
        "the revoked session is still listed"
    );
    assert!(
        listed.contains(&session_id(&other)),
        "the other session is listed"
    );
    refresh_ok(&server, &text(&other, "refresh_token")).await;
}

#[tokio::test]
async fn a_token_two_generations_old_revokes_the_session_even_within_the_grace() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let oldest = text(&login, "refresh_token");
    let middle = refresh_ok(&server, &oldest).await;
    let newest = refresh_ok(&server, &text(&middle, "refresh_token")).await;

    assert_refresh_refused(&server, &oldest).await;
    assert_refresh_refused(&server, &text(&newest, "refresh_token")).await;
    assert_refresh_refused(&server, &text(&middle, "refresh_token")).await;
    for access_token in [&login, &middle, &newest].map(|response| text(response, "access_token")) {
        assert_refused_within_a_second(&server, &access_token).await;
    }
}

/// Sends `contenders` refreshes with one token at the same moment, each from
/// its own client over an already open connection; returns every refresh
/// token handed out.
async fn race(server: &TestServer, refresh_token: &str, contenders: usize) -> BTreeSet<String> {
    let barrier = Arc::new(Barrier::new(contenders));
    let handles: Vec<_> = (0..contenders)
        .map(|_| {
            let client = Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let (health, token_url) = (server.url("/healthz"), server.url("/token"));
            let barrier = Arc::clone(&barrier);
            let body = json!({ "grant_type": "refresh_token", "refresh_token": refresh_token });
            tokio::spawn(async move {
                let warm_up = client.get(health).send().await.unwrap();
                assert_eq!(warm_up.status(), StatusCode::OK);
                warm_up.bytes().await.unwrap();
                barrier.wait().await;
                let response = client.post(token_url).json(&body).send().await.unwrap();
                let status = response.status();
                (status, response.text().await.unwrap())
            })
        })
        .collect();
    let mut handed_out = BTreeSet::new();
    for handle in handles {
        let (status, body) = handle.await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "a concurrent refresh failed: {body}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        handed_out.insert(text(&body, "refresh_token"));
    }
    handed_out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_yield_one_successor() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let mut current = text(&login, "refresh_token");
    for round in 0..3 {
        let handed_out = race(&server, &current, 32).await;
        assert_eq!(
            handed_out.len(),
            1,
            "round {round}: several refresh tokens handed out: {handed_out:?}"
        );
        let successor = handed_out.into_iter().next().unwrap();
        assert_ne!(successor, current);
        let next = refresh_ok(&server, &successor).await;
        assert_eq!(session_id(&next), session_id(&login));
        assert_eq!(
            me_status(&server, &text(&next, "access_token")).await,
            StatusCode::OK
        );
        current = text(&next, "refresh_token");
    }
    refresh_ok(&server, &current).await;
}

#[tokio::test]
async fn garbage_and_forged_refresh_tokens_are_refused_without_revoking_the_session() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let rotated = refresh_ok(&server, &text(&login, "refresh_token")).await;
    let genuine = text(&rotated, "refresh_token");
    let generation = generation_of(&genuine);
    let mut flipped_secret = URL_SAFE_NO_PAD.decode(&genuine).unwrap()[24..].to_vec();
    flipped_secret[31] ^= 1;

    let random = URL_SAFE_NO_PAD.encode(random_bytes(56));
    assert_eq!(random.len(), 75);
    let cases = [
        ("empty", String::new()),
        ("random base64url", random),
        ("not base64url", "!".repeat(75)),
        ("an access token", text(&rotated, "access_token")),
        (
            "current generation, random secret",
            forged(&genuine, generation, &random_bytes(32)),
        ),
        (
            "current generation, one bit changed",
            forged(&genuine, generation, &flipped_secret),
        ),
        (
            "previous generation, random secret",
            forged(&genuine, generation - 1, &random_bytes(32)),
        ),
        (
            "next generation, random secret",
            forged(&genuine, generation + 1, &random_bytes(32)),
        ),
        (
            "far older generation, random secret",
            forged(&genuine, 0, &random_bytes(32)),
        ),
    ];
    for (label, token) in &cases {
        let response = server.refresh(token).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{label}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{label}: {body}");
    }

    assert_eq!(
        me_status(&server, &text(&rotated, "access_token")).await,
        StatusCode::OK
    );
    let next = refresh_ok(&server, &genuine).await;
    assert_eq!(session_id(&next), session_id(&login));
}

#[tokio::test]
async fn refresh_after_logout_is_refused() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let first = text(&login, "refresh_token");
    let rotated = refresh_ok(&server, &first).await;
    let logout = server.logout(&text(&rotated, "access_token")).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    assert_refresh_refused(&server, &text(&rotated, "refresh_token")).await;
    // Within the grace, the token just rotated must not hand out its successor either.
    assert_refresh_refused(&server, &first).await;
}

#[tokio::test]
async fn a_session_unused_for_longer_than_the_refresh_ttl_cannot_refresh() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let mut current = text(&login, "refresh_token");
    // Used every 10 days, the session outlives its idle lifetime of 30 days
    // (50 days in all, within its maximum age of 90).
    for _ in 0..5 {
        server.advance_clock(time::Duration::days(10));
        current = text(&refresh_ok(&server, &current).await, "refresh_token");
    }
    server.advance_clock(time::Duration::days(30) + time::Duration::seconds(1));
    assert_refresh_refused(&server, &current).await;
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_it_is_refreshed() {
    let server = TestServer::spawn().await;
    let login = server.user_with_tokens("ada@example.com").await;
    let mut current = text(&login, "refresh_token");
    // Refreshed every 20 days, well within the idle lifetime, until just
    // before the maximum age of 90 days.
    for _ in 0..4 {
        server.advance_clock(time::Duration::days(20));
        current = text(&refresh_ok(&server, &current).await, "refresh_token");
    }
    server.advance_clock(time::Duration::days(10) + time::Duration::seconds(1));
    assert_refresh_refused(&server, &current).await;
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_within_the_users_permissions() {
    let server = TestServer::spawn().await;
    add_editor(&server, "e@x.io");
    let login = server.login("e@x.io", PASSWORD).await;
    let full: BTreeSet<&str> = login["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(full, BTreeSet::from(["a:read", "a:write"]));

    let narrowed = refresh_with_scope(&server, &text(&login, "refresh_token"), "a:read").await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "a:read");
    assert_eq!(
        jwt_claims(&text(&narrowed, "access_token"))["scope"],
        "a:read"
    );

    let refused = refresh_with_scope(&server, &text(&narrowed, "refresh_token"), "b:x").await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let refused =
        refresh_with_scope(&server, &text(&narrowed, "refresh_token"), "a:read b:x").await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Without `scope`, a refresh carries the scope originally granted (RFC 6749 §6).
    let plain = refresh_ok(&server, &text(&narrowed, "refresh_token")).await;
    let scope: BTreeSet<&str> = plain["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(scope, full);
}

/// Contract silent; RFC 6749 §6: only a refresh token actually issued replaces
/// the old one, so a refused request must leave the presented token usable.
#[tokio::test]
async fn a_refused_scope_does_not_use_up_the_refresh_token() {
    let server = TestServer::spawn().await;
    add_editor(&server, "e@x.io");
    let login = server.login("e@x.io", PASSWORD).await;
    let refresh_token = text(&login, "refresh_token");
    let refused = refresh_with_scope(&server, &refresh_token, "b:x").await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Past the default reuse grace of 10 s.
    server.advance_clock(time::Duration::seconds(11));
    let response = server.refresh(&refresh_token).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "the token was used up by a refused request: {}",
        response.text().await.unwrap()
    );
    assert_eq!(
        me_status(&server, &text(&login, "access_token")).await,
        StatusCode::OK
    );
}
