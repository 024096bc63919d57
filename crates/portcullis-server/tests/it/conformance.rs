//! Every refusal the router can send is in the OpenAPI document, with the
//! media type really sent: each endpoint's error paths (missing and refused
//! credentials, personal tokens where they are not allowed, missing
//! permissions, malformed, mistyped and oversized bodies, validation
//! failures, unknown ids, bad query strings, methods and paths the router
//! does not have). Conflicts, throttling, an unreachable database and each
//! success are in `documented_outcomes.rs`. Each test asserts the statuses
//! it provokes; the app it runs on checks every response against the
//! document ([`crate::app`]).
//!
//! The operations to try are read from the document where a rule covers all
//! of them (every protected operation refuses a missing credential, every
//! body is parsed the same way), so a new endpoint is tried without being
//! listed here.

use axum::http::StatusCode;
use axum::http::header::{ALLOW, AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::app::{Call, PASSWORD, TestApp, call};

/// An id that no user, session or token has.
const UNKNOWN_ID: &str = "0190c0de-0000-7000-8000-000000000000";

/// One operation of the document, with its path parameters filled in.
struct Operation {
    method: String,
    path: String,
    /// Where the document keeps it, `/users/{id}`.
    route: String,
    has_body: bool,
    needs_bearer: bool,
    tag: String,
    /// A hosted page's form: a well-formed body without its CSRF token is `403`.
    page_form: bool,
}

impl Operation {
    fn call(&self) -> Call {
        call(&self.method, &self.path)
    }

    fn is_oauth(&self) -> bool {
        self.route.starts_with("/token")
    }
}

fn operations() -> Vec<Operation> {
    let document: Value =
        serde_json::from_str(portcullis_server::openapi_json()).expect("the document is JSON");
    let mut operations = Vec::new();
    for (route, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let path = route
                .replace("{id}", UNKNOWN_ID)
                .replace("{name}", "librarian");
            assert!(!path.contains('{'), "fill in the parameter of {route}");
            operations.push(Operation {
                method: method.to_ascii_uppercase(),
                path,
                route: route.clone(),
                has_body: operation.get("requestBody").is_some(),
                needs_bearer: operation["security"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|scheme| scheme.get("bearer").is_some())),
                tag: operation["tags"][0].as_str().unwrap_or_default().to_owned(),
                page_form: crate::unstorable_text::is_page_form(operation),
            });
        }
    }
    operations
}

#[tokio::test]
async fn every_protected_operation_refuses_a_missing_or_refused_credential() {
    let app = TestApp::start().await;
    let protected: Vec<Operation> = operations()
        .into_iter()
        .filter(|o| o.needs_bearer)
        .collect();
    assert!(
        protected.len() > 15,
        "the document lists the protected operations"
    );
    let credentials = [
        (None, false),
        (Some("Bearer"), false),
        (Some("Bearer not-a-token"), true),
        (Some("bearer eyJhbGciOiJub25lIn0.e30."), true),
        (Some("Basic dXNlcjpwYXNz"), true),
        (
            Some("pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            true,
        ),
    ];
    for operation in &protected {
        for (credential, refused) in credentials {
            let mut request = operation.call();
            if let Some(credential) = credential {
                request = request.header(AUTHORIZATION, credential);
            }
            if operation.has_body {
                request = request.json(json!({"token": "x"}));
            }
            let reply = app.send(request).await.expect(StatusCode::UNAUTHORIZED);
            let challenge = reply.header(WWW_AUTHENTICATE).expect("a challenge");
            assert_eq!(
                challenge.contains(r#"error="invalid_token""#),
                refused,
                "{} {}: {challenge}",
                operation.method,
                operation.path
            );
        }
    }
}

#[tokio::test]
async fn personal_access_tokens_cannot_manage_tokens_passwords_or_sessions() {
    let app = TestApp::start().await;
    let owner = app.account("owner@example.com", &[]).await;
    let pat = app.personal_token(&owner, &[]).await;
    let refused = [
        call("GET", "/me/tokens"),
        call("POST", "/me/tokens").json(json!({"name": "another"})),
        call("DELETE", &format!("/me/tokens/{UNKNOWN_ID}")),
        call("PUT", "/me/password").json(json!({
            "current_password": PASSWORD,
            "new_password": "an entirely new passphrase",
        })),
        call("DELETE", "/me").json(json!({"current_password": PASSWORD})),
        call("POST", "/logout"),
    ];
    for request in refused {
        let reply = app
            .send(request.bearer(&pat))
            .await
            .expect(StatusCode::FORBIDDEN);
        assert_eq!(reply.problem(), "personal-token-not-allowed");
    }
    app.send(call("GET", "/me").bearer(&pat))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn a_missing_permission_is_403_insufficient_scope() {
    let app = TestApp::start().await;
    let user = app.account("plain@example.com", &[]).await;
    let admin_operations: Vec<Operation> = operations()
        .into_iter()
        .filter(|o| o.tag == "admin")
        .collect();
    assert!(
        admin_operations.len() >= 7,
        "the admin operations are tagged"
    );
    for operation in &admin_operations {
        let mut request = operation.call().bearer(&user.access_token);
        if operation.has_body {
            let body = if operation.method == "PUT" {
                json!({"permissions": []})
            } else {
                json!({})
            };
            request = request.json(body);
        }
        let reply = app.send(request).await.expect(StatusCode::FORBIDDEN);
        assert_eq!(reply.problem(), "insufficient-scope", "{}", operation.path);
        let challenge = reply.header(WWW_AUTHENTICATE).expect("a challenge");
        let needed = if operation.path.starts_with("/roles") {
            "admin:roles"
        } else if operation.path.starts_with("/clients") {
            "admin:clients"
        } else {
            "admin:users"
        };
        assert!(
            challenge.contains(&format!(r#"error="insufficient_scope", scope="{needed}""#)),
            "{}: {challenge}",
            operation.path
        );
    }

    let introspect = app
        .send(
            call("POST", "/token/introspect")
                .bearer(&user.access_token)
                .json(json!({"token": user.access_token})),
        )
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(introspect.oauth_error(), "insufficient_scope");

    let verify = app
        .send(call("GET", "/auth/verify?permission=books:download").bearer(&user.access_token))
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(verify.problem(), "insufficient-scope");
}

#[tokio::test]
async fn every_body_is_refused_the_same_way_when_malformed_mistyped_or_too_large() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    let with_body: Vec<Operation> = operations().into_iter().filter(|o| o.has_body).collect();
    assert!(with_body.len() >= 10, "the document lists the bodies");
    let oversized = json!({"name": "x".repeat(portcullis_server::MAX_BODY_BYTES)});
    for operation in &with_body {
        let send = |request: Call| app.send(request.bearer(&admin.access_token));
        // A page's form checks its CSRF token before its fields.
        let well_formed = if operation.page_form {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let cases = [
            (
                operation.call().body("application/json", r#"{"name": "#),
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
            ),
            (
                operation.call().body("text/plain", "name=x"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                StatusCode::BAD_REQUEST,
            ),
            (
                operation.call(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                StatusCode::BAD_REQUEST,
            ),
            (
                operation.call().json(oversized.clone()),
                StatusCode::PAYLOAD_TOO_LARGE,
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                operation.call().json(json!([1])),
                well_formed,
                StatusCode::BAD_REQUEST,
            ),
            (
                operation.call().json(json!({"surprise": true})),
                well_formed,
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (request, problem_status, oauth_status) in cases {
            if operation.is_oauth() {
                let reply = send(request).await.expect(oauth_status);
                assert_eq!(reply.oauth_error(), "invalid_request", "{}", operation.path);
            } else if problem_status == StatusCode::FORBIDDEN {
                send(request).await.expect(problem_status);
            } else {
                let reply = send(request).await.expect(problem_status);
                reply.problem();
            }
        }
    }
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_field_and_the_documented_bounds_are_the_servers() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    let user = app.account("user@example.com", &[]).await;
    let bearer =
        |account: &crate::app::Account, request: Call| request.bearer(&account.access_token);
    let too_long_name = "n".repeat(201);
    let refused = [
        (call("POST", "/users").json(json!({"email": "not-an-email", "password": "a fine long passphrase"})), "email"),
        (call("POST", "/users").json(json!({"email": format!("{}@{}.com", "a".repeat(64), "b".repeat(186)), "password": "a fine long passphrase"})), "email"),
        (call("POST", "/users").json(json!({"email": "same@example.com", "password": "same@example.com"})), "password"),
        (call("POST", "/users").json(json!({"email": "new@example.com", "password": "short"})), "password"),
        (call("POST", "/users").json(json!({"email": "new@example.com", "password": "p".repeat(1025)})), "password"),
        (call("POST", "/users").json(json!({"email": "new@example.com", "password": "password1234"})), "password"),
        (call("POST", "/users").json(json!({"email": "new@example.com", "password": "a fine long passphrase", "name": too_long_name})), "name"),
        (call("POST", "/users").json(json!({"email": "new@example.com", "password": 12})), "password"),
        (bearer(&user, call("PATCH", "/me")).json(json!({"name": "bell\u{7}"})), "name"),
        (bearer(&user, call("PATCH", "/me")).json(json!({"email": "moved@example.com"})), "current_password"),
        (bearer(&user, call("PATCH", "/me")).json(json!({"email": "moved@example.com", "current_password": "wrong password"})), "current_password"),
        (bearer(&user, call("PUT", "/me/password")).json(json!({"current_password": PASSWORD, "new_password": "short"})), "new_password"),
        (bearer(&user, call("PUT", "/me/password")).json(json!({"current_password": "wrong password", "new_password": "an entirely new passphrase"})), "current_password"),
        (bearer(&user, call("DELETE", "/me")).json(json!({"current_password": "wrong password"})), "current_password"),
        (bearer(&user, call("POST", "/me/tokens")).json(json!({"name": "  "})), "name"),
        (bearer(&user, call("POST", "/me/tokens")).json(json!({"name": "t".repeat(101)})), "name"),
        (bearer(&user, call("POST", "/me/tokens")).json(json!({"name": "ci", "expires_in_days": 0})), "expires_in_days"),
        (bearer(&user, call("POST", "/me/tokens")).json(json!({"name": "ci", "expires_in_days": 3651})), "expires_in_days"),
        (bearer(&user, call("POST", "/me/tokens")).json(json!({"name": "ci", "scopes": ["admin:users"]})), "scopes"),
        (bearer(&admin, call("PATCH", &format!("/users/{}", user.id))).json(json!({"roles": ["with space"]})), "roles"),
        (bearer(&admin, call("PATCH", &format!("/users/{}", user.id))).json(json!({"name": "n".repeat(201)})), "name"),
        (bearer(&admin, call("PUT", "/roles/with%20space")).json(json!({"permissions": []})), "name"),
        (bearer(&admin, call("PUT", "/roles/%C3%A9")).json(json!({"permissions": []})), "name"),
        (bearer(&admin, call("PUT", "/roles/%FF")).json(json!({"permissions": []})), "name"),
        (bearer(&admin, call("PUT", &format!("/roles/{}", "r".repeat(129)))).json(json!({"permissions": []})), "name"),
        (bearer(&admin, call("PUT", "/roles/admin")).json(json!({"permissions": []})), "name"),
        (bearer(&admin, call("PUT", "/roles/librarian")).json(json!({"permissions": ["say \"hi\""]})), "permissions"),
        (bearer(&admin, call("PUT", "/roles/librarian")).json(json!({"permissions": ["back\\slash"]})), "permissions"),
        (bearer(&admin, call("DELETE", "/roles/admin")), "name"),
        (bearer(&admin, call("POST", "/clients")).json(json!({"name": "app", "redirect_uris": ["http://app.example/cb"], "type": "public"})), "redirect_uris"),
        (bearer(&admin, call("POST", "/clients")).json(json!({"name": "app", "redirect_uris": [], "type": "public"})), "redirect_uris"),
        (bearer(&admin, call("POST", "/clients")).json(json!({"name": "n".repeat(101), "redirect_uris": ["https://app.example/cb"], "type": "public"})), "name"),
        (bearer(&admin, call("POST", "/clients")).json(json!({"name": "app", "redirect_uris": [format!("https://app.example/{}", "a".repeat(1981))], "type": "public"})), "redirect_uris"),
        (bearer(&admin, call("POST", "/clients")).json(json!({"name": "app", "redirect_uris": ["https://app.example/cb"], "type": "public", "id_token_signed_response_alg": "HS256"})), "id_token_signed_response_alg"),
        (bearer(&admin, call("GET", "/users?limit=0")), "limit"),
        (bearer(&admin, call("GET", "/users?limit=201")), "limit"),
    ];
    for (request, field) in refused {
        let reply = app
            .send(request)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.invalid_fields().iter().any(|f| f == field),
            "{field}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    // At the documented bounds the server agrees.
    let accepted = [
        (
            call("POST", "/users").json(json!({
                "email": format!("{}@{}.com", "a".repeat(64), "b".repeat(185)),
                "password": "p".repeat(1024),
                "name": "n".repeat(200),
            })),
            StatusCode::CREATED,
        ),
        (
            bearer(&user, call("POST", "/me/tokens"))
                .json(json!({"name": "t".repeat(100), "expires_in_days": 3650})),
            StatusCode::CREATED,
        ),
        (
            bearer(&user, call("POST", "/me/tokens"))
                .json(json!({"name": "t", "expires_in_days": 1})),
            StatusCode::CREATED,
        ),
        (
            bearer(&admin, call("PUT", &format!("/roles/{}", "r".repeat(128))))
                .json(json!({"permissions": ["!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"]})),
            StatusCode::OK,
        ),
        (
            bearer(&admin, call("GET", "/users?limit=200")),
            StatusCode::OK,
        ),
        (
            bearer(&admin, call("POST", "/clients")).json(json!({
                "name": "n".repeat(100),
                "redirect_uris": [format!("https://app.example/{}", "a".repeat(1980))],
                "type": "confidential",
            })),
            StatusCode::CREATED,
        ),
        (
            bearer(&admin, call("GET", "/users?limit=1")),
            StatusCode::OK,
        ),
    ];
    for (request, status) in accepted {
        app.send(request).await.expect(status);
    }
}

#[tokio::test]
async fn unknown_ids_and_names_are_404() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    for id in [UNKNOWN_ID, "not-a-uuid", "%FF", "%C3%A9"] {
        let requests = [
            call("GET", &format!("/users/{id}")),
            call("PATCH", &format!("/users/{id}")).json(json!({"disabled": true})),
            call("DELETE", &format!("/users/{id}")),
            call("DELETE", &format!("/me/sessions/{id}")),
            call("DELETE", &format!("/me/tokens/{id}")),
            call("DELETE", &format!("/roles/{id}")),
            call("GET", &format!("/clients/{id}")),
            call("PATCH", &format!("/clients/{id}")).json(json!({"name": "x"})),
            call("DELETE", &format!("/clients/{id}")),
        ];
        for request in requests {
            let reply = app
                .send(request.bearer(&admin.access_token))
                .await
                .expect(StatusCode::NOT_FOUND);
            assert_eq!(reply.problem(), "not-found");
        }
    }
}

#[tokio::test]
async fn query_strings_that_do_not_parse_are_400_and_forward_auth_refuses_unknown_parameters() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    let refused = [
        "/users?limit=many",
        "/users?limit=-1",
        "/users?cursor=not-a-cursor",
        "/auth/verify?permision=admin:users",
        "/auth/verify?permission=admin:users&permission=books:read",
        "/auth/verify?permission=admin:users&extra=1",
    ];
    for path in refused {
        let reply = app
            .send(call("GET", path).bearer(&admin.access_token))
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert_eq!(reply.problem(), "invalid-query", "{path}");
    }
    let allowed = app
        .send(call("GET", "/auth/verify?permission=admin:users").bearer(&admin.access_token))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        allowed.header(axum::http::header::HeaderName::from_static(
            "x-auth-user-id"
        )),
        Some(admin.id.as_str())
    );
    app.send(call("GET", "/users?surplus=ignored").bearer(&admin.access_token))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn methods_a_path_lacks_are_405_unknown_paths_404_and_get_answers_head() {
    let app = TestApp::start().await;
    let not_allowed = [
        ("PUT", "/healthz", "GET"),
        ("GET", "/token", "POST"),
        ("DELETE", "/token/revoke", "POST"),
        (
            "POST",
            &format!("/me/sessions/{UNKNOWN_ID}") as &str,
            "DELETE",
        ),
        ("PATCH", "/roles", "GET"),
        ("POST", "/auth/verify", "GET"),
        ("OPTIONS", "/me", "GET"),
    ];
    for (method, path, allowed) in not_allowed {
        let reply = app
            .send(call(method, path))
            .await
            .expect(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.problem(), "method-not-allowed");
        let allow = reply.header(ALLOW).expect("an Allow header");
        assert!(allow.contains(allowed), "{method} {path}: Allow: {allow}");
    }
    for path in ["/nowhere", "/users/a/b", "/me/", "/.well-known/other"] {
        let reply = app
            .send(call("GET", path))
            .await
            .expect(StatusCode::NOT_FOUND);
        assert_eq!(reply.problem(), "not-found");
    }
    for path in [
        "/healthz",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/metrics",
    ] {
        let reply = app.send(call("HEAD", path)).await.expect(StatusCode::OK);
        assert!(reply.body.is_empty(), "HEAD {path} has no body");
    }
}
