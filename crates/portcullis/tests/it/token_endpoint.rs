//! The OAuth 2.0 token endpoint (`POST /token`, RFC 6749) and revocation
//! (`POST /token/revoke`, RFC 7009): every accepted request shape, the
//! success body, and the error codes.
//!
//! A refused login must never tell an unknown email from a wrong password
//! or a disabled account, neither by its bytes nor by its timing; these
//! tests compare raw bodies and median response times to hold that.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, assert_exit, assert_oauth_error, check_oauth_error, login_body,
    read, sorted_keys, text,
};

const FORM: &str = "application/x-www-form-urlencoded";

/// How a request to the token endpoint is written.
enum Body<'a> {
    Json(Value),
    Form(&'a str),
    Raw {
        content_type: &'a str,
        bytes: &'a [u8],
    },
    Nothing,
}

async fn send(request: RequestBuilder, body: Body<'_>) -> Reply {
    let request = match body {
        Body::Json(value) => request.json(&value),
        Body::Form(form) => request.header("content-type", FORM).body(form.to_owned()),
        Body::Raw {
            content_type,
            bytes,
        } => request
            .header("content-type", content_type)
            .body(bytes.to_vec()),
        Body::Nothing => request,
    };
    read(request).await
}

async fn post_token(server: &TestServer, body: Body<'_>) -> Reply {
    send(server.client.post(server.url("/token")), body).await
}

async fn post_revoke(server: &TestServer, body: Body<'_>) -> Reply {
    send(server.client.post(server.url("/token/revoke")), body).await
}

/// Percent-encodes a form value (everything but the RFC 3986 unreserved set).
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn basic(email: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{email}:{password}")))
}

/// Asserts a successful token response for a user without permissions.
#[track_caller]
fn check_token_response(reply: &Reply, shape: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{shape}: {}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store", "{shape}");
    assert!(
        reply.header("content-type").starts_with("application/json"),
        "{shape}"
    );
    let body = reply.json();
    assert_eq!(
        sorted_keys(&body),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ],
        "{shape}: {body}"
    );
    assert_eq!(body["token_type"], "Bearer", "{shape}");
    assert_eq!(body["expires_in"], 900, "{shape}");
    assert_eq!(
        body["scope"], "",
        "{shape}: a user without permissions gets an empty scope"
    );
    assert_eq!(
        text(&body, "access_token").split('.').count(),
        3,
        "{shape}: the access token is not a JWT"
    );
    assert!(!text(&body, "refresh_token").is_empty(), "{shape}");
}

#[tokio::test]
async fn the_password_grant_is_accepted_in_every_documented_shape() {
    let server = TestServer::spawn().await;
    let email = "alice+tokens@example.com";
    server.sign_up(email).await;
    let form = format!(
        "grant_type=password&username={}&password={}",
        form_value(email),
        form_value(PASSWORD)
    );
    let form_with_plus = format!(
        "grant_type=password&username={}&password={}",
        form_value(email),
        PASSWORD.replace(' ', "+")
    );
    let authorization = basic(email, PASSWORD);
    let post = || server.client.post(server.url("/token"));

    let replies = [
        (
            "JSON password grant",
            send(post(), Body::Json(login_body(email, PASSWORD))).await,
        ),
        (
            "JSON email and password, no grant_type",
            send(
                post(),
                Body::Json(json!({ "email": email, "password": PASSWORD })),
            )
            .await,
        ),
        ("form", send(post(), Body::Form(&form)).await),
        (
            "form, spaces as +",
            send(post(), Body::Form(&form_with_plus)).await,
        ),
        (
            "Basic with grant_type in the form",
            send(
                post().header("authorization", &authorization),
                Body::Form("grant_type=password"),
            )
            .await,
        ),
        (
            "Basic with no body",
            send(
                post().header("authorization", &authorization),
                Body::Nothing,
            )
            .await,
        ),
    ];
    let mut refresh_tokens = Vec::new();
    for (shape, reply) in &replies {
        check_token_response(reply, shape);
        let access = text(&reply.json(), "access_token");
        let me = server.get_authorized("/me", &access).await;
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "{shape}: the access token does not work"
        );
        refresh_tokens.push(text(&reply.json(), "refresh_token"));
    }
    refresh_tokens.sort();
    refresh_tokens.dedup();
    assert_eq!(
        refresh_tokens.len(),
        replies.len(),
        "every login must open its own session"
    );
}

#[tokio::test]
async fn refused_logins_are_byte_identical() {
    let server = TestServer::spawn().await;
    server.sign_up("real@example.com").await;
    server.sign_up("disabled@example.com").await;
    let disable = server.cli(
        &["user", "disable", "--email", "disabled@example.com"],
        None,
    );
    assert_exit(&disable, 0, "user disable");

    let refusals = [
        (
            "wrong password",
            login_body("real@example.com", "not the right password"),
        ),
        ("unknown email", login_body("nobody@example.com", PASSWORD)),
        (
            "disabled user",
            login_body("disabled@example.com", PASSWORD),
        ),
        ("not an email", login_body("not an email", PASSWORD)),
        (
            "wrong password, email form",
            json!({ "email": "real@example.com", "password": "not the right password" }),
        ),
    ];
    let mut replies = Vec::new();
    for (case, body) in refusals {
        let reply = post_token(&server, Body::Json(body)).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", case);
        replies.push((case, reply));
    }
    let (first_case, first) = &replies[0];
    for (case, reply) in &replies[1..] {
        assert_eq!(
            reply.text(),
            first.text(),
            "{case} and {first_case} must be told apart by nothing"
        );
        assert_eq!(reply.bytes, first.bytes);
        assert_eq!(
            reply.header("content-type"),
            first.header("content-type"),
            "{case}"
        );
        assert_eq!(
            reply.header("content-length"),
            first.header("content-length"),
            "{case}"
        );
    }
    // The real account still works.
    server.login("real@example.com", PASSWORD).await;
}

#[tokio::test]
async fn malformed_requests_get_the_right_oauth_error() {
    let server = TestServer::spawn().await;
    server.sign_up("bob@example.com").await;
    let unsupported = "unsupported_grant_type";
    let invalid = "invalid_request";
    let cases: [(&str, Body<'_>, &str); 15] = [
        (
            "no password",
            Body::Json(json!({ "grant_type": "password", "username": "bob@example.com" })),
            invalid,
        ),
        (
            "no username",
            Body::Json(json!({ "grant_type": "password", "password": PASSWORD })),
            invalid,
        ),
        (
            "form without password",
            Body::Form("grant_type=password&username=bob%40example.com"),
            invalid,
        ),
        (
            "form without username",
            Body::Form("grant_type=password&password=x"),
            invalid,
        ),
        (
            "client_credentials",
            Body::Json(json!({ "grant_type": "client_credentials" })),
            unsupported,
        ),
        (
            "client_credentials as a form",
            Body::Form("grant_type=client_credentials"),
            unsupported,
        ),
        (
            "authorization_code without a client",
            Body::Json(json!({ "grant_type": "authorization_code", "code": "x" })),
            invalid,
        ),
        (
            "no grant_type and no credentials",
            Body::Json(json!({})),
            invalid,
        ),
        (
            "only a username",
            Body::Json(json!({ "username": "bob@example.com" })),
            invalid,
        ),
        ("an empty form", Body::Form(""), invalid),
        ("nothing at all", Body::Nothing, invalid),
        (
            "refresh grant without refresh_token",
            Body::Json(json!({ "grant_type": "refresh_token" })),
            invalid,
        ),
        (
            "refresh grant form without refresh_token",
            Body::Form("grant_type=refresh_token"),
            invalid,
        ),
        (
            "text/plain",
            Body::Raw {
                content_type: "text/plain",
                bytes: b"grant_type=password&username=bob%40example.com&password=x",
            },
            invalid,
        ),
        (
            "XML",
            Body::Raw {
                content_type: "application/xml",
                bytes: b"<grant_type>password</grant_type>",
            },
            invalid,
        ),
    ];
    for (case, body, error) in cases {
        let reply = post_token(&server, body).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, error, case);
    }
}

#[tokio::test]
async fn a_scope_beyond_the_users_permissions_is_invalid_scope() {
    let server = TestServer::spawn().await;
    server.sign_up("plain@example.com").await;
    let asked = post_token(
        &server,
        Body::Json(json!({ "grant_type": "password", "username": "plain@example.com", "password": PASSWORD, "scope": "x:y" })),
    )
    .await;
    check_oauth_error(
        &asked,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "scope x:y without permissions",
    );

    server.set_role("reader", &["books:read", "books:list"]);
    server.add_user("reader@example.com", &["reader"]);

    let form = format!(
        "grant_type=password&username=reader%40example.com&password={}&scope=books%3Aread",
        form_value(PASSWORD)
    );
    let narrowed = post_token(&server, Body::Form(&form)).await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.text());
    assert_eq!(narrowed.json()["scope"], "books:read");

    let beyond = format!("{form}+x%3Ay");
    let refused = post_token(&server, Body::Form(&beyond)).await;
    check_oauth_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "one permission too many",
    );
}

async fn timed_login(server: &TestServer, email: &str, password: &str) -> Duration {
    let started = Instant::now();
    let response = server.password_grant(email, password).await;
    let bytes = response.bytes().await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        String::from_utf8_lossy(&bytes).contains("invalid_grant"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn login_time_does_not_tell_whether_the_email_exists() {
    // The default Argon2 cost, so that hashing dominates the response time,
    // and no throttling, so that repeated failures are never cut short.
    let server = TestServer::spawn_with(&[
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "2",
        "--throttle",
        "false",
    ])
    .await;
    server.sign_up("timed@example.com").await;

    // Seven of each, interleaved. A second round runs only when the first is
    // out of bounds, so that a burst of load on a shared machine does not fail
    // the test; a real difference (an unknown email skipping the hash) fails both.
    let mut rounds = Vec::new();
    for _ in 0..2 {
        let mut unknown = Vec::new();
        let mut wrong = Vec::new();
        for _ in 0..7 {
            unknown
                .push(timed_login(&server, "nobody@example.com", "not the right password").await);
            wrong.push(timed_login(&server, "timed@example.com", "not the right password").await);
        }
        let (unknown, wrong) = (median(unknown), median(wrong));
        if (0.5..=2.0).contains(&(unknown.as_secs_f64() / wrong.as_secs_f64())) {
            return;
        }
        rounds.push(format!(
            "unknown email {unknown:?}, wrong password {wrong:?}"
        ));
    }
    panic!(
        "median login times differ by more than a factor of 2, which tells which emails exist: {rounds:?}"
    );
}

#[tokio::test]
async fn login_time_does_not_tell_whether_the_email_exists_among_imported_users() {
    let server = TestServer::spawn_with(&[
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "2",
        "--throttle",
        "false",
    ])
    .await;
    server.sign_up("timed@example.com").await;
    // bcrypt cost 10 (Auth0) and Django's PBKDF2 at 260,000 rounds, which
    // costs several Argon2id checks, imported before the server starts, as
    // after a migration: it times their costs at start.
    for file in ["auth0.jsonl", "django.jsonl"] {
        let output = server.cli(&["import", &crate::import_export::fixture(file)], None);
        assert_eq!(output.status.code(), Some(0), "{file}");
    }
    let server = server.kill_and_restart().await;
    assert!(
        server.log().contains("timed the imported password hashes"),
        "{}",
        server.log()
    );

    let wrong = "not the right password";
    let mut rounds = Vec::new();
    for _ in 0..2 {
        let mut samples: [Vec<Duration>; 4] = Default::default();
        for _ in 0..7 {
            for (index, email) in [
                "nobody@example.com",
                "timed@example.com",
                "amy@example.com",
                "ada@example.com",
            ]
            .into_iter()
            .enumerate()
            {
                samples[index].push(timed_login(&server, email, wrong).await);
            }
        }
        let medians = samples.map(median);
        let unknown = medians[0].as_secs_f64();
        if medians
            .iter()
            .all(|median| (0.5..=2.0).contains(&(median.as_secs_f64() / unknown)))
        {
            return;
        }
        rounds.push(format!(
            "unknown email, Argon2id, bcrypt, Django: {medians:?}"
        ));
    }
    panic!(
        "median login times differ by more than a factor of 2, which tells which emails exist: {rounds:?}"
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_session_only() {
    let server = TestServer::spawn().await;
    let revoked = server.user_with_tokens("revoker@example.com").await;
    let other = server.login("revoker@example.com", PASSWORD).await;

    let form = format!("token={}", form_value(&text(&revoked, "refresh_token")));
    let reply = post_revoke(&server, Body::Form(&form)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let refresh = server.refresh(&text(&revoked, "refresh_token")).await;
    assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let me = server
        .get_authorized("/me", &text(&revoked, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // The user's other session is untouched.
    let me = server
        .get_authorized("/me", &text(&other, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        server
            .refresh(&text(&other, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );

    // Revoking again is still 200 (RFC 7009 §2.2).
    let again = post_revoke(&server, Body::Form(&form)).await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn revoking_an_unknown_token_is_200_and_a_missing_one_is_invalid_request() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("keeper@example.com").await;
    let unknown_refresh = format!(
        "token={}",
        form_value(&format!("{}x", text(&tokens, "refresh_token")))
    );
    for (case, body) in [
        ("garbage", Body::Form("token=garbage")),
        (
            "garbage with a hint",
            Body::Form("token=garbage&token_type_hint=refresh_token"),
        ),
        (
            "a JWT-looking string",
            Body::Form("token=eyJhbGciOiJub25lIn0.e30."),
        ),
        ("an altered refresh token", Body::Form(&unknown_refresh)),
    ] {
        let reply = post_revoke(&server, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
    }
    // Nothing real was revoked by those.
    assert_eq!(
        server
            .refresh(&text(&tokens, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );

    for (case, body) in [
        ("an empty form", Body::Form("")),
        (
            "a form without token",
            Body::Form("token_type_hint=refresh_token"),
        ),
        ("nothing at all", Body::Nothing),
    ] {
        let reply = post_revoke(&server, body).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request", case);
    }
}
