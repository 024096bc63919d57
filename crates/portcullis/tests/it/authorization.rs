//! Authorization that a demotion cannot undo (issue 10, finding 5): every
//! decision takes what the credential was granted *and* what the account
//! holds now; an administrator grants, and defines, only what it holds; and
//! the last administrator cannot be removed, disabled or demoted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestServer, check_problem, read, text};

/// Sends `method path` with `token` and a JSON `body` (if any).
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request).await
}

/// A user with `roles`, logged in; returns the id and an access token.
async fn user_with(server: &TestServer, email: &str, roles: &[&str]) -> (String, String) {
    let id = server.add_user(email, roles);
    (
        id,
        text(&server.login(email, PASSWORD).await, "access_token"),
    )
}

#[track_caller]
fn check_forbidden(reply: &Reply, needed: &str, case: &str) {
    check_problem(reply, StatusCode::FORBIDDEN, case);
    assert!(
        reply
            .header("www-authenticate")
            .contains(&format!(r#"scope="{needed}""#)),
        "{case}: {}",
        reply.header("www-authenticate")
    );
}

#[tokio::test]
async fn a_demoted_administrator_loses_its_rights_whatever_its_token_says() {
    let server = TestServer::spawn().await;
    let (_, root) = user_with(&server, "root@example.com", &["admin"]).await;
    let (bob_id, bob) = user_with(&server, "bob@example.com", &["admin"]).await;
    let users = call(&server, Method::GET, "/users", &bob, None).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text());

    let demoted = call(
        &server,
        Method::PATCH,
        &format!("/users/{bob_id}"),
        &root,
        Some(json!({ "roles": [] })),
    )
    .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text());

    // Bob's token still says admin:users; his account no longer grants it.
    check_forbidden(
        &call(&server, Method::GET, "/users", &bob, None).await,
        "admin:users",
        "listing users",
    );
    check_forbidden(
        &call(
            &server,
            Method::PATCH,
            &format!("/users/{bob_id}"),
            &bob,
            Some(json!({ "roles": ["admin"] })),
        )
        .await,
        "admin:users",
        "granting itself admin back",
    );
    let verify = read(
        server
            .client
            .get(server.url("/auth/verify?permission=admin:users"))
            .bearer_auth(&bob),
    )
    .await;
    assert_eq!(verify.status, StatusCode::FORBIDDEN, "forward-auth");
    let me: Value = call(&server, Method::GET, "/me", &bob, None).await.json();
    assert_eq!(me["roles"], json!([]), "{me}");
}

#[tokio::test]
async fn an_administrator_grants_only_roles_whose_permissions_it_holds() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    server.set_role("helpdesk", &["admin:users"]);
    let (_, helpdesk) = user_with(&server, "help@example.com", &["helpdesk"]).await;
    let target = server.add_user("carol@example.com", &[]);
    let grant = |roles: Value| {
        let path = format!("/users/{target}");
        let token = helpdesk.clone();
        let server = &server;
        async move {
            call(
                server,
                Method::PATCH,
                &path,
                &token,
                Some(json!({ "roles": roles })),
            )
            .await
        }
    };
    check_forbidden(
        &grant(json!(["customer"])).await,
        "books:download",
        "customer",
    );
    check_forbidden(&grant(json!(["admin"])).await, "admin:clients", "admin");
    let same = grant(json!(["helpdesk"])).await;
    assert_eq!(
        same.status,
        StatusCode::OK,
        "a role within its own: {}",
        same.text()
    );
    let nothing: Value = call(
        &server,
        Method::GET,
        &format!("/users/{target}"),
        &helpdesk,
        None,
    )
    .await
    .json();
    assert_eq!(nothing["roles"], json!(["helpdesk"]), "{nothing}");
}

#[tokio::test]
async fn roles_are_defined_only_with_permissions_the_definer_holds() {
    let server = TestServer::spawn().await;
    server.set_role("librarian", &["admin:roles", "books:download"]);
    let (_, librarian) = user_with(&server, "lib@example.com", &["librarian"]).await;
    let put = |name: &str, permissions: Value| {
        let path = format!("/roles/{name}");
        let token = librarian.clone();
        let server = &server;
        async move {
            call(
                server,
                Method::PUT,
                &path,
                &token,
                Some(json!({ "permissions": permissions })),
            )
            .await
        }
    };
    let within = put("reader", json!(["books:download"])).await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.text());
    check_forbidden(
        &put("escalate", json!(["admin:users"])).await,
        "admin:users",
        "a permission it lacks",
    );
    check_forbidden(
        &put("reader", json!(["books:download", "records:read"])).await,
        "records:read",
        "widening a role beyond itself",
    );

    // An administrator's full session may name a permission no role had.
    let (_, root) = user_with(&server, "root@example.com", &["admin"]).await;
    let new = call(
        &server,
        Method::PUT,
        "/roles/reviewer",
        &root,
        Some(json!({ "permissions": ["reviews:write"] })),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text());
    // A session narrowed at login holds only what it was narrowed to.
    let narrowed = text(
        &server
            .token(json!({
                "grant_type": "password",
                "username": "root@example.com",
                "password": PASSWORD,
                "scope": "admin:roles",
            }))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        "access_token",
    );
    check_forbidden(
        &call(
            &server,
            Method::PUT,
            "/roles/other",
            &narrowed,
            Some(json!({ "permissions": ["books:download"] })),
        )
        .await,
        "books:download",
        "a narrowed admin session",
    );
}

#[tokio::test]
async fn the_last_administrator_cannot_be_removed_disabled_or_demoted() {
    let server = TestServer::spawn().await;
    let (root_id, root) = user_with(&server, "root@example.com", &["admin"]).await;
    let path = format!("/users/{root_id}");
    let refused = |reply: Reply, case: &str| {
        check_problem(&reply, StatusCode::CONFLICT, case);
        assert_eq!(
            reply.json()["type"],
            "urn:portcullis:problem:last-administrator",
            "{case}"
        );
    };
    refused(
        call(
            &server,
            Method::PATCH,
            &path,
            &root,
            Some(json!({ "roles": [] })),
        )
        .await,
        "demoting",
    );
    refused(
        call(
            &server,
            Method::PATCH,
            &path,
            &root,
            Some(json!({ "disabled": true })),
        )
        .await,
        "disabling",
    );
    refused(
        call(
            &server,
            Method::PATCH,
            &path,
            &root,
            Some(json!({ "name": "Root", "roles": ["admin", "customer"], "disabled": true })),
        )
        .await,
        "disabling with other changes",
    );
    let unchanged = call(&server, Method::GET, &path, &root, None).await;
    assert_eq!(
        unchanged.json()["name"],
        Value::Null,
        "{}",
        unchanged.text()
    );
    assert_eq!(
        unchanged.json()["roles"],
        json!(["admin"]),
        "{}",
        unchanged.text()
    );
    refused(
        call(&server, Method::DELETE, &path, &root, None).await,
        "deleting",
    );
    refused(
        call(
            &server,
            Method::DELETE,
            "/me",
            &root,
            Some(json!({ "current_password": PASSWORD })),
        )
        .await,
        "deleting itself",
    );
    let disable = server.cli(&["user", "disable", "--email", "root@example.com"], None);
    assert_eq!(disable.status.code(), Some(1), "{disable:?}");
    assert!(
        String::from_utf8_lossy(&disable.stderr).contains("last active administrator"),
        "{disable:?}"
    );
    let me = call(&server, Method::GET, "/me", &root, None).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "still an administrator: {}",
        me.text()
    );

    server.add_user("second@example.com", &["admin"]);
    let demoted = call(
        &server,
        Method::PATCH,
        &path,
        &root,
        Some(json!({ "roles": [] })),
    )
    .await;
    assert_eq!(
        demoted.status,
        StatusCode::OK,
        "one of two: {}",
        demoted.text()
    );
}
