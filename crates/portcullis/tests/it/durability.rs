//! Durability: whatever the server acknowledged survives `kill -9` and a
//! restart on the same database — users, sessions, refresh rotations,
//! revocations and the signing key.
//!
//! Each test acts, waits for the answer, and kills the process at once,
//! with no graceful shutdown to flush anything.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestServer, assert_oauth_error, jwt_header, sign_up_from, text};

#[tokio::test]
async fn a_user_a_session_and_the_signing_key_survive_kill_9() {
    let server = TestServer::spawn_process().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let access = text(&tokens, "access_token");
    let kid = text(&jwt_header(&access), "kid");

    let server = server.kill_and_restart().await;

    let me = server.get_authorized("/me", &access).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "an access token issued before verifies after"
    );
    let keys = server.jwks().await;
    assert!(
        keys.iter().any(|key| key["kid"] == kid.as_str()),
        "{kid} missing from {keys:?}"
    );
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "a refresh token issued before refreshes after"
    );
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(
        text(&jwt_header(&text(&refreshed, "access_token")), "kid"),
        kid,
        "the same key signs after"
    );
    server.login("alice@example.com", PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ups_acknowledged_before_kill_9_all_log_in_after() {
    let server = TestServer::spawn_process().await;
    let sign_ups: Vec<_> = (0..20)
        .map(|n| {
            let client = server.client.clone();
            let url = server.url("/users");
            tokio::spawn(async move {
                let email = format!("user{n}@example.com");
                let response = sign_up_from(&client, url, &email, PASSWORD).await;
                assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
                email
            })
        })
        .collect();
    let mut emails = Vec::new();
    for sign_up in sign_ups {
        emails.push(sign_up.await.unwrap());
    }

    let server = server.kill_and_restart().await;

    for email in emails {
        server.login(&email, PASSWORD).await;
    }
}

#[tokio::test]
async fn a_refresh_acknowledged_before_kill_9_stays_rotated() {
    let server = TestServer::spawn_process().await;
    let first = server.user_with_tokens("alice@example.com").await;
    let rotated = server.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let second: Value = rotated.json().await.unwrap();

    let server = server.kill_and_restart().await;

    let again = server.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the old token is within its reuse grace"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        text(&again, "refresh_token"),
        text(&second, "refresh_token"),
        "the old token counts as rotated: the grace answers with the same successor"
    );
    let me = server
        .get_authorized("/me", &text(&second, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let third = server.refresh(&text(&second, "refresh_token")).await;
    assert_eq!(
        third.status(),
        StatusCode::OK,
        "the new refresh token works after the restart"
    );
}

#[tokio::test]
async fn a_logout_acknowledged_before_kill_9_stays_in_force() {
    let server = TestServer::spawn_process().await;
    let ended = server.user_with_tokens("alice@example.com").await;
    let kept = server.login("alice@example.com", PASSWORD).await;
    let logout = server.logout(&text(&ended, "access_token")).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let server = server.kill_and_restart().await;

    let me = server
        .get_authorized("/me", &text(&ended, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked session's access token stays refused"
    );
    let refreshed = server.refresh(&text(&ended, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let me = server
        .get_authorized("/me", &text(&kept, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the other session is untouched"
    );
}

#[tokio::test]
async fn a_password_change_acknowledged_before_kill_9_stays_in_force() {
    let server = TestServer::spawn_process().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let new_password = "a brand new passphrase for alice";
    let changed = server
        .client
        .put(server.url("/me/password"))
        .bearer_auth(text(&tokens, "access_token"))
        .json(&json!({ "current_password": PASSWORD, "new_password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);

    let server = server.kill_and_restart().await;

    server.login("alice@example.com", new_password).await;
    let old = server.password_grant("alice@example.com", PASSWORD).await;
    assert_oauth_error(old, StatusCode::BAD_REQUEST, "invalid_grant").await;
}
