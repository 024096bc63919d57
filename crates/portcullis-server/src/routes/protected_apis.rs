//! For the APIs Portcullis protects: token introspection (RFC 7662) and
//! forward-auth for nginx `auth_request`, Traefik ForwardAuth and Caddy
//! `forward_auth`.
//!
//! Forward-auth answers `200` with identity headers only when the credential
//! is valid (and holds `?permission=` when asked); it never copies a header
//! from the request, so a client's own `X-Auth-*` headers go nowhere, and it
//! fails closed: when the database cannot be read the answer is `503`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use portcullis_core::AuthError;

use crate::error::{ApiError, OAuthError, no_store_headers};
use crate::extract::{PresentedCredential, QueryParameters, presented_credential};
use crate::responses::{
    BadRequest, InsufficientScope, OAuthBadRequest, OAuthInsufficientScope, OAuthPayloadTooLarge,
    OAuthServerError, OAuthUnauthorized, OAuthUnavailable, Unauthorized, Unavailable,
};
use crate::routes::token::read_body;
use crate::state::AppState;
use crate::wire::{ActiveTokenBody, IntrospectionBody, SingleTokenRequest, VerifyQuery};

/// Introspect a token (RFC 7662)
///
/// Tells whether an access token or personal access token is active, checking
/// revocation. The caller authenticates with a credential holding
/// `tokens:introspect`. A token that is unknown, expired or revoked is
/// `{"active": false}`.
#[utoipa::path(
    post,
    path = "/token/introspect",
    operation_id = "introspect_token",
    tag = "protected-apis",
    security(("bearer" = [])),
    request_body(content(
        (SingleTokenRequest = "application/json"),
        (SingleTokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Whether the token is active and, when it is, what it grants.",
            body = IntrospectionBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = OAuthBadRequest),
        (status = 401, response = OAuthUnauthorized),
        (status = 403, response = OAuthInsufficientScope),
        (status = 413, response = OAuthPayloadTooLarge),
        (status = 500, response = OAuthServerError),
        (status = 503, response = OAuthUnavailable),
    )
)]
pub(crate) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let caller = match presented_credential(&headers) {
        PresentedCredential::Token(token) => state
            .services
            .verification
            .authenticate(token)
            .await
            .map_err(OAuthError::from_caller)?,
        PresentedCredential::Missing => return Err(OAuthError::unauthenticated(None)),
        PresentedCredential::OtherScheme => {
            return Err(OAuthError::unauthenticated(Some("use the Bearer scheme")));
        }
    };
    let request: SingleTokenRequest = read_body(&headers, body)?;
    let token = request
        .token
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let active = state
        .services
        .verification
        .introspect(&caller, &token)
        .await
        .map_err(OAuthError::from_caller)?;
    let body = IntrospectionBody {
        active: active.is_some(),
        details: active.map(ActiveTokenBody::from),
    };
    Ok((no_store_headers(), Json(body)).into_response())
}

/// Forward-auth for reverse proxies
///
/// For nginx `auth_request`, Traefik ForwardAuth and Caddy `forward_auth`:
/// `200` with the caller's identity in headers when the credential is valid
/// (and holds `permission` when asked); revocation is checked on every call. It
/// fails closed: `503`, never `200`, when it cannot decide. No body on success.
/// A query string that does not parse, repeats `permission` or names any
/// other parameter is `400`: a misspelt `permision=` must never pass as "no
/// permission asked".
#[utoipa::path(
    get,
    path = "/auth/verify",
    operation_id = "verify_for_proxy",
    tag = "protected-apis",
    security(("bearer" = [])),
    params(VerifyQuery),
    responses(
        (status = 200, description = "Let the request through; no body.",
            headers(
                ("X-Auth-User-Id" = uuid::Uuid, description = "The user's id."),
                ("X-Auth-Email" = String, description = "The user's email."),
                ("X-Auth-Roles" = String, description = "The user's roles, comma-separated."),
                ("X-Auth-Scope" = String, description = "The credential's permissions, space-separated."),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<VerifyQuery>,
) -> Result<Response, ApiError> {
    let token = match presented_credential(&headers) {
        PresentedCredential::Token(token) => token,
        PresentedCredential::Missing => return Err(ApiError::MissingCredential),
        PresentedCredential::OtherScheme => {
            return Err(ApiError::InvalidCredential(
                "use the Bearer scheme with an access token".to_owned(),
            ));
        }
    };
    let (principal, user) = state
        .services
        .verification
        .verify_for_proxy(token, query.permission.as_deref())
        .await
        .map_err(|error| match error {
            AuthError::Internal(cause) | AuthError::Misconfigured(cause) => {
                tracing::error!(%cause, "forward-auth could not decide; refusing");
                ApiError::Domain(AuthError::Unavailable)
            }
            other => ApiError::from(other),
        })?;
    let mut response = no_store_headers();
    let identity = [
        ("x-auth-user-id", user.id.to_string()),
        ("x-auth-email", user.email.to_string()),
        ("x-auth-roles", principal.roles.join(",")),
        ("x-auth-scope", principal.scope.join(" ")),
    ];
    for (name, value) in identity {
        let value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| ApiError::Domain(AuthError::Unavailable))?;
        response.insert(HeaderName::from_static(name), value);
    }
    Ok(response.into_response())
}
