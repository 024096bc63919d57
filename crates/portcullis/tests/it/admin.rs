//! The admin API: `/users` and `/roles`, guarded by `admin:users`.
//!
//! Only a credential holding `admin:users` may list, change or delete users
//! and roles; everyone else gets `403` with the RFC 6750 challenge naming the
//! permission, and no credential gets `401`. Disabling a user must end every
//! session and personal access token of theirs at once.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, assert_oauth_error, check_field_error, check_problem, read,
    sorted_keys, text,
};

const NOBODY: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

/// A server with an administrator; returns it with the admin's access token.
async fn with_admin() -> (TestServer, String) {
    let server = TestServer::spawn().await;
    let output = server.cli(
        &[
            "user",
            "add",
            "--email",
            "admin@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(output.status.success(), "user add: {output:?}");
    let tokens = server.login("admin@example.com", PASSWORD).await;
    let access_token = text(&tokens, "access_token");
    (server, access_token)
}

/// Sends `method path` with `token` (if any) and a JSON `body` (if any).
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = server.client.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    read(request).await
}

async fn get(server: &TestServer, path: &str, token: &str) -> Reply {
    call(server, Method::GET, path, Some(token), None).await
}

async fn patch_user(server: &TestServer, token: &str, id: &str, body: &Value) -> Reply {
    call(
        server,
        Method::PATCH,
        &format!("/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

/// `200` and the JSON body.
#[track_caller]
fn ok(reply: &Reply, case: &str) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
    reply.json()
}

/// A user as the admin API shows it: the user object plus `disabled`.
#[track_caller]
fn check_admin_view(user: &Value, email: &str, disabled: bool) {
    assert_eq!(
        sorted_keys(user),
        [
            "created_at",
            "disabled",
            "email",
            "email_verified",
            "id",
            "name",
            "roles"
        ],
        "{user}"
    );
    assert_eq!(user["email"], email, "{user}");
    assert_eq!(user["disabled"], disabled, "{user}");
}

/// The emails of every user, following `next_cursor` from the first page;
/// asserts that no page is larger than `limit` and no user comes twice.
async fn every_page(server: &TestServer, token: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(cursor) => format!("/users?limit={limit}&cursor={cursor}"),
            None => format!("/users?limit={limit}"),
        };
        let page = ok(&get(server, &path, token).await, &path);
        assert_eq!(sorted_keys(&page), ["items", "next_cursor"], "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "limit {limit}: {page}");
        for user in items {
            let email = text(user, "email");
            assert!(
                !seen.contains(&email),
                "{email} came twice with limit {limit}"
            );
            seen.push(email);
        }
        match &page["next_cursor"] {
            Value::Null => return seen,
            Value::String(next) => {
                assert!(!items.is_empty(), "a cursor after an empty page: {page}");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor {other}"),
        }
    }
    panic!("the pages never ended with limit {limit}")
}

/// A `422` problem; with `field`, one of its `errors` names it.
#[track_caller]
fn check_unprocessable(reply: &Reply, field: Option<&str>, body: &Value) {
    let case = body.to_string();
    match field {
        Some(field) => check_field_error(reply, field, &case),
        None => check_problem(reply, StatusCode::UNPROCESSABLE_ENTITY, &case),
    }
}

#[tokio::test]
async fn the_user_list_pages_through_every_user_exactly_once() {
    let (server, admin) = with_admin().await;
    for email in [
        "alice@example.com",
        "bob@example.org",
        "carol@example.com",
        "dave@example.net",
    ] {
        server.sign_up(email).await;
    }
    let everyone: BTreeSet<&str> = [
        "admin@example.com",
        "alice@example.com",
        "bob@example.org",
        "carol@example.com",
        "dave@example.net",
    ]
    .into();

    for limit in [1, 2, 3, 5, 200] {
        let seen = every_page(&server, &admin, limit).await;
        let seen: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        assert_eq!(seen, everyone, "limit {limit}");
    }
    let page = ok(&get(&server, "/users?limit=2", &admin).await, "limit 2");
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    let all = ok(&get(&server, "/users", &admin).await, "default limit");
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{all}");
    assert_eq!(all["next_cursor"], Value::Null, "{all}");
    for user in all["items"].as_array().unwrap() {
        check_admin_view(user, &text(user, "email"), false);
    }
}

#[tokio::test]
async fn the_email_filter_is_a_case_insensitive_substring() {
    let (server, admin) = with_admin().await;
    for email in ["alice@example.com", "bob@example.org", "alfred@example.org"] {
        server.sign_up(email).await;
    }

    #[track_caller]
    fn check(page: &Value, expected: &[&str], filter: &str) {
        let mut emails: Vec<String> = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{filter}: {page}"))
            .iter()
            .map(|user| text(user, "email"))
            .collect();
        emails.sort();
        assert_eq!(emails, expected, "email={filter}");
        assert_eq!(page["next_cursor"], Value::Null, "email={filter}: {page}");
    }

    for (filter, expected) in [
        (
            "example.org",
            &["alfred@example.org", "bob@example.org"][..],
        ),
        ("EXAMPLE.ORG", &["alfred@example.org", "bob@example.org"]),
        ("AL", &["alfred@example.org", "alice@example.com"]),
        ("bob@", &["bob@example.org"]),
        ("nobody", &[]),
    ] {
        let reply = get(&server, &format!("/users?email={filter}"), &admin).await;
        check(&ok(&reply, filter), expected, filter);
    }
    let reply = get(&server, "/users?email=example.org&limit=1", &admin).await;
    let first = ok(&reply, "filtered first page");
    let cursor = text(&first, "next_cursor");
    let reply = get(
        &server,
        &format!("/users?email=example.org&limit=1&cursor={cursor}"),
        &admin,
    )
    .await;
    let second = ok(&reply, "filtered second page");
    let mut both = vec![
        text(&first["items"][0], "email"),
        text(&second["items"][0], "email"),
    ];
    both.sort();
    assert_eq!(both, ["alfred@example.org", "bob@example.org"]);
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
}

#[tokio::test]
async fn a_bad_limit_is_422_and_a_bad_cursor_400() {
    let (server, admin) = with_admin().await;
    for limit in ["0", "201", "1000"] {
        let reply = get(&server, &format!("/users?limit={limit}"), &admin).await;
        check_field_error(&reply, "limit", &format!("limit={limit}"));
    }
    for cursor in ["not-a-cursor", "12345", "%00"] {
        let reply = get(&server, &format!("/users?cursor={cursor}"), &admin).await;
        check_problem(&reply, StatusCode::BAD_REQUEST, &format!("cursor={cursor}"));
    }
}

#[tokio::test]
async fn one_user_by_id_and_unknown_ids_are_404() {
    let (server, admin) = with_admin().await;
    let alice = server.sign_up("alice@example.com").await;
    let id = text(&alice, "id");

    let user = ok(&get(&server, &format!("/users/{id}"), &admin).await, "GET");
    check_admin_view(&user, "alice@example.com", false);
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["roles"], json!([]));
    assert_eq!(user["created_at"], alice["created_at"]);

    for unknown in [NOBODY, "not-a-uuid"] {
        let path = format!("/users/{unknown}");
        check_problem(
            &get(&server, &path, &admin).await,
            StatusCode::NOT_FOUND,
            &path,
        );
        let reply = patch_user(&server, &admin, unknown, &json!({ "name": "x" })).await;
        check_problem(&reply, StatusCode::NOT_FOUND, &path);
        let reply = call(&server, Method::DELETE, &path, Some(&admin), None).await;
        check_problem(&reply, StatusCode::NOT_FOUND, &path);
    }
}

#[tokio::test]
async fn changing_roles_shows_in_the_users_me_at_once() {
    let (server, admin) = with_admin().await;
    server.set_role("customer", &["books:download"]);
    let tokens = server.user_with_tokens("alice@example.com").await;
    let access_token = text(&tokens, "access_token");
    let me = ok(&get(&server, "/me", &access_token).await, "me");
    let id = text(&me, "id");

    let changed = ok(
        &patch_user(&server, &admin, &id, &json!({ "roles": ["customer"] })).await,
        "PATCH roles",
    );

    check_admin_view(&changed, "alice@example.com", false);
    assert_eq!(changed["roles"], json!(["customer"]));
    let me = ok(&get(&server, "/me", &access_token).await, "me after");
    assert_eq!(me["roles"], json!(["customer"]), "{me}");
    assert_eq!(me["permissions"], json!(["books:download"]), "{me}");
    let shown = ok(&get(&server, &format!("/users/{id}"), &admin).await, "GET");
    assert_eq!(shown["roles"], json!(["customer"]));

    ok(
        &patch_user(&server, &admin, &id, &json!({ "roles": [] })).await,
        "PATCH no roles",
    );
    let me = ok(&get(&server, "/me", &access_token).await, "me at last");
    assert_eq!(me["roles"], json!([]), "{me}");
    assert_eq!(me["permissions"], json!([]), "{me}");
}

#[tokio::test]
async fn disabling_ends_every_session_and_token_until_enabled_again() {
    let (server, admin) = with_admin().await;
    server.set_role("customer", &["books:download"]);
    let id = server.add_user("alice@example.com", &["customer"]);
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let access_token = text(&tokens, "access_token");
    let created = call(
        &server,
        Method::POST,
        "/me/tokens",
        Some(&access_token),
        Some(&json!({ "name": "script", "scopes": ["books:download"] })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let pat = text(&created.json(), "token");
    assert_eq!(get(&server, "/me", &pat).await.status, StatusCode::OK);

    let disabled = ok(
        &patch_user(&server, &admin, &id, &json!({ "disabled": true })).await,
        "disable",
    );

    check_admin_view(&disabled, "alice@example.com", true);
    let me = get(&server, "/me", &access_token).await;
    check_problem(&me, StatusCode::UNAUTHORIZED, "the access token, at once");
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    check_problem(
        &get(&server, "/me", &pat).await,
        StatusCode::UNAUTHORIZED,
        "the personal access token",
    );
    let login = server.password_grant("alice@example.com", PASSWORD).await;
    assert_oauth_error(login, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let shown = ok(&get(&server, &format!("/users/{id}"), &admin).await, "GET");
    check_admin_view(&shown, "alice@example.com", true);
    let listed = ok(&get(&server, "/users?email=alice", &admin).await, "list");
    assert_eq!(listed["items"][0]["disabled"], true, "{listed}");

    let enabled = ok(
        &patch_user(&server, &admin, &id, &json!({ "disabled": false })).await,
        "enable",
    );

    check_admin_view(&enabled, "alice@example.com", false);
    let tokens = server.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        get(&server, "/me", &text(&tokens, "access_token"))
            .await
            .status,
        StatusCode::OK
    );
    check_problem(
        &get(&server, "/me", &pat).await,
        StatusCode::UNAUTHORIZED,
        "a personal access token revoked by disabling stays revoked",
    );
}

#[tokio::test]
async fn patch_sets_and_clears_the_name_and_refuses_unknown_fields() {
    let (server, admin) = with_admin().await;
    let id = text(&server.sign_up("alice@example.com").await, "id");

    let named = ok(
        &patch_user(&server, &admin, &id, &json!({ "name": "Alice Liddell" })).await,
        "name",
    );
    assert_eq!(named["name"], "Alice Liddell");
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let me = ok(
        &get(&server, "/me", &text(&tokens, "access_token")).await,
        "me",
    );
    assert_eq!(me["name"], "Alice Liddell");
    let cleared = ok(
        &patch_user(&server, &admin, &id, &json!({ "name": null })).await,
        "clear",
    );
    assert_eq!(cleared["name"], Value::Null, "{cleared}");

    for (body, field) in [
        (json!({ "email": "eve@example.com" }), None),
        (json!({ "password": "a new password!!" }), None),
        (
            json!({ "roles": ["customer"], "permissions": ["x:y"] }),
            None,
        ),
        (json!({ "disabled": "yes" }), Some("disabled")),
        (json!({ "roles": ["with space"] }), Some("roles")),
    ] {
        let reply = patch_user(&server, &admin, &id, &body).await;
        check_unprocessable(&reply, field, &body);
    }
    let shown = ok(&get(&server, &format!("/users/{id}"), &admin).await, "GET");
    assert_eq!(shown["email"], "alice@example.com");
    assert_eq!(
        shown["roles"],
        json!([]),
        "nothing of a refused change stuck"
    );
}

#[tokio::test]
async fn deleting_a_user_is_204_then_404_and_ends_their_tokens() {
    let (server, admin) = with_admin().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let access_token = text(&tokens, "access_token");
    let id = text(&ok(&get(&server, "/me", &access_token).await, "me"), "id");
    let path = format!("/users/{id}");

    let deleted = call(&server, Method::DELETE, &path, Some(&admin), None).await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    check_problem(
        &get(&server, &path, &admin).await,
        StatusCode::NOT_FOUND,
        "GET",
    );
    let again = call(&server, Method::DELETE, &path, Some(&admin), None).await;
    check_problem(&again, StatusCode::NOT_FOUND, "DELETE again");
    check_problem(
        &get(&server, "/me", &access_token).await,
        StatusCode::UNAUTHORIZED,
        "the deleted user's access token",
    );
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let listed = ok(&get(&server, "/users?email=alice", &admin).await, "list");
    assert_eq!(listed["items"], json!([]), "{listed}");
}

#[tokio::test]
async fn roles_can_be_listed_put_and_deleted_but_admin_is_built_in() {
    let (server, admin) = with_admin().await;
    server.set_role("customer", &["books:download"]);

    let put = call(
        &server,
        Method::PUT,
        "/roles/doctor",
        Some(&admin),
        Some(&json!({ "permissions": ["records:read", "records:write"] })),
    )
    .await;
    assert_eq!(
        ok(&put, "PUT"),
        json!({ "name": "doctor", "permissions": ["records:read", "records:write"] })
    );

    let roles = ok(&get(&server, "/roles", &admin).await, "GET /roles");
    let roles = roles.as_array().expect("an array of roles");
    assert_eq!(roles[0]["name"], "admin", "admin comes first: {roles:?}");
    let admin_permissions: Vec<&str> = roles[0]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for permission in [
        "admin:users",
        "tokens:introspect",
        "books:download",
        "records:read",
        "records:write",
    ] {
        assert!(
            admin_permissions.contains(&permission),
            "admin lacks {permission}: {roles:?}"
        );
    }
    for role in roles {
        assert_eq!(sorted_keys(role), ["name", "permissions"], "{role}");
    }
    let stored: Vec<&Value> = roles[1..].iter().collect();
    assert!(
        stored.contains(&&json!({ "name": "customer", "permissions": ["books:download"] })),
        "{roles:?}"
    );
    assert!(
        stored.contains(
            &&json!({ "name": "doctor", "permissions": ["records:read", "records:write"] })
        ),
        "{roles:?}"
    );

    let replaced = call(
        &server,
        Method::PUT,
        "/roles/doctor",
        Some(&admin),
        Some(&json!({ "permissions": ["records:read"] })),
    )
    .await;
    assert_eq!(
        ok(&replaced, "PUT again"),
        json!({ "name": "doctor", "permissions": ["records:read"] })
    );

    let deleted = call(&server, Method::DELETE, "/roles/doctor", Some(&admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let again = call(&server, Method::DELETE, "/roles/doctor", Some(&admin), None).await;
    check_problem(&again, StatusCode::NOT_FOUND, "DELETE again");
    let roles = ok(&get(&server, "/roles", &admin).await, "GET /roles after");
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "doctor"),
        "{roles}"
    );

    let put_admin = call(
        &server,
        Method::PUT,
        "/roles/admin",
        Some(&admin),
        Some(&json!({ "permissions": [] })),
    )
    .await;
    check_problem(
        &put_admin,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PUT /roles/admin",
    );
    let delete_admin = call(&server, Method::DELETE, "/roles/admin", Some(&admin), None).await;
    check_problem(
        &delete_admin,
        StatusCode::UNPROCESSABLE_ENTITY,
        "DELETE /roles/admin",
    );
}

#[tokio::test]
async fn a_bad_role_body_is_422() {
    let (server, admin) = with_admin().await;
    for (body, field) in [
        (
            json!({ "permissions": ["records read"] }),
            Some("permissions"),
        ),
        (json!({ "permissions": [""] }), Some("permissions")),
        (
            json!({ "permissions": ["x".repeat(129)] }),
            Some("permissions"),
        ),
        (json!({}), Some("permissions")),
        (
            json!({ "permissions": "records:read" }),
            Some("permissions"),
        ),
        (json!({ "permissions": [], "extra": 1 }), None),
    ] {
        let reply = call(
            &server,
            Method::PUT,
            "/roles/doctor",
            Some(&admin),
            Some(&body),
        )
        .await;
        check_unprocessable(&reply, field, &body);
    }
    let reply = call(
        &server,
        Method::PUT,
        "/roles/with%20space",
        Some(&admin),
        Some(&json!({ "permissions": [] })),
    )
    .await;
    check_unprocessable(&reply, Some("name"), &json!("a role name with a space"));
    let roles = ok(&get(&server, "/roles", &admin).await, "GET /roles");
    assert_eq!(roles.as_array().unwrap().len(), 1, "only admin: {roles}");
}

/// Every admin endpoint, with a body where one is needed.
fn admin_endpoints(user_id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/users".to_owned(), None),
        (Method::GET, "/users?limit=1".to_owned(), None),
        (Method::GET, format!("/users/{user_id}"), None),
        (
            Method::PATCH,
            format!("/users/{user_id}"),
            Some(json!({ "roles": ["admin"] })),
        ),
        (Method::DELETE, format!("/users/{user_id}"), None),
        (Method::GET, "/roles".to_owned(), None),
        (
            Method::PUT,
            "/roles/customer".to_owned(),
            Some(json!({ "permissions": ["admin:users"] })),
        ),
        (Method::DELETE, "/roles/customer".to_owned(), None),
    ]
}

/// `403` problem with the challenge naming the permission that guards the
/// endpoint: `admin:roles` under `/roles`, `admin:users` elsewhere.
#[track_caller]
fn check_needs_admin(reply: &Reply, case: &str) {
    check_problem(reply, StatusCode::FORBIDDEN, case);
    let needed = if case.contains(" /roles") {
        "admin:roles"
    } else {
        "admin:users"
    };
    assert_eq!(
        reply.header("www-authenticate"),
        format!(r#"Bearer realm="portcullis", error="insufficient_scope", scope="{needed}""#),
        "{case}"
    );
}

#[tokio::test]
async fn without_admin_users_every_admin_endpoint_is_403_and_without_a_token_401() {
    let (server, admin) = with_admin().await;
    server.set_role("customer", &["books:download"]);
    let id = server.add_user("carol@example.com", &["customer"]);
    let user = text(
        &server.login("carol@example.com", PASSWORD).await,
        "access_token",
    );
    let created = call(
        &server,
        Method::POST,
        "/me/tokens",
        Some(&admin),
        Some(&json!({ "name": "introspector", "scopes": ["tokens:introspect"] })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let narrow_pat = text(&created.json(), "token");

    for (method, path, body) in admin_endpoints(&id) {
        let case = format!("{method} {path}");
        let reply = call(&server, method.clone(), &path, Some(&user), body.as_ref()).await;
        check_needs_admin(&reply, &format!("{case} as a plain user"));
        let reply = call(
            &server,
            method.clone(),
            &path,
            Some(&narrow_pat),
            body.as_ref(),
        )
        .await;
        check_needs_admin(&reply, &format!("{case} with a narrow admin PAT"));
        let reply = call(&server, method, &path, None, body.as_ref()).await;
        check_problem(
            &reply,
            StatusCode::UNAUTHORIZED,
            &format!("{case} without a token"),
        );
        assert_eq!(
            reply.header("www-authenticate"),
            r#"Bearer realm="portcullis""#,
            "{case}"
        );
    }
    let me = ok(&get(&server, "/me", &user).await, "me");
    assert_eq!(me["roles"], json!(["customer"]), "nothing changed: {me}");
    let roles = ok(&get(&server, "/roles", &admin).await, "roles");
    assert!(
        roles
            .as_array()
            .unwrap()
            .contains(&json!({ "name": "customer", "permissions": ["books:download"] })),
        "nothing changed: {roles}"
    );
}

#[tokio::test]
async fn an_admin_token_narrowed_to_introspection_cannot_administer() {
    let (server, _) = with_admin().await;
    let id = text(&server.sign_up("alice@example.com").await, "id");
    let response = server
        .token(json!({
            "grant_type": "password",
            "username": "admin@example.com",
            "password": PASSWORD,
            "scope": "tokens:introspect",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let narrowed: Value = response.json().await.unwrap();
    assert_eq!(narrowed["scope"], "tokens:introspect");
    let token = text(&narrowed, "access_token");

    for (method, path, body) in admin_endpoints(&id) {
        let case = format!("{method} {path} with scope tokens:introspect");
        let reply = call(&server, method, &path, Some(&token), body.as_ref()).await;
        check_needs_admin(&reply, &case);
    }
}

#[tokio::test]
async fn patch_me_cannot_make_anyone_admin() {
    let (server, admin) = with_admin().await;
    let tokens = server.user_with_tokens("mallory@example.com").await;
    let token = text(&tokens, "access_token");

    let reply = call(
        &server,
        Method::PATCH,
        "/me",
        Some(&token),
        Some(&json!({ "roles": ["admin"] })),
    )
    .await;

    check_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "PATCH /me roles");
    let me = ok(&get(&server, "/me", &token).await, "me");
    assert_eq!(me["roles"], json!([]), "{me}");
    let listed = ok(&get(&server, "/users?email=mallory", &admin).await, "list");
    assert_eq!(listed["items"][0]["roles"], json!([]), "{listed}");
}
