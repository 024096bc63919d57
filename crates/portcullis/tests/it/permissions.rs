//! Roles and permissions: a role is a named set of permission strings, a
//! user holds the union over their roles, and the built-in `admin` holds
//! every permission.
//!
//! `GET /me` must show a role change at once; an access token carries the
//! permissions it was issued with (`scope`) until the next token, and a
//! personal access token loses a permission the moment its owner does.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, assert_oauth_error, check_problem, jwt_claims, read, text,
};

/// The server with two roles and one user holding both.
async fn customer_and_commenter() -> TestServer {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    server.set_role("commenter", &["comments:write"]);
    server.add_user("carol@example.com", &["customer", "commenter"]);
    server
}

/// An administrator's token response.
async fn admin_tokens(server: &TestServer) -> Value {
    server.add_user("admin@example.com", &["admin"]);
    server.login("admin@example.com", PASSWORD).await
}

/// `GET /me`; asserts `200`.
async fn me(server: &TestServer, token: &str) -> Value {
    let response = server.get_authorized("/me", token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /me");
    response.json().await.unwrap()
}

/// The status of `GET /auth/verify?permission=PERMISSION` with `token`.
async fn verify(server: &TestServer, token: &str, permission: &str) -> StatusCode {
    server
        .get_authorized(&format!("/auth/verify?permission={permission}"), token)
        .await
        .status()
}

/// `PUT /roles/{name}` by `admin_token`; asserts `200`.
async fn put_role(server: &TestServer, admin_token: &str, name: &str, permissions: &[&str]) {
    let reply = read(
        server
            .client
            .put(server.url(&format!("/roles/{name}")))
            .bearer_auth(admin_token)
            .json(&json!({ "permissions": permissions })),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "PUT /roles/{name}: {}",
        reply.text()
    );
}

/// The space-separated `scope` of a token response, checked against its access token.
#[track_caller]
fn scope_of(tokens: &Value) -> String {
    let scope = text(tokens, "scope");
    let claims = jwt_claims(&text(tokens, "access_token"));
    assert_eq!(
        claims["scope"],
        scope.as_str(),
        "the claim and the response agree"
    );
    scope
}

#[tokio::test]
async fn permissions_are_the_sorted_union_over_the_roles() {
    let server = customer_and_commenter().await;

    let tokens = server.login("carol@example.com", PASSWORD).await;

    let user = me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(
        user["permissions"],
        json!(["books:download", "comments:write"]),
        "{user}"
    );
    let mut roles: Vec<String> = serde_json::from_value(user["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, ["commenter", "customer"], "{user}");
    assert_eq!(scope_of(&tokens), "books:download comments:write");
    let claims = jwt_claims(&text(&tokens, "access_token"));
    let mut claimed_roles: Vec<String> = serde_json::from_value(claims["roles"].clone()).unwrap();
    claimed_roles.sort();
    assert_eq!(claimed_roles, ["commenter", "customer"], "{claims}");
}

#[tokio::test]
async fn a_user_without_roles_has_no_permissions() {
    let server = customer_and_commenter().await;

    let tokens = server.user_with_tokens("dave@example.com").await;

    let user = me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(user["permissions"], json!([]), "{user}");
    assert_eq!(scope_of(&tokens), "");
    assert_eq!(
        verify(&server, &text(&tokens, "access_token"), "books:download").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_admin_holds_every_permission_of_every_role() {
    let server = customer_and_commenter().await;
    server.set_role("doctor", &["records:read", "books:download"]);

    let tokens = admin_tokens(&server).await;

    let scope = scope_of(&tokens);
    let granted: Vec<&str> = scope.split(' ').collect();
    for permission in [
        "admin:clients",
        "admin:roles",
        "admin:users",
        "books:download",
        "comments:write",
        "records:read",
        "tokens:introspect",
    ] {
        assert!(
            granted.contains(&permission),
            "{permission} not in {scope:?}"
        );
    }
    let user = me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(
        user["permissions"],
        json!([
            "admin:clients",
            "admin:roles",
            "admin:users",
            "books:download",
            "comments:write",
            "records:read",
            "tokens:introspect"
        ]),
        "{user}"
    );

    let access_token = text(&tokens, "access_token");
    put_role(&server, &access_token, "editor", &["books:edit"]).await;
    let next = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next: Value = next.json().await.unwrap();
    assert!(
        scope_of(&next).split(' ').any(|p| p == "books:edit"),
        "a permission of a new role belongs to the admin's next token: {next}"
    );
}

#[tokio::test]
async fn a_requested_scope_narrows_the_token_and_its_refreshes() {
    let server = customer_and_commenter().await;

    let response = server
        .token(json!({
            "grant_type": "password",
            "username": "carol@example.com",
            "password": PASSWORD,
            "scope": "books:download",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();

    assert_eq!(scope_of(&tokens), "books:download");
    let access_token = text(&tokens, "access_token");
    assert_eq!(
        verify(&server, &access_token, "books:download").await,
        StatusCode::OK
    );
    assert_eq!(
        verify(&server, &access_token, "comments:write").await,
        StatusCode::FORBIDDEN
    );
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(
        scope_of(&refreshed),
        "books:download",
        "a refresh without scope keeps the scope first granted (RFC 6749 §6)"
    );
}

#[tokio::test]
async fn asking_for_more_than_the_user_holds_is_invalid_scope() {
    let server = customer_and_commenter().await;
    for scope in ["admin:users", "books:download admin:users", "nonsense"] {
        let response = server
            .token(json!({
                "grant_type": "password",
                "username": "carol@example.com",
                "password": PASSWORD,
                "scope": scope,
            }))
            .await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
    }
    let tokens = server.login("carol@example.com", PASSWORD).await;
    let refreshed = server
        .token(json!({
            "grant_type": "refresh_token",
            "refresh_token": text(&tokens, "refresh_token"),
            "scope": "admin:users",
        }))
        .await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_scope").await;
}

#[tokio::test]
async fn a_role_change_by_an_admin_shows_in_me_at_once_and_in_the_next_token_only() {
    let server = customer_and_commenter().await;
    let admin = text(&admin_tokens(&server).await, "access_token");
    let tokens = server.login("carol@example.com", PASSWORD).await;
    let old_access_token = text(&tokens, "access_token");

    put_role(
        &server,
        &admin,
        "customer",
        &["books:download", "books:review"],
    )
    .await;

    let user = me(&server, &old_access_token).await;
    assert_eq!(
        user["permissions"],
        json!(["books:download", "books:review", "comments:write"]),
        "GET /me shows the change at once: {user}"
    );
    assert_eq!(
        verify(&server, &old_access_token, "books:review").await,
        StatusCode::FORBIDDEN,
        "an access token already issued keeps its scope"
    );
    assert_eq!(scope_of(&tokens), "books:download comments:write");
    let next = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next: Value = next.json().await.unwrap();
    assert_eq!(
        scope_of(&next),
        "books:download books:review comments:write"
    );
    assert_eq!(
        verify(&server, &text(&next, "access_token"), "books:review").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_role_change_on_the_command_line_shows_in_me_and_the_next_token() {
    let server = customer_and_commenter().await;
    let tokens = server.login("carol@example.com", PASSWORD).await;

    server.set_role("commenter", &["comments:delete", "comments:write"]);

    let user = me(&server, &text(&tokens, "access_token")).await;
    assert_eq!(
        user["permissions"],
        json!(["books:download", "comments:delete", "comments:write"]),
        "{user}"
    );
    let next = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next: Value = next.json().await.unwrap();
    assert_eq!(
        scope_of(&next),
        "books:download comments:delete comments:write"
    );

    server.set_role("commenter", &["comments:read"]);
    let user = me(&server, &text(&next, "access_token")).await;
    assert_eq!(
        user["permissions"],
        json!(["books:download", "comments:read"]),
        "{user}"
    );
    let last = server.refresh(&text(&next, "refresh_token")).await;
    assert_eq!(last.status(), StatusCode::OK);
    let last: Value = last.json().await.unwrap();
    assert_eq!(
        scope_of(&last),
        "books:download comments:read",
        "a permission taken away is gone from the next token"
    );
}

#[tokio::test]
async fn a_permission_taken_from_a_role_stops_working_in_every_personal_token() {
    let server = customer_and_commenter().await;
    let admin = text(&admin_tokens(&server).await, "access_token");
    let tokens = server.login("carol@example.com", PASSWORD).await;
    let created = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(text(&tokens, "access_token"))
            .json(&json!({ "name": "downloader", "scopes": ["books:download"] })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let pat = text(&created.json(), "token");
    assert_eq!(
        verify(&server, &pat, "books:download").await,
        StatusCode::OK
    );

    put_role(&server, &admin, "customer", &[]).await;

    let refused = read(
        server
            .client
            .get(server.url("/auth/verify?permission=books:download"))
            .bearer_auth(&pat),
    )
    .await;
    check_insufficient_scope(&refused, "books:download");
    assert_eq!(
        server.get_authorized("/me", &pat).await.status(),
        StatusCode::OK,
        "the token itself still works"
    );

    put_role(&server, &admin, "customer", &["books:download"]).await;
    assert_eq!(
        verify(&server, &pat, "books:download").await,
        StatusCode::OK,
        "the permission given back works again within the token's scopes"
    );
}

#[tokio::test]
async fn a_personal_token_never_gains_a_permission_outside_its_scopes() {
    let server = customer_and_commenter().await;
    let tokens = server.login("carol@example.com", PASSWORD).await;
    let created = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(text(&tokens, "access_token"))
            .json(&json!({ "name": "downloader", "scopes": ["books:download"] })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let pat = text(&created.json(), "token");

    server.set_role("customer", &["books:download", "books:review"]);

    assert_eq!(
        verify(&server, &pat, "books:review").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        verify(&server, &pat, "comments:write").await,
        StatusCode::FORBIDDEN
    );
}

/// A `403` problem for a missing permission, with the RFC 6750 challenge naming it.
#[track_caller]
fn check_insufficient_scope(reply: &Reply, permission: &str) {
    check_problem(reply, StatusCode::FORBIDDEN, permission);
    assert_eq!(
        reply.header("www-authenticate"),
        format!(r#"Bearer realm="portcullis", error="insufficient_scope", scope="{permission}""#)
    );
}
