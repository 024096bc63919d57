//! Tests of [`crate::pages`]: the templates load and cover every view, the
//! policy allows exactly the stylesheet sent and the logo, values are text
//! and never markup, and a folder replaces templates or stops the start.

use std::path::Path;

use super::*;

fn settings() -> PageSettings {
    PageSettings::default()
}

fn built_in() -> Pages {
    Pages::load(&settings()).expect("the built-in templates work")
}

/// The page's body and headers.
fn rendered(pages: &Pages, page: Page) -> (String, HeaderMap) {
    let response = pages.render(page);
    let headers = response.headers().clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bytes = runtime
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .unwrap();
    (String::from_utf8(bytes.to_vec()).unwrap(), headers)
}

fn sign_in(email: &str, form_error: Option<&str>) -> Page {
    Page::new(
        "Sign in",
        View::SignIn {
            csrf: "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            return_to: "/account".to_owned(),
            return_to_query: "return_to=%2Faccount".to_owned(),
            email: email.to_owned(),
            form_error: form_error.map(str::to_owned),
        },
    )
}

/// The text between `<style>` and `</style>`.
fn inline_stylesheet(html: &str) -> &str {
    let start = html.find("<style>").expect("a stylesheet") + "<style>".len();
    let end = html[start..].find("</style>").expect("its end") + start;
    &html[start..end]
}

#[track_caller]
fn check_policy_allows_the_stylesheet_sent(html: &str, headers: &HeaderMap) -> String {
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let hash = STANDARD.encode(Sha256::digest(inline_stylesheet(html).as_bytes()));
    assert!(
        policy.starts_with(&format!("default-src 'none'; style-src 'sha256-{hash}'")),
        "{policy}"
    );
    assert!(policy.ends_with("; base-uri 'none'; frame-ancestors 'none'"));
    assert!(!policy.contains("unsafe"), "{policy}");
    policy
}

#[test]
fn every_view_has_its_template_and_a_sample() {
    let sampled: Vec<&str> = samples().iter().map(View::template).collect();
    for (name, _) in BUILT_IN {
        let shared = ["layout.html", "forms.html", STYLESHEET].contains(&name);
        assert!(
            shared || sampled.contains(&name),
            "{name} has no sample view"
        );
    }
    for name in sampled {
        assert!(
            BUILT_IN.iter().any(|(built_in, _)| *built_in == name),
            "{name} is not built in"
        );
    }
}

#[test]
fn every_page_is_one_landmarked_document_with_labelled_fields() {
    let pages = built_in();
    for view in samples() {
        let template = view.template();
        let (html, headers) = rendered(&pages, Page::new("A title", view));
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        check_policy_allows_the_stylesheet_sent(&html, &headers);
        for part in [
            "<html lang=\"en\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>A title – Portcullis</title>",
            "<main>\n<h1>A title</h1>",
        ] {
            assert!(html.contains(part), "{template}: {part} in {html}");
        }
        let lower = html.to_lowercase();
        for forbidden in ["<script", "src=", "url(", "@import", "tabindex", " style="] {
            assert!(!lower.contains(forbidden), "{template}: {forbidden}");
        }
        let inputs = html.matches("<input ").count();
        let hidden = html.matches("<input type=\"hidden\"").count();
        assert_eq!(
            html.matches("<label for=").count(),
            inputs - hidden,
            "{template}: a label for every visible input: {html}"
        );
        for described in html.split("aria-describedby=\"").skip(1) {
            let id = &described[..described.find('"').unwrap()];
            assert!(
                html.contains(&format!("<p class=\"error\" id=\"{id}\">")),
                "{template}: {id} is next to its field"
            );
        }
        if html.contains("id=\"form-error\"") {
            assert!(
                html.contains("id=\"form-error\" role=\"alert\""),
                "{template}"
            );
        }
    }
}

#[test]
fn a_field_error_is_next_to_its_field_and_names_it() {
    let pages = built_in();
    let page = Page::new(
        "Create an account",
        View::SignUp {
            csrf: "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            return_to: "/account".to_owned(),
            return_to_query: "return_to=%2Faccount".to_owned(),
            email: "ada@example.com".to_owned(),
            name: String::new(),
            password_min_length: 14,
            form_error: None,
            errors: SignUpErrors {
                password: Some("must be at least 14 characters".to_owned()),
                ..SignUpErrors::default()
            },
        },
    );
    let (html, _) = rendered(&pages, page);
    assert!(html.contains(
        "<label for=\"password\">Password (at least 14 characters)</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required aria-invalid=\"true\" aria-describedby=\"password-error\"><p class=\"error\" id=\"password-error\">must be at least 14 characters</p>"
    ), "{html}");
    assert!(!html.contains("id=\"email-error\""), "{html}");
    assert!(!html.contains("form-error"), "{html}");
}

#[test]
fn the_product_name_colour_and_logo_are_shown_and_allowed() {
    let branded = PageSettings {
        product_name: "Acme Books".to_owned(),
        colour: Colour::parse("#ffcc00").unwrap(),
        logo: Some(LogoUrl::parse("https://cdn.example.com/brand/logo.svg").unwrap()),
        ..settings()
    };
    let pages = Pages::load(&branded).unwrap();
    let (html, headers) = rendered(&pages, sign_in("", None));
    let policy = check_policy_allows_the_stylesheet_sent(&html, &headers);
    assert!(
        policy.contains("; img-src https://cdn.example.com; "),
        "{policy}"
    );
    assert!(html.contains(
        "<img class=\"logo\" src=\"https:&#x2f;&#x2f;cdn.example.com&#x2f;brand&#x2f;logo.svg\" alt=\"Acme Books\">"
    ), "{html}");
    assert!(html.contains("<title>Sign in – Acme Books</title>"));
    let stylesheet = inline_stylesheet(&html);
    assert!(
        stylesheet.contains("color:#000000;background:#ffcc00"),
        "black on a light colour: {stylesheet}"
    );
    let link = Colour::parse("#ffcc00").unwrap().readable_on_white();
    assert!(
        stylesheet.contains(&format!("a{{color:{link}}}")),
        "{stylesheet}"
    );

    let default = built_in();
    let (plain, plain_headers) = rendered(&default, sign_in("", None));
    assert_ne!(
        headers[header::CONTENT_SECURITY_POLICY],
        plain_headers[header::CONTENT_SECURITY_POLICY],
        "another colour, another stylesheet, another hash"
    );
    assert!(
        !plain_headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("img-src")
    );
    assert!(plain.contains("<p class=\"product\">Portcullis</p>"));
    assert!(inline_stylesheet(&plain).contains("color:#ffffff;background:#1d4ed8"));

    let data = PageSettings {
        logo: Some(LogoUrl::parse("data:image/png;base64,iVBORw0KGgo=").unwrap()),
        ..settings()
    };
    let (_, headers) = rendered(&Pages::load(&data).unwrap(), sign_in("", None));
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("; img-src data:; "), "{policy}");
}

#[test]
fn hostile_values_are_text() {
    let hostile = "\"><script>alert(1)</script>";
    let settings = PageSettings {
        product_name: hostile.to_owned(),
        ..settings()
    };
    let pages = Pages::load(&settings).unwrap();
    let (html, _) = rendered(&pages, sign_in(hostile, Some(hostile)));
    assert!(!html.contains("<script"), "{html}");
    assert_eq!(
        html.matches("&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            .count(),
        4,
        "the product in the title and the header, the email, the form error: {html}"
    );
}

#[test]
fn a_503_page_says_when_to_come_back() {
    let page = Page {
        retry_after_seconds: Some(5),
        ..Page::error(StatusCode::SERVICE_UNAVAILABLE, "Sign in", "Try again.")
    };
    let response = built_in().render(page);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[header::REFERRER_POLICY], "same-origin");
}

fn with_folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Pages, PagesError>) {
    let folder = tempfile::tempdir().unwrap();
    for (name, source) in files {
        std::fs::write(folder.path().join(name), source).unwrap();
    }
    let loaded = Pages::load(&PageSettings {
        templates_dir: Some(folder.path().to_owned()),
        ..settings()
    });
    (folder, loaded)
}

#[test]
fn a_folder_replaces_templates_by_name() {
    let (_folder, loaded) = with_folder(&[
        (
            "sign_in.html",
            "{% extends \"layout.html\" %}{% block body %}<p id=\"ours\">Welcome back to {{ product }}, {{ email }}</p>{% endblock %}",
        ),
        ("style.css", "body{color:{{ link_colour }}}"),
        ("README.md", "notes"),
    ]);
    let pages = loaded.unwrap();
    let (html, headers) = rendered(&pages, sign_in("ada@example.com", None));
    assert!(html.contains("<p id=\"ours\">Welcome back to Portcullis, ada@example.com</p>"));
    assert_eq!(inline_stylesheet(&html), "body{color:#1d4ed8}");
    check_policy_allows_the_stylesheet_sent(&html, &headers);
    let (other, _) = rendered(&pages, Page::new("Sign out", View::SignedOut {}));
    assert!(
        other.contains("You are signed out"),
        "the others stay built in"
    );
}

#[track_caller]
fn refused(files: &[(&str, &str)], expected: &[&str]) {
    let (folder, loaded) = with_folder(files);
    let Err(error) = loaded else {
        panic!("{files:?} is refused");
    };
    let error = error.to_string();
    for part in expected {
        let part = part.replace("FOLDER", &folder.path().display().to_string());
        assert!(error.contains(&part), "{part:?} not in {error}");
    }
}

#[test]
fn broken_templates_are_refused_at_load_naming_their_file() {
    refused(
        &[(
            "sign_in.html",
            "{% extends \"layout.html\" %}\n{% block body %}{% if %}{% endblock %}",
        )],
        &["page template FOLDER/sign_in.html", "line 2", "syntax"],
    );
    refused(
        &[(
            "account.html",
            "{% extends \"layout.html\" %}{% block body %}{{ nickname }}{% endblock %}",
        )],
        &["FOLDER/account.html", "undefined"],
    );
    refused(
        &[(
            "sign_in.html",
            "{% extends \"layout.html\" %}{% block body %}{{ form_error }}{% endblock %}",
        )],
        &["FOLDER/sign_in.html", "this page may not have", "{% if"],
    );
    refused(
        &[("forms.html", "{% macro field( %}{% endmacro %}")],
        &["FOLDER/forms.html", "line 1"],
    );
    refused(
        &[("style.css", "{{ color }}")],
        &["FOLDER/style.css", "undefined"],
    );
    refused(
        &[("signin.html", "x")],
        &["signin.html is not a page template name", "sign_in.html"],
    );
    let Err(missing) = Pages::load(&PageSettings {
        templates_dir: Some(Path::new("/nonexistent/pages").to_owned()),
        ..settings()
    }) else {
        panic!("a missing folder is refused");
    };
    assert!(missing.to_string().contains("/nonexistent/pages"));
}
