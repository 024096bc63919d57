//! The one place where failures become HTTP responses.
//!
//! Two formats, as the contract says: OAuth 2.0 errors (RFC 6749 §5.2) on the
//! token endpoints, problem details (RFC 9457) everywhere else. A 401 carries
//! the RFC 6750 `WWW-Authenticate` challenge. A 500 logs its cause and sends
//! no detail; no internal error text ever reaches a client.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::AuthError;
use portcullis_core::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// One text for every 404, so a malformed id, another user's id and a
/// missing one cannot be told apart.
const NOT_FOUND_DETAIL: &str = "there is nothing here";

/// The realm named in every `WWW-Authenticate` challenge.
pub(crate) const REALM: &str = "portcullis";

/// A failure on any endpoint outside `/token*`, rendered as problem details.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The request carried no credential at all.
    MissingCredential,
    /// A credential was presented and refused; the text is safe to send.
    InvalidCredential(String),
    MalformedJson(String),
    /// The query string does not parse.
    InvalidQuery(String),
    UnsupportedMediaType,
    PayloadTooLarge,
    /// The body did not arrive within the body timeout.
    RequestTimeout,
    Validation(Vec<FieldError>),
    NotFound,
    MethodNotAllowed,
    Domain(AuthError),
}

impl ApiError {
    pub(crate) fn invalid_query(reason: &str) -> Self {
        Self::InvalidQuery(reason.to_owned())
    }

    /// `field` holds a character that no text column can store.
    pub(crate) fn unstorable(field: String) -> Self {
        Self::Validation(vec![FieldError {
            field,
            message: crate::text_input::UNSTORABLE_MESSAGE.to_owned(),
        }])
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(fields) => Self::Validation(fields),
            AuthError::IncorrectPassword => Self::Validation(vec![FieldError {
                field: "current_password".to_owned(),
                message: "is incorrect".to_owned(),
            }]),
            other => Self::Domain(other),
        }
    }
}

/// Problem details (RFC 9457), the body of every error outside `/token*`.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({
    "type": "urn:portcullis:problem:validation-error",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "password: must have at least 12 characters",
    "errors": [{"field": "password", "message": "must have at least 12 characters"}]
})))]
pub(crate) struct Problem<'a> {
    /// `urn:portcullis:problem:<slug>`, one slug per kind of failure.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    problem_type: String,
    /// The status code's reason phrase.
    title: &'a str,
    /// The HTTP status code again.
    status: u16,
    /// What went wrong, for a person to read.
    detail: String,
    /// Only for `422`: each invalid field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    errors: Option<Vec<ProblemField<'a>>>,
}

/// One invalid input field of a `422`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProblemField<'a> {
    field: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        let (status, slug, detail, fields) = match &self {
            Self::MissingCredential => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(None));
                (
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this endpoint needs a bearer token".to_owned(),
                    None,
                )
            }
            Self::InvalidCredential(reason) => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(Some(reason)));
                (
                    StatusCode::UNAUTHORIZED,
                    "invalid-token",
                    reason.clone(),
                    None,
                )
            }
            Self::MalformedJson(reason) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                reason.clone(),
                None,
            ),
            Self::InvalidQuery(reason) => (
                StatusCode::BAD_REQUEST,
                "invalid-query",
                reason.clone(),
                None,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as application/json".to_owned(),
                None,
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "the body is larger than 64 KiB".to_owned(),
                None,
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "the body did not arrive in time".to_owned(),
                None,
            ),
            Self::Validation(fields) => validation(fields),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                NOT_FOUND_DETAIL.to_owned(),
                None,
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this method is not allowed here".to_owned(),
                None,
            ),
            Self::Domain(error) => match error {
                AuthError::InvalidToken(reason) => {
                    let reason = reason.to_string();
                    headers.insert(header::WWW_AUTHENTICATE, challenge(Some(&reason)));
                    (StatusCode::UNAUTHORIZED, "invalid-token", reason, None)
                }
                AuthError::EmailTaken => {
                    (StatusCode::CONFLICT, "email-taken", error.to_string(), None)
                }
                AuthError::LastAdministrator => (
                    StatusCode::CONFLICT,
                    "last-administrator",
                    error.to_string(),
                    None,
                ),
                AuthError::SignupClosed => (
                    StatusCode::FORBIDDEN,
                    "signup-closed",
                    error.to_string(),
                    None,
                ),
                AuthError::EmailCodeLoginOff => (
                    StatusCode::FORBIDDEN,
                    "email-code-login-off",
                    error.to_string(),
                    None,
                ),
                AuthError::NotFound => (
                    StatusCode::NOT_FOUND,
                    "not-found",
                    NOT_FOUND_DETAIL.to_owned(),
                    None,
                ),
                AuthError::Forbidden { needed } => {
                    headers.insert(header::WWW_AUTHENTICATE, insufficient_scope(needed));
                    (
                        StatusCode::FORBIDDEN,
                        "insufficient-scope",
                        error.to_string(),
                        None,
                    )
                }
                AuthError::NotWithPersonalToken => (
                    StatusCode::FORBIDDEN,
                    "personal-token-not-allowed",
                    error.to_string(),
                    None,
                ),
                AuthError::NotWithClientToken => (
                    StatusCode::FORBIDDEN,
                    "client-token-not-allowed",
                    error.to_string(),
                    None,
                ),
                AuthError::Throttled {
                    retry_after_seconds,
                } => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        "too-many-attempts",
                        error.to_string(),
                        None,
                    )
                }
                AuthError::Unavailable => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the database is unavailable".to_owned(),
                        None,
                    )
                }
                AuthError::InvalidGrant
                | AuthError::InvalidClient
                | AuthError::EmailNotVerified
                | AuthError::InvalidRequest(_)
                | AuthError::InvalidScope(_)
                | AuthError::Invalid(_)
                | AuthError::IncorrectPassword => (
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    error.to_string(),
                    None,
                ),
                AuthError::Internal(cause) | AuthError::Misconfigured(cause) => {
                    tracing::error!(%cause, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "an internal error occurred".to_owned(),
                        None,
                    )
                }
            },
        };
        problem_response(status, slug, detail, fields, headers)
    }
}

type ProblemParts<'a> = (StatusCode, &'static str, String, Option<&'a [FieldError]>);

fn validation(fields: &[FieldError]) -> ProblemParts<'_> {
    let detail = fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-error",
        detail,
        Some(fields),
    )
}

/// Builds an `application/problem+json` response.
pub(crate) fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: String,
    fields: Option<&[FieldError]>,
    mut headers: HeaderMap,
) -> Response {
    let body = Problem {
        problem_type: format!("urn:portcullis:problem:{slug}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        errors: fields.map(|fields| {
            fields
                .iter()
                .map(|f| ProblemField {
                    field: &f.field,
                    message: &f.message,
                })
                .collect()
        }),
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let json = serde_json::to_vec(&body).unwrap_or_default();
    (status, headers, json).into_response()
}

/// The RFC 6750 §3 challenge; `None` when no credential was sent.
fn challenge(error_description: Option<&str>) -> HeaderValue {
    let value = match error_description {
        None => format!(r#"Bearer realm="{REALM}""#),
        Some(description) => format!(
            r#"Bearer realm="{REALM}", error="invalid_token", error_description="{}""#,
            description.replace(['"', '\\'], "")
        ),
    };
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer realm="portcullis""#))
}

/// The challenge of a `401 invalid_client` (RFC 6749 §5.2): the scheme a
/// client authenticates with at the token endpoint, whether it used the
/// header or not (RFC 9110 §15.5.2: every 401 carries a challenge).
fn basic_challenge() -> HeaderValue {
    HeaderValue::from_str(&format!(r#"Basic realm="{REALM}""#))
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Basic realm="portcullis""#))
}

/// The RFC 6750 §3.1 challenge for a missing permission.
fn insufficient_scope(needed: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{}""#,
        needed.replace(['"', '\\'], "")
    ))
    .unwrap_or_else(|_| {
        HeaderValue::from_static(r#"Bearer realm="portcullis", error="insufficient_scope""#)
    })
}

/// A failure on `/token`, `/token/revoke` or `/token/introspect`, rendered as an OAuth 2.0 error.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    code: OAuthErrorCode,
    description: String,
    retry_after_seconds: Option<u64>,
    challenge: Option<HeaderValue>,
}

impl OAuthError {
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            description,
        )
    }

    pub(crate) fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type {grant:?} is not supported; use password or refresh_token"),
        )
    }

    pub(crate) fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            OAuthErrorCode::InvalidRequest,
            "the body did not arrive in time",
        )
    }

    pub(crate) fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            OAuthErrorCode::InvalidRequest,
            "the body is larger than 64 KiB",
        )
    }

    fn new(status: StatusCode, code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            retry_after_seconds: None,
            challenge: None,
        }
    }

    /// The caller of introspection presented no usable credential.
    pub(crate) fn unauthenticated(reason: Option<&str>) -> Self {
        Self {
            challenge: Some(challenge(reason)),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                OAuthErrorCode::InvalidToken,
                reason.unwrap_or("this endpoint needs a bearer token holding tokens:introspect"),
            )
        }
    }

    /// Maps a failure to authenticate or authorise the caller of introspection.
    pub(crate) fn from_caller(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken(reason) => {
                let reason = reason.to_string();
                Self {
                    challenge: Some(challenge(Some(&reason))),
                    ..Self::new(
                        StatusCode::UNAUTHORIZED,
                        OAuthErrorCode::InvalidToken,
                        reason,
                    )
                }
            }
            AuthError::Forbidden { needed } => Self {
                challenge: Some(insufficient_scope(&needed)),
                ..Self::new(
                    StatusCode::FORBIDDEN,
                    OAuthErrorCode::InsufficientScope,
                    format!("this needs the permission {needed}"),
                )
            },
            other => Self::from_domain(other, "the token is invalid"),
        }
    }

    /// Maps a domain failure; `invalid_grant_description` is the one fixed text
    /// for a refused grant, so every refusal of one grant type is byte-identical.
    pub(crate) fn from_domain(error: AuthError, invalid_grant_description: &'static str) -> Self {
        match error {
            AuthError::InvalidGrant => Self::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidGrant,
                invalid_grant_description,
            ),
            AuthError::InvalidClient => Self {
                challenge: Some(basic_challenge()),
                ..Self::new(
                    StatusCode::UNAUTHORIZED,
                    OAuthErrorCode::InvalidClient,
                    "client authentication failed",
                )
            },
            AuthError::EmailNotVerified => Self::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidGrant,
                "the email address is not verified: follow the link sent to it, or ask for a new one with POST /email/verify-request",
            ),
            AuthError::InvalidRequest(description) => Self::invalid_request(description),
            AuthError::InvalidScope(description) => Self::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidScope,
                description,
            ),
            AuthError::Throttled {
                retry_after_seconds,
            } => Self {
                retry_after_seconds: Some(retry_after_seconds),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    OAuthErrorCode::TemporarilyUnavailable,
                    error.to_string(),
                )
            },
            AuthError::Unavailable => Self {
                retry_after_seconds: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    OAuthErrorCode::TemporarilyUnavailable,
                    "the database is unavailable",
                )
            },
            AuthError::Internal(cause) | AuthError::Misconfigured(cause) => {
                tracing::error!(%cause, "internal error on the token endpoint");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    OAuthErrorCode::ServerError,
                    "an internal error occurred",
                )
            }
            other => Self::invalid_request(other.to_string()),
        }
    }
}

/// The `error` codes of RFC 6749 §5.2, RFC 6750 §3.1 and RFC 7009 §2.2.1 this server sends.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidScope,
    InvalidToken,
    InsufficientScope,
    TemporarilyUnavailable,
    ServerError,
}

/// The OAuth 2.0 error body (RFC 6749 §5.2) of `/token`, `/token/revoke` and `/token/introspect`.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({
    "error": "invalid_grant",
    "error_description": "the email or password is incorrect"
})))]
pub(crate) struct OAuthErrorBody<'a> {
    error: OAuthErrorCode,
    /// What went wrong, for a person to read.
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut headers = no_store_headers();
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        let body = OAuthErrorBody {
            error: self.code,
            error_description: &self.description,
        };
        (self.status, headers, axum::Json(body)).into_response()
    }
}

/// `Cache-Control: no-store` (and the HTTP/1.0 `Pragma`) for responses that carry secrets.
pub(crate) fn no_store_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn a_client_that_fails_to_authenticate_is_401_invalid_client_with_a_basic_challenge() {
        let response = OAuthError::from_domain(AuthError::InvalidClient, "unused").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let headers = response.headers();
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Basic realm="portcullis""#
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let body = to_bytes(response.into_body(), 1024).await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
}
