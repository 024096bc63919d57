//! The tutorial's bookstore (`examples/bookstore`), end to end: the real
//! Portcullis, and the bookstore in process verifying its tokens with
//! `portcullis-verify`.
//!
//! Each scenario of the tutorial: a public catalogue, downloads for paying
//! customers only (a purchase grants the role, a refresh brings it into the
//! token), comments for anyone logged in, and profiles and medical history
//! that only their owner, or a doctor reading, may see; anyone else gets
//! `404`, as for a user that does not exist.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestServer, check_problem, read, text};

/// The issuer Portcullis is configured with; the bookstore reaches it at
/// another URL (its test address), as behind a proxy.
const ISSUER: &str = "https://auth.bookstore.test";

/// Portcullis with the tutorial's roles and the bookstore's administrator
/// token, and the bookstore in front of it.
struct Bookstore {
    portcullis: TestServer,
    base: String,
}

impl Bookstore {
    async fn start() -> Self {
        Self::start_allowing(&[]).await
    }

    /// The bookstore with `cors_origins` allowed to call it from a browser.
    async fn start_allowing(cors_origins: &[&str]) -> Self {
        let portcullis = TestServer::spawn_with(&["--issuer", ISSUER]).await;
        portcullis.set_role("customer", &["books:download"]);
        portcullis.set_role("doctor", &["records:read"]);
        portcullis.add_user("admin@example.com", &["admin"]);
        let admin = text(
            &portcullis.login("admin@example.com", PASSWORD).await,
            "access_token",
        );
        // The bookstore grants `customer`, so its token holds what that
        // role grants: nobody hands out more than they hold.
        let admin_token = personal_token(
            &portcullis,
            &admin,
            &["admin:users", "books:download", "tokens:introspect"],
        )
        .await;
        let app = ::bookstore::app(::bookstore::Config {
            portcullis_url: portcullis.base.clone(),
            admin_token,
            issuer: Some(ISSUER.to_owned()),
            cors_origins: cors_origins
                .iter()
                .map(|&origin| origin.to_owned())
                .collect(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { portcullis, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.portcullis.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request).await
    }

    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .portcullis
            .client
            .request(method, self.url(path))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request).await
    }

    /// Signs up on Portcullis and logs in; returns the user id and the token response.
    async fn customer(&self, email: &str) -> (String, Value) {
        let user = self.portcullis.sign_up(email).await;
        (
            text(&user, "id"),
            self.portcullis.login(email, PASSWORD).await,
        )
    }
}

/// `POST /me/tokens` on Portcullis; returns the secret.
async fn personal_token(portcullis: &TestServer, access_token: &str, scopes: &[&str]) -> String {
    let reply = read(
        portcullis
            .client
            .post(portcullis.url("/me/tokens"))
            .bearer_auth(access_token)
            .json(&json!({ "name": "bookstore test", "scopes": scopes })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    text(&reply.json(), "token")
}

/// Asserts `401` with the bare challenge of a missing credential.
#[track_caller]
fn check_login_required(reply: &Reply, case: &str) {
    check_problem(reply, StatusCode::UNAUTHORIZED, case);
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="portcullis""#,
        "{case}"
    );
}

#[track_caller]
fn check_status(reply: &Reply, status: StatusCode, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text());
}

#[tokio::test]
async fn the_catalogue_is_public() {
    let store = Bookstore::start().await;
    let reply = store.get("/books", None).await;
    check_status(&reply, StatusCode::OK, "the catalogue");
    let books = reply.json();
    let ids: Vec<&Value> = books
        .as_array()
        .expect("a list of books")
        .iter()
        .map(|book| &book["id"])
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let reply = store.get("/books", Some("not-a-token")).await;
    check_status(&reply, StatusCode::OK, "a bad token does not matter here");
}

#[tokio::test]
async fn a_purchase_then_a_refresh_unlocks_downloads() {
    let store = Bookstore::start().await;
    check_login_required(&store.get("/books/1/download", None).await, "no token");
    let reply = store.get("/books/1/download", Some("not-a-token")).await;
    check_problem(&reply, StatusCode::UNAUTHORIZED, "a bad token");
    assert!(
        reply
            .header("www-authenticate")
            .contains(r#"error="invalid_token""#)
    );

    let (ada, tokens) = store.customer("ada@example.com").await;
    let before = text(&tokens, "access_token");
    let reply = store.get("/books/1/download", Some(&before)).await;
    check_problem(&reply, StatusCode::FORBIDDEN, "before buying");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="portcullis", error="insufficient_scope", scope="books:download""#
    );

    check_login_required(
        &store.send("POST", "/purchases", None, &json!({})).await,
        "buying without a token",
    );
    let reply = store
        .send("POST", "/purchases", Some(&before), &json!({}))
        .await;
    check_status(&reply, StatusCode::OK, "buying");
    assert_eq!(reply.json()["paid"], true);
    assert_eq!(reply.json()["roles"], json!(["customer"]));
    // The role is in the next token, not in this one.
    let reply = store.get("/books/1/download", Some(&before)).await;
    check_status(&reply, StatusCode::FORBIDDEN, "the old token after buying");

    let refreshed = store
        .portcullis
        .refresh(&text(&tokens, "refresh_token"))
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let after = text(&refreshed.json().await.unwrap(), "access_token");
    let reply = store.get("/books/1/download", Some(&after)).await;
    check_status(&reply, StatusCode::OK, "after the refresh");
    assert!(reply.text().contains(&ada), "{}", reply.text());
    let reply = store.get("/books/99/download", Some(&after)).await;
    check_status(&reply, StatusCode::NOT_FOUND, "a book that does not exist");

    // Buying again keeps one customer role.
    let reply = store
        .send("POST", "/purchases", Some(&after), &json!({}))
        .await;
    check_status(&reply, StatusCode::OK, "buying again");
    assert_eq!(reply.json()["roles"], json!(["customer"]));
}

#[tokio::test]
async fn comments_need_a_login_and_are_public_to_read() {
    let store = Bookstore::start().await;
    let comment = json!({ "text": "A classic." });
    check_login_required(
        &store
            .send("POST", "/books/2/comments", None, &comment)
            .await,
        "commenting without a token",
    );
    let (ada, tokens) = store.customer("ada@example.com").await;
    let reply = store
        .send(
            "POST",
            "/books/2/comments",
            Some(&text(&tokens, "access_token")),
            &comment,
        )
        .await;
    check_status(&reply, StatusCode::CREATED, "commenting");
    let expected = json!([{ "user_id": ada, "text": "A classic." }]);
    assert_eq!(reply.json(), expected[0]);
    let reply = store.get("/books/2/comments", None).await;
    check_status(&reply, StatusCode::OK, "reading comments");
    assert_eq!(reply.json(), expected);
    let reply = store.get("/books/1/comments", None).await;
    assert_eq!(reply.json(), json!([]), "another book's comments");
}

#[tokio::test]
async fn profiles_are_their_owners_and_doctors_may_only_read_them() {
    let store = Bookstore::start().await;
    let (ada, ada_tokens) = store.customer("ada@example.com").await;
    let (_, bob_tokens) = store.customer("bob@example.com").await;
    let doctor_id = store.portcullis.add_user("doctor@example.com", &["doctor"]);
    let doctor = text(
        &store.portcullis.login("doctor@example.com", PASSWORD).await,
        "access_token",
    );
    let ada_access = text(&ada_tokens, "access_token");
    let bob = text(&bob_tokens, "access_token");
    let profile_path = format!("/users/{ada}/profile");
    let history_path = format!("/users/{ada}/medical-history");
    let profile = json!({ "display_name": "Ada", "medical_history": ["asthma"] });

    let reply = store
        .send("PUT", &profile_path, Some(&ada_access), &profile)
        .await;
    check_status(&reply, StatusCode::OK, "Ada writes her profile");
    let reply = store.get(&profile_path, Some(&ada_access)).await;
    check_status(&reply, StatusCode::OK, "Ada reads her profile");
    assert_eq!(reply.json(), profile);
    let reply = store.get(&history_path, Some(&ada_access)).await;
    check_status(&reply, StatusCode::OK, "Ada reads her history");
    assert_eq!(reply.json(), json!(["asthma"]));

    let forged = json!({ "display_name": "Mallory", "medical_history": [] });
    for (case, method, path, body) in [
        (
            "Bob reads Ada's profile",
            "GET",
            &profile_path,
            &json!(null),
        ),
        (
            "Bob reads Ada's history",
            "GET",
            &history_path,
            &json!(null),
        ),
        ("Bob writes Ada's profile", "PUT", &profile_path, &forged),
    ] {
        let reply = store.send(method, path, Some(&bob), body).await;
        check_problem(&reply, StatusCode::NOT_FOUND, case);
    }
    let reply = store
        .send("PUT", &profile_path, Some(&doctor), &forged)
        .await;
    check_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "the doctor writes Ada's profile",
    );
    let reply = store.get(&history_path, Some(&doctor)).await;
    check_status(&reply, StatusCode::OK, "the doctor reads Ada's history");
    assert_eq!(reply.json(), json!(["asthma"]));
    let reply = store.get(&profile_path, Some(&doctor)).await;
    check_status(&reply, StatusCode::OK, "the doctor reads Ada's profile");
    assert_eq!(reply.json(), profile, "nobody but Ada changed it");

    // Unknown users look the same as other users' profiles to Bob.
    let reply = store
        .get(&format!("/users/{doctor_id}/profile"), Some(&bob))
        .await;
    check_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "Bob reads the doctor's profile",
    );
    let reply = store
        .get(
            "/users/00000000-0000-0000-0000-000000000000/profile",
            Some(&bob),
        )
        .await;
    check_problem(&reply, StatusCode::NOT_FOUND, "Bob reads nobody's profile");
    check_login_required(&store.get(&profile_path, None).await, "no token");
}

#[tokio::test]
async fn a_personal_access_token_works_through_introspection() {
    let store = Bookstore::start().await;
    let (ada, ada_tokens) = store.customer("ada@example.com").await;
    let (_, bob_tokens) = store.customer("bob@example.com").await;
    let ada_pat = personal_token(&store.portcullis, &text(&ada_tokens, "access_token"), &[]).await;
    let bob_pat = personal_token(&store.portcullis, &text(&bob_tokens, "access_token"), &[]).await;
    let profile_path = format!("/users/{ada}/profile");
    let profile = json!({ "display_name": "Ada (script)", "medical_history": [] });

    let reply = store
        .send("PUT", &profile_path, Some(&ada_pat), &profile)
        .await;
    check_status(&reply, StatusCode::OK, "Ada's PAT writes her profile");
    let reply = store.get(&profile_path, Some(&ada_pat)).await;
    check_status(&reply, StatusCode::OK, "Ada's PAT reads her profile");
    assert_eq!(reply.json(), profile);
    let reply = store.get(&profile_path, Some(&bob_pat)).await;
    check_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "Bob's PAT reads Ada's profile",
    );
    let reply = store
        .get(&profile_path, Some("pat_0000000000000000000000"))
        .await;
    check_problem(&reply, StatusCode::UNAUTHORIZED, "an unknown PAT");
    let reply = store
        .send(
            "POST",
            "/books/1/comments",
            Some(&ada_pat),
            &json!({ "text": "from a script" }),
        )
        .await;
    check_status(&reply, StatusCode::CREATED, "Ada's PAT comments");
    assert_eq!(reply.json()["user_id"], ada);
}

#[tokio::test]
async fn a_browser_app_of_an_allowed_origin_may_call_the_api_and_no_other() {
    let app = "http://127.0.0.1:5173";
    let store = Bookstore::start_allowing(&[app]).await;
    for (origin, allowed) in [(app, true), ("https://evil.example", false)] {
        let preflight = read(
            store
                .portcullis
                .client
                .request(reqwest::Method::OPTIONS, store.url("/books/1/download"))
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization"),
        )
        .await;
        let allowed_origin = preflight.header("access-control-allow-origin");
        if allowed {
            assert_eq!(allowed_origin, origin, "{}", preflight.text());
            assert!(
                preflight
                    .header("access-control-allow-headers")
                    .contains("authorization"),
                "the bearer token may be sent"
            );
        } else {
            assert_eq!(allowed_origin, "", "{origin} is not allowed");
        }
        let catalogue = read(
            store
                .portcullis
                .client
                .get(store.url("/books"))
                .header("origin", origin),
        )
        .await;
        check_status(&catalogue, StatusCode::OK, "the catalogue");
        assert_eq!(
            catalogue.header("access-control-allow-origin"),
            if allowed { origin } else { "" },
            "{origin}"
        );
    }
}
