//! The OAuth 2.0 token endpoint (RFC 6749) and revocation (RFC 7009).
//!
//! Both accept JSON and `application/x-www-form-urlencoded`; the password
//! grant also takes its credentials from `Authorization: Basic`. Every answer,
//! success or failure, is `Cache-Control: no-store`, and failures use the
//! OAuth error format rather than problem details.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use portcullis_core::clients::Client as RegisteredClient;
use portcullis_core::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;

use crate::body_deadline::is_body_timeout;
use crate::error::{OAuthError, no_store_headers};
use crate::extract::{Client, is_json};
use crate::responses::{
    OAuthBadRequest, OAuthInvalidClient, OAuthPayloadTooLarge, OAuthServerError,
    OAuthTooManyAttempts, OAuthUnavailable,
};
use crate::state::AppState;
use crate::text_input::{UNSTORABLE_MESSAGE, is_storable};
use crate::wire::{RecognisedText, SingleTokenRequest, TokenRequest, TokenResponse};

const INVALID_CREDENTIALS: &str = "the email or password is incorrect";
const INVALID_REFRESH_TOKEN: &str = "the refresh token is invalid, expired or revoked";
const INVALID_CODE: &str = "the email or code is incorrect, used or expired";
/// The grant of a code sent by `POST /login/email-code` (API.md).
const EMAIL_CODE_GRANT: &str = "urn:portcullis:grant-type:email-code";

const INVALID_AUTHORIZATION_CODE: &str = "the code is invalid, expired or used, or was issued to another client or redirect URI, or the code_verifier does not match";

enum Grant {
    Password,
    RefreshToken,
    EmailCode,
    AuthorizationCode,
}

/// Get tokens (password, refresh, authorization-code or email-code grant)
///
/// The OAuth 2.0 token endpoint: the password, refresh and
/// authorization-code grants.
///
/// `grant_type=password` with `username` (or `email`) and `password`, or the
/// same pair as `Authorization: Basic`; a body with `password` and no
/// `grant_type` is the password grant. `grant_type=refresh_token` with
/// `refresh_token`: every refresh returns a new refresh token and retires the
/// presented one. With `--email-code-login on`,
/// `grant_type=urn:portcullis:grant-type:email-code` with `email` and the
/// `code` sent by `POST /login/email-code` opens a session like a login.
/// `grant_type=authorization_code` (browser sign-in) with `code`,
/// `redirect_uri` and `code_verifier`, the client authenticating with
/// `client_secret_basic`, `client_secret_post` or, for a public client,
/// `client_id` alone; it adds an `id_token` when `openid` was granted. A
/// client's refresh token needs that client's authentication too.
/// An optional `scope` narrows the token to a subset of the user's
/// permissions. Every answer is `Cache-Control: no-store`.
#[utoipa::path(
    post,
    path = "/token",
    operation_id = "token",
    tag = "tokens",
    security((), ("basic" = [])),
    request_body(
        description = "Optional when `Authorization: Basic` carries the credentials.",
        content(
            (TokenRequest = "application/json"),
            (TokenRequest = "application/x-www-form-urlencoded"),
        )
    ),
    responses(
        (status = 200, description = "An access token and a refresh token (RFC 6749 §5.1).",
            body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = OAuthBadRequest),
        (status = 401, response = OAuthInvalidClient),
        (status = 413, response = OAuthPayloadTooLarge),
        (status = 429, response = OAuthTooManyAttempts),
        (status = 500, response = OAuthServerError),
        (status = 503, response = OAuthUnavailable),
    )
)]
pub(crate) async fn token(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let request: TokenRequest = read_body(&headers, body)?;
    let basic = basic_credentials(&headers)?;
    let grant = match request.grant_type.as_deref() {
        Some("password") => Grant::Password,
        Some("refresh_token") => Grant::RefreshToken,
        Some("authorization_code") => Grant::AuthorizationCode,
        Some(EMAIL_CODE_GRANT) if state.services.settings().email.code_login => Grant::EmailCode,
        Some(other) => return Err(OAuthError::unsupported_grant_type(other)),
        None if basic.is_some() || request.password.is_some() => Grant::Password,
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    };
    let pair = match grant {
        Grant::Password => {
            let (basic_user, basic_password) = basic.unzip();
            let identifier = request.username.or(request.email).or(basic_user);
            let password = request.password.or(basic_password);
            let (Some(identifier), Some(password)) = (identifier, password) else {
                return Err(OAuthError::invalid_request(
                    "username (or email) and password are required",
                ));
            };
            state
                .services
                .grants
                .password(&identifier, &password, request.scope.as_deref(), client)
                .await
                .map_err(|e| OAuthError::from_domain(e, INVALID_CREDENTIALS))?
        }
        Grant::EmailCode => {
            let (Some(email), Some(code)) = (request.email.or(request.username), request.code)
            else {
                return Err(OAuthError::invalid_request("email and code are required"));
            };
            state
                .services
                .grants
                .email_code(&email, &code, request.scope.as_deref(), client)
                .await
                .map_err(|e| OAuthError::from_domain(e, INVALID_CODE))?
        }
        Grant::RefreshToken => {
            let authenticated = refresh_client(&state, basic, &request).await?;
            let refresh_token = request
                .refresh_token
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            state
                .services
                .grants
                .refresh(
                    &refresh_token,
                    request.scope.as_deref(),
                    authenticated.as_ref(),
                    &client,
                )
                .await
                .map_err(|e| OAuthError::from_domain(e, INVALID_REFRESH_TOKEN))?
        }
        Grant::AuthorizationCode => {
            let authenticated = authenticate_client(&state, basic, &request)
                .await?
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "client authentication is required: client_id (and client_secret for a confidential client), or Authorization: Basic",
                    )
                })?;
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (request.code, request.redirect_uri, request.code_verifier)
            else {
                return Err(OAuthError::invalid_request(
                    "code, redirect_uri and code_verifier are required",
                ));
            };
            state
                .services
                .grants
                .authorization_code(&authenticated, &code, &redirect_uri, &verifier, client)
                .await
                .map_err(|e| OAuthError::from_domain(e, INVALID_AUTHORIZATION_CODE))?
        }
    };
    let body = TokenResponse {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token,
        scope: pair.scope,
        id_token: pair.id_token,
    };
    Ok((no_store_headers(), Json(body)).into_response())
}

/// The client that authenticates a request, if one does (RFC 6749 §2.3.1):
/// `Authorization: Basic` with the form-encoded id and secret
/// (`client_secret_basic`), or `client_id` and `client_secret` in the body
/// (`client_secret_post`), or `client_id` alone for a public client. Never
/// both ways at once.
async fn authenticate_client(
    state: &AppState,
    basic: Option<(String, SecretString)>,
    request: &TokenRequest,
) -> Result<Option<RegisteredClient>, OAuthError> {
    if basic.is_some() && request.client_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "authenticate the client one way only: Authorization: Basic or client_secret",
        ));
    }
    let (client_id, secret) = match (basic, &request.client_id) {
        (Some((id, secret)), _) => {
            let decode = |text: &str| {
                percent_decode_str(&text.replace('+', " "))
                    .decode_utf8()
                    .map(std::borrow::Cow::into_owned)
                    .map_err(|_| OAuthError::invalid_request("the Basic credentials are malformed"))
            };
            let secret = decode(secret.expose_secret())?;
            (decode(&id)?, Some(SecretString::from(secret)))
        }
        (None, Some(id)) => (id.clone(), request.client_secret.clone()),
        (None, None) => return Ok(None),
    };
    state
        .services
        .clients
        .authenticate(&client_id, secret.as_ref())
        .await
        .map(Some)
        .map_err(|error| OAuthError::from_domain(error, "client authentication failed"))
}

/// The client of a refresh: as [`authenticate_client`], except that a
/// `client_id` alone naming no registered client is no client at all (the
/// token endpoint's own sessions need none, and many libraries send one).
async fn refresh_client(
    state: &AppState,
    basic: Option<(String, SecretString)>,
    request: &TokenRequest,
) -> Result<Option<RegisteredClient>, OAuthError> {
    if basic.is_none()
        && request.client_secret.is_none()
        && let Some(client_id) = &request.client_id
    {
        let registered = state
            .services
            .clients
            .find(client_id)
            .await
            .map_err(|error| OAuthError::from_domain(error, INVALID_REFRESH_TOKEN))?;
        if registered.is_none() {
            return Ok(None);
        }
    }
    authenticate_client(state, basic, request).await
}

/// Revoke a token (RFC 7009)
///
/// Revokes the session of a refresh or access token, or deletes a personal
/// access token. Anyone holding the token may call it; the answer is `200`
/// whether or not the token was valid. `token_type_hint` is accepted and
/// ignored.
#[utoipa::path(
    post,
    path = "/token/revoke",
    operation_id = "revoke_token",
    tag = "tokens",
    request_body(content(
        (SingleTokenRequest = "application/json"),
        (SingleTokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke; no body.",
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = OAuthBadRequest),
        (status = 413, response = OAuthPayloadTooLarge),
        (status = 500, response = OAuthServerError),
        (status = 503, response = OAuthUnavailable),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let request: SingleTokenRequest = read_body(&headers, body)?;
    let token = request
        .token
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    state
        .services
        .sessions
        .revoke_token(&token)
        .await
        .map_err(|e| OAuthError::from_domain(e, INVALID_REFRESH_TOKEN))?;
    Ok((StatusCode::OK, no_store_headers()).into_response())
}

/// Reads a JSON or form body; an empty body with no content type is empty
/// input. A recognised field holding text that cannot be stored is
/// `invalid_request`; parameters the server does not recognise are ignored
/// whatever they hold (RFC 6749 §3.2).
pub(crate) fn read_body<T: DeserializeOwned + Default + RecognisedText>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, OAuthError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::payload_too_large()
        } else if is_body_timeout(&rejection) {
            OAuthError::request_timeout()
        } else {
            OAuthError::invalid_request("the body could not be read")
        }
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let request: T = if is_json(headers) {
        // serde reads a JSON array into a struct field by field, in order
        // (`["tok"]` would be `{"token": "tok"}`): only an object is a body
        // here (found by fuzzing).
        let not_an_object = || {
            OAuthError::invalid_request("the body must be a JSON object whose values are strings")
        };
        if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
            return Err(not_an_object());
        }
        serde_json::from_slice(&body).map_err(|_| not_an_object())?
    } else if essence == "application/x-www-form-urlencoded" {
        serde_urlencoded::from_bytes(&body).map_err(|_| {
            OAuthError::invalid_request("the form is malformed or repeats a parameter")
        })?
    } else if essence.is_empty() && body.is_empty() {
        T::default()
    } else {
        return Err(OAuthError::invalid_request(
            "send application/json or application/x-www-form-urlencoded",
        ));
    };
    match request.first_unstorable() {
        Some(field) => Err(unstorable(field)),
        None => Ok(request),
    }
}

/// `Authorization: Basic` as user credentials; `None` without that header.
pub(crate) fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, SecretString)>, OAuthError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || OAuthError::invalid_request("the Basic credentials are malformed");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (user, password) = decoded.split_once(':').ok_or_else(malformed)?;
    if !is_storable(&decoded) {
        return Err(unstorable("the Basic credentials"));
    }
    Ok(Some((user.to_owned(), password.into())))
}

/// `invalid_request` for a field holding text that cannot be stored.
fn unstorable(field: &str) -> OAuthError {
    OAuthError::invalid_request(format!("{field} {UNSTORABLE_MESSAGE}"))
}
