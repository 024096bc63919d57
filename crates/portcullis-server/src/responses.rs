//! The error responses the handlers' `#[utoipa::path]` annotations name,
//! `#/components/responses/...` in the OpenAPI document.
//!
//! They are types only so that `utoipa` can name them in `responses(...)`;
//! the real responses are built by [`ApiError`](crate::error::ApiError) and
//! [`OAuthError`](crate::error::OAuthError), and the conformance tests check
//! that what those send (status and media type) is what is documented here.
//! This module exists apart from [`crate::openapi`] so that the handlers and
//! the document's frame both use it without using each other. It must never
//! describe a body other than [`Problem`] (problem details, outside `/token*`)
//! or [`OAuthErrorBody`] (on `/token`, `/token/revoke`, `/token/introspect`).

#![expect(dead_code, reason = "never constructed: they only name responses")]

use utoipa::ToResponse;

use crate::error::{OAuthErrorBody, Problem};

/// The body is not valid JSON, or the query string does not parse.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct BadRequest(Problem<'static>);

/// No credential, or one that is malformed, expired or revoked, or belongs to
/// a disabled or deleted user.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "RFC 6750 §3: \
        `Bearer realm=\"portcullis\"` when no credential was sent; \
        `Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"...\"` \
        when one was refused."))
)]
pub(crate) struct Unauthorized(Problem<'static>);

/// The credential lacks a permission this operation needs.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "RFC 6750 §3.1: \
        `Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"<needed permission>\"`."))
)]
pub(crate) struct InsufficientScope(Problem<'static>);

/// A personal access token, or an application's token from browser sign-in
/// (one carrying `client_id`), cannot do this: use a session's access token.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct SessionTokenRequired(Problem<'static>);

/// Sign-up through the API is closed on this server.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct SignupClosed(Problem<'static>);

/// Sign-in by emailed code is off on this server (`--email-code-login`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct EmailCodeLoginOff(Problem<'static>);

/// No such resource (an id that is not a UUID is as unknown as any other).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct NotFound(Problem<'static>);

/// An account with this email already exists.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct EmailTaken(Problem<'static>);

/// The change would leave no active holder of the `admin` role: the last
/// one cannot be removed, disabled or demoted.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct LastAdministrator(Problem<'static>);

/// The body is larger than 64 KiB.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct PayloadTooLarge(Problem<'static>);

/// The body did not arrive within the server's body timeout; the
/// connection is closed.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Connection" = String, description = "`close`"))
)]
pub(crate) struct RequestTimeout(Problem<'static>);

/// The body is not sent as `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct UnsupportedMediaType(Problem<'static>);

/// The input is invalid; `errors` names each field and why.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct ValidationFailed(Problem<'static>);

/// Too many failed password attempts.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds until another attempt is allowed."))
)]
pub(crate) struct TooManyAttempts(Problem<'static>);

/// An internal error; it is logged and no detail is sent.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub(crate) struct InternalError(Problem<'static>);

/// The database is unavailable.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
)]
pub(crate) struct Unavailable(Problem<'static>);

/// `invalid_request` (a missing field, a malformed body or Basic credentials,
/// a content type other than JSON or a form); on `POST /token` also
/// `invalid_grant` (wrong credentials, unknown or disabled user, an unusable
/// refresh token: one byte-identical body per grant type),
/// `unsupported_grant_type` and `invalid_scope`.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("Cache-Control" = String, description = "`no-store`"))
)]
pub(crate) struct OAuthBadRequest(OAuthErrorBody<'static>);

/// `invalid_token`: the caller presented no usable credential.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("WWW-Authenticate" = String, description = "RFC 6750 §3: \
        `Bearer realm=\"portcullis\"` when no credential was sent; \
        `Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"...\"` \
        when one was refused."))
)]
pub(crate) struct OAuthUnauthorized(OAuthErrorBody<'static>);

/// `invalid_client`: the client did not authenticate (RFC 6749 §5.2).
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(
        ("WWW-Authenticate" = String, description = "`Basic realm=\"portcullis\"`"),
        ("Cache-Control" = String, description = "`no-store`"),
    )
)]
pub(crate) struct OAuthInvalidClient(OAuthErrorBody<'static>);

/// `insufficient_scope`: the caller's credential lacks `tokens:introspect`.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("WWW-Authenticate" = String, description = "RFC 6750 §3.1: \
        `Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"tokens:introspect\"`."))
)]
pub(crate) struct OAuthInsufficientScope(OAuthErrorBody<'static>);

/// `invalid_request`: the body is larger than 64 KiB.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub(crate) struct OAuthPayloadTooLarge(OAuthErrorBody<'static>);

/// `invalid_request`: the body did not arrive within the server's body
/// timeout; the connection is closed.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("Connection" = String, description = "`close`"))
)]
pub(crate) struct OAuthRequestTimeout(OAuthErrorBody<'static>);

/// `temporarily_unavailable`: too many failed attempts for this account or address.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("Retry-After" = u64, description = "Seconds until another attempt is allowed."))
)]
pub(crate) struct OAuthTooManyAttempts(OAuthErrorBody<'static>);

/// `server_error`: an internal error; it is logged and no detail is sent.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub(crate) struct OAuthServerError(OAuthErrorBody<'static>);

/// `temporarily_unavailable`: the database is unavailable.
#[derive(ToResponse)]
#[response(
    content_type = "application/json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
)]
pub(crate) struct OAuthUnavailable(OAuthErrorBody<'static>);
