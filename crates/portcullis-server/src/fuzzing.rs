//! What the fuzz targets in `fuzz/` need from this crate and cannot reach
//! through its public API (feature `fuzzing`, off in every build that serves).
//!
//! Only names and plumbing, no behaviour: each function runs the extractor or
//! parser a route runs, unchanged, and hands back what the client would
//! receive, so that a property checked on it is a property of the server.
//! Never put a rule here, and never enable the feature outside `fuzz/`.

use std::sync::LazyLock;

use axum::body::{Body, Bytes};
use axum::extract::FromRequest as _;
use axum::http::Request;
pub use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use portcullis_core::ExposeSecret as _;
use serde::de::DeserializeOwned;

use crate::extract::{JsonBody, PresentedCredential};
use crate::routes::token;
use crate::wire::{
    AdminUserChangeRequest, ChangePasswordRequest, DeleteMeRequest, NewPersonalTokenRequest,
    PutRoleRequest, RecognisedText, SignUpRequest, SingleTokenRequest, TokenRequest,
    UpdateMeRequest,
};

/// What the `Authorization` header holds, as every bearer-protected route reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Missing,
    Token(String),
    OtherScheme,
}

/// A refused request as the client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub body: Vec<u8>,
}

/// What `Authorization: Basic` gives `POST /token`: `Ok(None)` for any other
/// header (or none), the user and password, or the refusal it sends.
pub type BasicCredentials = Result<Option<(String, String)>, Refusal>;

/// The outcome of reading one request body as one wire type: `Ok` when the
/// route would go on with it, or the refusal sent.
pub type BodyOutcome = Result<(), Refusal>;

/// The credential that `Authenticated` (and introspection, and forward-auth)
/// reads from `headers`.
#[must_use]
pub fn presented_credential(headers: &HeaderMap) -> Credential {
    match crate::extract::presented_credential(headers) {
        PresentedCredential::Missing => Credential::Missing,
        PresentedCredential::Token(token) => Credential::Token(token.to_owned()),
        PresentedCredential::OtherScheme => Credential::OtherScheme,
    }
}

/// The user and password that `POST /token` reads from `Authorization: Basic`.
pub fn basic_credentials(headers: &HeaderMap) -> BasicCredentials {
    token::basic_credentials(headers)
        .map(|pair| pair.map(|(user, password)| (user, password.expose_secret().to_owned())))
        .map_err(|error| refusal(error.into_response()))
}

/// Runs the `JsonBody` extractor of every route that reads a JSON body on a
/// request with `headers` and `body`: one outcome per wire type, by name.
#[must_use]
pub fn json_bodies(headers: &HeaderMap, body: &[u8]) -> Vec<(&'static str, BodyOutcome)> {
    vec![
        ("SignUpRequest", json_body::<SignUpRequest>(headers, body)),
        (
            "UpdateMeRequest",
            json_body::<UpdateMeRequest>(headers, body),
        ),
        (
            "ChangePasswordRequest",
            json_body::<ChangePasswordRequest>(headers, body),
        ),
        (
            "DeleteMeRequest",
            json_body::<DeleteMeRequest>(headers, body),
        ),
        (
            "AdminUserChangeRequest",
            json_body::<AdminUserChangeRequest>(headers, body),
        ),
        ("PutRoleRequest", json_body::<PutRoleRequest>(headers, body)),
        (
            "NewPersonalTokenRequest",
            json_body::<NewPersonalTokenRequest>(headers, body),
        ),
    ]
}

/// Runs `read_body` of `/token`, `/token/revoke` and `/token/introspect`
/// (JSON or form) on `headers` and `body`: one outcome per wire type, by name.
#[must_use]
pub fn token_bodies(headers: &HeaderMap, body: &[u8]) -> Vec<(&'static str, BodyOutcome)> {
    vec![
        ("TokenRequest", token_body::<TokenRequest>(headers, body)),
        (
            "SingleTokenRequest",
            token_body::<SingleTokenRequest>(headers, body),
        ),
    ]
}

/// Extractors are async but read an in-memory body without waiting; one
/// small runtime drives them.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime starts")
});

fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> BodyOutcome {
    let mut request = Request::new(Body::from(body.to_vec()));
    *request.headers_mut() = headers.clone();
    RUNTIME
        .block_on(JsonBody::<T>::from_request(request, &()))
        .map(|JsonBody(_)| ())
        .map_err(|error| refusal(error.into_response()))
}

fn token_body<T: DeserializeOwned + Default + RecognisedText>(
    headers: &HeaderMap,
    body: &[u8],
) -> BodyOutcome {
    token::read_body::<T>(headers, Ok(Bytes::copy_from_slice(body)))
        .map(|_: T| ())
        .map_err(|error| refusal(error.into_response()))
}

fn refusal(response: Response) -> Refusal {
    let text = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = text(header::CONTENT_TYPE);
    let cache_control = text(header::CACHE_CONTROL);
    let status = response.status().as_u16();
    let body = RUNTIME
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("an error body is in memory")
        .to_vec();
    Refusal {
        status,
        content_type,
        cache_control,
        body,
    }
}
