//! The hosted pages of browser sign-in over real HTTP, as a browser without
//! JavaScript uses them: `/login`, `/signup`, `/account`, `/logout`. Cookies
//! are kept by hand here, so that every flag is seen; redirects are not
//! followed, so that every `Location` is seen. The OAuth flow on top of
//! these pages is in `authorization_code`.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::helpers::{PASSWORD, Reply, TestServer, read, session_id, text};

/// A browser: a cookie jar and no redirect following.
pub(crate) struct Browser {
    client: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
    base: String,
    /// The issuer's origin, where a browser opens the pages.
    origin: String,
}

impl Browser {
    pub(crate) fn new(server: &TestServer) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            base: server.url(""),
            origin: server.issuer(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, reply: &Reply) {
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// `GET path` (a path, or a whole URL).
    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let reply = read(self.client.get(url).header("cookie", self.cookie_header())).await;
        self.keep_cookies(&reply);
        reply
    }

    /// POSTs a form as a page of this server does (the issuer's `Origin`).
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.post_from(path, fields, Some(&self.origin.clone()))
            .await
    }

    /// POSTs a form from `origin` (none: a browser that sends no `Origin`).
    pub(crate) async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        if let Some(origin) = origin {
            request = request.header("origin", origin.trim_end_matches('/'));
        }
        let reply = read(request).await;
        self.keep_cookies(&reply);
        reply
    }

    pub(crate) fn csrf(&self) -> String {
        self.cookies
            .get("portcullis_csrf")
            .expect("a page set the CSRF cookie")
            .clone()
    }

    pub(crate) fn session(&self) -> Option<&String> {
        self.cookies.get("portcullis_session")
    }

    /// Opens the sign-in page and signs in; the reply to the form.
    pub(crate) async fn sign_in(&mut self, email: &str, return_to: &str) -> Reply {
        let page = self
            .get(&format!("/login?return_to={}", encode(return_to)))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf = self.csrf();
        self.post(
            "/login",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("return_to", return_to),
            ],
        )
        .await
    }

    /// Opens the sign-up page and signs up; the reply to the form.
    pub(crate) async fn sign_up(&mut self, email: &str, return_to: &str) -> Reply {
        self.get(&format!("/signup?return_to={}", encode(return_to)))
            .await;
        let csrf = self.csrf();
        self.post(
            "/signup",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("name", "Ada"),
                ("csrf", &csrf),
                ("return_to", return_to),
            ],
        )
        .await
    }
}

pub(crate) fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap()[1..].to_owned()
}

#[track_caller]
fn assert_page_headers(reply: &Reply) {
    assert!(reply.header("content-type").starts_with("text/html"));
    assert_eq!(reply.header("x-frame-options"), "DENY");
    assert!(
        reply
            .header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert!(
        reply
            .header("content-security-policy")
            .starts_with("default-src 'none'")
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    assert!(reply.text().contains("<html lang=\"en\">"));
}

#[tokio::test]
async fn signing_in_sets_a_new_session_cookie_each_time_and_goes_back() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mut browser = Browser::new(&server);

    let page = browser.get("/login?return_to=%2Faccount").await;
    assert_page_headers(&page);
    let csrf_cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_csrf="))
        .expect("a CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    for id in ["email", "password", "submit", "signup-link", "forgot-link"] {
        assert!(
            page.text().contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            page.text()
        );
    }
    for hidden in ["csrf", "return_to"] {
        assert!(
            page.text()
                .contains(&format!("type=\"hidden\" name=\"{hidden}\""))
        );
    }

    let signed_in = browser.sign_in("ada@example.com", "/account").await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text()
    );
    assert_eq!(signed_in.header("location"), "/account");
    let set = signed_in.header("set-cookie");
    assert!(set.starts_with("portcullis_session="), "{set}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    let first = browser.session().unwrap().clone();

    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.text());
    assert!(account.text().contains("ada@example.com"));

    // Signing in again (a fixated or old cookie) gives a new session and ends the old one.
    browser.sign_in("ada@example.com", "/account").await;
    let second = browser.session().unwrap().clone();
    assert_ne!(first, second, "a new cookie at every sign-in");
    let mut stale = Browser::new(&server);
    stale.cookies.insert("portcullis_session".into(), first);
    let reply = stale.get("/account").await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "the replaced session ended"
    );
    assert!(reply.header("location").starts_with("/login"));
}

#[tokio::test]
async fn the_browser_session_is_listed_and_revocable_like_any_session() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let access = text(&tokens, "access_token");
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;

    let listed: serde_json::Value = server
        .get_authorized("/me/sessions", &access)
        .await
        .json()
        .await
        .unwrap();
    let sessions = listed.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    let browser_session = sessions
        .iter()
        .find(|s| s["id"].as_str() != Some(&session_id(&tokens)))
        .unwrap();

    // The token endpoint never takes the cookie for a refresh token.
    let cookie = browser.session().unwrap().clone();
    let refused = server.refresh(&cookie).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    let revoked = server
        .client
        .delete(server.url(&format!(
            "/me/sessions/{}",
            browser_session["id"].as_str().unwrap()
        )))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let reply = browser.get("/account").await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "revoked: sign in again"
    );
}

#[tokio::test]
async fn a_password_change_ends_the_browser_session() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;
    let changed = server
        .client
        .put(server.url("/me/password"))
        .bearer_auth(text(&tokens, "access_token"))
        .json(&serde_json::json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_apis_words_and_throttled_alike() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.get("/login").await;
    let csrf = browser.csrf();
    for email in ["ada@example.com", "nobody@example.com"] {
        let reply = browser
            .post(
                "/login",
                &[
                    ("email", email),
                    ("password", "not the password"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{email}");
        assert!(reply.text().contains("id=\"form-error\""));
        assert!(reply.text().contains("The email or password is incorrect."));
        assert!(
            reply.text().contains(&format!("value=\"{email}\"")),
            "the email is kept"
        );
        assert!(browser.session().is_none());
    }
}

#[tokio::test]
async fn forms_from_elsewhere_are_refused() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.get("/login").await;
    let csrf = browser.csrf();
    let ours = server.issuer();
    let this_host = server.url("");
    for (case, token, origin) in [
        ("no token", "", Some(ours.as_str())),
        (
            "another token",
            "AAAAAAAAAAAAAAAAAAAAAA",
            Some(ours.as_str()),
        ),
        ("another site", csrf.as_str(), Some("https://evil.example")),
        ("an opaque origin", csrf.as_str(), Some("null")),
        (
            "this host under another name than the issuer",
            csrf.as_str(),
            Some(this_host.trim_end_matches('/')),
        ),
    ] {
        let fields = [
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf", token),
        ];
        let reply = browser.post_from("/login", &fields, origin).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{case}: {}",
            reply.text()
        );
        assert!(browser.session().is_none(), "{case}");
    }
    let without_the_field = browser
        .post(
            "/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        without_the_field.status,
        StatusCode::FORBIDDEN,
        "a page, not a 422"
    );
    assert!(
        without_the_field
            .header("content-type")
            .starts_with("text/html")
    );
    let fields = [
        ("email", "ada@example.com"),
        ("password", PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    // Without the cookie, the right token alone does not pass either.
    let mut other = Browser::new(&server);
    let reply = other.post("/login", &fields).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A browser that sends no Origin, with the token: accepted.
    let reply = browser.post_from("/login", &fields, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
}

#[tokio::test]
async fn return_to_never_leaves_this_server() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    for outside in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let mut browser = Browser::new(&server);
        let reply = browser.sign_in("ada@example.com", outside).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.header("location"), "/account", "{outside}");
    }
}

#[tokio::test]
async fn signing_up_on_the_page_signs_in_and_says_what_is_wrong_next_to_the_field() {
    let server = TestServer::spawn().await;
    let mut browser = Browser::new(&server);
    browser.get("/signup").await;
    let csrf = browser.csrf();
    let short = browser
        .post(
            "/signup",
            &[
                ("email", "ada@example.com"),
                ("password", "short"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.text()
    );
    assert!(
        short.text().contains("id=\"password-error\""),
        "{}",
        short.text()
    );
    assert!(short.text().contains("12 characters"), "the API's words");

    let created = browser.sign_up("ada@example.com", "/account").await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    assert!(browser.session().is_some());
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await["token_type"],
        "Bearer"
    );

    let mut again = Browser::new(&server);
    let taken = again.sign_up("ada@example.com", "/account").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.text().contains("id=\"form-error\""));
}

#[tokio::test]
async fn signing_out_asks_first_without_a_hint_and_ends_the_session() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;

    let ask = browser.get("/logout").await;
    assert_eq!(ask.status, StatusCode::OK);
    assert_page_headers(&ask);
    assert!(ask.text().contains("id=\"logout\""));
    assert!(
        browser.session().is_some(),
        "nothing ended by a GET without a hint"
    );

    let csrf = browser.csrf();
    let done = browser.post("/logout/confirm", &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.header("set-cookie").contains("Max-Age=0"));
    assert!(browser.session().is_none());
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_account_page_changes_the_name_and_signs_out_other_sessions() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;
    let page = browser.get("/account").await;
    assert_page_headers(&page);
    let csrf = browser.csrf();

    let saved = browser
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("action", "profile"),
                ("name", "Ada <Lovelace>"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let page = browser.get("/account").await;
    assert!(
        page.text().contains("value=\"Ada &lt;Lovelace&gt;\""),
        "{}",
        page.text()
    );

    let api_session = session_id(&tokens);
    let revoked = browser
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("action", "revoke_session"),
                ("id", &api_session),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text());
    let refused = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "the API session ended"
    );

    let foreign = browser
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("action", "revoke_session"),
                ("id", "0190a1b2-0000-7000-8000-000000000000"),
            ],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_session_ends_when_idle_and_use_keeps_it_alive() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mut browser = Browser::new(&server);
    browser.sign_in("ada@example.com", "/account").await;
    server.advance_clock(time::Duration::days(29));
    assert_eq!(
        browser.get("/account").await.status,
        StatusCode::OK,
        "used on day 29"
    );
    server.advance_clock(time::Duration::days(2));
    assert_eq!(
        browser.get("/account").await.status,
        StatusCode::OK,
        "31 days after sign-in, 2 after the last use"
    );
    server.advance_clock(time::Duration::days(31));
    assert_eq!(
        browser.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "idle past 30 days"
    );
}
