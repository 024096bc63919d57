//! What the hosted sign-in pages need of HTTP: the browser-session cookie,
//! CSRF protection for every form, safe `return_to` paths, and redirects.
//!
//! The session cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, and over
//! HTTPS (an `https` issuer) `Secure` with the `__Host-` prefix, so no
//! subdomain can set or read it. CSRF protection is two checks on every
//! POST: a token in a hidden field that must equal the `portcullis_csrf`
//! cookie (`SameSite=Strict`; another site can neither read it nor make
//! the browser send it), and an `Origin` that, when the browser sends one,
//! is the issuer's. A `return_to` is a path on this server, never a URL
//! elsewhere (no open redirect).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::pages::{Page, Pages};
use crate::routes::pages::form_as_json;
use crate::state::AppState;

/// The path every page falls back to after signing in.
pub(crate) const ACCOUNT_PATH: &str = "/account";
/// Longest `return_to` kept, in bytes (an authorization request fits).
const MAX_RETURN_TO_LENGTH: usize = 4096;

/// The cookies' names and flags, from whether the issuer is HTTPS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cookies {
    secure: bool,
}

impl Cookies {
    pub(crate) fn of(state: &AppState) -> Self {
        Self {
            secure: state.services.settings().issuer.starts_with("https://"),
        }
    }

    fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_session"
        } else {
            "portcullis_session"
        }
    }

    fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_csrf"
        } else {
            "portcullis_csrf"
        }
    }

    fn flags(self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; Secure"
        } else {
            "; Path=/; HttpOnly"
        }
    }

    /// The browser-session cookie the request carries.
    pub(crate) fn session(self, headers: &HeaderMap) -> Option<SecretString> {
        cookie(headers, self.session_name()).map(SecretString::from)
    }

    /// `Set-Cookie` for a new browser session.
    pub(crate) fn set_session(self, value: &SecretString) -> HeaderValue {
        header_value(&format!(
            "{}={}{}; SameSite=Lax",
            self.session_name(),
            value.expose_secret(),
            self.flags()
        ))
    }

    /// `Set-Cookie` that removes the browser-session cookie.
    pub(crate) fn clear_session(self) -> HeaderValue {
        header_value(&format!(
            "{}={}; Max-Age=0; SameSite=Lax",
            self.session_name(),
            self.flags()
        ))
    }

    /// The CSRF token for a page's forms: the request's own when it has a
    /// well-formed one, else a new one with the `Set-Cookie` that stores it.
    pub(crate) fn csrf_for_page(self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        if let Some(token) = cookie(headers, self.csrf_name()).filter(|t| is_csrf_token(t)) {
            return (token.to_owned(), None);
        }
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).expect("the OS CSPRNG is unavailable");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let set = header_value(&format!(
            "{}={token}{}; SameSite=Strict",
            self.csrf_name(),
            self.flags()
        ));
        (token, Some(set))
    }

    /// Whether a POST may act: its `csrf` field equals the cookie and its
    /// `Origin`, when sent, is this server's.
    pub(crate) fn form_is_ours(self, state: &AppState, headers: &HeaderMap, csrf: &str) -> bool {
        let token_matches = cookie(headers, self.csrf_name()).is_some_and(|cookie| {
            is_csrf_token(cookie) && bool::from(cookie.as_bytes().ct_eq(csrf.as_bytes()))
        });
        token_matches && origin_is_ours(state, headers)
    }
}

/// The form a page posted as `T`: what the edge refuses first (`413`,
/// `415`, `400` for a body that does not parse), then the `403` page unless
/// it is shown to come from our page, and only then its fields (`422`).
pub(crate) fn our_form<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, FormRefused> {
    let json = form_as_json(headers, body).map_err(FormRefused::AtTheEdge)?;
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&json) {
        let token = value
            .get("csrf")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if !Cookies::of(state).form_is_ours(state, headers, token) {
            return Err(FormRefused::Forged(Arc::clone(&state.pages)));
        }
    }
    parse_json(&json).map_err(FormRefused::AtTheEdge)
}

/// Why [`our_form`] refused a form.
pub(crate) enum FormRefused {
    /// Problem details, as for any body.
    AtTheEdge(ApiError),
    /// Not from our page: the `403` page, shown with these templates.
    Forged(Arc<Pages>),
}

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        match self {
            Self::AtTheEdge(error) => error.into_response(),
            Self::Forged(pages) => pages.render(Page::error(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this site's own page, or it is too old. Go back, reload the page and try again.",
            )),
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// 22 base64url characters: what [`Cookies::csrf_for_page`] makes.
fn is_csrf_token(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An `Origin` header, when present, is the issuer's origin: the pages are
/// served there, and nowhere else is a form of ours.
fn origin_is_ours(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let issuer = state.services.settings().issuer.as_str();
    url::Url::parse(issuer)
        .is_ok_and(|url| origin.as_bytes() == url.origin().ascii_serialization().as_bytes())
}

/// `return_to` when it is a path on this server, else the account page.
pub(crate) fn safe_return_to(return_to: Option<&str>) -> String {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= MAX_RETURN_TO_LENGTH
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => ACCOUNT_PATH.to_owned(),
    }
}

/// `303 See Other` to `location`, never cached, with `set_cookies`.
pub(crate) fn see_other(location: &str, set_cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, header_value(location));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// The page, with `set_cookies` added.
pub(crate) fn page_with_cookies(
    state: &AppState,
    page: Page,
    set_cookies: &[HeaderValue],
) -> Response {
    let mut response = state.pages.render(page);
    for cookie in set_cookies {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// A header value from text we built; characters a header cannot hold
/// are percent-encoded (a location's path may hold any).
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| {
        let encoded =
            percent_encoding::utf8_percent_encode(text, percent_encoding::CONTROLS).to_string();
        HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static("/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_server() {
        assert_eq!(safe_return_to(Some("/authorize?a=b")), "/authorize?a=b");
        for outside in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_return_to(Some(outside)), ACCOUNT_PATH, "{outside:?}");
        }
        assert_eq!(safe_return_to(None), ACCOUNT_PATH);
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xportcullis_csrf=no; portcullis_csrf=yes"),
        );
        assert_eq!(cookie(&headers, "portcullis_csrf"), Some("yes"));
        assert_eq!(cookie(&headers, "portcullis_session"), None);
    }
}
