//! `GET /auth/verify`: forward-auth for nginx `auth_request`, Traefik
//! ForwardAuth and Caddy `forward_auth`.
//!
//! The proxy lets a request through only on `200`, and passes the `X-Auth-*`
//! headers of that answer to the API as the caller's identity. So a `200`
//! must never be given to a refused, revoked or undecidable credential, and
//! the identity must never come from the request itself.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, check_problem, read, text, with_signature_changed,
};

const IDENTITY_HEADERS: [&str; 4] = [
    "x-auth-user-id",
    "x-auth-email",
    "x-auth-roles",
    "x-auth-scope",
];

/// `GET /auth/verify{query}` with `Authorization: {authorization}` (when
/// given), and a forged identity the answer must never repeat.
async fn verify(server: &TestServer, query: &str, authorization: Option<&str>) -> Reply {
    let mut request = server
        .client
        .get(server.url(&format!("/auth/verify{query}")))
        .header("x-auth-user-id", "someone-else")
        .header("x-auth-email", "forged@example.com")
        .header("x-auth-roles", "admin")
        .header("x-auth-scope", "admin:users");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    read(request).await
}

async fn verify_bearer(server: &TestServer, query: &str, token: &str) -> Reply {
    verify(server, query, Some(&format!("Bearer {token}"))).await
}

/// Asserts an answer without any `X-Auth-*` header.
#[track_caller]
fn check_no_identity(reply: &Reply, case: &str) {
    for name in IDENTITY_HEADERS {
        assert!(
            reply.headers.get(name).is_none(),
            "{case}: {name} must not be sent with {}",
            reply.status
        );
    }
}

/// Asserts `401` with an `invalid_token` challenge and no identity.
#[track_caller]
fn check_refused(reply: &Reply, case: &str) {
    check_problem(reply, StatusCode::UNAUTHORIZED, case);
    check_no_identity(reply, case);
    let challenge = reply.header("www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer realm="portcullis""#)
            && challenge.contains(r#"error="invalid_token""#),
        "{case}: {challenge}"
    );
}

/// Asserts `200` with exactly one value of each identity header.
#[track_caller]
fn check_let_through(reply: &Reply, user_id: &str, email: &str, roles: &[&str], scope: &[&str]) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    for name in IDENTITY_HEADERS {
        assert_eq!(
            reply.headers.get_all(name).iter().count(),
            1,
            "exactly one {name}"
        );
    }
    assert_eq!(reply.header("x-auth-user-id"), user_id);
    assert_eq!(reply.header("x-auth-email"), email);
    assert_eq!(sorted(reply.header("x-auth-roles"), ','), roles);
    assert_eq!(sorted(reply.header("x-auth-scope"), ' '), scope);
    assert_eq!(reply.header("cache-control"), "no-store");
}

fn sorted(list: &str, separator: char) -> Vec<&str> {
    let mut items: Vec<&str> = list.split(separator).filter(|s| !s.is_empty()).collect();
    items.sort_unstable();
    items
}

/// A server with `ada@example.com` holding roles `customer` (`books:download`)
/// and `reader` (`books:read`); returns it with her id and a token response.
async fn server_with_ada() -> (TestServer, String, Value) {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    server.set_role("reader", &["books:read"]);
    let ada = server.add_user("ada@example.com", &["customer", "reader"]);
    let tokens = server.login("ada@example.com", PASSWORD).await;
    (server, ada, tokens)
}

async fn create_personal_token(server: &TestServer, access_token: &str, scopes: &[&str]) -> String {
    let reply = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(access_token)
            .json(&json!({ "name": "forward-auth test", "scopes": scopes })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    text(&reply.json(), "token")
}

#[tokio::test]
async fn a_valid_token_gets_200_with_the_real_identity_never_the_forged_one() {
    let (server, ada, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    let reply = verify_bearer(&server, "", &access).await;
    check_let_through(
        &reply,
        &ada,
        "ada@example.com",
        &["customer", "reader"],
        &["books:download", "books:read"],
    );
    assert_eq!(
        reply.header("x-auth-user-id"),
        text(&crate::helpers::jwt_claims(&access), "sub")
    );
    assert!(reply.bytes.is_empty(), "no body on success");

    let reply = verify(&server, "", Some(&format!("bearer {access}"))).await;
    check_let_through(
        &reply,
        &ada,
        "ada@example.com",
        &["customer", "reader"],
        &["books:download", "books:read"],
    );
}

#[tokio::test]
async fn a_permission_is_checked_when_asked_for() {
    let (server, ada, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    for query in ["?permission=books:download", "?permission=books%3Aread"] {
        let reply = verify_bearer(&server, query, &access).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
        assert_eq!(reply.header("x-auth-user-id"), ada, "{query}");
    }
    for (query, needed) in [
        ("?permission=admin:users", "admin:users"),
        ("?permission=books:delete", "books:delete"),
        ("?permission=books", "books"),
    ] {
        let reply = verify_bearer(&server, query, &access).await;
        check_problem(&reply, StatusCode::FORBIDDEN, query);
        check_no_identity(&reply, query);
        let challenge = reply.header("www-authenticate");
        assert!(
            challenge.starts_with(r#"Bearer realm="portcullis""#)
                && challenge.contains(r#"error="insufficient_scope""#)
                && challenge.contains(&format!(r#"scope="{needed}""#)),
            "{query}: {challenge}"
        );
    }
}

#[tokio::test]
async fn refused_credentials_get_401_and_no_identity() {
    let (server, _, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    let logged_out = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        server.logout(&logged_out).await.status(),
        StatusCode::NO_CONTENT
    );
    let other_server = TestServer::spawn().await;
    let foreign = text(
        &other_server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let deleted_pat = {
        let pat = create_personal_token(&server, &access, &[]).await;
        let list: Value = server
            .get_authorized("/me/tokens", &access)
            .await
            .json()
            .await
            .unwrap();
        let id = text(&list[0], "id");
        let deleted = server
            .client
            .delete(server.url(&format!("/me/tokens/{id}")))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        pat
    };

    let reply = verify(&server, "", None).await;
    check_problem(&reply, StatusCode::UNAUTHORIZED, "no credential");
    check_no_identity(&reply, "no credential");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="portcullis""#
    );
    let reply = verify(&server, "?permission=books:download", None).await;
    check_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        "no credential, a permission",
    );
    check_no_identity(&reply, "no credential, a permission");

    for (case, authorization) in [
        ("garbage", "Bearer not-a-token".to_owned()),
        ("a logged-out session", format!("Bearer {logged_out}")),
        (
            "a changed signature",
            format!("Bearer {}", with_signature_changed(&access, 5, 0x10)),
        ),
        ("another server's token", format!("Bearer {foreign}")),
        ("a deleted PAT", format!("Bearer {deleted_pat}")),
        (
            "an unknown PAT",
            "Bearer pat_0000000000000000000000".to_owned(),
        ),
        (
            "the refresh token",
            format!("Bearer {}", text(&tokens, "refresh_token")),
        ),
        ("the Basic scheme", "Basic YWRhOnBhc3N3b3Jk".to_owned()),
    ] {
        check_refused(&verify(&server, "", Some(&authorization)).await, case);
        check_refused(
            &verify(&server, "?permission=books:download", Some(&authorization)).await,
            &format!("{case}, with a permission"),
        );
    }
    // The live session still passes, for contrast.
    assert_eq!(
        verify_bearer(&server, "", &access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn personal_access_tokens_work_within_their_scopes() {
    let (server, ada, tokens) = server_with_ada().await;
    let pat =
        create_personal_token(&server, &text(&tokens, "access_token"), &["books:download"]).await;
    let reply = verify_bearer(&server, "", &pat).await;
    check_let_through(
        &reply,
        &ada,
        "ada@example.com",
        &["customer", "reader"],
        &["books:download"],
    );
    let reply = verify_bearer(&server, "?permission=books:download", &pat).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // Ada holds books:read, but this PAT was not given it.
    let reply = verify_bearer(&server, "?permission=books:read", &pat).await;
    check_problem(&reply, StatusCode::FORBIDDEN, "outside the PAT's scopes");
    check_no_identity(&reply, "outside the PAT's scopes");
}

#[tokio::test]
async fn a_disabled_users_tokens_are_refused_at_once() {
    let (server, _, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    let pat = create_personal_token(&server, &access, &["books:download"]).await;
    assert_eq!(
        verify_bearer(&server, "", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(
        verify_bearer(&server, "", &pat).await.status,
        StatusCode::OK
    );
    let output = server.cli(&["user", "disable", "--email", "ada@example.com"], None);
    crate::helpers::assert_exit(&output, 0, "user disable");
    for (case, token) in [("access token", &access), ("PAT", &pat)] {
        check_refused(&verify_bearer(&server, "", token).await, case);
    }
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let server = TestServer::spawn().await;
    let access = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    assert_eq!(
        verify_bearer(&server, "", &access).await.status,
        StatusCode::OK
    );
    server.advance_clock(time::Duration::minutes(15) + time::Duration::seconds(2));
    check_refused(&verify_bearer(&server, "", &access).await, "expired");
}

#[tokio::test]
async fn a_malformed_query_is_a_problem_and_never_200() {
    let (server, _, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    for query in [
        "?permission=admin:users&permission=books:download",
        // Both held: a repeated permission is still not a question to guess at.
        "?permission=books:download&permission=books:read",
        "?permission=books:download&permission=books:download",
        "?permission=%FF%FE",
        // A misspelt parameter must never pass as "no permission asked",
        // so no unknown parameter is ignored.
        "?permisson=admin:users",
        "?permission=books:read&other=ignored",
    ] {
        let reply = verify_bearer(&server, query, &access).await;
        assert!(
            reply.status.is_client_error(),
            "{query}: {} {}",
            reply.status,
            reply.text()
        );
        check_problem(&reply, reply.status, query);
        check_no_identity(&reply, query);
    }
    // An empty permission is a permission nobody holds, not "no permission".
    let reply = verify_bearer(&server, "?permission=", &access).await;
    assert!(
        reply.status.is_client_error(),
        "?permission=: {} {}",
        reply.status,
        reply.text()
    );
    check_no_identity(&reply, "?permission=");
}

/// Overwrites `path` with zeros of the same length, in place: the server's
/// open file descriptors (and its mapping of the `-shm` file) see it at once.
fn zero_in_place(path: &std::path::Path) {
    if let Ok(metadata) = std::fs::metadata(path) {
        let length = usize::try_from(metadata.len()).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &vec![0; length]))
            .unwrap_or_else(|error| panic!("zeroing {}: {error}", path.display()));
    }
}

/// SQLite holds its files open, so deleting them or changing permissions (we
/// may run as root) does not stop it reading. Zeroing the database, its
/// write-ahead log and its shared-memory index in place does: every read
/// then fails with "file is not a database". The account cache answers for
/// at most a second after its last successful read of the change feed, so
/// by a second and a half later every answer must be a 503.
#[tokio::test]
async fn an_unreadable_database_fails_closed_with_503() {
    let (server, _, tokens) = server_with_ada().await;
    let access = text(&tokens, "access_token");
    let pat = create_personal_token(&server, &access, &["books:download"]).await;
    assert_eq!(
        verify_bearer(&server, "", &access).await.status,
        StatusCode::OK
    );
    // PostgreSQL's outage is tested by `faults`, which stops the server.
    let Some(database) = server.database().sqlite_file() else {
        return;
    };
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        zero_in_place(std::path::Path::new(&path));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for (case, token, query) in [
        ("access token", &access, ""),
        (
            "access token, a permission",
            &access,
            "?permission=books:download",
        ),
        ("PAT", &pat, ""),
        ("PAT, a permission", &pat, "?permission=books:download"),
    ] {
        let reply = verify_bearer(&server, query, token).await;
        check_problem(&reply, StatusCode::SERVICE_UNAVAILABLE, case);
        check_no_identity(&reply, case);
    }
}
