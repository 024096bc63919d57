//! What browser sign-in keeps true after the code is redeemed: client
//! authentication, refresh tokens bound to their client, a removed client's
//! sessions, RP-initiated logout, permissions gained later; and the rules a
//! security review asked for: what an application's token may reach, what
//! a client administrator may shape, sign-up under required verification,
//! whose id_token_hint signs whom out, consent taken back, `max_age` across
//! consent, and refreshes that name scopes or a client.

use reqwest::StatusCode;
use serde_json::Value;

use crate::authorization_code::{
    REDIRECT, Registered, VERIFIER, code_for, exchange, pairs, parameter, redeem, register,
    request, signed_in,
};
use crate::browser_pages::{Browser, encode};
use crate::helpers::{TestServer, jwt_claims, read, text};

#[tokio::test]
async fn a_confidential_client_authenticates_with_basic_or_in_the_body() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--first-party"]);
    let secret = client
        .secret
        .clone()
        .expect("a confidential client's secret");
    let mut browser = signed_in(&server, "ada@example.com").await;
    let fields = |code: &str| -> Vec<(String, String)> {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
    };

    let code = code_for(&mut browser, &client.id, &[]).await;
    let wrong = exchange(
        &server,
        &pairs(&fields(&code)),
        Some((&client.id, "pcs_wrong")),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_client");
    assert!(wrong.header("www-authenticate").starts_with("Basic"));
    let none = redeem(&server, &client.id, &code).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "no secret");
    let basic = exchange(&server, &pairs(&fields(&code)), Some((&client.id, &secret))).await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.text());

    let code = code_for(&mut browser, &client.id, &[]).await;
    let mut post = fields(&code);
    post.push(("client_id".into(), client.id.clone()));
    post.push(("client_secret".into(), secret.clone()));
    let reply = exchange(&server, &pairs(&post), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    // Its refresh token works for it only.
    let refresh_token = text(&reply.json(), "refresh_token");
    let other = register(&server, &["--public", "--first-party"]);
    let stolen = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &other.id),
        ],
        None,
    )
    .await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    let own = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
        Some((&client.id, &secret)),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}

#[tokio::test]
async fn removing_a_client_ends_its_sessions() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    let code = code_for(&mut browser, &client.id, &[]).await;
    let tokens = redeem(&server, &client.id, &code).await.json();
    let output = server.cli(&["client", "remove", &client.id], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.follow_feeds();
    let me = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rp_initiated_logout_with_an_id_token_hint_ends_the_browser_session() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    let code = code_for(&mut browser, &client.id, &[]).await;
    let tokens: Value = redeem(&server, &client.id, &code).await.json();
    let id_token = text(&tokens, "id_token");

    let unregistered = browser
        .get(&format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri={}",
            encode(&id_token),
            encode("https://evil.example/")
        ))
        .await;
    assert_eq!(
        unregistered.status,
        StatusCode::OK,
        "never to an unregistered URI: the user confirms on the page"
    );
    assert!(unregistered.text().contains("id=\"logout\""));
    assert!(browser.session().is_some(), "nothing ended yet");

    let reply = browser
        .get(&format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            encode(&id_token),
            encode("http://127.0.0.1:4000/bye")
        ))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(
        reply.header("location"),
        "http://127.0.0.1:4000/bye?state=bye"
    );
    let none = browser
        .get(&request(&client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(parameter(&none, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn a_permission_gained_after_sign_in_shows_at_the_next_refresh() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    server.add_user("ada@example.com", &[]);
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;
    let code = code_for(&mut browser, &client.id, &[]).await;
    let tokens = redeem(&server, &client.id, &code).await.json();
    assert_eq!(tokens["scope"], "openid profile email", "not held yet");

    server.set_role("reader", &["books:download"]);
    let admin = server.admin_access_token().await;
    let user = jwt_claims(&text(&tokens, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let granted = server
        .client
        .patch(server.url(&format!("/users/{user}")))
        .bearer_auth(admin)
        .json(&serde_json::json!({"roles": ["reader"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let refreshed = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&tokens, "refresh_token")),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(
        refreshed.json()["scope"],
        "openid profile email books:download"
    );
}

/// An access token of `client` for a fresh user of `server`, and the browser.
async fn client_tokens(server: &TestServer, client: &Registered, email: &str) -> (Browser, Value) {
    let mut browser = signed_in(server, email).await;
    let code = code_for(
        &mut browser,
        &client.id,
        &[("scope", "openid offline_access books:download")],
    )
    .await;
    let tokens = redeem(server, &client.id, &code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    (browser, tokens.json())
}

#[tokio::test]
async fn an_applications_token_reaches_its_permissions_and_userinfo_not_the_account() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let (_, tokens) = client_tokens(&server, &client, "ada@example.com").await;
    let access = text(&tokens, "access_token");
    for (method, path, body) in [
        (reqwest::Method::GET, "/me", None),
        (reqwest::Method::GET, "/me/sessions", None),
        (reqwest::Method::DELETE, "/me/sessions", None),
        (reqwest::Method::GET, "/me/tokens", None),
        (
            reqwest::Method::POST,
            "/me/tokens",
            Some(serde_json::json!({"name": "x", "scopes": []})),
        ),
        (
            reqwest::Method::PATCH,
            "/me",
            Some(serde_json::json!({"name": "x"})),
        ),
    ] {
        let mut request = server
            .client
            .request(method.clone(), server.url(path))
            .bearer_auth(&access);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = read(request).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            reply.text()
        );
        assert!(
            reply.json()["type"]
                .as_str()
                .unwrap()
                .ends_with("client-token-not-allowed")
        );
    }
    let verified = server
        .get_authorized("/auth/verify?permission=books:download", &access)
        .await;
    assert_eq!(verified.status(), StatusCode::OK, "its permissions work");
    let info = server.get_authorized("/userinfo", &access).await;
    assert_eq!(info.status(), StatusCode::OK);
    assert_eq!(info.headers()["cache-control"], "no-store");
    assert_eq!(
        server.logout(&access).await.status(),
        StatusCode::NO_CONTENT,
        "it may end its own session"
    );
}

#[tokio::test]
async fn a_client_administrator_cannot_reach_beyond_their_own_permissions() {
    let server = TestServer::spawn().await;
    server.set_role("client-admin", &["admin:clients"]);
    server.add_user("clients@example.com", &["client-admin"]);
    let access = text(
        &server
            .login("clients@example.com", crate::helpers::PASSWORD)
            .await,
        "access_token",
    );
    let post = |body: Value| {
        let access = access.clone();
        let request = server
            .client
            .post(server.url("/clients"))
            .bearer_auth(access)
            .json(&body);
        read(request)
    };
    let base = serde_json::json!({"name": "App", "type": "public", "redirect_uris": [REDIRECT]});
    let mut escalating = base.clone();
    escalating["allowed_scopes"] = serde_json::json!(["admin:users"]);
    assert_eq!(
        post(escalating).await.status,
        StatusCode::FORBIDDEN,
        "a permission not held"
    );
    let mut first_party = base.clone();
    first_party["first_party"] = serde_json::json!(true);
    assert_eq!(
        post(first_party).await.status,
        StatusCode::FORBIDDEN,
        "skipping consent"
    );
    assert_eq!(post(base).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn with_verification_required_signing_up_on_the_page_opens_no_session() {
    let server = TestServer::spawn_with(&["--email-verification", "required"]).await;
    let mut browser = Browser::new(&server);
    let reply = browser.sign_up("ada@example.com", "/account").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("Check your mail"));
    assert!(browser.session().is_none());
}

#[tokio::test]
async fn another_users_id_token_cannot_sign_this_browser_out() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let (_, mallory) = client_tokens(&server, &client, "mallory@example.com").await;
    let (mut victim, _) = client_tokens(&server, &client, "ada@example.com").await;
    let reply = victim
        .get(&format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri={}",
            encode(&text(&mallory, "id_token")),
            encode("http://127.0.0.1:4000/bye")
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "a page asking to confirm");
    assert_eq!(
        victim.get("/account").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn taking_consent_back_ends_the_clients_sessions_and_max_age_survives_consent() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    server.advance_clock(time::Duration::seconds(5));
    let asked = browser
        .get(&request(
            &client.id,
            &[("scope", "openid offline_access"), ("max_age", "0")],
        ))
        .await;
    let login = asked.header("location").to_owned();
    assert!(
        login.starts_with("/login?"),
        "max_age=0 signs in again: {login}"
    );
    let return_to: Vec<(String, String)> =
        serde_urlencoded::from_str(login.split_once('?').unwrap().1).unwrap();
    let back = browser.sign_in("ada@example.com", &return_to[0].1).await;
    let consent = browser.get(back.header("location")).await;
    let location = consent.header("location").to_owned();
    assert!(location.starts_with("/consent?"), "{location}");
    browser.get(&location).await;
    let mut fields: Vec<(String, String)> =
        serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
    fields.push(("csrf".into(), browser.csrf()));
    fields.push(("decision".into(), "allow".into()));
    server.advance_clock(time::Duration::seconds(5));
    let allowed = browser.post("/consent", &pairs(&fields)).await;
    let code =
        parameter(&allowed, "code").unwrap_or_else(|| panic!("{}", allowed.header("location")));
    let tokens = redeem(&server, &client.id, &code).await.json();

    let csrf = browser.csrf();
    let revoked = browser
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("action", "revoke_consent"),
                ("id", &client.id),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text());
    let refresh = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&tokens, "refresh_token")),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(
        refresh.json()["error"],
        "invalid_grant",
        "the client's session ended"
    );
}

#[tokio::test]
async fn refreshes_accept_the_original_scope_and_a_client_id_the_session_does_not_need() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let (_, tokens) = client_tokens(&server, &client, "ada@example.com").await;
    let again = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&tokens, "refresh_token")),
            ("client_id", &client.id),
            ("scope", "openid offline_access books:download"),
        ],
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());

    let api = server.user_with_tokens("bob@example.com").await;
    let with_unknown_client = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&api, "refresh_token")),
            ("client_id", "my-app"),
        ],
        None,
    )
    .await;
    assert_eq!(
        with_unknown_client.status,
        StatusCode::OK,
        "{}",
        with_unknown_client.text()
    );
}
