//! The hosted pages as an operator brands them (`--product-name`,
//! `--product-logo-url`, `--product-colour`, `--page-templates`): what
//! every page shows, that its Content-Security-Policy still allows exactly
//! the stylesheet it sends and the logo, and what stops the start.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

use crate::helpers::{Reply, TestServer, assert_exit, read, serve_to_exit, stderr};

/// Pages anyone can open, each with its own template.
const PAGES: [&str; 6] = [
    "/login",
    "/signup",
    "/password/forgot",
    "/password/reset",
    "/email/verify?token=abc",
    "/logout",
];

async fn page(server: &TestServer, path: &str) -> Reply {
    let reply = read(server.client.get(server.url(path))).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply
}

/// The page's inline stylesheet, after checking that its policy allows it
/// by its hash; and the policy.
#[track_caller]
fn stylesheet_allowed_by_the_policy(reply: &Reply) -> (String, String) {
    let html = reply.text();
    let start = html.find("<style>").expect("an inline stylesheet") + "<style>".len();
    let end = start + html[start..].find("</style>").expect("its end");
    let stylesheet = html[start..end].to_owned();
    assert_eq!(html.matches("<style").count(), 1, "one stylesheet: {html}");
    let hash = STANDARD.encode(Sha256::digest(stylesheet.as_bytes()));
    let policy = reply.header("content-security-policy").to_owned();
    assert!(
        policy.starts_with(&format!("default-src 'none'; style-src 'sha256-{hash}'")),
        "the policy allows the stylesheet sent: {policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    (stylesheet, policy)
}

#[tokio::test]
async fn the_product_name_logo_and_colour_are_on_every_page_and_allowed_by_its_policy() {
    let server = TestServer::spawn_with(&[
        "--product-name",
        "Acme Books",
        "--product-colour",
        "#FC0",
        "--product-logo-url",
        "https://cdn.example.com/brand/logo.svg?v=2",
    ])
    .await;
    for path in PAGES {
        let reply = page(&server, path).await;
        let html = reply.text();
        assert!(html.contains("– Acme Books</title>"), "{path}: {html}");
        assert!(
            html.contains(
                "<img class=\"logo\" src=\"https:&#x2f;&#x2f;cdn.example.com&#x2f;brand&#x2f;logo.svg?v=2\" alt=\"Acme Books\">"
            ),
            "{path}: the logo, named: {html}"
        );
        let (stylesheet, policy) = stylesheet_allowed_by_the_policy(&reply);
        assert!(
            policy.contains("; img-src https://cdn.example.com; "),
            "{path}: exactly the logo's origin: {policy}"
        );
        assert!(
            stylesheet.contains("color:#000000;background:#ffcc00"),
            "{path}: buttons in the brand colour, with text that reads on it: {stylesheet}"
        );
    }

    let plain = TestServer::spawn().await;
    let reply = page(&plain, "/login").await;
    let (stylesheet, policy) = stylesheet_allowed_by_the_policy(&reply);
    assert!(!policy.contains("img-src"), "no logo, no image: {policy}");
    assert!(!reply.text().contains("<img"));
    assert!(reply.text().contains("<p class=\"product\">Portcullis</p>"));
    assert!(stylesheet.contains("color:#ffffff;background:#1d4ed8"));
}

#[tokio::test]
async fn a_data_logo_loads_nothing_from_elsewhere() {
    let server =
        TestServer::spawn_with(&["--product-logo-url", "data:image/png;base64,iVBORw0KGgo="]).await;
    let reply = page(&server, "/login").await;
    let (_, policy) = stylesheet_allowed_by_the_policy(&reply);
    assert!(policy.contains("; img-src data:; "), "{policy}");
    assert!(
        reply
            .text()
            .contains("src=\"data:image&#x2f;png;base64,iVBORw0KGgo=\" alt=\"Portcullis\""),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn a_hostile_product_name_is_text() {
    let hostile = "Acme\"><script>alert(1)</script>";
    let server = TestServer::spawn_with(&["--product-name", hostile]).await;
    for path in PAGES {
        let reply = page(&server, path).await;
        let html = reply.text();
        assert!(!html.contains("<script"), "{path}: {html}");
        assert!(
            html.contains(
                "<p class=\"product\">Acme&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>"
            ),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn a_template_from_the_folder_replaces_the_built_in_page() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("sign_in.html"),
        "{% extends \"layout.html\" %}\n{% block body %}\n<p id=\"welcome\">Welcome back to {{ product }}.</p>\n{% endblock %}\n",
    )
    .unwrap();
    std::fs::write(
        folder.path().join("style.css"),
        "body{font-family:serif;color:{{ link_colour }}}",
    )
    .unwrap();
    let server = TestServer::spawn_with(&[
        "--page-templates",
        folder.path().to_str().unwrap(),
        "--product-name",
        "Acme",
    ])
    .await;
    let login = page(&server, "/login").await;
    assert!(
        login
            .text()
            .contains("<p id=\"welcome\">Welcome back to Acme.</p>"),
        "{}",
        login.text()
    );
    assert!(!login.text().contains("id=\"password\""));
    let (stylesheet, _) = stylesheet_allowed_by_the_policy(&login);
    assert_eq!(stylesheet, "body{font-family:serif;color:#1d4ed8}");
    let signup = page(&server, "/signup").await;
    assert!(
        signup.text().contains("id=\"password\""),
        "the others stay built in"
    );
}

#[test]
fn a_broken_template_or_branding_stops_the_start() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("account.html"),
        "{% extends \"layout.html\" %}\n{% block body %}\n{% for session in sessions %}\n{% endblock %}\n",
    )
    .unwrap();
    let broken = serve_to_exit(&["--page-templates", folder.path().to_str().unwrap()]);
    assert_exit(&broken, 1, "a template that does not parse");
    let message = stderr(&broken);
    let file = folder.path().join("account.html");
    assert!(
        message.contains(&format!("page template {}", file.display())),
        "{message}"
    );
    assert!(message.contains("line "), "{message}");

    for (case, flags) in [
        ("a colour name", ["--product-colour", "red"]),
        ("a colour with alpha", ["--product-colour", "#1d4ed8ff"]),
        (
            "a logo over http",
            ["--product-logo-url", "http://cdn.example.com/logo.png"],
        ),
        (
            "a data: URL not of an image",
            ["--product-logo-url", "data:text/html,<b>x</b>"],
        ),
        (
            "a missing folder",
            ["--page-templates", "/nonexistent/page-templates"],
        ),
    ] {
        let refused = serve_to_exit(&flags);
        assert_exit(&refused, 1, case);
        assert!(
            stderr(&refused).contains(flags[1]),
            "{case}: {}",
            stderr(&refused)
        );
    }
}
