//! The one layout of the HTML pages the server hosts (the pages a mailed
//! link opens; the browser sign-in pages will share it), and the headers
//! every page is sent with.
//!
//! A page is a title and a body of markup built from [`escape`]d text: no
//! outside asset, no script, one inline stylesheet allowed by its hash in a
//! strict Content-Security-Policy, framing refused, a referrer sent to this
//! server only (a page's URL may hold a token; `no-referrer` would make
//! browsers send `Origin: null` with every form, which the CSRF check must
//! refuse), never cached. Pages work without
//! JavaScript: every action is a form that POSTs. This module holds no
//! rule of the contract and never puts unescaped input into markup.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// The stylesheet of every page, inline so that a page loads nothing else.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}\
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .25rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}\
button{margin-top:1.25rem;padding:.6rem 1.2rem;font-size:1rem;cursor:pointer}\
.error{color:#a40000}.done{color:#0b6b0b}";

/// `default-src 'none'` and the stylesheet's hash: nothing but this page's
/// own markup and style. No `form-action`: browsers apply it to the
/// redirects that follow a form too, and signing in ends in a redirect to
/// the application (every form here is ours, built from escaped text).
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; frame-ancestors 'none'"
    )
});

/// One page: its status, title and body markup.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) title: String,
    /// Markup made with [`escape`] for every piece of text that is not ours.
    pub(crate) body: String,
    /// `Retry-After`, for a page that says to come back later.
    pub(crate) retry_after_seconds: Option<u64>,
}

/// A form's field, for [`form`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    /// A labelled input: name, label, `type`, `autocomplete`, the value
    /// it starts with, whether it must be filled, and the error to show
    /// next to it (`<p class="error" id="NAME-error">`).
    Input {
        name: &'a str,
        label: &'a str,
        kind: &'a str,
        autocomplete: &'a str,
        value: &'a str,
        required: bool,
        error: Option<&'a str>,
    },
    /// A value carried along unseen (a token).
    Hidden { name: &'a str, value: &'a str },
}

/// `text` made safe in HTML text and in a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A paragraph of `text`, with an optional class (`error`, `done`).
pub(crate) fn paragraph(text: &str, class: Option<&str>) -> String {
    match class {
        Some(class) => format!("<p class=\"{}\">{}</p>", escape(class), escape(text)),
        None => format!("<p>{}</p>", escape(text)),
    }
}

/// A form that POSTs `fields` to `action` (a path of this server), with a
/// `button`.
pub(crate) fn form(action: &str, fields: &[Field<'_>], button: &str) -> String {
    let mut markup = format!("<form method=\"post\" action=\"{}\">", escape(action));
    for field in fields {
        match field {
            Field::Input {
                name,
                label,
                kind,
                autocomplete,
                value,
                required,
                error,
            } => {
                let name = escape(name);
                let _ = write!(
                    markup,
                    "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\" autocomplete=\"{autocomplete}\"",
                    label = escape(label),
                    kind = escape(kind),
                    autocomplete = escape(autocomplete),
                );
                if !value.is_empty() {
                    let _ = write!(markup, " value=\"{}\"", escape(value));
                }
                if *required {
                    markup.push_str(" required");
                }
                if let Some(error) = error {
                    let _ = write!(
                        markup,
                        " aria-invalid=\"true\" aria-describedby=\"{name}-error\"><p class=\"error\" id=\"{name}-error\">{}</p>",
                        escape(error)
                    );
                } else {
                    markup.push('>');
                }
            }
            Field::Hidden { name, value } => {
                let _ = write!(
                    markup,
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    escape(name),
                    escape(value)
                );
            }
        }
    }
    let _ = write!(
        markup,
        "<button type=\"submit\" id=\"submit\">{}</button></form>",
        escape(button)
    );
    markup
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"referrer\" content=\"same-origin\">\
             <title>{title}</title><style>{STYLE}</style></head>\
             <body><main><h1>{title}</h1>{body}</main></body></html>",
            title = escape(&self.title),
            body = self.body,
        );
        let mut response = (self.status, html).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&CONTENT_SECURITY_POLICY)
                .expect("the policy is ASCII on one line"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        let markup = form(
            "/password/reset/confirm",
            &[Field::Hidden {
                name: "token",
                value: "\"><script>",
            }],
            "Go",
        );
        assert!(!markup.contains("<script>"), "{markup}");
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_stylesheet() {
        let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'; "));
        assert!(CONTENT_SECURITY_POLICY.contains(&format!("'sha256-{hash}'")));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
