//! Issue 10, finding 6: the notice mailed after a password reset
//! (`POST /password/reset`, the reset page's form) or change
//! (`PUT /me/password`) names the personal access tokens that still work,
//! with when each was made and last used and how to end it, or says that
//! none does; a token's name is text in both parts of the message, never
//! markup. Delivered over real SMTP, as in `mail`.

use portcullis_mail::test_smtp::TestSmtpServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{PASSWORD, TestServer, read, text};
use crate::mail::{
    Delivered, NEW_PASSWORD, check_accepted, message, post, post_form, server_mailing_to,
    smtp_server,
};

/// A name that would be markup if the HTML part did not escape it.
const HOSTILE_NAME: &str = "<script>alert(1)</script><b>deploy</b>";

const NO_TOKEN_LEFT: &str = "No personal access token of the account still works.";

/// `POST /me/tokens` with no scopes; returns the created token's body.
async fn new_pat(server: &TestServer, access_token: &str, name: &str) -> Value {
    let reply = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(access_token)
            .json(&json!({ "name": name, "scopes": [] })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

/// A time of the API (RFC 3339) as the mail shows it.
fn as_in_mail(value: &Value, field: &str) -> String {
    let at = OffsetDateTime::parse(&text(value, field), &Rfc3339).expect("an RFC 3339 time");
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The line of the plain-text part that names the token `pat`.
#[track_caller]
fn line_naming<'a>(notice: &'a Delivered, pat: &Value) -> &'a str {
    let start = format!(
        "- \"{}\" (id {}): created {}, ",
        text(pat, "name"),
        text(pat, "id"),
        as_in_mail(pat, "created_at")
    );
    notice
        .text
        .lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("no line starts with {start:?}: {}", notice.text))
}

/// Asks for a reset of alice's password; returns the token of the link in
/// the message, the `count`th that `smtp` receives.
async fn reset_token(server: &TestServer, smtp: &TestSmtpServer, count: usize) -> String {
    check_accepted(
        &post(
            server,
            "/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await,
    );
    message(smtp, count).await.token()
}

#[tokio::test]
async fn a_reset_by_the_page_form_names_the_tokens_that_still_work() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    let access = text(
        &server.login("alice@example.com", PASSWORD).await,
        "access_token",
    );
    let used = new_pat(&server, &access, HOSTILE_NAME).await;
    let unused = new_pat(&server, &access, "laptop script").await;
    let me = server.get_authorized("/me", &text(&used, "token")).await;
    assert_eq!(me.status(), StatusCode::OK);

    let token = reset_token(&server, &smtp, 1).await;
    let done = post_form(
        &server,
        "/password/reset/confirm",
        &[("token", &token), ("new_password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());

    let notice = message(&smtp, 2).await;
    assert_eq!(notice.subject, "Your Portcullis password was reset");
    assert!(
        line_naming(&notice, &used).contains(", last used 20"),
        "the use not yet written counts: {}",
        notice.text
    );
    assert!(
        line_naming(&notice, &unused).ends_with(", never used."),
        "{}",
        notice.text
    );
    assert!(
        notice.text.contains("DELETE /me/tokens/ID"),
        "{}",
        notice.text
    );
    assert!(!notice.text.contains(NO_TOKEN_LEFT));

    // In the HTML part the name is text, not markup.
    for markup in ["<script", "<b>"] {
        assert!(!notice.html.contains(markup), "{markup} in {}", notice.html);
    }
    assert!(
        notice.html.contains(
            "&ldquo;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&lt;b&gt;deploy&lt;&#x2f;b&gt;&rdquo;"
        ),
        "{}",
        notice.html
    );
    assert!(notice.html.contains(&text(&unused, "id")));

    // As the notice says, the tokens still work.
    let me = server.get_authorized("/me", &text(&unused, "token")).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_of_an_account_without_tokens_says_that_none_still_works() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    let token = reset_token(&server, &smtp, 1).await;
    let reply = post(
        &server,
        "/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    let notice = message(&smtp, 2).await;
    assert_eq!(notice.subject, "Your Portcullis password was reset");
    for part in [&notice.text, &notice.html] {
        assert!(part.contains(NO_TOKEN_LEFT), "{part}");
        assert!(!part.contains("DELETE"), "{part}");
    }
}

#[tokio::test]
async fn a_password_change_names_the_kept_tokens_and_none_once_they_are_revoked() {
    let Some(smtp) = smtp_server() else { return };
    let server = server_mailing_to(&smtp, &["--email-verification", "off"]).await;
    server.sign_up("alice@example.com").await;
    let access = text(
        &server.login("alice@example.com", PASSWORD).await,
        "access_token",
    );
    let pat = new_pat(&server, &access, "ci").await;
    let change = |current: &str, new: &str, revoke_tokens: bool| {
        read(
            server
                .client
                .put(server.url("/me/password"))
                .bearer_auth(&access)
                .json(&json!({
                    "current_password": current,
                    "new_password": new,
                    "revoke_tokens": revoke_tokens,
                })),
        )
    };

    let kept = change(PASSWORD, NEW_PASSWORD, false).await;
    assert_eq!(kept.status, StatusCode::NO_CONTENT, "{}", kept.text());
    let notice = message(&smtp, 1).await;
    assert_eq!(notice.subject, "Your Portcullis password was changed");
    assert!(
        line_naming(&notice, &pat).ends_with(", never used."),
        "{}",
        notice.text
    );
    assert!(!notice.text.contains(NO_TOKEN_LEFT));

    let revoked = change(NEW_PASSWORD, PASSWORD, true).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text());
    let notice = message(&smtp, 2).await;
    for part in [&notice.text, &notice.html] {
        assert!(part.contains(NO_TOKEN_LEFT), "{part}");
        assert!(!part.contains(&text(&pat, "id")), "{part}");
    }
}
