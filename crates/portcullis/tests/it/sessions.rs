//! Sessions and logout: `GET /me/sessions`, `DELETE /me/sessions/{id}`,
//! `DELETE /me/sessions` and `POST /logout`.
//!
//! Every login is a session; ending one must stop its refresh token and its
//! access tokens at once, and must never touch another session, least of all
//! another user's. A session id of someone else must be indistinguishable
//! from an id that does not exist.

use portcullis_core::store::{AccountChanged, FeedPosition};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{
    PASSWORD, TestServer, assert_oauth_error, assert_problem, login_body, session_id, sorted_keys,
    text,
};

/// Logs in with the JSON password grant, sending `user_agent`.
async fn login_as_agent(server: &TestServer, email: &str, user_agent: &str) -> Value {
    let response = server
        .client
        .post(server.url("/token"))
        .header("user-agent", user_agent)
        .json(&login_body(email, PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "login of {email} as {user_agent}"
    );
    response.json().await.unwrap()
}

async fn sessions(server: &TestServer, tokens: &Value) -> Vec<Value> {
    let response = server
        .get_authorized("/me/sessions", &text(tokens, "access_token"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn delete(server: &TestServer, path: &str, tokens: &Value) -> Response {
    server
        .client
        .delete(server.url(path))
        .bearer_auth(text(tokens, "access_token"))
        .send()
        .await
        .unwrap()
}

/// A session that still works: its access token is accepted and its refresh token refreshes.
async fn assert_session_alive(server: &TestServer, tokens: &Value) {
    let me = server
        .get_authorized("/me", &text(tokens, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the access token of a live session"
    );
    let refreshed = server.refresh(&text(tokens, "refresh_token")).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the refresh token of a live session"
    );
}

/// A session that ended: its access token gets `401` and its refresh token `invalid_grant`.
async fn assert_session_dead(server: &TestServer, tokens: &Value) {
    let me = server
        .get_authorized("/me", &text(tokens, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the access token of an ended session"
    );
    let challenge = me.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(r#"Bearer realm="portcullis""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_problem(me, StatusCode::UNAUTHORIZED).await;
    let refreshed = server.refresh(&text(tokens, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[track_caller]
fn assert_rfc3339_utc(session: &Value, field: &str) -> OffsetDateTime {
    let value = text(session, field);
    let parsed = OffsetDateTime::parse(&value, &Rfc3339)
        .unwrap_or_else(|e| panic!("{field} {value:?}: {e}"));
    assert!(parsed.offset().is_utc(), "{field} {value:?} is not UTC");
    parsed
}

#[tokio::test]
async fn the_list_shows_every_login_with_its_user_agent_address_and_times() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let agents = [
        "portcullis-test/1 (laptop)",
        "portcullis-test/2 (phone)",
        "portcullis-test/3 (cli)",
    ];
    let mut logins = Vec::new();
    for agent in agents {
        logins.push(login_as_agent(&server, "alice@example.com", agent).await);
    }
    let before = OffsetDateTime::now_utc();

    let listed = sessions(&server, &logins[1]).await;

    assert_eq!(listed.len(), 3, "{listed:?}");
    for session in &listed {
        assert_eq!(
            sorted_keys(session),
            [
                "created_at",
                "current",
                "expires_at",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ],
            "{session}"
        );
        assert_eq!(session["ip"], "127.0.0.1", "{session}");
        let created = assert_rfc3339_utc(session, "created_at");
        let last_used = assert_rfc3339_utc(session, "last_used_at");
        let expires = assert_rfc3339_utc(session, "expires_at");
        assert!(created <= last_used && last_used < expires, "{session}");
        assert!(
            (before - created).abs() < time::Duration::minutes(1),
            "{session}"
        );
        assert!(expires > before + time::Duration::days(1), "{session}");
    }
    let mut listed_agents: Vec<String> = listed.iter().map(|s| text(s, "user_agent")).collect();
    listed_agents.sort();
    assert_eq!(listed_agents, agents);
    let mut ids: Vec<String> = listed.iter().map(|s| text(s, "id")).collect();
    ids.sort();
    let mut expected_ids: Vec<String> = logins.iter().map(session_id).collect();
    expected_ids.sort();
    assert_eq!(
        ids, expected_ids,
        "the listed ids are the sessions of the three logins"
    );

    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {listed:?}");
    assert_eq!(text(current[0], "id"), session_id(&logins[1]));
    assert_eq!(current[0]["user_agent"], agents[1]);
    assert!(
        listed.iter().all(|s| s["current"].is_boolean()),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_user_sees_only_their_own_sessions() {
    let server = TestServer::spawn().await;
    let alice = server.user_with_tokens("alice@example.com").await;
    let bob = server.user_with_tokens("bob@example.com").await;

    let listed = sessions(&server, &alice).await;

    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(text(&listed[0], "id"), session_id(&alice));
    assert_ne!(text(&listed[0], "id"), session_id(&bob));
}

#[tokio::test]
async fn ending_one_session_ends_only_that_session() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let first = server.login("alice@example.com", PASSWORD).await;
    let second = server.login("alice@example.com", PASSWORD).await;
    let third = server.login("alice@example.com", PASSWORD).await;

    let response = delete(
        &server,
        &format!("/me/sessions/{}", session_id(&second)),
        &first,
    )
    .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_session_dead(&server, &second).await;
    let remaining: Vec<String> = sessions(&server, &first)
        .await
        .iter()
        .map(|s| text(s, "id"))
        .collect();
    assert_eq!(remaining.len(), 2, "{remaining:?}");
    assert!(!remaining.contains(&session_id(&second)), "{remaining:?}");
    assert_session_alive(&server, &first).await;
    assert_session_alive(&server, &third).await;
}

#[tokio::test]
async fn ending_the_current_session_by_id_ends_the_caller_too() {
    let server = TestServer::spawn().await;
    let alice = server.user_with_tokens("alice@example.com").await;

    let response = delete(
        &server,
        &format!("/me/sessions/{}", session_id(&alice)),
        &alice,
    )
    .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_session_dead(&server, &alice).await;
}

#[tokio::test]
async fn another_users_session_is_not_found_exactly_like_one_that_does_not_exist() {
    let server = TestServer::spawn().await;
    let alice = server.user_with_tokens("alice@example.com").await;
    let bob = server.user_with_tokens("bob@example.com").await;
    let ended = server.login("alice@example.com", PASSWORD).await;
    let response = delete(
        &server,
        &format!("/me/sessions/{}", session_id(&ended)),
        &ended,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let mut bodies = Vec::new();
    for (case, id) in [
        ("bob's session", session_id(&bob)),
        (
            "a random UUID",
            "0190f1a2-7c3b-7d4e-8f5a-6b7c8d9e0f1a".to_owned(),
        ),
        ("not a UUID", "not-a-uuid".to_owned()),
        ("alice's already ended session", session_id(&ended)),
    ] {
        let response = delete(&server, &format!("/me/sessions/{id}"), &alice).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{case}");
        bodies.push((case, assert_problem(response, StatusCode::NOT_FOUND).await));
    }
    for (case, body) in &bodies[1..] {
        assert_eq!(
            body, &bodies[0].1,
            "{case} must look exactly like {}",
            bodies[0].0
        );
    }
    assert_session_alive(&server, &bob).await;
    assert_session_alive(&server, &alice).await;
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_of_the_caller_and_no_one_else() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let alice_sessions = [
        server.login("alice@example.com", PASSWORD).await,
        server.login("alice@example.com", PASSWORD).await,
        server.login("alice@example.com", PASSWORD).await,
    ];
    let bob = server.user_with_tokens("bob@example.com").await;

    let response = delete(&server, "/me/sessions", &alice_sessions[0]).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for session in &alice_sessions {
        assert_session_dead(&server, session).await;
    }
    assert_session_alive(&server, &bob).await;
    let fresh = server.login("alice@example.com", PASSWORD).await;
    let listed = sessions(&server, &fresh).await;
    assert_eq!(listed.len(), 1, "only the new login is left: {listed:?}");
}

#[tokio::test]
async fn logout_ends_only_the_current_session() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let this = server.login("alice@example.com", PASSWORD).await;
    let other = server.login("alice@example.com", PASSWORD).await;

    let response = server.logout(&text(&this, "access_token")).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_session_dead(&server, &this).await;
    let listed = sessions(&server, &other).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(text(&listed[0], "id"), session_id(&other));
    assert_eq!(listed[0]["current"], true);
    assert_session_alive(&server, &other).await;
}

#[tokio::test]
async fn session_endpoints_need_a_token() {
    let server = TestServer::spawn().await;
    let alice = server.user_with_tokens("alice@example.com").await;
    let own_session = format!("/me/sessions/{}", session_id(&alice));
    for (method, path) in [
        (reqwest::Method::GET, "/me/sessions"),
        (reqwest::Method::DELETE, "/me/sessions"),
        (reqwest::Method::DELETE, own_session.as_str()),
        (reqwest::Method::POST, "/logout"),
    ] {
        let response = server
            .client
            .request(method.clone(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="portcullis""#,
            "{method} {path}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
    assert_session_alive(&server, &alice).await;
}

#[tokio::test]
async fn token_responses_are_never_cached() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let login = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.headers()["cache-control"],
        "no-store",
        "password grant"
    );
    let tokens: Value = login.json().await.unwrap();

    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(
        refreshed.headers()["cache-control"],
        "no-store",
        "refresh grant"
    );

    let refused = server
        .password_grant("alice@example.com", "wrong password here")
        .await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// The revocation and account-change feeds lose an entry once a read a
/// retention period back had made it readable, whatever its timestamp:
/// entries made a day ago by the clock, but readable only since a read
/// that is not yet that old, stay.
#[tokio::test]
async fn housekeeping_prunes_the_feeds_by_the_position_read_a_retention_period_ago() {
    let server = TestServer::spawn().await;
    let alice = server.user_with_tokens("alice@example.com").await;
    let bob = server.user_with_tokens("bob@example.com").await;
    let user_id = |tokens: &Value| {
        let subject = text(
            &crate::helpers::jwt_claims(&text(tokens, "access_token")),
            "sub",
        );
        AccountChanged::User(subject.parse().unwrap())
    };
    let rename = |tokens: &Value| {
        reqwest::Client::new()
            .patch(server.url("/me"))
            .bearer_auth(text(tokens, "access_token"))
            .json(&serde_json::json!({ "name": "Renamed" }))
            .send()
    };
    assert_eq!(rename(&alice).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        server.logout(&text(&alice, "access_token")).await.status(),
        StatusCode::NO_CONTENT
    );
    // On PostgreSQL a feed position is the oldest transaction still open
    // in the whole server, which another test's transaction may hold back:
    // wait until a read from the current position no longer returns
    // Alice's entries, so that the reads below have made them readable.
    let store = server.database().store().await;
    let alice_session = session_id(&alice);
    let alice_changed = user_id(&alice);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Each feed's own current position (on SQLite two sequences).
        let revocations_now = store.sessions_revoked_after(None).await.unwrap().position;
        let changes_now = store.account_changes_after(None).await.unwrap().position;
        let revoked = store
            .sessions_revoked_after(Some(revocations_now))
            .await
            .unwrap();
        let changed = store
            .account_changes_after(Some(changes_now))
            .await
            .unwrap();
        let behind = revoked
            .sessions
            .iter()
            .any(|(id, _)| id.to_string() == alice_session)
            || changed.changes.contains(&alice_changed);
        if !behind {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed position stayed behind Alice's entries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A few reads a minute apart.
    for _ in 0..5 {
        server.advance_clock(time::Duration::minutes(1));
        server.follow_feeds();
    }
    assert_eq!(rename(&bob).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        server.logout(&text(&bob, "access_token")).await.status(),
        StatusCode::NO_CONTENT
    );
    server.advance_clock(time::Duration::days(1));
    server.follow_feeds();
    server.housekeeping();

    let revoked: Vec<String> = store
        .sessions_revoked_after(Some(FeedPosition::BEGINNING))
        .await
        .unwrap()
        .sessions
        .iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(revoked, [session_id(&bob)]);
    let changed = store
        .account_changes_after(Some(FeedPosition::BEGINNING))
        .await
        .unwrap()
        .changes;
    assert!(changed.contains(&user_id(&bob)), "{changed:?}");
    assert!(!changed.contains(&alice_changed), "{changed:?}");
}
