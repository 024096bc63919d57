//! The mail flows over HTTP, with the mail delivered over real SMTP to a
//! real server (Python's aiosmtpd, started per test): the tests read the
//! link's token or the code out of the delivered message and finish the
//! flow, as a user would. Without aiosmtpd each test says "skipped" (and
//! fails when `PORTCULLIS_REQUIRE_SERVICES=1`, as in CI).

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use portcullis_mail::test_smtp::{self, TestSmtpOptions, TestSmtpServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestServer, check_problem, read, text};

pub(crate) const NEW_PASSWORD: &str = "a brand new passphrase for alice";

/// A delivered message, decoded.
pub(crate) struct Delivered {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Delivered {
    /// The token of the link in the message.
    pub(crate) fn token(&self) -> String {
        let start = self.text.find("token=").expect("a link with a token") + "token=".len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// The 8-digit code in the message.
    fn code(&self) -> String {
        self.text
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 8)
            .expect("an 8-digit code")
            .to_owned()
    }
}

/// An SMTP server for one test, or `None` (having said "skipped") when
/// aiosmtpd is missing.
pub(crate) fn smtp_server() -> Option<TestSmtpServer> {
    if let Some(reason) = test_smtp::unavailable() {
        eprintln!("skipped: {reason}");
        return None;
    }
    Some(TestSmtpServer::start(TestSmtpOptions::default()).expect("the test SMTP server starts"))
}

/// A server that sends its mail to `smtp`, with `extra` flags.
pub(crate) async fn server_mailing_to(smtp: &TestSmtpServer, extra: &[&str]) -> TestServer {
    let url = smtp.smtp_url();
    let mut flags = vec![
        "--smtp-url",
        url.as_str(),
        "--mail-from",
        "auth@example.com",
    ];
    flags.extend_from_slice(extra);
    TestServer::spawn_with(&flags).await
}

/// Waits (at most 15 s) until `count` messages have arrived; returns them all.
async fn messages(smtp: &TestSmtpServer, count: usize) -> Vec<Delivered> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let received = smtp.received();
        if received.len() >= count {
            return received
                .iter()
                .map(|message| {
                    let parsed = MessageParser::default()
                        .parse(&message.raw)
                        .expect("a parsable message");
                    Delivered {
                        to: message.recipients.join(","),
                        subject: parsed.subject().unwrap_or_default().to_owned(),
                        text: parsed.body_text(0).expect("a text part").into_owned(),
                        html: parsed.body_html(0).expect("an HTML part").into_owned(),
                    }
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages arrived",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last of `count` messages, once it has arrived.
pub(crate) async fn message(smtp: &TestSmtpServer, count: usize) -> Delivered {
    messages(smtp, count).await.pop().expect("a message")
}

pub(crate) async fn post(server: &TestServer, path: &str, body: Value) -> Reply {
    read(server.client.post(server.url(path)).json(&body)).await
}

#[track_caller]
pub(crate) fn check_accepted(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
}

#[tokio::test]
async fn forgot_then_reset_ends_every_session_and_the_new_password_works() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &[]).await;
    server.sign_up("alice@example.com").await;
    let verification = message(&smtp, 1).await;
    assert_eq!(
        verification.subject,
        "Confirm your email address for Portcullis"
    );
    let first = server.login("alice@example.com", PASSWORD).await;
    let second = server.login("alice@example.com", PASSWORD).await;

    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "Alice@Example.com "}),
        )
        .await,
    );
    let reset = message(&smtp, 2).await;
    assert_eq!(reset.to, "alice@example.com");
    assert_eq!(reset.subject, "Reset your Portcullis password");
    assert!(
        reset
            .text
            .contains("http://localhost:8080/password/reset?token="),
        "under the issuer: {}",
        reset.text
    );
    let token = reset.token();
    assert!(token.len() >= 43, "at least 256 bits: {token}");

    let reply = post(
        &server,
        "/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    // Every old session is refused, access and refresh tokens alike.
    for tokens in [&first, &second] {
        let me = server
            .get_authorized("/me", &text(tokens, "access_token"))
            .await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
        let refreshed = server.refresh(&text(tokens, "refresh_token")).await;
        assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    }
    // The new password works, the old one does not; the address counts as verified.
    let old = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    let tokens = server.login("alice@example.com", NEW_PASSWORD).await;
    let me: Value = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true, "{me}");

    // The address is told.
    let notice = message(&smtp, 3).await;
    assert_eq!(notice.subject, "Your Portcullis password was reset");

    // The token worked once.
    let again = post(
        &server,
        "/password/reset",
        json!({"token": token, "new_password": "yet another passphrase here"}),
    )
    .await;
    check_problem(&again, StatusCode::UNPROCESSABLE_ENTITY, "a spent token");
}

/// Issue 13: a user imported without a password hash gets in only through
/// a password reset; until then every password fails like a wrong one.
#[tokio::test]
async fn a_user_imported_without_a_hash_gets_in_through_a_reset() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &[]).await;
    let folder = tempfile::tempdir().unwrap();
    let users = folder.path().join("users.jsonl");
    std::fs::write(&users, "{\"email\": \"nohash@example.com\"}\n").unwrap();
    let imported = server.cli(&["import", users.to_str().unwrap()], None);
    assert!(imported.status.success(), "{imported:?}");
    for password in [PASSWORD, ""] {
        let refused = server.password_grant("nohash@example.com", password).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{password:?}");
    }

    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "nohash@example.com"}),
        )
        .await,
    );
    let reset = message(&smtp, 1).await;
    assert_eq!(reset.to, "nohash@example.com");
    let reply = post(
        &server,
        "/password/reset",
        json!({"token": reset.token(), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    server.login("nohash@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn sign_up_then_verify_by_link_and_by_code() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &[]).await;
    let user = server.sign_up("alice@example.com").await;
    assert_eq!(user["email_verified"], false, "{user}");
    let by_link = message(&smtp, 1).await;
    assert!(
        by_link
            .text
            .contains("http://localhost:8080/email/verify?token="),
        "under the issuer: {}",
        by_link.text
    );

    let reply = post(&server, "/email/verify", json!({"token": by_link.token()})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["email_verified"], true);
    assert_eq!(reply.json()["email"], "alice@example.com");
    let again = post(&server, "/email/verify", json!({"token": by_link.token()})).await;
    check_problem(&again, StatusCode::UNPROCESSABLE_ENTITY, "a spent link");

    // A verified address gets no more verification mail.
    check_accepted(
        &post(
            &server,
            "/email/verify-request",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );

    server.sign_up("bob@example.com").await;
    let by_code = message(&smtp, 2).await;
    assert_eq!(by_code.to, "bob@example.com", "nothing more went to alice");
    let wrong = post(
        &server,
        "/email/verify",
        json!({"email": "alice@example.com", "code": by_code.code()}),
    )
    .await;
    check_problem(
        &wrong,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another account's code",
    );
    let reply = post(
        &server,
        "/email/verify",
        json!({"email": "bob@example.com", "code": by_code.code()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["email_verified"], true);
}

#[tokio::test]
async fn answers_are_identical_for_known_and_unknown_addresses_and_unknown_ones_get_nothing() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    for path in ["/password/forgot", "/email/verify-request"] {
        let known = post(&server, path, json!({"email": "alice@example.com"})).await;
        let unknown = post(&server, path, json!({"email": "nobody@example.com"})).await;
        check_accepted(&known);
        assert_eq!(known.bytes, unknown.bytes, "{path}");
        assert_eq!(known.header("content-type"), unknown.header("content-type"));
        assert_eq!(
            known.header("content-length"),
            unknown.header("content-length")
        );
    }
    // The reset and the verification for alice, nothing for nobody.
    let delivered = messages(&smtp, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 2);
    assert!(
        delivered
            .iter()
            .all(|message| message.to == "alice@example.com")
    );
}

#[tokio::test]
async fn requests_are_throttled_per_email_known_or_not_and_per_client_address() {
    let Some(smtp) = smtp_server() else { return };
    let server =
        server_mailing_to(&smtp, &["--mail-per-email", "2", "--mail-per-address", "5"]).await;
    for email in ["alice@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            check_accepted(&post(&server, "/password/forgot", json!({"email": email})).await);
        }
        let refused = post(&server, "/password/forgot", json!({"email": email})).await;
        check_problem(&refused, StatusCode::TOO_MANY_REQUESTS, email);
        let retry_after: u64 = refused.header("retry-after").parse().expect("Retry-After");
        assert!((1..=3600).contains(&retry_after), "{retry_after}");
    }
    // Six counted from this address already (the refused ones too): past five, refused.
    let refused = post(
        &server,
        "/email/verify-request",
        json!({"email": "carol@example.com"}),
    )
    .await;
    check_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "per address");
}

#[tokio::test]
async fn a_newer_request_cancels_the_older_and_tokens_expire() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let older = message(&smtp, 1).await;
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let newer = message(&smtp, 2).await;
    for (proof, case) in [
        (json!({"token": older.token()}), "the older link"),
        (
            json!({"email": "alice@example.com", "code": older.code()}),
            "the older code",
        ),
    ] {
        let mut body = proof;
        body["new_password"] = json!(NEW_PASSWORD);
        check_problem(
            &post(&server, "/password/reset", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            case,
        );
    }

    // The reset link lives one hour.
    server.advance_clock(time::Duration::minutes(61));
    let expired = post(
        &server,
        "/password/reset",
        json!({"token": newer.token(), "new_password": NEW_PASSWORD}),
    )
    .await;
    check_problem(
        &expired,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an expired link",
    );
    server.login("alice@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_fifth_wrong_code_ends_the_code() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let reset = message(&smtp, 1).await;
    let code = reset.code();
    let wrong = format!("{:08}", (code.parse::<u32>().unwrap() + 1) % 100_000_000);
    for attempt in 1..=5 {
        let reply = post(
            &server,
            "/password/reset",
            json!({"email": "alice@example.com", "code": wrong, "new_password": NEW_PASSWORD}),
        )
        .await;
        check_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("wrong code {attempt}"),
        );
    }
    let right = post(
        &server,
        "/password/reset",
        json!({"email": "alice@example.com", "code": code, "new_password": NEW_PASSWORD}),
    )
    .await;
    check_problem(
        &right,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the right code after five wrong ones",
    );
    // And its link died with it.
    let link = post(
        &server,
        "/password/reset",
        json!({"token": reset.token(), "new_password": NEW_PASSWORD}),
    )
    .await;
    check_problem(
        &link,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the link of that message",
    );
}

#[tokio::test]
async fn a_reset_asked_while_the_mail_server_is_down_is_delivered_when_it_returns() {
    let Some(mut smtp) = smtp_server() else {
        return;
    };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    smtp.stop();
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    // The first attempt fails; the retry policy waits 30 s before the next.
    tokio::time::sleep(Duration::from_secs(2)).await;
    smtp.restart().expect("the SMTP server restarts");
    server.advance_clock(time::Duration::seconds(31));
    let reset = message(&smtp, 1).await;
    let reply = post(
        &server,
        "/password/reset",
        json!({"token": reset.token(), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}

#[tokio::test]
async fn without_an_smtp_url_messages_go_to_the_log() {
    let server = TestServer::spawn_with(&["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log();
        if log.contains("password/reset?token=") {
            assert!(log.contains("WARN"), "at warning level: {log}");
            break;
        }
        assert!(Instant::now() < deadline, "no message in the log: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `portcullis mail test --to E`, with the SMTP settings from the environment.
fn mail_test(smtp_url: &str, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["mail", "test", "--to", to])
        .env("PORTCULLIS_SMTP_URL", smtp_url)
        .env("PORTCULLIS_MAIL_FROM", "auth@example.com")
        .output()
        .expect("run portcullis mail test")
}

#[tokio::test]
async fn mail_test_sends_one_message_and_says_what_the_server_answered() {
    let Some(mut smtp) = smtp_server() else {
        return;
    };
    let output = mail_test(&smtp.smtp_url(), "ada@example.com");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("sent; the server answered: 250"),
        "{stdout}"
    );
    let test = message(&smtp, 1).await;
    assert_eq!(
        (test.to.as_str(), test.subject.as_str()),
        ("ada@example.com", "Test message from Portcullis")
    );

    smtp.stop();
    let output = mail_test(&smtp.smtp_url(), "ada@example.com");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("not sent"), "{stdout}");
}

#[tokio::test]
async fn with_verification_required_an_unproved_address_cannot_log_in_until_verified() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "required"]).await;
    server.sign_up("alice@example.com").await;
    let refused = Reply::of(server.password_grant("alice@example.com", PASSWORD).await).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"], "invalid_grant");
    let description = refused.json()["error_description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains("not verified"), "{description}");
    // Said only after the password matched.
    let wrong = Reply::of(
        server
            .password_grant("alice@example.com", "not the password at all")
            .await,
    )
    .await;
    assert_eq!(wrong.json()["error"], "invalid_grant");
    assert!(!wrong.text().contains("not verified"), "{}", wrong.text());

    let verification = message(&smtp, 1).await;
    let reply = post(
        &server,
        "/email/verify",
        json!({"token": verification.token()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    server.login("alice@example.com", PASSWORD).await;
}

/// A form POST, as a browser sends it.
pub(crate) async fn post_form(server: &TestServer, path: &str, fields: &[(&str, &str)]) -> Reply {
    let body = serde_urlencoded::to_string(fields).unwrap();
    read(
        server
            .client
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

#[track_caller]
fn check_page(reply: &Reply, status: StatusCode, contains: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    let policy = reply.header("content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("base-uri 'none'"),
        "{policy}"
    );
    assert_eq!(reply.header("referrer-policy"), "same-origin");
    assert_eq!(reply.header("cache-control"), "no-store");
    let page = reply.text();
    assert!(!page.contains("<script"), "no script: {page}");
    assert!(
        !page.contains("src=") && !page.contains("href="),
        "nothing loaded from outside: {page}"
    );
    for expected in contains {
        assert!(page.contains(expected), "{expected:?} missing from {page}");
    }
}

#[tokio::test]
async fn the_reset_page_spends_nothing_until_its_form_is_posted() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let token = message(&smtp, 1).await.token();

    // Opened twice (a mail scanner, then the user): nothing is spent.
    for _ in 0..2 {
        let page = read(
            server
                .client
                .get(server.url(&format!("/password/reset?token={token}"))),
        )
        .await;
        check_page(
            &page,
            StatusCode::OK,
            &[
                "<form method=\"post\" action=\"/password/reset/confirm\">",
                &format!("<input type=\"hidden\" name=\"token\" value=\"{token}\">"),
                "<label for=\"new_password\">New password</label>",
                "type=\"password\" autocomplete=\"new-password\"",
            ],
        );
    }
    // A password the policy refuses: the form again, the token kept.
    let short = post_form(
        &server,
        "/password/reset/confirm",
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    check_page(
        &short,
        StatusCode::UNPROCESSABLE_ENTITY,
        &["cannot be used", &token],
    );

    let done = post_form(
        &server,
        "/password/reset/confirm",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    check_page(&done, StatusCode::OK, &["Password changed"]);
    server.login("alice@example.com", NEW_PASSWORD).await;
    let again = post_form(
        &server,
        "/password/reset/confirm",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    check_page(&again, StatusCode::UNPROCESSABLE_ENTITY, &["does not work"]);

    // Without a token, the page asks for the address and the code.
    let by_code = read(server.client.get(server.url("/password/reset"))).await;
    check_page(
        &by_code,
        StatusCode::OK,
        &[
            "<label for=\"email\">",
            "<label for=\"code\">",
            "one-time-code",
        ],
    );
}

#[tokio::test]
async fn the_verification_page_confirms_with_its_button_and_escapes_what_it_shows() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &[]).await;
    server.sign_up("alice@example.com").await;
    let token = message(&smtp, 1).await.token();
    let page = read(
        server
            .client
            .get(server.url(&format!("/email/verify?token={token}"))),
    )
    .await;
    check_page(
        &page,
        StatusCode::OK,
        &["action=\"/email/verify/confirm\"", "Confirm my address"],
    );
    let hostile = read(
        server
            .client
            .get(server.url("/email/verify?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")),
    )
    .await;
    check_page(&hostile, StatusCode::OK, &["&quot;&gt;&lt;script&gt;"]);

    let done = post_form(&server, "/email/verify/confirm", &[("token", &token)]).await;
    check_page(&done, StatusCode::OK, &["alice@example.com is confirmed"]);
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let me: Value = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);
}

#[tokio::test]
async fn link_urls_point_the_links_at_an_applications_pages() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(
        &smtp,
        &[
            "--link-url",
            "reset=https://app.example.com/account/reset?t={token}",
            "--link-url",
            "verify=https://app.example.com/verify/{token}",
        ],
    )
    .await;
    server.sign_up("alice@example.com").await;
    let verification = message(&smtp, 1).await;
    assert!(
        verification
            .text
            .contains("https://app.example.com/verify/"),
        "{}",
        verification.text
    );
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let reset = message(&smtp, 2).await;
    let start = reset
        .text
        .find("https://app.example.com/account/reset?t=")
        .expect("the application's link")
        + "https://app.example.com/account/reset?t=".len();
    let token: String = reset.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    // The application posts the token to the API.
    let reply = post(
        &server,
        "/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}

#[tokio::test]
async fn an_email_change_applies_when_the_new_address_confirms_and_the_old_one_is_told() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &[]).await;
    server.sign_up("alice@example.com").await;
    let _verification = message(&smtp, 1).await;
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let access = text(&tokens, "access_token");
    let patch = |body: Value| {
        read(
            server
                .client
                .patch(server.url("/me"))
                .bearer_auth(&access)
                .json(&body),
        )
    };
    let reply =
        patch(json!({"email": "alice@example.org", "current_password": PASSWORD, "name": "Alice"}))
            .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(
        reply.json()["email"],
        "alice@example.com",
        "not changed yet"
    );
    assert_eq!(reply.json()["name"], "Alice", "the rest applied");

    let confirmation = message(&smtp, 2).await;
    assert_eq!(confirmation.to, "alice@example.org");
    assert_eq!(
        confirmation.subject,
        "Confirm your new email address for Portcullis"
    );
    assert!(
        confirmation.text.contains("alice@example.com"),
        "names the current address"
    );
    // Until confirmed, the old address signs in.
    server.login("alice@example.com", PASSWORD).await;

    let reply = post(
        &server,
        "/email/verify",
        json!({"token": confirmation.token()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["email"], "alice@example.org");
    assert_eq!(reply.json()["email_verified"], true);
    let notice = message(&smtp, 3).await;
    assert_eq!(notice.to, "alice@example.com");
    assert_eq!(
        notice.subject,
        "The email address of your Portcullis account was changed"
    );
    assert!(notice.text.contains("alice@example.org"), "{}", notice.text);
    server.login("alice@example.org", PASSWORD).await;
    let old = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);

    // Once only.
    let again = post(
        &server,
        "/email/verify",
        json!({"token": confirmation.token()}),
    )
    .await;
    check_problem(
        &again,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a spent change link",
    );
}

#[tokio::test]
async fn an_email_change_to_an_address_taken_meanwhile_is_refused_at_confirmation() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "optional"]).await;
    server.sign_up("alice@example.com").await;
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let reply = read(
        server
            .client
            .patch(server.url("/me"))
            .bearer_auth(text(&tokens, "access_token"))
            .json(&json!({"email": "bob@example.com", "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let confirmation = messages(&smtp, 2)
        .await
        .into_iter()
        .find(|message| message.to == "bob@example.com")
        .expect("the confirmation");
    server.sign_up("bob@example.com").await;
    let reply = post(
        &server,
        "/email/verify",
        json!({"token": confirmation.token()}),
    )
    .await;
    check_problem(&reply, StatusCode::CONFLICT, "taken meanwhile");
}

fn email_code_grant(email: &str, code: &str) -> Value {
    json!({"grant_type": "urn:portcullis:grant-type:email-code", "email": email, "code": code})
}

#[tokio::test]
async fn sign_in_by_emailed_code_opens_a_session_once_and_is_off_by_default() {
    let Some(smtp) = smtp_server() else { return };
    let off = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    let refused = post(
        &off,
        "/login/email-code",
        json!({"email": "alice@example.com"}),
    )
    .await;
    check_problem(&refused, StatusCode::FORBIDDEN, "off by default");
    let grant = Reply::of(
        off.token(email_code_grant("alice@example.com", "12345678"))
            .await,
    )
    .await;
    assert_eq!(
        grant.json()["error"],
        "unsupported_grant_type",
        "{}",
        grant.text()
    );
    drop(off);

    let server = server_mailing_to(
        &smtp,
        &["--email-verification", "off", "--email-code-login", "on"],
    )
    .await;
    server.sign_up("alice@example.com").await;
    let known = post(
        &server,
        "/login/email-code",
        json!({"email": "alice@example.com"}),
    )
    .await;
    let unknown = post(
        &server,
        "/login/email-code",
        json!({"email": "nobody@example.com"}),
    )
    .await;
    check_accepted(&known);
    assert_eq!(known.bytes, unknown.bytes);
    let sign_in = message(&smtp, 1).await;
    assert_eq!(sign_in.subject, "Your Portcullis sign-in code");
    assert!(!sign_in.text.contains("token="), "a code, no link");
    let code = sign_in.code();

    let reply = Reply::of(
        server
            .token(email_code_grant("alice@example.com", &code))
            .await,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let me: Value = server
        .get_authorized("/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true, "the code proved the address");
    let sessions = server.get_authorized("/me/sessions", &access).await;
    assert_eq!(
        sessions.status(),
        StatusCode::OK,
        "a session like any login"
    );

    let again = Reply::of(
        server
            .token(email_code_grant("alice@example.com", &code))
            .await,
    )
    .await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_sign_in_code_lives_ten_minutes_and_dies_at_the_fifth_wrong_try() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(
        &smtp,
        &["--email-verification", "off", "--email-code-login", "on"],
    )
    .await;
    server.sign_up("alice@example.com").await;
    check_accepted(
        &post(
            &server,
            "/login/email-code",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let code = message(&smtp, 1).await.code();
    let wrong = format!("{:08}", (code.parse::<u32>().unwrap() + 1) % 100_000_000);
    for _ in 0..5 {
        let reply = Reply::of(
            server
                .token(email_code_grant("alice@example.com", &wrong))
                .await,
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_grant");
    }
    let right = Reply::of(
        server
            .token(email_code_grant("alice@example.com", &code))
            .await,
    )
    .await;
    assert_eq!(
        right.json()["error"],
        "invalid_grant",
        "dead after five wrong tries"
    );

    check_accepted(
        &post(
            &server,
            "/login/email-code",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    let code = message(&smtp, 2).await.code();
    server.advance_clock(time::Duration::minutes(10));
    let late = Reply::of(
        server
            .token(email_code_grant("alice@example.com", &code))
            .await,
    )
    .await;
    assert_eq!(
        late.json()["error"],
        "invalid_grant",
        "expired after 10 minutes"
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn a_reset_request_takes_the_same_time_whether_or_not_the_account_exists() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(
        &smtp,
        &[
            "--email-verification",
            "off",
            "--mail-per-email",
            "0",
            "--mail-per-address",
            "0",
        ],
    )
    .await;
    server.sign_up("timed@example.com").await;
    let timed = |email: &'static str| {
        let request = server
            .client
            .post(server.url("/password/forgot"))
            .json(&json!({ "email": email }));
        async move {
            let started = Instant::now();
            let reply = read(request).await;
            let elapsed = started.elapsed();
            check_accepted(&reply);
            elapsed
        }
    };
    // As the login timing test: interleaved, a second round only when the
    // first is out of bounds (a burst of load on a shared machine).
    let mut rounds = Vec::new();
    for _ in 0..2 {
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for _ in 0..15 {
            known.push(timed("timed@example.com").await);
            unknown.push(timed("nobody@example.com").await);
        }
        let (known, unknown) = (median(known), median(unknown));
        if (0.5..=2.0).contains(&(known.as_secs_f64() / unknown.as_secs_f64())) {
            return;
        }
        rounds.push(format!("known {known:?}, unknown {unknown:?}"));
    }
    panic!("median reset-request times differ by more than a factor of 2: {rounds:?}");
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_message_once() {
    let Some(smtp) = smtp_server() else { return };
    let first = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    let url = smtp.smtp_url();
    let second = TestServer::spawn_on(
        first.database(),
        &[
            "--smtp-url",
            url.as_str(),
            "--mail-from",
            "auth@example.com",
            "--email-verification",
            "off",
        ],
    )
    .await;
    let emails: Vec<String> = (0..12).map(|n| format!("user{n}@example.com")).collect();
    for (n, email) in emails.iter().enumerate() {
        let server = if n % 2 == 0 { &first } else { &second };
        server.sign_up(email).await;
        check_accepted(&post(server, "/password/forgot", json!({ "email": email })).await);
    }
    let delivered = messages(&smtp, emails.len()).await;
    // Both senders pass every second: give a duplicate time to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.received().len(), emails.len(), "each message once");
    let mut recipients: Vec<String> = delivered.into_iter().map(|message| message.to).collect();
    recipients.sort();
    let mut expected = emails.clone();
    expected.sort();
    assert_eq!(recipients, expected);
}

#[tokio::test]
async fn an_administrator_may_mark_an_address_verified() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let user = server.sign_up("alice@example.com").await;
    let reply = read(
        server
            .client
            .patch(server.url(&format!("/users/{}", text(&user, "id"))))
            .bearer_auth(&admin)
            .json(&json!({"email_verified": true})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["email_verified"], true);
    let tokens = server.login("alice@example.com", PASSWORD).await;
    let me: Value = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true, "{me}");
}

#[tokio::test]
async fn a_message_waiting_when_the_server_is_killed_goes_out_after_the_restart() {
    let Some(mut smtp) = smtp_server() else {
        return;
    };
    let url = smtp.smtp_url();
    let flags = [
        "--smtp-url",
        url.as_str(),
        "--mail-from",
        "auth@example.com",
        "--email-verification",
        "off",
    ];
    let server = TestServer::spawn_process_with(&flags).await;
    server.sign_up("alice@example.com").await;
    smtp.stop();
    check_accepted(
        &post(
            &server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    // The first attempt fails and the message waits 30 s for the next one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .database()
        .count("SELECT count(*) FROM mail_outbox WHERE failed_attempts = 1 AND claim_id IS NULL")
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "the first attempt never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = server.kill_and_restart().await;
    smtp.restart().expect("the SMTP server restarts");
    // Rather than wait those 30 s, the test brings the next attempt forward:
    // what it checks is that the message outlives the killed process.
    server
        .database()
        .execute("UPDATE mail_outbox SET next_attempt_at = 0 WHERE state = 'waiting'")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.received().is_empty() {
        assert!(Instant::now() < deadline, "the message never went out");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let reset = message(&smtp, 1).await;
    let reply = post(
        &server,
        "/password/reset",
        json!({"token": reset.token(), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}
