//! Personal access tokens (API keys): `POST /me/tokens`, `GET /me/tokens`,
//! `DELETE /me/tokens/{id}`.
//!
//! A PAT is shown once, stored only as a hash, works wherever an access token
//! works, holds no more than its owner, and can never manage PATs, change the
//! password, delete the account or log out. Another user's PAT or session
//! must be indistinguishable from one that does not exist.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::personal_tokens::PersonalToken;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{
    PASSWORD, Reply, TestServer, check_field_error, check_problem, is_uuid, read, session_id,
    sorted_keys, text,
};

const NOBODY: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

/// A server where `carol@example.com` holds `customer` (`books:download`);
/// returns it with Carol's token response.
async fn with_customer() -> (TestServer, Value) {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    server.add_user("carol@example.com", &["customer"]);
    let tokens = server.login("carol@example.com", PASSWORD).await;
    (server, tokens)
}

/// Sends `method path` with `Authorization: Bearer token` and a JSON `body` (if any).
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Reply {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    read(request).await
}

async fn create(server: &TestServer, token: &str, body: &Value) -> Reply {
    call(server, Method::POST, "/me/tokens", token, Some(body)).await
}

/// Makes a PAT named `name` with `scopes`; asserts `201` and returns the body.
async fn new_pat(server: &TestServer, access_token: &str, name: &str, scopes: &[&str]) -> Value {
    let reply = create(
        server,
        access_token,
        &json!({ "name": name, "scopes": scopes }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

/// `GET /me/tokens`; asserts `200`.
async fn list(server: &TestServer, access_token: &str) -> Vec<Value> {
    let reply = call(server, Method::GET, "/me/tokens", access_token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    serde_json::from_value(reply.json()).expect("an array")
}

async fn status_of_me(server: &TestServer, token: &str) -> StatusCode {
    server.get_authorized("/me", token).await.status()
}

/// Whether `token` is `pat_` and 70 characters of base64url.
fn looks_like_a_pat(token: &str) -> bool {
    token.strip_prefix("pat_").is_some_and(|rest| {
        rest.len() == 70
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

#[track_caller]
fn timestamp(value: &Value, field: &str) -> OffsetDateTime {
    let value = text(value, field);
    let parsed = OffsetDateTime::parse(&value, &Rfc3339)
        .unwrap_or_else(|e| panic!("{field} {value:?}: {e}"));
    assert!(parsed.offset().is_utc(), "{field} {value:?} is not UTC");
    parsed
}

/// `401` problem with the RFC 6750 `invalid_token` challenge.
#[track_caller]
fn check_refused(reply: &Reply, case: &str) {
    check_problem(reply, StatusCode::UNAUTHORIZED, case);
    let challenge = reply.header("www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer realm="portcullis", error="invalid_token""#),
        "{case}: {challenge}"
    );
}

#[tokio::test]
async fn creating_answers_201_with_the_token_shown_once() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");

    let reply = create(
        &server,
        &access_token,
        &json!({ "name": "  backup script  ", "scopes": ["books:download"] }),
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store");
    let created = reply.json();
    for member in ["id", "name", "token", "scopes", "created_at", "expires_at"] {
        assert!(
            created.get(member).is_some(),
            "{member} missing in {created}"
        );
    }
    let token = text(&created, "token");
    assert!(looks_like_a_pat(&token), "{token:?}");
    let id = text(&created, "id");
    assert!(is_uuid(&id), "{id}");
    assert_eq!(
        PersonalToken::parse(&token).map(|parsed| parsed.id.to_string()),
        Some(id.clone()),
        "the token names its id"
    );
    assert_eq!(created["name"], "backup script", "{created}");
    assert_eq!(created["scopes"], json!(["books:download"]));
    assert_eq!(
        created["expires_at"],
        Value::Null,
        "no expiry asked: {created}"
    );
    let created_at = timestamp(&created, "created_at");
    assert!((OffsetDateTime::now_utc() - created_at).abs() < time::Duration::seconds(30));

    let listed = list(&server, &access_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        sorted_keys(&listed[0]),
        [
            "created_at",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "scopes"
        ],
        "no secret in the list: {}",
        listed[0]
    );
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "backup script");
    assert_eq!(listed[0]["scopes"], json!(["books:download"]));
    assert_eq!(listed[0]["created_at"], created["created_at"]);
    assert_eq!(listed[0]["last_used_at"], Value::Null, "never used yet");
    let second = new_pat(&server, &access_token, "second", &[]).await;
    assert_ne!(second["token"], created["token"]);
    assert_eq!(second["scopes"], json!([]));
    assert_eq!(list(&server, &access_token).await.len(), 2);
}

#[tokio::test]
async fn an_expiry_in_days_sets_expires_at() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    for days in [1, 30, 3650] {
        let reply = create(
            &server,
            &access_token,
            &json!({ "name": format!("{days} days"), "scopes": [], "expires_in_days": days }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let created = reply.json();
        let lifetime = timestamp(&created, "expires_at") - timestamp(&created, "created_at");
        assert_eq!(lifetime, time::Duration::days(days), "{created}");
        let token = text(&created, "token");
        assert_eq!(status_of_me(&server, &token).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn invalid_requests_are_422_naming_the_field() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    for (body, field) in [
        (json!({ "name": "x", "scopes": ["admin:users"] }), "scopes"),
        (
            json!({ "name": "x", "scopes": ["books:download", "comments:write"] }),
            "scopes",
        ),
        (
            json!({ "name": "x", "scopes": ["tokens:introspect"] }),
            "scopes",
        ),
        (
            json!({ "name": "x", "scopes": [], "expires_in_days": 0 }),
            "expires_in_days",
        ),
        (
            json!({ "name": "x", "scopes": [], "expires_in_days": 5000 }),
            "expires_in_days",
        ),
        (
            json!({ "name": "x", "scopes": [], "expires_in_days": -1 }),
            "expires_in_days",
        ),
        (json!({ "name": "", "scopes": [] }), "name"),
        (json!({ "name": "   ", "scopes": [] }), "name"),
        (json!({ "name": "x".repeat(101), "scopes": [] }), "name"),
        (json!({ "scopes": [] }), "name"),
    ] {
        let reply = create(&server, &access_token, &body).await;
        check_field_error(&reply, field, &body.to_string());
    }
    assert!(
        list(&server, &access_token).await.is_empty(),
        "nothing was made"
    );
}

#[tokio::test]
async fn last_used_at_is_recorded_within_seconds_of_a_use() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let created = new_pat(&server, &access_token, "script", &["books:download"]).await;
    let pat = text(&created, "token");
    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();

    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);

    let store = server.database().store().await;
    let id = PersonalToken::parse(&pat).unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(8);
    let stored = loop {
        let record = store.personal_token(id).await.unwrap().expect("stored");
        if let Some(at) = record.last_used_at {
            break at;
        }
        assert!(
            Instant::now() < deadline,
            "the use was not written within 8 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(stored >= before, "{stored} before {before}");
    let listed = list(&server, &access_token).await;
    let last_used_at = timestamp(&listed[0], "last_used_at");
    assert!(last_used_at >= before, "{}", listed[0]);
    assert!(
        last_used_at >= timestamp(&listed[0], "created_at"),
        "{}",
        listed[0]
    );
}

#[tokio::test]
async fn a_pat_works_wherever_an_access_token_works() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access_token, "script", &["books:download"]).await,
        "token",
    );
    let me = server.get_authorized("/me", &access_token).await;
    let me: Value = me.json().await.unwrap();

    for authorization in [
        format!("Bearer {pat}"),
        format!("bearer {pat}"),
        pat.clone(),
    ] {
        let send = |path: &str| {
            read(
                server
                    .client
                    .get(server.url(path))
                    .header("authorization", &authorization),
            )
        };
        let case = &authorization[..10];
        let reply = send("/me").await;
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
        assert_eq!(reply.json()["id"], me["id"], "{case}");
        assert_eq!(reply.json()["email"], "carol@example.com", "{case}");
        let reply = send("/me/sessions").await;
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
        let sessions = reply.json();
        assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
        let reply = send("/auth/verify?permission=books:download").await;
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
        assert_eq!(reply.header("x-auth-user-id"), me["id"].as_str().unwrap());
        assert_eq!(reply.header("x-auth-email"), "carol@example.com");
        assert_eq!(reply.header("x-auth-roles"), "customer");
        assert_eq!(reply.header("x-auth-scope"), "books:download");
        let reply = send("/auth/verify").await;
        assert_eq!(reply.status, StatusCode::OK, "{case}");
        let reply = send("/auth/verify?permission=comments:write").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{case}");
    }
}

#[tokio::test]
async fn a_pat_without_a_scope_cannot_pass_a_permission_check() {
    let (server, tokens) = with_customer().await;
    let pat = text(
        &new_pat(&server, &text(&tokens, "access_token"), "read-only", &[]).await,
        "token",
    );
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    let reply = read(
        server
            .client
            .get(server.url("/auth/verify?permission=books:download"))
            .bearer_auth(&pat),
    )
    .await;
    check_problem(&reply, StatusCode::FORBIDDEN, "a PAT without the scope");
}

#[tokio::test]
async fn a_pat_cannot_manage_pats_change_the_password_delete_the_account_or_log_out() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let created = new_pat(&server, &access_token, "script", &["books:download"]).await;
    let pat = text(&created, "token");
    let id = text(&created, "id");

    for (method, path, body) in [
        (
            Method::POST,
            "/me/tokens".to_owned(),
            Some(json!({ "name": "child", "scopes": [] })),
        ),
        (Method::GET, "/me/tokens".to_owned(), None),
        (Method::DELETE, format!("/me/tokens/{id}"), None),
        (
            Method::PUT,
            "/me/password".to_owned(),
            Some(json!({
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase for carol",
            })),
        ),
        (
            Method::DELETE,
            "/me".to_owned(),
            Some(json!({ "current_password": PASSWORD })),
        ),
        (Method::POST, "/logout".to_owned(), None),
    ] {
        let case = format!("{method} {path} with a PAT");
        let reply = call(&server, method, &path, &pat, body.as_ref()).await;
        check_problem(&reply, StatusCode::FORBIDDEN, &case);
    }

    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    assert_eq!(status_of_me(&server, &access_token).await, StatusCode::OK);
    let listed = list(&server, &access_token).await;
    assert_eq!(listed.len(), 1, "no PAT made, none deleted: {listed:?}");
    server.login("carol@example.com", PASSWORD).await;
}

#[tokio::test]
async fn deleting_a_pat_stops_it_at_once() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let doomed = new_pat(&server, &access_token, "doomed", &["books:download"]).await;
    let kept = new_pat(&server, &access_token, "kept", &["books:download"]).await;
    let pat = text(&doomed, "token");
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    let path = format!("/me/tokens/{}", text(&doomed, "id"));

    let reply = call(&server, Method::DELETE, &path, &access_token, None).await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let me = read(server.client.get(server.url("/me")).bearer_auth(&pat)).await;
    check_refused(&me, "a deleted PAT");
    let listed = list(&server, &access_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], kept["id"]);
    assert_eq!(
        status_of_me(&server, &text(&kept, "token")).await,
        StatusCode::OK
    );
    let again = call(&server, Method::DELETE, &path, &access_token, None).await;
    check_problem(&again, StatusCode::NOT_FOUND, "deleting it again");
}

#[tokio::test]
async fn a_pat_with_a_typo_or_made_up_is_401() {
    let (server, tokens) = with_customer().await;
    let pat = text(
        &new_pat(&server, &text(&tokens, "access_token"), "script", &[]).await,
        "token",
    );
    let mut typos = Vec::new();
    for at in [4, 30, 50, 60, 72] {
        let mut bytes = pat.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        typos.push(String::from_utf8(bytes).unwrap());
    }
    let made_up = format!("pat_{}", "A".repeat(70));
    let shortened = pat[..pat.len() - 1].to_owned();
    let longer = format!("{pat}A");

    for bad in typos.iter().chain([&made_up, &shortened, &longer]) {
        let reply = read(server.client.get(server.url("/me")).bearer_auth(bad)).await;
        check_refused(&reply, bad);
        let verify = read(
            server
                .client
                .get(server.url("/auth/verify"))
                .bearer_auth(bad),
        )
        .await;
        check_refused(&verify, bad);
    }
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
}

#[tokio::test]
async fn the_pat_of_a_deleted_account_is_401() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access_token, "script", &["books:download"]).await,
        "token",
    );

    let reply = call(
        &server,
        Method::DELETE,
        "/me",
        &access_token,
        Some(&json!({ "current_password": PASSWORD })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    let me = read(server.client.get(server.url("/me")).bearer_auth(&pat)).await;
    check_refused(&me, "the PAT of a deleted account");
    let verify = read(
        server
            .client
            .get(server.url("/auth/verify"))
            .bearer_auth(&pat),
    )
    .await;
    check_refused(&verify, "forward-auth with the PAT of a deleted account");
}

#[tokio::test]
async fn revoking_a_pat_at_the_revocation_endpoint_deletes_it() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access_token, "script", &["books:download"]).await,
        "token",
    );

    let reply = read(
        server
            .client
            .post(server.url("/token/revoke"))
            .json(&json!({ "token": pat })),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let me = read(server.client.get(server.url("/me")).bearer_auth(&pat)).await;
    check_refused(&me, "a revoked PAT");
    assert!(list(&server, &access_token).await.is_empty());
    assert_eq!(
        status_of_me(&server, &access_token).await,
        StatusCode::OK,
        "revoking the PAT leaves the session alone"
    );
}

/// Every file of the SQLite database (the main file, its WAL and shared
/// memory); `None` on PostgreSQL, where there is no file to look at.
fn database_bytes(server: &TestServer) -> Option<Vec<(String, Vec<u8>)>> {
    let database = server.database().sqlite_file()?;
    let name = database.file_name().unwrap().to_str().unwrap().to_owned();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(database.parent().unwrap()).unwrap() {
        let entry = entry.unwrap();
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&name) {
            files.push((file, std::fs::read(entry.path()).unwrap()));
        }
    }
    assert!(files.iter().any(|(file, _)| *file == name), "{files:?}");
    Some(files)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[track_caller]
fn assert_secret_not_stored(server: &TestServer, pat: &str, case: &str) {
    let encoded = pat.strip_prefix("pat_").unwrap();
    let payload = URL_SAFE_NO_PAD.decode(encoded).unwrap();
    let secret = &payload[16..48];
    let id = PersonalToken::parse(pat).unwrap().id.to_string();
    // On PostgreSQL there is no file to scan; the schema is the same.
    let Some(files) = database_bytes(server) else {
        return;
    };
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, id.as_bytes())),
        "{case}: the token's record is in none of the files read"
    );
    for (file, bytes) in files {
        assert!(
            !contains(&bytes, encoded.as_bytes()),
            "{case}: the token is in {file}"
        );
        assert!(
            !contains(&bytes, secret),
            "{case}: the raw secret is in {file}"
        );
    }
}

#[tokio::test]
async fn pats_survive_a_restart_and_only_a_hash_is_stored() {
    let (server, tokens) = with_customer().await;
    let access_token = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access_token, "script", &["books:download"]).await,
        "token",
    );
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    assert_secret_not_stored(&server, &pat, "while running");

    let server = server.kill_and_restart().await;

    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    let verify = server
        .get_authorized("/auth/verify?permission=books:download", &pat)
        .await;
    assert_eq!(verify.status(), StatusCode::OK);
    let listed = list(&server, &access_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_secret_not_stored(&server, &pat, "after a restart");
}

#[tokio::test]
async fn another_users_pats_and_sessions_are_404_like_ones_that_do_not_exist() {
    let (server, tokens) = with_customer().await;
    let carol = text(&tokens, "access_token");
    let carols_pat = new_pat(&server, &carol, "carol's", &["books:download"]).await;
    let mallory = server.user_with_tokens("mallory@example.com").await;
    let mallory_token = text(&mallory, "access_token");
    let carols_session = session_id(&tokens);

    #[track_caller]
    fn check_same(reply: &Reply, nobody: &Reply, case: &str) {
        check_problem(reply, StatusCode::NOT_FOUND, case);
        assert_eq!(reply.status, nobody.status, "{case}");
        assert_eq!(reply.text(), nobody.text(), "{case}");
        assert_eq!(
            reply.header("content-type"),
            nobody.header("content-type"),
            "{case}"
        );
    }

    for (collection, carols_id) in [
        ("/me/tokens", text(&carols_pat, "id")),
        ("/me/sessions", carols_session.clone()),
    ] {
        let mut replies = Vec::new();
        for id in [NOBODY, "not-a-uuid", &carols_id] {
            let path = format!("{collection}/{id}");
            replies.push(call(&server, Method::DELETE, &path, &mallory_token, None).await);
        }
        check_problem(
            &replies[0],
            StatusCode::NOT_FOUND,
            "an id that does not exist",
        );
        check_same(
            &replies[1],
            &replies[0],
            &format!("{collection}: not a UUID"),
        );
        check_same(
            &replies[2],
            &replies[0],
            &format!("{collection}: Carol's id"),
        );
    }

    assert!(list(&server, &mallory_token).await.is_empty());
    let sessions = server.get_authorized("/me/sessions", &mallory_token).await;
    let sessions: Vec<Value> = sessions.json().await.unwrap();
    assert!(
        sessions
            .iter()
            .all(|session| session["id"] != carols_session.as_str()),
        "{sessions:?}"
    );
    assert_eq!(
        status_of_me(&server, &text(&carols_pat, "token")).await,
        StatusCode::OK,
        "Carol's PAT survived"
    );
    assert_eq!(status_of_me(&server, &carol).await, StatusCode::OK);
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "Carol's session survived"
    );
    assert_eq!(list(&server, &carol).await.len(), 1);
}

/// Issue 10, finding 6: a password change ends the other sessions; the
/// personal access tokens end too when asked (`revoke_tokens`), and only then.
#[tokio::test]
async fn a_password_change_revokes_the_pats_when_asked() {
    let (server, tokens) = with_customer().await;
    let access = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access, "ci", &["books:download"]).await,
        "token",
    );
    let new_password = "an entirely new passphrase";

    let change = |current: &'static str, new: &'static str, revoke: Option<bool>| {
        let mut body = json!({ "current_password": current, "new_password": new });
        if let Some(revoke) = revoke {
            body["revoke_tokens"] = revoke.into();
        }
        body
    };
    let kept = call(
        &server,
        Method::PUT,
        "/me/password",
        &access,
        Some(&change(PASSWORD, new_password, None)),
    )
    .await;
    assert_eq!(kept.status, StatusCode::NO_CONTENT, "{}", kept.text());
    assert_eq!(
        status_of_me(&server, &pat).await,
        StatusCode::OK,
        "kept by default"
    );

    let revoked = call(
        &server,
        Method::PUT,
        "/me/password",
        &access,
        Some(&change(new_password, PASSWORD, Some(true))),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text());
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status_of_me(&server, &access).await,
        StatusCode::OK,
        "the caller's session stays"
    );
}

/// Issue 10, finding 6: `portcullis user passwd --revoke-tokens` ends the
/// personal access tokens as well as the sessions; without it they stay.
#[tokio::test]
async fn user_passwd_revokes_the_pats_with_revoke_tokens() {
    let (server, tokens) = with_customer().await;
    let access = text(&tokens, "access_token");
    let pat = text(
        &new_pat(&server, &access, "ci", &["books:download"]).await,
        "token",
    );
    let passwd = |extra: &[&str]| {
        let args = [
            &[
                "user",
                "passwd",
                "--email",
                "carol@example.com",
                "--password-stdin",
            ],
            extra,
        ]
        .concat();
        let output = server.cli(&args, Some("an entirely new passphrase\n"));
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(
        passwd(&[]).contains("--revoke-tokens"),
        "it says how to end them"
    );
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::OK);
    assert!(passwd(&["--revoke-tokens"]).contains("personal access tokens are revoked"));
    assert_eq!(status_of_me(&server, &pat).await, StatusCode::UNAUTHORIZED);
}
