//! Passwords: `PUT /me/password`, the policy on a new password, what a
//! password change does to the other sessions, Unicode normalisation and
//! length limits at login, and the silent upgrade of a hash made with weaker
//! Argon2 parameters.
//!
//! The upgrade test reads the stored hash with the `sqlite3` command-line
//! shell: nothing over HTTP or on the command line shows a hash, and a
//! rehash changes nothing a client can observe.

use std::sync::Arc;

use portcullis_core::Email;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestDatabase, TestServer, assert_oauth_error, assert_problem, text,
};

const NEW_PASSWORD: &str = "a brand new passphrase for alice";

async fn change_password(
    server: &TestServer,
    tokens: &Value,
    current: &str,
    new: &str,
) -> Response {
    server
        .client
        .put(server.url("/me/password"))
        .bearer_auth(text(tokens, "access_token"))
        .json(&json!({ "current_password": current, "new_password": new }))
        .send()
        .await
        .unwrap()
}

/// Asserts a `422` whose `errors` all name `field`.
async fn assert_invalid_field(response: Response, field: &str, case: &str) {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{case}"
    );
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no errors in {body}"));
    assert!(!errors.is_empty(), "{case}: {body}");
    for error in errors {
        assert_eq!(error["field"], field, "{case}: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}: {body}"
        );
    }
}

#[tokio::test]
async fn a_password_change_needs_the_right_current_password_and_a_good_new_one() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let too_long = "x".repeat(1025);
    for (case, current, new, field) in [
        (
            "wrong current password",
            "not the password of alice",
            NEW_PASSWORD,
            "current_password",
        ),
        (
            "new password too short",
            PASSWORD,
            "eleven char",
            "new_password",
        ),
        (
            "new password too common",
            PASSWORD,
            "123qweasdzxc",
            "new_password",
        ),
        (
            "new password is the email",
            PASSWORD,
            "alice@example.com",
            "new_password",
        ),
        (
            "new password too long",
            PASSWORD,
            too_long.as_str(),
            "new_password",
        ),
    ] {
        let response = change_password(&server, &tokens, current, new).await;
        assert_invalid_field(response, field, case).await;
    }

    server.login("alice@example.com", PASSWORD).await;
    let me = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "a refused change leaves the session alone"
    );
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_but_keeps_this_one() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let this = server.login("alice@example.com", PASSWORD).await;
    let others = [
        server.login("alice@example.com", PASSWORD).await,
        server.login("alice@example.com", PASSWORD).await,
    ];
    let bob = server.user_with_tokens("bob@example.com").await;

    let response = change_password(&server, &this, PASSWORD, NEW_PASSWORD).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let old = server.password_grant("alice@example.com", PASSWORD).await;
    assert_oauth_error(old, StatusCode::BAD_REQUEST, "invalid_grant").await;
    server.login("alice@example.com", NEW_PASSWORD).await;
    for other in &others {
        let me = server
            .get_authorized("/me", &text(other, "access_token"))
            .await;
        assert_eq!(
            me.status(),
            StatusCode::UNAUTHORIZED,
            "another session's access token"
        );
        let refreshed = server.refresh(&text(other, "refresh_token")).await;
        assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    let me = server
        .get_authorized("/me", &text(&this, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the session that changed the password goes on"
    );
    let refreshed = server.refresh(&text(&this, "refresh_token")).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the session that changed the password goes on"
    );
    let me = server
        .get_authorized("/me", &text(&bob, "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "another user's session is untouched"
    );
}

#[tokio::test]
async fn a_password_change_needs_a_token() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let response = server
        .client
        .put(server.url("/me/password"))
        .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
    server.login("alice@example.com", PASSWORD).await;
}

#[tokio::test]
async fn an_overlong_password_at_login_is_an_invalid_grant_and_never_truncated() {
    let server = TestServer::spawn().await;
    let longest = "x".repeat(1024);
    let created = server.sign_up_with("alice@example.com", &longest).await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "1024 characters is the longest allowed"
    );
    server.login("alice@example.com", &longest).await;
    let reference = server
        .password_grant("alice@example.com", "not the password of alice")
        .await;
    assert_eq!(reference.status(), StatusCode::BAD_REQUEST);
    let reference = reference.bytes().await.unwrap();

    for length in [1025, 4096, 60_000] {
        let response = server
            .password_grant("alice@example.com", &"x".repeat(length))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{length} characters"
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            reference,
            "{length} characters: the same refusal as any wrong password"
        );
    }
    let refused = server
        .sign_up_with("bob@example.com", &"x".repeat(1025))
        .await;
    assert_invalid_field(refused, "password", "sign-up with 1025 characters").await;
}

#[tokio::test]
async fn passwords_equal_under_nfkc_are_the_same_password() {
    let server = TestServer::spawn().await;
    for (email, signed_up_with, logs_in_with) in [
        (
            "ligature@example.com",
            "\u{fb01}ne \u{fb01}ne \u{fb01}ne \u{fb01}ne",
            "fine fine fine fine",
        ),
        (
            "plain@example.com",
            "fine fine fine fine",
            "\u{fb01}ne \u{fb01}ne \u{fb01}ne \u{fb01}ne",
        ),
        (
            "composed@example.com",
            "caf\u{e9} au lait forever",
            "cafe\u{301} au lait forever",
        ),
        (
            "fullwidth@example.com",
            "ｆｕｌｌ\u{3000}ｗｉｄｔｈ\u{3000}ｋｅｙ",
            "full width key",
        ),
    ] {
        let created = server.sign_up_with(email, signed_up_with).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{email}");
        let both = [signed_up_with, logs_in_with];
        for password in both {
            let response = server.password_grant(email, password).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{email} with {password:?}"
            );
        }
    }
    let different = server
        .password_grant("ligature@example.com", "Fine fine fine fine")
        .await;
    assert_oauth_error(different, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_login_upgrades_a_hash_made_with_weaker_parameters() {
    let cheap = TestServer::spawn().await;
    cheap.sign_up("alice@example.com").await;
    let database = Arc::clone(cheap.database());
    let before = stored_hash(&database, "alice@example.com").await;
    assert!(
        before.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{before}"
    );
    let stronger = cheap
        .restart_with(&["--argon2-memory-kib", "2048", "--argon2-iterations", "2"])
        .await;
    let login = || async {
        stronger
            .password_grant("alice@example.com", PASSWORD)
            .await
            .status()
    };

    assert_eq!(login().await, StatusCode::OK, "the old hash still verifies");
    let after = stored_hash(&database, "alice@example.com").await;
    assert!(
        after.starts_with("$argon2id$v=19$m=2048,t=2,p=1$"),
        "rehashed with the new parameters: {after}"
    );
    assert_ne!(after, before);
    assert_eq!(login().await, StatusCode::OK, "the upgraded hash verifies");
    assert_eq!(
        stored_hash(&database, "alice@example.com").await,
        after,
        "an up-to-date hash is left alone"
    );
}

/// The stored `password_hash` of a user, read through the store.
async fn stored_hash(database: &TestDatabase, email: &str) -> String {
    let user = database
        .store()
        .await
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap();
    user.unwrap_or_else(|| panic!("no user {email}"))
        .password_hash
        .0
}
