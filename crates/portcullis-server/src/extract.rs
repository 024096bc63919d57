//! Extractors: the caller's credential, where the request came from, the
//! path parameter, query strings, and JSON bodies whose every failure is a
//! problem-details response. Each refuses text that a database cannot store
//! ([`crate::text_input`]) before a handler sees it: `422` naming the field
//! in a body or the path, `400` naming the parameter in a query string
//! (like any query string that does not parse).
//!
//! [`Authenticated`] accepts `Authorization: Bearer <token>` with the scheme
//! in any case, and a bare `Authorization: <token>` as the tutorial's
//! front-end sends it; any other scheme is refused. It never reads the
//! database for a valid access token.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Path, Query, Request,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use portcullis_core::principal::AdminRight;
use portcullis_core::services::grants::ClientInfo;
use portcullis_core::{AuthError, Authorized, FieldError, Principal};
use serde::de::DeserializeOwned;

use crate::body_deadline::is_body_timeout;
use crate::error::ApiError;
use crate::state::AppState;
use crate::text_input::{
    UNSTORABLE_MESSAGE, first_unstorable_in_json, first_unstorable_pair, is_storable,
};

/// The authenticated caller of a protected endpoint.
pub(crate) struct Authenticated(pub(crate) Principal);

/// What the `Authorization` header holds.
pub(crate) enum PresentedCredential<'a> {
    Missing,
    Token(&'a str),
    OtherScheme,
}

/// Reads the credential out of the `Authorization` header.
pub(crate) fn presented_credential(headers: &HeaderMap) -> PresentedCredential<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return PresentedCredential::Missing;
    };
    let Ok(value) = value.to_str() else {
        return PresentedCredential::OtherScheme;
    };
    let value = value.trim();
    if value.is_empty() {
        return PresentedCredential::Missing;
    }
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            PresentedCredential::Token(token.trim())
        }
        Some(_) => PresentedCredential::OtherScheme,
        None if value.eq_ignore_ascii_case("bearer") => PresentedCredential::Missing,
        None => PresentedCredential::Token(value),
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match presented_credential(&parts.headers) {
            PresentedCredential::Missing => Err(ApiError::MissingCredential),
            PresentedCredential::OtherScheme => Err(ApiError::InvalidCredential(
                "use the Bearer scheme with an access token".to_owned(),
            )),
            PresentedCredential::Token(token) if !is_storable(token) => Err(
                ApiError::InvalidCredential("the token is malformed".to_owned()),
            ),
            PresentedCredential::Token(token) => state
                .services
                .verification
                .authenticate(token)
                .await
                .map(Self)
                .map_err(ApiError::from),
        }
    }
}

/// An authenticated caller holding the administrative right `R`.
pub(crate) struct Administrator<R: AdminRight>(pub(crate) Authorized<R>);

impl<R: AdminRight> FromRequestParts<AppState> for Administrator<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        state
            .services
            .verification
            .authorize::<R>(&principal)
            .await
            .map(Self)
            .map_err(ApiError::from)
    }
}

/// The client's address and user agent, for sessions and throttling.
pub(crate) struct Client(pub(crate) ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let ip = peer.map(|peer| client_ip(peer, &state.http.trusted_proxies, parts));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self(ClientInfo {
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
        }))
    }
}

/// The peer address, or, when the peer is a trusted proxy, the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy. Entries left of
/// that are written by the client and never trusted.
fn client_ip(peer: IpAddr, trusted_proxies: &[IpAddr], parts: &Parts) -> IpAddr {
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted_proxies.contains(ip))
        .unwrap_or(peer)
}

/// The one parameter of a route's path (`{id}`, `{name}`), percent-decoded.
///
/// axum's `Path` answers a parameter that decodes to bytes that are not
/// UTF-8 with its own `400 text/plain`, which no operation documents. Here
/// such bytes become U+FFFD instead, so the handler sees a name like any
/// other that it does not know (`404`) or refuses (`422`). A parameter
/// holding NUL is `422`, naming the parameter.
pub(crate) struct PathParameter(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParameter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The route's segments line up with the request's: `{name}` matches one segment.
        let (position, name) = parts
            .extensions
            .get::<MatchedPath>()
            .and_then(|route| {
                route
                    .as_str()
                    .split('/')
                    .enumerate()
                    .find_map(|(at, segment)| {
                        let name = segment.strip_prefix('{')?.strip_suffix('}')?;
                        Some((at, name.to_owned()))
                    })
            })
            .ok_or_else(|| {
                ApiError::Domain(AuthError::Internal(
                    "PathParameter used on a route without a parameter".to_owned(),
                ))
            })?;
        let value = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => value,
            Err(_) => percent_decode_lossy(parts.uri.path().split('/').nth(position).unwrap_or("")),
        };
        if !is_storable(&value) {
            return Err(ApiError::unstorable(name));
        }
        Ok(Self(value))
    }
}

/// A query string: `400` when it does not parse into `T` or a parameter
/// holds text that cannot be stored (the detail names it).
pub(crate) struct QueryParameters<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParameters<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|error| ApiError::invalid_query(&format!("the query string: {error}")))?;
        if let Some(name) = first_unstorable_pair(&pairs) {
            return Err(ApiError::invalid_query(&format!(
                "{name} {UNSTORABLE_MESSAGE}"
            )));
        }
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(query)| Self(query))
            .map_err(|rejection| ApiError::invalid_query(&rejection.body_text()))
    }
}

/// Percent-decodes `raw`; bytes that are not UTF-8 become U+FFFD.
fn percent_decode_lossy(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = match bytes.get(at..at + 3) {
            Some([b'%', high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                std::str::from_utf8(&[*high, *low])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            }
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                at += 3;
            }
            None => {
                decoded.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A JSON body: `415` without a JSON content type, `413` over the limit,
/// `400` for malformed JSON, `422` naming the field for a wrong shape.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else if is_body_timeout(&rejection) {
                    ApiError::RequestTimeout
                } else {
                    ApiError::MalformedJson("the body could not be read".to_owned())
                }
            })?;
        parse_json(&bytes).map(Self)
    }
}

/// Whether the content type is `application/json` or a `+json` type.
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"))
}

/// Deserialises JSON, telling malformed syntax (`400`) from a wrong shape
/// or text that cannot be stored (`422`).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, over the whole body (trailing garbage included).
    let value = serde_json::from_slice::<serde_json::Value>(bytes)
        .map_err(|error| json_error(".", &error))?;
    // serde reads a struct from an array too, field by field in order; a body
    // must be an object, so an array never fills fields by position.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::Validation(vec![FieldError {
            field: "body".to_owned(),
            message: "must be a JSON object".to_owned(),
        }]));
    }
    if let Some(field) = first_unstorable_in_json(&value) {
        return Err(ApiError::unstorable(field));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| json_error(&error.path().to_string(), &error.into_inner()))
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = strip_position(&error.to_string());
    if error.is_data() {
        let field = missing_field(&message).unwrap_or_else(|| {
            if path == "." {
                "body".to_owned()
            } else {
                path.to_owned()
            }
        });
        ApiError::Validation(vec![FieldError { field, message }])
    } else {
        ApiError::MalformedJson(format!("the body is not valid JSON: {message}"))
    }
}

fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use axum::http::Request as HttpRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(
        dead_code,
        reason = "the fields only give the JSON under test its shape"
    )]
    struct SignUp {
        email: String,
        password: String,
    }

    #[track_caller]
    fn check_credential(header_value: Option<&str>, expected: Option<&str>, other_scheme: bool) {
        let mut builder = HttpRequest::builder();
        if let Some(value) = header_value {
            builder = builder.header("authorization", value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        match presented_credential(&parts.headers) {
            PresentedCredential::Token(token) => assert_eq!(Some(token), expected),
            PresentedCredential::Missing => assert!(expected.is_none() && !other_scheme),
            PresentedCredential::OtherScheme => assert!(other_scheme),
        }
    }

    #[test]
    fn credentials() {
        check_credential(None, None, false);
        check_credential(Some(""), None, false);
        check_credential(Some("Bearer abc"), Some("abc"), false);
        check_credential(Some("bEaReR   abc "), Some("abc"), false);
        check_credential(Some("abc.def.ghi"), Some("abc.def.ghi"), false);
        check_credential(Some("Bearer"), None, false);
        check_credential(Some("Basic dXNlcjpwYXNz"), None, true);
        check_credential(Some("Token abc"), None, true);
    }

    #[test]
    fn json_errors_are_told_apart() {
        assert!(parse_json::<SignUp>(br#"{"email":"a@b.io","password":"x"}"#).is_ok());
        for malformed in [&b"{"[..], b"not json", b"{\"email\":\"a\xff\"}", b"{} {}"] {
            assert!(
                matches!(
                    parse_json::<SignUp>(malformed),
                    Err(ApiError::MalformedJson(_))
                ),
                "{malformed:?}"
            );
        }
        match parse_json::<SignUp>(br#"{"email":"a@b.io","password":5}"#) {
            Err(ApiError::Validation(fields)) => assert_eq!(fields[0].field, "password"),
            other => panic!("{other:?}"),
        }
        match parse_json::<SignUp>(br#"{"email":"a@b.io"}"#) {
            Err(ApiError::Validation(fields)) => assert_eq!(fields[0].field, "password"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json::<SignUp>(b"[]"),
            Err(ApiError::Validation(_))
        ));
        match parse_json::<SignUp>(br#"{"email":"a\u0000@b.io","password":"x"}"#) {
            Err(ApiError::Validation(fields)) => assert_eq!(fields[0].field, "email"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json::<SignUp>(br#"{"email":"\ud800","password":"x"}"#),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn path_parameters_decode_lossily() {
        assert_eq!(percent_decode_lossy("books%3Aread"), "books:read");
        assert_eq!(percent_decode_lossy("%C3%A9"), "é");
        assert_eq!(percent_decode_lossy("a%FFb"), "a\u{FFFD}b");
        assert_eq!(percent_decode_lossy("%+1%4"), "%+1%4");
        assert_eq!(percent_decode_lossy("plain"), "plain");
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let (parts, ()) = HttpRequest::builder()
            .header("x-forwarded-for", "1.1.1.1, 2.2.2.2")
            .header("x-forwarded-for", "10.0.0.1")
            .body(())
            .unwrap()
            .into_parts();
        let stranger: IpAddr = "9.9.9.9".parse().unwrap();
        assert_eq!(client_ip(stranger, &[proxy], &parts), stranger);
        assert_eq!(
            client_ip(proxy, &[proxy], &parts),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
    }
}
