//! The OAuth client registry: `/clients`, guarded by `admin:clients`, and
//! `portcullis client add|list|remove`.
//!
//! A client registered one way is seen the other way; a confidential
//! client's secret is shown once, in the answer to its registration, and is
//! then what authenticates it; redirect URIs that could send a code
//! anywhere but the application are refused with `422` naming the field.

use std::sync::Arc;

use portcullis_core::services::clients::Clients;
use portcullis_core::{AuthError, AuthSettings, SecretString, Services, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, assert_exit, check_field_error, check_problem, read, sorted_keys,
    stderr, stdout, text,
};

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

/// `POST /clients` as `token`; asserts `201` and returns the body.
async fn register(server: &TestServer, token: &str, body: &Value) -> Value {
    let reply = call(server, Method::POST, "/clients", Some(token), Some(body)).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{body}: {}",
        reply.text()
    );
    reply.json()
}

/// `status` and the JSON body.
#[track_caller]
fn expect(reply: &Reply, status: StatusCode, case: &str) -> Value {
    assert_eq!(reply.status, status, "{case}: {}", reply.text());
    reply.json()
}

/// The use case itself, on the server's database, as the token endpoint
/// will call it.
async fn clients_of(server: &TestServer) -> Clients {
    let store = Arc::from(server.database().store().await);
    let settings = AuthSettings::with_defaults("http://localhost:8080".to_owned());
    Services::start(store, settings, Arc::new(SystemClock))
        .await
        .expect("the use cases start")
        .clients
}

/// A client as `/clients` shows it: no `client_secret`.
#[track_caller]
fn check_view(client: &Value) {
    assert_eq!(
        sorted_keys(client),
        [
            "allowed_scopes",
            "client_id",
            "created_at",
            "first_party",
            "id_token_signed_response_alg",
            "name",
            "post_logout_redirect_uris",
            "redirect_uris",
            "type"
        ],
        "{client}"
    );
}

#[tokio::test]
async fn clients_are_registered_listed_changed_and_removed() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let reply = call(
        &server,
        Method::POST,
        "/clients",
        Some(&admin),
        Some(&json!({
            "name": "  Bookstore back office ",
            "redirect_uris": [
                "https://books.example/callback",
                "http://127.0.0.1:8080/callback",
                "https://books.example/callback",
            ],
            "post_logout_redirect_uris": ["https://books.example/"],
            "type": "confidential",
            "allowed_scopes": ["comments:write", "books:download", "comments:write"],
        })),
    )
    .await;
    let confidential = expect(&reply, StatusCode::CREATED, "register confidential");
    let id = text(&confidential, "client_id");
    assert_eq!(reply.header("location"), format!("/clients/{id}"));
    assert_eq!(reply.header("cache-control"), "no-store");
    let secret = text(&confidential, "client_secret");
    assert!(secret.starts_with("pcs_") && secret.len() == 47, "{secret}");
    assert_eq!(confidential["name"], "Bookstore back office");
    assert_eq!(
        confidential["redirect_uris"],
        json!([
            "https://books.example/callback",
            "http://127.0.0.1:8080/callback"
        ])
    );
    assert_eq!(
        confidential["allowed_scopes"],
        json!(["books:download", "comments:write"])
    );
    assert_eq!(confidential["type"], "confidential");
    assert_eq!(confidential["first_party"], false);
    assert_eq!(confidential["id_token_signed_response_alg"], "RS256");

    let public = register(
        &server,
        &admin,
        &json!({
            "name": "Bookstore SPA ☕",
            "redirect_uris": ["http://localhost:5173/", "com.example.books:/oauth"],
            "type": "public",
            "first_party": true,
            "id_token_signed_response_alg": "EdDSA",
        }),
    )
    .await;
    assert_eq!(public.get("client_secret"), None, "{public}");
    check_view(&public);
    assert_eq!(public["post_logout_redirect_uris"], json!([]));
    assert_eq!(public["allowed_scopes"], json!([]));
    assert_eq!(public["first_party"], true);
    assert_eq!(public["id_token_signed_response_alg"], "EdDSA");

    let listed = call(&server, Method::GET, "/clients", Some(&admin), None).await;
    let listed = expect(&listed, StatusCode::OK, "list");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["client_id"], json!(id), "oldest first");
    assert_eq!(listed[1]["client_id"], public["client_id"]);
    let path = format!("/clients/{id}");
    let got = call(&server, Method::GET, &path, Some(&admin), None).await;
    assert!(!got.text().contains(&secret), "the secret is shown once");
    let got = expect(&got, StatusCode::OK, "get");
    check_view(&got);
    let mut without_secret = confidential.clone();
    without_secret
        .as_object_mut()
        .expect("an object")
        .remove("client_secret");
    assert_eq!(got, without_secret);
    assert_eq!(listed[0], without_secret);

    let change = json!({
        "name": "Back office",
        "redirect_uris": ["https://office.example/cb"],
        "post_logout_redirect_uris": [],
        "first_party": true,
        "allowed_scopes": ["books:download"],
        "id_token_signed_response_alg": "EdDSA",
    });
    let changed = call(&server, Method::PATCH, &path, Some(&admin), Some(&change)).await;
    let changed = expect(&changed, StatusCode::OK, "patch");
    check_view(&changed);
    for field in [
        "name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "first_party",
        "allowed_scopes",
        "id_token_signed_response_alg",
    ] {
        assert_eq!(changed[field], change[field], "{field}: {changed}");
    }
    for kept in ["client_id", "type", "created_at"] {
        assert_eq!(changed[kept], confidential[kept], "{kept}: {changed}");
    }
    let renamed = call(
        &server,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(&json!({"name": "Office"})),
    )
    .await;
    let renamed = expect(&renamed, StatusCode::OK, "rename");
    assert_eq!(renamed["name"], "Office");
    assert_eq!(renamed["redirect_uris"], change["redirect_uris"]);
    let kind = call(
        &server,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(&json!({"type": "public"})),
    )
    .await;
    check_problem(
        &kind,
        StatusCode::UNPROCESSABLE_ENTITY,
        "type cannot change",
    );
    let got = call(&server, Method::GET, &path, Some(&admin), None).await;
    assert_eq!(expect(&got, StatusCode::OK, "unchanged"), renamed);

    let removed = call(&server, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text());
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "Ghost"}))),
        (Method::DELETE, None),
    ] {
        let reply = call(&server, method.clone(), &path, Some(&admin), body.as_ref()).await;
        check_problem(
            &reply,
            StatusCode::NOT_FOUND,
            &format!("{method} after removal"),
        );
    }
    let listed = call(&server, Method::GET, "/clients", Some(&admin), None).await;
    let listed = expect(&listed, StatusCode::OK, "list after removal");
    assert_eq!(listed, json!([public]));
    for unknown in ["0190c0de-0000-7000-8000-000000000000", "not-a-uuid"] {
        let reply = call(
            &server,
            Method::GET,
            &format!("/clients/{unknown}"),
            Some(&admin),
            None,
        )
        .await;
        check_problem(&reply, StatusCode::NOT_FOUND, unknown);
    }
}

#[tokio::test]
async fn the_secret_shown_once_is_what_authenticates_a_confidential_client() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let redirect = json!(["https://app.example/cb"]);
    let confidential = register(
        &server,
        &admin,
        &json!({"name": "Server app", "redirect_uris": redirect, "type": "confidential"}),
    )
    .await;
    let public = register(
        &server,
        &admin,
        &json!({"name": "SPA", "redirect_uris": redirect, "type": "public"}),
    )
    .await;
    let (confidential_id, public_id) =
        (text(&confidential, "client_id"), text(&public, "client_id"));
    let secret = SecretString::from(text(&confidential, "client_secret"));
    let wrong = SecretString::from(format!("{}x", text(&confidential, "client_secret")));
    let clients = clients_of(&server).await;

    let found = clients
        .find(&confidential_id)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.client_id.to_string(), confidential_id);
    assert!(found.redirect_uri_matches("https://app.example/cb"));
    for unknown in [
        "0190c0de-0000-7000-8000-000000000000",
        "not-a-uuid",
        &confidential_id.to_uppercase(),
    ] {
        assert_eq!(clients.find(unknown).await.unwrap(), None, "{unknown}");
    }

    let authenticated = clients
        .authenticate(&confidential_id, Some(&secret))
        .await
        .unwrap();
    assert_eq!(authenticated, found);
    let public_client = clients.authenticate(&public_id, None).await.unwrap();
    assert_eq!(public_client.client_id.to_string(), public_id);
    let refused: [(&str, Option<&SecretString>); 5] = [
        (&confidential_id, None),
        (&confidential_id, Some(&wrong)),
        (&public_id, Some(&secret)),
        ("0190c0de-0000-7000-8000-000000000000", Some(&secret)),
        ("0190c0de-0000-7000-8000-000000000000", None),
    ];
    for (client_id, presented) in refused {
        assert!(
            matches!(
                clients.authenticate(client_id, presented).await,
                Err(AuthError::InvalidClient)
            ),
            "{client_id} with a secret: {}",
            presented.is_some()
        );
    }
}

#[tokio::test]
async fn only_a_holder_of_admin_clients_manages_clients() {
    let server = TestServer::spawn().await;
    server.set_role("user-admin", &["admin:users", "admin:roles"]);
    server.set_role("registrar", &["admin:clients"]);
    server.add_user("users@example.com", &["user-admin"]);
    server.add_user("registrar@example.com", &["registrar"]);
    let user_admin = text(
        &server.login("users@example.com", PASSWORD).await,
        "access_token",
    );
    let registrar = text(
        &server.login("registrar@example.com", PASSWORD).await,
        "access_token",
    );
    let body =
        json!({"name": "App", "redirect_uris": ["https://app.example/cb"], "type": "public"});
    let id = "0190c0de-0000-7000-8000-000000000000";
    let operations = [
        (Method::POST, "/clients".to_owned(), Some(body.clone())),
        (Method::GET, "/clients".to_owned(), None),
        (Method::GET, format!("/clients/{id}"), None),
        (
            Method::PATCH,
            format!("/clients/{id}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/clients/{id}"), None),
    ];
    for (method, path, body) in &operations {
        let case = format!("{method} {path}");
        let forbidden = call(
            &server,
            method.clone(),
            path,
            Some(&user_admin),
            body.as_ref(),
        )
        .await;
        check_problem(&forbidden, StatusCode::FORBIDDEN, &case);
        assert_eq!(
            forbidden.header("www-authenticate"),
            r#"Bearer realm="portcullis", error="insufficient_scope", scope="admin:clients""#,
            "{case}"
        );
        let anonymous = call(&server, method.clone(), path, None, body.as_ref()).await;
        check_problem(&anonymous, StatusCode::UNAUTHORIZED, &case);
    }
    let created = register(&server, &registrar, &body).await;
    let listed = call(&server, Method::GET, "/clients", Some(&registrar), None).await;
    assert_eq!(expect(&listed, StatusCode::OK, "list"), json!([created]));
}

#[tokio::test]
async fn invalid_clients_are_422_naming_the_field() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let valid = json!({
        "name": "App",
        "redirect_uris": ["https://app.example/cb"],
        "type": "public",
    });
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let refused = [
        (
            with("redirect_uris", json!(["http://app.example/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["http://127.0.0.1.evil.example/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["http://127.0.0.1@evil.example/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://app.example/cb#state"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://user:pw@app.example/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["/relative/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["javascript:alert(1)"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["myapp://cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://app.example/caf\u{e9}"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://app.example/a b"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://app.example/cb\u{0}"])),
            "redirect_uris[0]",
        ),
        (with("redirect_uris", json!([])), "redirect_uris"),
        (
            with(
                "redirect_uris",
                json!(
                    (0..21)
                        .map(|n| format!("https://a.example/{n}"))
                        .collect::<Vec<_>>()
                ),
            ),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!("https://app.example/cb")),
            "redirect_uris",
        ),
        (
            with(
                "post_logout_redirect_uris",
                json!(["http://app.example/bye"]),
            ),
            "post_logout_redirect_uris",
        ),
        (with("name", json!("  ")), "name"),
        (with("name", json!("a\u{7}b")), "name"),
        (with("name", json!("Bad\u{0}name")), "name"),
        (with("name", json!("n".repeat(101))), "name"),
        (with("type", json!("secret")), "type"),
        (with("type", json!("Public")), "type"),
        (
            with("allowed_scopes", json!(["with space"])),
            "allowed_scopes",
        ),
        (
            with("allowed_scopes", json!(["caf\u{e9}:read"])),
            "allowed_scopes",
        ),
        (
            with("id_token_signed_response_alg", json!("HS256")),
            "id_token_signed_response_alg",
        ),
        (
            with("id_token_signed_response_alg", json!("none")),
            "id_token_signed_response_alg",
        ),
    ];
    for (body, field) in &refused {
        let reply = call(&server, Method::POST, "/clients", Some(&admin), Some(body)).await;
        check_field_error(&reply, field, &body.to_string());
    }
    let mut missing_type = valid.clone();
    missing_type
        .as_object_mut()
        .expect("an object")
        .remove("type");
    let reply = call(
        &server,
        Method::POST,
        "/clients",
        Some(&admin),
        Some(&missing_type),
    )
    .await;
    check_field_error(&reply, "type", "no type");
    let several = json!({
        "name": "",
        "redirect_uris": ["http://app.example/cb", "https://app.example/#x"],
        "type": "public",
        "id_token_signed_response_alg": "HS256",
    });
    let reply = call(
        &server,
        Method::POST,
        "/clients",
        Some(&admin),
        Some(&several),
    )
    .await;
    let problem = expect(&reply, StatusCode::UNPROCESSABLE_ENTITY, "several at once");
    let named: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["field"].as_str().expect("a field"))
        .collect();
    assert_eq!(
        named,
        [
            "name",
            "redirect_uris",
            "redirect_uris",
            "id_token_signed_response_alg"
        ],
        "{problem}"
    );

    let created = register(&server, &admin, &valid).await;
    let path = format!("/clients/{}", text(&created, "client_id"));
    for (body, field) in [
        (json!({"redirect_uris": []}), "redirect_uris"),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "redirect_uris",
        ),
        (
            json!({"post_logout_redirect_uris": ["https://app.example/#bye"]}),
            "post_logout_redirect_uris",
        ),
        (json!({"name": ""}), "name"),
        (json!({"allowed_scopes": ["a\"b"]}), "allowed_scopes"),
        (
            json!({"id_token_signed_response_alg": "ES256"}),
            "id_token_signed_response_alg",
        ),
        (
            json!({"name": "Fine", "redirect_uris": ["https://app.example/x#y"]}),
            "redirect_uris",
        ),
        (json!({"redirect_uris": null}), "redirect_uris"),
        (json!({"first_party": null}), "first_party"),
    ] {
        let reply = call(&server, Method::PATCH, &path, Some(&admin), Some(&body)).await;
        check_field_error(&reply, field, &body.to_string());
    }
    let got = call(&server, Method::GET, &path, Some(&admin), None).await;
    assert_eq!(
        expect(&got, StatusCode::OK, "a refused change changes nothing"),
        created
    );
    let listed = call(&server, Method::GET, "/clients", Some(&admin), None).await;
    assert_eq!(
        expect(&listed, StatusCode::OK, "refused clients are not stored"),
        json!([created])
    );

    let send = |content_type: &str, body: Vec<u8>| {
        server
            .client
            .post(server.url("/clients"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
    };
    let malformed = read(send("application/json", b"{\"name\": ".to_vec())).await;
    check_problem(&malformed, StatusCode::BAD_REQUEST, "malformed JSON");
    let form = read(send(
        "application/x-www-form-urlencoded",
        b"name=x".to_vec(),
    ))
    .await;
    check_problem(&form, StatusCode::UNSUPPORTED_MEDIA_TYPE, "a form");
    let large = read(send("application/json", vec![b' '; 70 * 1024])).await;
    check_problem(&large, StatusCode::PAYLOAD_TOO_LARGE, "a large body");
}

#[tokio::test]
async fn client_add_on_the_command_line_shows_in_the_api_and_client_remove_removes_it() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let added = server.cli(
        &[
            "client",
            "add",
            "--name",
            "Bookstore",
            "--redirect-uri",
            "https://books.example/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--post-logout-redirect-uri",
            "https://books.example/",
            "--scope",
            "books:download",
            "--first-party",
            "--id-token-alg",
            "EdDSA",
        ],
        None,
    );
    assert_exit(&added, 0, "client add");
    let printed = stdout(&added);
    let lines: Vec<&str> = printed.lines().collect();
    let [id, secret] = lines[..] else {
        panic!("the id and the secret, one a line: {printed:?}");
    };
    assert!(secret.starts_with("pcs_"), "{printed}");
    let path = format!("/clients/{id}");
    let got = call(&server, Method::GET, &path, Some(&admin), None).await;
    let got = expect(&got, StatusCode::OK, "the added client");
    assert_eq!(got["name"], "Bookstore");
    assert_eq!(
        got["redirect_uris"],
        json!(["https://books.example/cb", "http://127.0.0.1/cb"])
    );
    assert_eq!(
        got["post_logout_redirect_uris"],
        json!(["https://books.example/"])
    );
    assert_eq!(got["allowed_scopes"], json!(["books:download"]));
    assert_eq!(got["type"], "confidential");
    assert_eq!(got["first_party"], true);
    assert_eq!(got["id_token_signed_response_alg"], "EdDSA");
    let secret = SecretString::from(secret.to_owned());
    clients_of(&server)
        .await
        .authenticate(id, Some(&secret))
        .await
        .expect("the printed secret authenticates the client");

    let public = server.cli(
        &[
            "client",
            "add",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://localhost:5173/",
            "--public",
        ],
        None,
    );
    assert_exit(&public, 0, "client add --public");
    let public_id = stdout(&public).trim().to_owned();
    assert!(!public_id.contains('\n'), "only the id: {public_id:?}");
    let listed = server.cli(&["client", "list"], None);
    assert_exit(&listed, 0, "client list");
    assert_eq!(
        stdout(&listed),
        format!(
            "{id}\tBookstore\tconfidential\tfirst-party\thttps://books.example/cb http://127.0.0.1/cb\n\
             {public_id}\tSPA\tpublic\tthird-party\thttp://localhost:5173/\n"
        )
    );

    let removed = server.cli(&["client", "remove", id], None);
    assert_exit(&removed, 0, "client remove");
    let gone = call(&server, Method::GET, &path, Some(&admin), None).await;
    check_problem(&gone, StatusCode::NOT_FOUND, "removed");
    let again = server.cli(&["client", "remove", id], None);
    assert_exit(&again, 1, "client remove, twice");
    assert!(
        stderr(&again).contains("no such client"),
        "{}",
        stderr(&again)
    );

    let refused = server.cli(
        &[
            "client",
            "add",
            "--name",
            "Evil",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    );
    assert_exit(&refused, 1, "an http redirect URI that is not loopback");
    assert!(
        stderr(&refused).contains("redirect_uris"),
        "{}",
        stderr(&refused)
    );
    for usage in [
        &["client", "add", "--name", "No redirect"][..],
        &[
            "client",
            "add",
            "--name",
            "x",
            "--redirect-uri",
            "https://a.example/",
            "--id-token-alg",
            "HS256",
        ],
        &["client", "remove", "not-a-uuid"],
        &["client", "remove"],
    ] {
        assert_exit(&server.cli(usage, None), 2, &usage.join(" "));
    }
    let listed = server.cli(&["client", "list"], None);
    assert_eq!(stdout(&listed).lines().count(), 1, "{}", stdout(&listed));
}
