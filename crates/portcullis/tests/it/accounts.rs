//! Accounts: sign-up (`POST /users`), the caller's own account (`GET`,
//! `PATCH`, `DELETE /me`), the email rule (trimmed, NFC, compared without
//! case) and the password policy as the API and the `serve` flags apply it.
//!
//! These tests must never accept a response that leaks more than the user
//! object (no hash, no extra fields), nor let a request body pick its own
//! roles.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, assert_oauth_error, assert_problem, check_field_error,
    check_problem, is_uuid, read, serve_to_exit, sorted_keys, text,
};

async fn post_users(server: &TestServer, body: &Value) -> Reply {
    read(server.client.post(server.url("/users")).json(body)).await
}

async fn sign_up_with_password(server: &TestServer, email: &str, password: &str) -> Reply {
    Reply::of(server.sign_up_with(email, password).await).await
}

async fn patch_me(server: &TestServer, access_token: &str, body: &Value) -> Reply {
    read(
        server
            .client
            .patch(server.url("/me"))
            .bearer_auth(access_token)
            .json(body),
    )
    .await
}

async fn delete_me(server: &TestServer, access_token: &str, current_password: &str) -> Reply {
    let body = json!({ "current_password": current_password });
    read(
        server
            .client
            .delete(server.url("/me"))
            .bearer_auth(access_token)
            .json(&body),
    )
    .await
}

async fn get_me(server: &TestServer, access_token: &str) -> Reply {
    Reply::of(server.get_authorized("/me", access_token).await).await
}

/// Asserts the user object of the contract, exactly its members.
#[track_caller]
fn check_user_object(user: &Value, email: &str) {
    assert_eq!(
        sorted_keys(user),
        [
            "created_at",
            "email",
            "email_verified",
            "id",
            "name",
            "roles"
        ],
        "{user}"
    );
    assert_eq!(user["email_verified"], false, "{user}");
    assert!(
        is_uuid(user["id"].as_str().unwrap()),
        "id is not a UUID: {user}"
    );
    assert_eq!(user["email"], email, "{user}");
    assert_eq!(user["roles"], json!([]), "{user}");
    assert!(
        is_rfc3339_utc(user["created_at"].as_str().unwrap()),
        "created_at is not RFC 3339 UTC: {user}"
    );
}

/// `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let Some(stamp) = text.strip_suffix('Z') else {
        return false;
    };
    let (whole, fraction) = stamp.split_once('.').unwrap_or((stamp, "0"));
    let shape_ok = whole.len() == 19
        && whole.char_indices().all(|(at, c)| match at {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    shape_ok && !fraction.is_empty() && fraction.chars().all(|c| c.is_ascii_digit())
}

#[tokio::test]
async fn sign_up_answers_201_with_location_and_the_user_object() {
    let server = TestServer::spawn().await;
    let reply = post_users(
        &server,
        &json!({ "email": "  Bob@Example.COM ", "password": PASSWORD, "name": "Bob" }),
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(
        reply.header("content-type").starts_with("application/json"),
        "{}",
        reply.header("content-type")
    );
    let mut user = reply.json();
    assert_eq!(user["name"], "Bob");
    user["name"] = Value::Null;
    check_user_object(&user, "bob@example.com");
    let location = reply
        .headers
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    assert_eq!(location, format!("/users/{}", text(&reply.json(), "id")));

    let tokens = server.login("bob@example.com", PASSWORD).await;
    let me = get_me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(me.json()["id"], reply.json()["id"]);
    assert_eq!(me.json()["created_at"], reply.json()["created_at"]);
}

#[tokio::test]
async fn emails_are_trimmed_lowercased_and_one_account_per_address() {
    let server = TestServer::spawn().await;
    let first = sign_up_with_password(&server, "Bob@X.io", PASSWORD).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["email"], "bob@x.io");

    for again in [" bob@x.IO ", "bob@x.io", "BOB@X.IO", "\tBob@x.io\n"] {
        let reply = sign_up_with_password(&server, again, PASSWORD).await;
        check_problem(&reply, StatusCode::CONFLICT, again);
    }
    // Logging in is as forgiving as signing up.
    let tokens = server.login("  BOB@x.Io ", PASSWORD).await;
    assert_eq!(
        get_me(&server, &text(&tokens, "access_token")).await.json()["email"],
        "bob@x.io"
    );
}

#[tokio::test]
async fn one_address_in_two_unicode_forms_is_one_account() {
    let server = TestServer::spawn().await;
    let decomposed = sign_up_with_password(&server, "e\u{301}lodie@exemple.fr", PASSWORD).await;
    assert_eq!(
        decomposed.status,
        StatusCode::CREATED,
        "{}",
        decomposed.text()
    );
    assert_eq!(decomposed.json()["email"], "\u{e9}lodie@exemple.fr");

    for same in [
        "\u{e9}lodie@exemple.fr",
        "\u{c9}LODIE@EXEMPLE.FR",
        "E\u{301}lodie@exemple.fr",
    ] {
        let reply = sign_up_with_password(&server, same, PASSWORD).await;
        check_problem(&reply, StatusCode::CONFLICT, same);
    }
    server.login("\u{e9}lodie@exemple.fr", PASSWORD).await;
    server.login("e\u{301}lodie@exemple.fr", PASSWORD).await;

    // Internationalised addresses (RFC 6531) are accepted as they are.
    for international in [
        "用户@例子.广告",
        "δοκιμή@παράδειγμα.δοκιμή",
        "иван@пример.рф",
    ] {
        let reply = sign_up_with_password(&server, international, PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{international}: {}",
            reply.text()
        );
        assert_eq!(reply.json()["email"], international);
        server.login(international, PASSWORD).await;
    }
}

#[tokio::test]
async fn invalid_emails_are_422_naming_the_email() {
    let server = TestServer::spawn().await;
    let too_long_local = format!("{}@x.io", "a".repeat(65));
    let too_long = format!("a@{}.io", "b".repeat(260));
    for email in [
        "",
        "   ",
        "plain",
        "@x.io",
        "a@",
        "a@b",
        "a@@b.io",
        "a@b@c.io",
        "a b@x.io",
        "a@x..io",
        ".a@x.io",
        "a..b@x.io",
        "<a@x.io>",
        "a\u{0}@x.io",
        "a\n@x.io",
        &too_long_local,
        &too_long,
    ] {
        let reply = sign_up_with_password(&server, email, PASSWORD).await;
        check_field_error(&reply, "email", &format!("{email:?}"));
    }
}

#[tokio::test]
async fn the_password_policy_applies_at_sign_up() {
    let server = TestServer::spawn().await;
    let crabs = "🦀".repeat(12);
    let longest = "x".repeat(1024);
    // (password, accepted); every row signs up its own address.
    let table: [(&str, &str, bool); 9] = [
        ("short@example.com", "eleven char", false),
        ("crabs@example.com", &crabs, true),
        ("fewcrabs@example.com", &"🦀".repeat(11), false),
        ("longest@example.com", &longest, true),
        ("toolong@example.com", &"x".repeat(1025), false),
        (
            "itself.is.long@example.com",
            "itself.is.long@example.com",
            false,
        ),
        (
            "itself.louder@example.com",
            "Itself.Louder@Example.COM",
            false,
        ),
        ("common@example.com", "password1234", false),
        ("commoner@example.com", "Password1234", false),
    ];
    for (email, password, accepted) in table {
        let reply = sign_up_with_password(&server, email, password).await;
        if accepted {
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{email}: {}",
                reply.text()
            );
        } else {
            check_field_error(&reply, "password", email);
            let refused = server.password_grant(email, password).await;
            assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
        }
    }
    // Characters, not bytes, were counted, and the password works as given.
    server.login("crabs@example.com", &crabs).await;
    server.login("longest@example.com", &longest).await;
    // Never truncated: a prefix of the password is a wrong password.
    let prefix = server
        .password_grant("longest@example.com", &longest[..1023])
        .await;
    assert_oauth_error(prefix, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let prefix = server
        .password_grant("longest@example.com", &longest[..72])
        .await;
    assert_oauth_error(prefix, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn the_minimum_length_can_be_lowered_to_eight() {
    let server = TestServer::spawn_with(&["--password-min-length", "8"]).await;
    let eight = sign_up_with_password(&server, "eight@example.com", "zq8#vK2m").await;
    assert_eq!(eight.status, StatusCode::CREATED, "{}", eight.text());
    server.login("eight@example.com", "zq8#vK2m").await;

    let seven = sign_up_with_password(&server, "seven@example.com", "zq8#vK2").await;
    check_field_error(&seven, "password", "seven characters");
    // The common list still applies under a lower minimum.
    let common = sign_up_with_password(&server, "common@example.com", "iloveyou").await;
    check_field_error(&common, "password", "a common password");
}

#[test]
fn a_minimum_length_below_eight_keeps_the_server_from_starting() {
    let output = serve_to_exit(&["--password-min-length", "7"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "serve exited successfully: {stderr}"
    );
    assert!(
        stderr.contains("password-min-length"),
        "the message does not name the setting: {stderr}"
    );
}

#[tokio::test]
async fn closed_sign_up_is_403() {
    let server = TestServer::spawn_with(&["--signup", "closed"]).await;
    let reply = sign_up_with_password(&server, "walk-in@example.com", PASSWORD).await;
    check_problem(&reply, StatusCode::FORBIDDEN, "closed sign-up");
    let login = server.password_grant("walk-in@example.com", PASSWORD).await;
    assert_oauth_error(login, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn sign_up_refuses_fields_it_does_not_know() {
    let server = TestServer::spawn().await;
    for (email, extra_field, value) in [
        ("mallory@example.com", "roles", json!(["admin"])),
        ("mallory@example.com", "role", json!("admin")),
        (
            "mallory@example.com",
            "id",
            json!("00000000-0000-7000-8000-000000000000"),
        ),
        ("mallory@example.com", "disabled", json!(false)),
    ] {
        let mut body = json!({ "email": email, "password": PASSWORD });
        body[extra_field] = value;
        let reply = post_users(&server, &body).await;
        check_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, extra_field);
        assert!(
            reply.json().to_string().contains(extra_field),
            "the refusal does not name {extra_field}: {}",
            reply.text()
        );
    }
    // Nothing was created by the refused requests.
    let login = server.password_grant("mallory@example.com", PASSWORD).await;
    assert_oauth_error(login, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let user = server.sign_up("mallory@example.com").await;
    assert_eq!(user["roles"], json!([]));
}

#[tokio::test]
async fn me_is_the_user_object_with_permissions() {
    let server = TestServer::spawn().await;
    let created = server.sign_up("carol@example.com").await;
    let tokens = server.login("carol@example.com", PASSWORD).await;
    let me = get_me(&server, &text(&tokens, "access_token")).await;

    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    assert_eq!(me.json()["permissions"], json!([]));
    let mut user = me.json();
    user.as_object_mut().unwrap().remove("permissions");
    check_user_object(&user, "carol@example.com");
    assert_eq!(user, created);
}

#[tokio::test]
async fn patch_me_sets_and_clears_the_name() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("dave@example.com").await;
    let access = text(&tokens, "access_token");

    let named = patch_me(&server, &access, &json!({ "name": "Dave Ðavidson" })).await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.text());
    assert_eq!(named.json()["name"], "Dave Ðavidson");
    let mut user = named.json();
    user["name"] = Value::Null;
    check_user_object(&user, "dave@example.com");
    assert_eq!(
        get_me(&server, &access).await.json()["name"],
        "Dave Ðavidson"
    );

    let untouched = patch_me(&server, &access, &json!({})).await;
    assert_eq!(untouched.status, StatusCode::OK, "{}", untouched.text());
    assert_eq!(untouched.json()["name"], "Dave Ðavidson");

    let cleared = patch_me(&server, &access, &json!({ "name": null })).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
    assert_eq!(cleared.json()["name"], Value::Null);
    assert_eq!(get_me(&server, &access).await.json()["name"], Value::Null);
}

#[tokio::test]
async fn changing_the_email_needs_the_right_current_password() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("erin@example.com").await;
    let access = text(&tokens, "access_token");

    let without = patch_me(
        &server,
        &access,
        &json!({ "email": "erin@new.example.com" }),
    )
    .await;
    check_field_error(&without, "current_password", "no current password");
    let wrong = patch_me(
        &server,
        &access,
        &json!({ "email": "erin@new.example.com", "current_password": "not the password at all" }),
    )
    .await;
    check_field_error(&wrong, "current_password", "a wrong current password");
    let invalid = patch_me(
        &server,
        &access,
        &json!({ "email": "not an address", "current_password": PASSWORD }),
    )
    .await;
    check_field_error(&invalid, "email", "an invalid email");
    assert_eq!(
        get_me(&server, &access).await.json()["email"],
        "erin@example.com"
    );

    let changed = patch_me(
        &server,
        &access,
        &json!({ "email": " Erin@New.Example.com ", "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["email"], "erin@new.example.com");
    assert_eq!(
        get_me(&server, &access).await.json()["email"],
        "erin@new.example.com"
    );

    server.login("erin@new.example.com", PASSWORD).await;
    let old = server.password_grant("erin@example.com", PASSWORD).await;
    assert_oauth_error(old, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The old address is free again.
    server.sign_up("erin@example.com").await;
}

#[tokio::test]
async fn changing_the_email_to_a_taken_one_is_409() {
    let server = TestServer::spawn().await;
    server.sign_up("frank@example.com").await;
    let tokens = server.user_with_tokens("grace@example.com").await;
    let access = text(&tokens, "access_token");

    for taken in ["frank@example.com", "FRANK@example.com "] {
        let reply = patch_me(
            &server,
            &access,
            &json!({ "email": taken, "current_password": PASSWORD }),
        )
        .await;
        check_problem(&reply, StatusCode::CONFLICT, taken);
    }
    assert_eq!(
        get_me(&server, &access).await.json()["email"],
        "grace@example.com"
    );
    server.login("frank@example.com", PASSWORD).await;
}

#[tokio::test]
async fn patch_me_cannot_grant_roles() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("heidi@example.com").await;
    let access = text(&tokens, "access_token");

    for body in [
        json!({ "roles": ["admin"] }),
        json!({ "name": "Heidi", "roles": ["admin"] }),
        json!({ "permissions": ["admin:users"] }),
        json!({ "disabled": false }),
    ] {
        let reply = patch_me(&server, &access, &body).await;
        check_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
    }
    let me = get_me(&server, &access).await;
    assert_eq!(me.json()["roles"], json!([]));
    assert_eq!(me.json()["permissions"], json!([]));
    assert_eq!(
        me.json()["name"],
        Value::Null,
        "a refused request changed the name"
    );
    let fresh = server.login("heidi@example.com", PASSWORD).await;
    assert_eq!(fresh["scope"], "");
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_ends_everything() {
    let server = TestServer::spawn().await;
    let created = server.sign_up("ivan@example.com").await;
    let tokens = server.login("ivan@example.com", PASSWORD).await;
    let access = text(&tokens, "access_token");

    let wrong = delete_me(&server, &access, "not the password at all").await;
    check_field_error(&wrong, "current_password", "deleting with a wrong password");
    assert_eq!(get_me(&server, &access).await.status, StatusCode::OK);

    let deleted = delete_me(&server, &access, PASSWORD).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());

    let me = server.get_authorized("/me", &access).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(me.headers().contains_key("www-authenticate"));
    let refresh = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let login = server.password_grant("ivan@example.com", PASSWORD).await;
    assert_oauth_error(login, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let again = server.sign_up("ivan@example.com").await;
    assert_ne!(
        again["id"], created["id"],
        "a new account must get a new id"
    );
}

#[tokio::test]
async fn me_without_a_token_is_401_problem() {
    let server = TestServer::spawn().await;
    let response = server.get("/me").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="portcullis""#
    );
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}

/// Issue 10, finding 8: sign-ups are counted per client address, every
/// attempt, with `429` and `Retry-After` past the limit, until the hour is over.
#[tokio::test]
async fn sign_ups_are_limited_per_client_address() {
    let server = TestServer::spawn_with(&["--signup-per-address", "3"]).await;
    for n in 0..3 {
        let response = server
            .sign_up_with(&format!("user{n}@example.com"), PASSWORD)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let refused = Reply::of(server.sign_up_with("late@example.com", PASSWORD).await).await;
    check_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "the fourth");
    let retry_after: i64 = refused.header("retry-after").parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let duplicate = server.sign_up_with("user0@example.com", PASSWORD).await;
    assert_eq!(
        duplicate.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a taken address too"
    );

    server.advance_clock(time::Duration::seconds(retry_after));
    let response = server.sign_up_with("late@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED, "a new hour");
}
