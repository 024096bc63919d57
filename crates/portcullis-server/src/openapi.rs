//! The frame of the OpenAPI 3.1 document served at `GET /openapi.json`:
//! what it says of the whole API (title, version, conventions, tags,
//! security schemes) and the components every operation shares (the two
//! error bodies and the error responses of [`crate::responses`]).
//!
//! It exists so that clients, proxies and outside test suites read the
//! contract from the code that implements it instead of from prose that can
//! drift. The operations are not listed here: the route table
//! ([`crate::routes::table`]) starts from this frame and adds each handler's
//! `#[utoipa::path]` as it routes it, so the router and the document come
//! from one list. This module therefore never names a handler (the handlers
//! and this frame both use [`crate::responses`], never each other), never
//! describes a response that the handlers cannot send, and never holds a
//! hand-written copy of a body's fields.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, Required};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::error::{OAuthErrorBody, Problem};
use crate::responses::{
    BadRequest, EmailTaken, InsufficientScope, InternalError, LastAdministrator, NotFound,
    OAuthBadRequest, OAuthInsufficientScope, OAuthPayloadTooLarge, OAuthServerError,
    OAuthTooManyAttempts, OAuthUnauthorized, OAuthUnavailable, PayloadTooLarge,
    PersonalTokenNotAllowed, SignupClosed, TooManyAttempts, Unauthorized, Unavailable,
    UnsupportedMediaType, ValidationFailed,
};

/// The name of the bearer security scheme that protected operations require.
pub(crate) const BEARER: &str = "bearer";

/// The document without operations; [`crate::routes::table`] adds them.
pub(crate) fn frame() -> utoipa::openapi::OpenApi {
    Frame::openapi()
}

/// Marks the request body of the operations in `routes` as optional.
///
/// `POST /token` needs no body when `Authorization: Basic` carries the
/// credentials. `utoipa` can say a body is optional only by also making its
/// schema nullable, and a `null` body is refused, so the route table says it
/// with this, on the row that routes the handler.
pub(crate) fn with_optional_body<S>(routes: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    let (schemas, mut paths, method_router) = routes;
    for item in paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if let Some(body) = operation.request_body.as_mut() {
                body.required = Some(Required::False);
            }
        }
    }
    (schemas, paths, method_router)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        version = env!("CARGO_PKG_VERSION"),
        description = "A self-hosted authentication server: accounts, OAuth 2.0 password and \
            refresh grants with Ed25519-signed JWT access tokens, sessions, personal access \
            tokens, roles, and what the APIs it protects need (JWKS, discovery, \
            introspection, forward-auth).\n\n\
            Errors outside `/token*` are problem details (RFC 9457, \
            `application/problem+json`); errors of `/token`, `/token/revoke` and \
            `/token/introspect` are OAuth 2.0 errors (RFC 6749 §5.2, `application/json`). \
            A path not listed here answers `404`, and a method a listed path does not have \
            answers `405` with `Allow`, both as problem details; every `GET` also answers \
            `HEAD`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(
        schemas(Problem, OAuthErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            InsufficientScope,
            PersonalTokenNotAllowed,
            SignupClosed,
            NotFound,
            EmailTaken,
            LastAdministrator,
            PayloadTooLarge,
            UnsupportedMediaType,
            ValidationFailed,
            TooManyAttempts,
            InternalError,
            Unavailable,
            OAuthBadRequest,
            OAuthUnauthorized,
            OAuthInsufficientScope,
            OAuthPayloadTooLarge,
            OAuthTooManyAttempts,
            OAuthServerError,
            OAuthUnavailable,
        )
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up and the caller's own account."),
        (name = "tokens", description = "The OAuth 2.0 token endpoint and revocation."),
        (name = "sessions", description = "The caller's sessions and logout."),
        (name = "personal-access-tokens", description = "API keys: long-lived tokens with chosen scopes."),
        (name = "admin", description = "Users and roles; every operation needs `admin:users`."),
        (name = "protected-apis", description = "What the APIs behind Portcullis use: keys, discovery, introspection, forward-auth."),
        (name = "operations", description = "Probes and this document."),
    )
)]
struct Frame;

/// Declares how a caller authenticates: `bearer` (an access token or a
/// personal access token) and `basic` (user credentials, on `POST /token` only).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <token>`, where the token is an access token \
                         (a JWT from `POST /token`) or a personal access token (`pat_...`). \
                         The scheme name is case-insensitive, and a bare \
                         `Authorization: <token>` is accepted too.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The password grant's email and password as `Authorization: Basic`, \
                         instead of `username` and `password` in the body.",
                    ))
                    .build(),
            ),
        );
    }
}
