//! Accounts: sign-up (`POST /users`), the caller's own account (`GET`,
//! `PATCH`, `DELETE /me`), the email rule (trimmed, NFC, compared without
//! case) and the password policy as the API and the `serve` flags apply it.
//!
//! These tests must never accept a response that leaks more than the user
//! object (no hash, no extra fields), nor let a request body pick its own
//! roles.

use std::process::Output;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestServer, assert_oauth_error, assert_problem, run_to_exit, text};

/// A response read to the end, so checks can be plain synchronous functions.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{status}: body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Self {
            status,
            headers,
            body,
        }
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn post_users(server: &TestServer, body: &Value) -> Reply {
    Reply::read(
        server
            .client
            .post(server.url("/users"))
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn sign_up_with_password(server: &TestServer, email: &str, password: &str) -> Reply {
    post_users(server, &json!({ "email": email, "password": password })).await
}

async fn patch_me(server: &TestServer, access_token: &str, body: &Value) -> Reply {
    Reply::read(
        server
            .client
            .patch(server.url("/me"))
            .bearer_auth(access_token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn delete_me(server: &TestServer, access_token: &str, current_password: &str) -> Reply {
    let body = json!({ "current_password": current_password });
    Reply::read(
        server
            .client
            .delete(server.url("/me"))
            .bearer_auth(access_token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get_me(server: &TestServer, access_token: &str) -> Reply {
    Reply::read(server.get_authorized("/me", access_token).await).await
}

async fn password_grant(server: &TestServer, email: &str, password: &str) -> Response {
    server
        .token(json!({ "grant_type": "password", "username": email, "password": password }))
        .await
}

/// Asserts a problem-details response with `status`.
#[track_caller]
fn check_problem(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.content_type(),
        "application/problem+json",
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], status.as_u16(), "{}", reply.body);
    for member in ["type", "title", "detail"] {
        assert!(
            reply.body[member].is_string(),
            "{member} missing in {}",
            reply.body
        );
    }
}

/// Asserts a `422` whose `errors` name `field`, each entry with a message.
#[track_caller]
fn check_field_error(reply: &Reply, field: &str) {
    check_problem(reply, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {}", reply.body));
    for error in errors {
        assert!(
            error["message"].is_string(),
            "an error without a message in {}",
            reply.body
        );
    }
    assert!(
        errors.iter().any(|error| error["field"] == field),
        "no error for field {field:?} in {}",
        reply.body
    );
}

/// Asserts the user object of the contract, exactly its members.
#[track_caller]
fn check_user_object(user: &Value, email: &str) {
    let mut members: Vec<&str> = user
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["created_at", "email", "id", "name", "roles"],
        "{user}"
    );
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

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(at, c)| {
            if [8, 13, 18, 23].contains(&at) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
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

/// Runs `portcullis serve ARGS` in an empty folder and waits for it to exit.
fn serve_until_exit(args: &[&str]) -> Output {
    run_to_exit(&[&["serve", "--listen", "127.0.0.1:0"], args].concat())
}

#[tokio::test]
async fn sign_up_answers_201_with_location_and_the_user_object() {
    let server = TestServer::spawn().await;
    let reply = post_users(
        &server,
        &json!({ "email": "  Bob@Example.COM ", "password": PASSWORD, "name": "Bob" }),
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(
        reply.content_type().starts_with("application/json"),
        "{}",
        reply.content_type()
    );
    let mut user = reply.body.clone();
    assert_eq!(user["name"], "Bob");
    user["name"] = Value::Null;
    check_user_object(&user, "bob@example.com");
    let location = reply
        .headers
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    assert_eq!(location, format!("/users/{}", text(&reply.body, "id")));

    let tokens = server.login("bob@example.com", PASSWORD).await;
    let me = get_me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(me.body["id"], reply.body["id"]);
    assert_eq!(me.body["created_at"], reply.body["created_at"]);
}

#[tokio::test]
async fn emails_are_trimmed_lowercased_and_one_account_per_address() {
    let server = TestServer::spawn().await;
    let first = sign_up_with_password(&server, "Bob@X.io", PASSWORD).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["email"], "bob@x.io");

    for again in [" bob@x.IO ", "bob@x.io", "BOB@X.IO", "\tBob@x.io\n"] {
        let reply = sign_up_with_password(&server, again, PASSWORD).await;
        check_problem(&reply, StatusCode::CONFLICT);
    }
    // Logging in is as forgiving as signing up.
    let tokens = server.login("  BOB@x.Io ", PASSWORD).await;
    assert_eq!(
        get_me(&server, &text(&tokens, "access_token")).await.body["email"],
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
        decomposed.body
    );
    assert_eq!(decomposed.body["email"], "\u{e9}lodie@exemple.fr");

    for same in [
        "\u{e9}lodie@exemple.fr",
        "\u{c9}LODIE@EXEMPLE.FR",
        "E\u{301}lodie@exemple.fr",
    ] {
        let reply = sign_up_with_password(&server, same, PASSWORD).await;
        check_problem(&reply, StatusCode::CONFLICT);
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
            reply.body
        );
        assert_eq!(reply.body["email"], international);
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
        check_field_error(&reply, "email");
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
            assert_eq!(reply.status, StatusCode::CREATED, "{email}: {}", reply.body);
        } else {
            check_field_error(&reply, "password");
            let refused = password_grant(&server, email, password).await;
            assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
        }
    }
    // Characters, not bytes, were counted, and the password works as given.
    server.login("crabs@example.com", &crabs).await;
    server.login("longest@example.com", &longest).await;
    // Never truncated: a prefix of the password is a wrong password.
    let prefix = password_grant(&server, "longest@example.com", &longest[..1023]).await;
    assert_oauth_error(prefix, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let prefix = password_grant(&server, "longest@example.com", &longest[..72]).await;
    assert_oauth_error(prefix, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn the_minimum_length_can_be_lowered_to_eight() {
    let server = TestServer::spawn_with(&["--password-min-length", "8"]).await;
    let eight = sign_up_with_password(&server, "eight@example.com", "zq8#vK2m").await;
    assert_eq!(eight.status, StatusCode::CREATED, "{}", eight.body);
    server.login("eight@example.com", "zq8#vK2m").await;

    let seven = sign_up_with_password(&server, "seven@example.com", "zq8#vK2").await;
    check_field_error(&seven, "password");
    // The common list still applies under a lower minimum.
    let common = sign_up_with_password(&server, "common@example.com", "iloveyou").await;
    check_field_error(&common, "password");
}

#[test]
fn a_minimum_length_below_eight_keeps_the_server_from_starting() {
    let output = serve_until_exit(&["--password-min-length", "7"]);
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
    check_problem(&reply, StatusCode::FORBIDDEN);
    let login = password_grant(&server, "walk-in@example.com", PASSWORD).await;
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
        check_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.body.to_string().contains(extra_field),
            "the refusal does not name {extra_field}: {}",
            reply.body
        );
    }
    // Nothing was created by the refused requests.
    let login = password_grant(&server, "mallory@example.com", PASSWORD).await;
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

    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["permissions"], json!([]));
    let mut user = me.body.clone();
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
    assert_eq!(named.status, StatusCode::OK, "{}", named.body);
    assert_eq!(named.body["name"], "Dave Ðavidson");
    let mut user = named.body.clone();
    user["name"] = Value::Null;
    check_user_object(&user, "dave@example.com");
    assert_eq!(get_me(&server, &access).await.body["name"], "Dave Ðavidson");

    let untouched = patch_me(&server, &access, &json!({})).await;
    assert_eq!(untouched.status, StatusCode::OK, "{}", untouched.body);
    assert_eq!(untouched.body["name"], "Dave Ðavidson");

    let cleared = patch_me(&server, &access, &json!({ "name": null })).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["name"], Value::Null);
    assert_eq!(get_me(&server, &access).await.body["name"], Value::Null);
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
    check_field_error(&without, "current_password");
    let wrong = patch_me(
        &server,
        &access,
        &json!({ "email": "erin@new.example.com", "current_password": "not the password at all" }),
    )
    .await;
    check_field_error(&wrong, "current_password");
    let invalid = patch_me(
        &server,
        &access,
        &json!({ "email": "not an address", "current_password": PASSWORD }),
    )
    .await;
    check_field_error(&invalid, "email");
    assert_eq!(
        get_me(&server, &access).await.body["email"],
        "erin@example.com"
    );

    let changed = patch_me(
        &server,
        &access,
        &json!({ "email": " Erin@New.Example.com ", "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["email"], "erin@new.example.com");
    assert_eq!(
        get_me(&server, &access).await.body["email"],
        "erin@new.example.com"
    );

    server.login("erin@new.example.com", PASSWORD).await;
    let old = password_grant(&server, "erin@example.com", PASSWORD).await;
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
        check_problem(&reply, StatusCode::CONFLICT);
    }
    assert_eq!(
        get_me(&server, &access).await.body["email"],
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
        check_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let me = get_me(&server, &access).await;
    assert_eq!(me.body["roles"], json!([]));
    assert_eq!(me.body["permissions"], json!([]));
    assert_eq!(
        me.body["name"],
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
    check_field_error(&wrong, "current_password");
    assert_eq!(get_me(&server, &access).await.status, StatusCode::OK);

    let deleted = delete_me(&server, &access, PASSWORD).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);

    let me = server.get_authorized("/me", &access).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(me.headers().contains_key("www-authenticate"));
    let refresh = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let login = password_grant(&server, "ivan@example.com", PASSWORD).await;
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
    let response = server.client.get(server.url("/me")).send().await.unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="portcullis""#
    );
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}
