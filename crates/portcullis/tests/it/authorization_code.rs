//! Browser sign-in end to end over real HTTP: `/authorize`, the sign-in
//! and consent pages, the authorization-code grant with PKCE, id tokens,
//! `/userinfo`, refresh per client and RP-initiated logout. The intent of
//! the OpenID Foundation's Basic OP tests that apply is here (code reuse,
//! unregistered redirect, PKCE, `prompt=none`, `max_age`, `nonce`, refresh
//! keeping the claims); a real relying-party library runs the same flow in
//! the `browser` suite.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

use crate::browser_pages::Browser;
use crate::helpers::{Reply, TestServer, jwt_claims, jwt_header, read, text};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:4000/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A client registered with `portcullis client add`.
pub(crate) struct Registered {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) fn register(server: &TestServer, extra: &[&str]) -> Registered {
    let mut args = vec![
        "client",
        "add",
        "--name",
        "Bookstore",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "http://127.0.0.1:4000/bye",
        "--scope",
        "books:download",
    ];
    args.extend_from_slice(extra);
    let output = server.cli(&args, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines = stdout.lines();
    Registered {
        id: lines.next().unwrap().trim().to_owned(),
        secret: lines.next().map(|line| line.trim().to_owned()),
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization request's query, with `extra` added or replacing.
pub(crate) fn request(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile books:download"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    format!(
        "/authorize?{}",
        serde_urlencoded::to_string(&pairs).unwrap()
    )
}

/// The query parameters of a redirect's `Location`.
fn redirect_parameters(reply: &Reply) -> Vec<(String, String)> {
    let location = reply.header("location");
    let query = location.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str(query).unwrap()
}

pub(crate) fn parameter(reply: &Reply, name: &str) -> Option<String> {
    redirect_parameters(reply)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// A browser signed in as a fresh user of `server`.
pub(crate) async fn signed_in(server: &TestServer, email: &str) -> Browser {
    server.set_role("reader", &["books:download"]);
    server.add_user(email, &["reader"]);
    let mut browser = Browser::new(server);
    let reply = browser.sign_in(email, "/account").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    browser
}

/// Follows `/authorize` to the client: the code.
pub(crate) async fn code_for(
    browser: &mut Browser,
    client_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let reply = browser.get(&request(client_id, extra)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(
        reply.header("location").starts_with(REDIRECT),
        "{}",
        reply.header("location")
    );
    assert_eq!(parameter(&reply, "state").as_deref(), Some("st4te"));
    parameter(&reply, "code").unwrap_or_else(|| panic!("no code: {}", reply.header("location")))
}

pub(crate) async fn exchange(
    server: &TestServer,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Reply {
    let mut request = server
        .client
        .post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap());
    if let Some((id, secret)) = basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    read(request).await
}

pub(crate) async fn redeem(server: &TestServer, client_id: &str, code: &str) -> Reply {
    exchange(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await
}

#[tokio::test]
async fn a_first_party_public_client_gets_tokens_an_id_token_and_userinfo() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    assert!(client.secret.is_none(), "a public client has no secret");
    let mut browser = signed_in(&server, "ada@example.com").await;

    let reply = browser.get(&request(&client.id, &[])).await;
    assert_eq!(
        parameter(&reply, "iss").as_deref(),
        Some(server.issuer().as_str()),
        "RFC 9207"
    );
    let code = parameter(&reply, "code").unwrap();
    let tokens = redeem(&server, &client.id, &code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    assert_eq!(tokens.header("cache-control"), "no-store");
    let tokens = tokens.json();
    assert_eq!(tokens["scope"], "openid profile email books:download");
    let access = jwt_claims(&text(&tokens, "access_token"));
    assert_eq!(access["client_id"], client.id.as_str());

    let id_token = text(&tokens, "id_token");
    assert_eq!(jwt_header(&id_token)["alg"], "RS256", "the default");
    let claims = jwt_claims(&id_token);
    assert_eq!(claims["iss"], server.issuer().as_str());
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["sub"], access["sub"]);
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert!(claims.get("sid").is_some());
    let id_key = server
        .jwks()
        .await
        .into_iter()
        .find(|key| key["kid"] == jwt_header(&id_token)["kid"]);
    assert!(id_key.is_some(), "the id token's key is in the JWKS");

    let info = read(
        server
            .client
            .get(server.url("/userinfo"))
            .bearer_auth(text(&tokens, "access_token")),
    )
    .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text());
    assert_eq!(info.json()["sub"], claims["sub"]);
    assert_eq!(info.json()["email"], "ada@example.com");

    // First party: a refresh token without offline_access; it needs the client.
    let refresh_token = text(&tokens, "refresh_token");
    let alone = server.refresh(&refresh_token).await;
    assert_eq!(
        alone.status(),
        StatusCode::BAD_REQUEST,
        "not without the client"
    );
    let refreshed = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    let again = jwt_claims(&text(&refreshed.json(), "id_token"));
    assert_eq!(again["sub"], claims["sub"]);
    assert_eq!(
        again["auth_time"], claims["auth_time"],
        "the original authentication"
    );
    assert!(again.get("nonce").is_none(), "OpenID Connect Core §12.2");
}

#[tokio::test]
async fn a_code_works_once_and_a_second_use_revokes_what_it_issued() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    let code = code_for(
        &mut browser,
        &client.id,
        &[("scope", "openid offline_access")],
    )
    .await;
    let first = redeem(&server, &client.id, &code).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let second = redeem(&server, &client.id, &code).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.json()["error"], "invalid_grant");
    let refresh = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&first.json(), "refresh_token")),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(
        refresh.status,
        StatusCode::BAD_REQUEST,
        "revoked by the replay"
    );
    let me = server
        .get_authorized("/me", &text(&first.json(), "access_token"))
        .await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "its access token too"
    );
}

#[tokio::test]
async fn the_verifier_the_redirect_uri_and_the_client_must_be_the_codes() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let other = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    let code = code_for(&mut browser, &client.id, &[]).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let with = |name: &'static str, value: &'static str| {
        base.iter()
            .map(|(n, v)| if *n == name { (*n, value) } else { (*n, *v) })
            .collect::<Vec<_>>()
    };
    for (case, fields) in [
        (
            "wrong verifier",
            with(
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            ),
        ),
        (
            "other redirect",
            with("redirect_uri", "http://127.0.0.1:4000/other"),
        ),
    ] {
        let reply = exchange(&server, &fields, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(reply.json()["error"], "invalid_grant", "{case}");
    }
    let substituted: Vec<(&str, &str)> = base
        .iter()
        .map(|(n, v)| {
            if *n == "client_id" {
                (*n, other.id.as_str())
            } else {
                (*n, *v)
            }
        })
        .collect();
    let reply = exchange(&server, &substituted, None).await;
    assert_eq!(
        reply.json()["error"],
        "invalid_grant",
        "another client's code"
    );
    let missing: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .filter(|(n, _)| *n != "code_verifier")
        .collect();
    let reply = exchange(&server, &missing, None).await;
    assert_eq!(reply.json()["error"], "invalid_request");
    // None of that spent the code.
    assert_eq!(
        redeem(&server, &client.id, &code).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_clients_and_redirects_get_a_page_never_a_redirect() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    for (case, path) in [
        (
            "unknown client",
            request("0190a1b2-0000-7000-8000-000000000000", &[]),
        ),
        ("no client", request("", &[])),
        (
            "unregistered redirect",
            request(&client.id, &[("redirect_uri", "https://evil.example/cb")]),
        ),
        ("no redirect", request(&client.id, &[("redirect_uri", "")])),
    ] {
        let reply = browser.get(&path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
        assert!(reply.header("location").is_empty(), "{case}");
        assert!(
            reply.header("content-type").starts_with("text/html"),
            "{case}"
        );
    }
    // A loopback redirect may use another port (RFC 8252 §7.3).
    let reply = browser
        .get(&request(
            &client.id,
            &[("redirect_uri", "http://127.0.0.1:53124/callback")],
        ))
        .await;
    assert!(
        reply
            .header("location")
            .starts_with("http://127.0.0.1:53124/callback?code=")
    );
}

#[tokio::test]
async fn bad_requests_of_a_known_client_go_back_to_it_with_an_error_and_iss() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    for (case, extra, error) in [
        (
            "plain PKCE",
            vec![("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "no PKCE",
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            "implicit",
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "a permission not allowed",
            vec![("scope", "openid admin:users")],
            "invalid_scope",
        ),
        (
            "prompt none with login",
            vec![("prompt", "none login")],
            "invalid_request",
        ),
        (
            "a request object",
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            "a request object by reference",
            vec![("request_uri", "https://client.example/request.jwt")],
            "request_uri_not_supported",
        ),
    ] {
        let reply = browser.get(&request(&client.id, &extra)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{case}");
        assert!(reply.header("location").starts_with(REDIRECT), "{case}");
        assert_eq!(parameter(&reply, "error").as_deref(), Some(error), "{case}");
        assert_eq!(
            parameter(&reply, "state").as_deref(),
            Some("st4te"),
            "{case}"
        );
        assert_eq!(parameter(&reply, "iss"), Some(server.issuer()), "{case}");
    }
    // A parameter sent without a value is omitted (RFC 6749 §3.1).
    let reply = browser
        .get(&request(
            &client.id,
            &[("request", ""), ("request_uri", "")],
        ))
        .await;
    assert_eq!(parameter(&reply, "error"), None);
    assert!(
        parameter(&reply, "code").is_some(),
        "{:?}",
        reply.header("location")
    );
}

#[tokio::test]
async fn without_a_session_the_request_signs_in_first_and_comes_back() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    server.add_user("ada@example.com", &[]);
    let mut browser = Browser::new(&server);

    let none = browser
        .get(&request(&client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(parameter(&none, "error").as_deref(), Some("login_required"));
    assert_eq!(parameter(&none, "iss"), Some(server.issuer()));

    let reply = browser
        .get(&request(&client.id, &[("login_hint", "ada@example.com")]))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.header("location").to_owned();
    assert!(
        location.starts_with("/login?return_to=%2Fauthorize"),
        "{location}"
    );
    let page = browser.get(&location).await;
    assert!(
        page.text().contains("value=\"ada@example.com\""),
        "login_hint fills the form"
    );
    let return_to: Vec<(String, String)> =
        serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
    let back = browser.sign_in("ada@example.com", &return_to[0].1).await;
    assert!(back.header("location").starts_with("/authorize?"));
    let code = browser.get(back.header("location")).await;
    assert!(
        parameter(&code, "code").is_some(),
        "{}",
        code.header("location")
    );

    // prompt=login asks again even with a session, and only once.
    let again = browser
        .get(&request(&client.id, &[("prompt", "login")]))
        .await;
    let location = again.header("location").to_owned();
    assert!(location.starts_with("/login?"), "{location}");
    let return_to: Vec<(String, String)> =
        serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
    assert!(!return_to[0].1.contains("prompt"), "{}", return_to[0].1);
}

#[tokio::test]
async fn max_age_asks_to_sign_in_again_and_auth_time_follows() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public", "--first-party"]);
    let mut browser = signed_in(&server, "ada@example.com").await;
    server.advance_clock(time::Duration::seconds(120));
    let reply = browser
        .get(&request(&client.id, &[("max_age", "60")]))
        .await;
    assert!(reply.header("location").starts_with("/login?"), "too old");
    let none = browser
        .get(&request(
            &client.id,
            &[("max_age", "60"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(parameter(&none, "error").as_deref(), Some("login_required"));
    let code = code_for(&mut browser, &client.id, &[("max_age", "600")]).await;
    let tokens = redeem(&server, &client.id, &code).await.json();
    let claims = jwt_claims(&text(&tokens, "id_token"));
    let lag = claims["iat"].as_i64().unwrap() - claims["auth_time"].as_i64().unwrap();
    assert!(lag >= 120, "auth_time is the sign-in's: {claims}");
}

#[tokio::test]
async fn a_third_party_client_asks_consent_once_and_may_be_refused() {
    let server = TestServer::spawn().await;
    let client = register(&server, &["--public"]);
    let mut browser = signed_in(&server, "ada@example.com").await;

    let none = browser
        .get(&request(&client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(
        parameter(&none, "error").as_deref(),
        Some("consent_required")
    );

    let reply = browser.get(&request(&client.id, &[])).await;
    let location = reply.header("location").to_owned();
    assert!(location.starts_with("/consent?"), "{location}");
    let page = browser.get(&location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("Bookstore"));
    assert!(page.text().contains("id=\"allow\"") && page.text().contains("id=\"deny\""));
    assert_eq!(page.header("x-frame-options"), "DENY");

    let csrf = browser.csrf();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
    let form = |decision: &'static str| {
        let mut fields: Vec<(String, String)> = query.clone();
        fields.push(("csrf".into(), csrf.clone()));
        fields.push(("decision".into(), decision.into()));
        fields
    };
    let denied = browser.post("/consent", &pairs(&form("deny"))).await;
    assert_eq!(
        parameter(&denied, "error").as_deref(),
        Some("access_denied")
    );
    let forged = browser
        .post_from(
            "/consent",
            &pairs(&form("allow")),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let allowed = browser.post("/consent", &pairs(&form("allow"))).await;
    assert!(
        parameter(&allowed, "code").is_some(),
        "{}",
        allowed.header("location")
    );

    // Remembered: straight to the client next time, unless asked again.
    code_for(&mut browser, &client.id, &[]).await;
    let asked = browser
        .get(&request(&client.id, &[("prompt", "consent")]))
        .await;
    assert!(asked.header("location").starts_with("/consent?"));
    // Without offline_access a third-party client gets no refresh token.
    let code = code_for(&mut browser, &client.id, &[]).await;
    let tokens = redeem(&server, &client.id, &code).await.json();
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

/// `fields` as the `&str` pairs a form post takes.
pub(crate) fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}
