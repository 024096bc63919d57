//! axum extractors: "any authenticated user", "a user with permission P",
//! "the owner of this resource" (optionally "or a holder of P"),
//! "authenticated, and the session is not revoked", and "not revoked, and
//! the server grants P now". Rejections are RFC 6750 responses.
//!
//! The router's state must give a [`Verifier`] through `FromRef`. A verifier
//! built with [`RevocationCheck::EveryRequest`](crate::RevocationCheck) makes
//! every extractor check revocation. A request with more than one
//! `Authorization` header is refused, never read by its first. Failures that
//! are not the client's (the server unreachable: `503`; this application
//! misconfigured: `500`) are logged with their reason and answered without it.

use std::marker::PhantomData;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::errors::VerifyError;
use crate::verifier::{Claims, Verifier};

/// A permission an extractor requires; declare one with [`permission!`](crate::permission).
pub trait Permission {
    /// The permission string, e.g. `books:download`.
    const NAME: &'static str;
}

/// Declares a type standing for a permission, for use with [`WithPermission`] and [`OwnerOr`].
///
/// ```
/// portcullis_verify::permission!(pub BooksDownload = "books:download");
/// use portcullis_verify::Permission as _;
/// assert_eq!(BooksDownload::NAME, "books:download");
/// ```
#[macro_export]
macro_rules! permission {
    ($(#[$meta:meta])* $vis:vis $name:ident = $value:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::Permission for $name {
            const NAME: &'static str = $value;
        }
    };
}

/// Any caller with a valid token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

/// A caller whose token grants `P`.
#[derive(Debug, Clone)]
pub struct WithPermission<P>(pub Claims, pub PhantomData<P>);

/// A caller who owns the resource (the route's `{user_id}` is theirs) or whose
/// token grants `P`. Anyone else gets `404`, exactly as for a resource that
/// does not exist, so ids of other users reveal nothing.
#[derive(Debug, Clone)]
pub struct OwnerOr<P>(pub Claims, pub PhantomData<P>);

/// A caller who owns the resource: the route's `{user_id}` is theirs. Anyone
/// else gets `404`, exactly as for a resource that does not exist.
#[derive(Debug, Clone)]
pub struct Owner(pub Claims);

/// A caller with a valid token whose session the server confirms is not
/// revoked (a personal access token: which the server confirms is active).
/// The claims' roles and permissions are the server's current ones.
#[derive(Debug, Clone)]
pub struct RevocationChecked(pub Claims);

/// A caller whose token the server confirms is not revoked and to whom it
/// grants `P` now (the token's scope intersected with the user's current
/// permissions), so neither a logout nor a removed permission is missed.
#[derive(Debug, Clone)]
pub struct RevocationCheckedWithPermission<P>(pub Claims, pub PhantomData<P>);

/// Why a request was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// No credential: `401` with a bare challenge.
    Missing,
    /// A refused credential: `401` with `error="invalid_token"`. (An error
    /// that is not the token's fault answers as [`From<VerifyError>`] would.)
    Invalid(VerifyError),
    /// More than one `Authorization` header: `400` with `error="invalid_request"`.
    MultipleCredentials,
    /// `403` with `error="insufficient_scope"` and the needed scope.
    InsufficientScope(&'static str),
    /// `404`: not the owner.
    NotFound,
    /// `503`: the server could not be asked; fails closed. With
    /// `Retry-After` when the verifier knows when to ask again.
    Unavailable { retry_after: Option<Duration> },
    /// `500`: this application's verifier is misconfigured (the reason is
    /// logged, never sent).
    Misconfigured,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, challenge, detail) = match &self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer realm="portcullis""#.to_owned()),
                "a bearer token is required".to_owned(),
            ),
            Self::Invalid(error) if error.is_misconfiguration() || error.is_unavailable() => {
                return Self::from(error.clone()).into_response();
            }
            Self::MultipleCredentials => (
                StatusCode::BAD_REQUEST,
                Some(
                    r#"Bearer realm="portcullis", error="invalid_request", error_description="more than one Authorization header""#
                        .to_owned(),
                ),
                "send one Authorization header".to_owned(),
            ),
            Self::Invalid(error) => (
                StatusCode::UNAUTHORIZED,
                Some(format!(
                    r#"Bearer realm="portcullis", error="invalid_token", error_description="{error}""#
                )),
                error.to_string(),
            ),
            Self::InsufficientScope(needed) => (
                StatusCode::FORBIDDEN,
                Some(format!(
                    r#"Bearer realm="portcullis", error="insufficient_scope", scope="{needed}""#
                )),
                format!("this needs the permission {needed}"),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                None,
                "there is nothing here".to_owned(),
            ),
            Self::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the authentication server is unavailable".to_owned(),
            ),
            Self::Misconfigured => (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "the request could not be verified".to_owned(),
            ),
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if let Self::Unavailable {
            retry_after: Some(retry_after),
        } = self
        {
            // Whole seconds, rounded up: never invite a retry before it can work.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        if error.is_misconfiguration() {
            tracing::error!(%error, "cannot verify tokens: fix the verifier's configuration");
            Self::Misconfigured
        } else if error.is_unavailable() {
            tracing::warn!(%error, "could not verify a token");
            Self::Unavailable {
                retry_after: error.retry_after(),
            }
        } else {
            Self::Invalid(error)
        }
    }
}

/// The token of `Authorization: Bearer <token>` (scheme in any case) or a
/// bare `Authorization: <token>`; a request with several such headers is refused.
fn presented_token(parts: &Parts) -> Result<&str, Rejection> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Rejection::MultipleCredentials);
    }
    let value = first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| Rejection::Invalid(VerifyError::Malformed))
        })
        .transpose()?
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(Rejection::Missing)?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        Some(_) => Err(Rejection::Invalid(VerifyError::Malformed)),
        None => Ok(value),
    }
}

async fn verified<S>(parts: &Parts, state: &S) -> Result<Claims, Rejection>
where
    Verifier: FromRef<S>,
{
    let token = presented_token(parts)?;
    Ok(Verifier::from_ref(state).verify(token).await?)
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        verified(parts, state).await.map(Self)
    }
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for WithPermission<P>
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = verified(parts, state).await?;
        if claims.has_permission(P::NAME) {
            Ok(Self(claims, PhantomData))
        } else {
            Err(Rejection::InsufficientScope(P::NAME))
        }
    }
}

/// Whether the route's `{user_id}` path parameter is the caller's id.
async fn owns_resource<S: Send + Sync>(parts: &mut Parts, state: &S, claims: &Claims) -> bool {
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        return false;
    };
    params
        .iter()
        .any(|(name, value)| name == "user_id" && value == claims.user_id)
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for OwnerOr<P>
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = verified(parts, state).await?;
        if claims.has_permission(P::NAME) || owns_resource(parts, state, &claims).await {
            Ok(Self(claims, PhantomData))
        } else {
            Err(Rejection::NotFound)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Owner
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = verified(parts, state).await?;
        if owns_resource(parts, state, &claims).await {
            Ok(Self(claims))
        } else {
            Err(Rejection::NotFound)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RevocationChecked
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts)?;
        Ok(Self(
            Verifier::from_ref(state)
                .verify_with_revocation(token)
                .await?,
        ))
    }
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for RevocationCheckedWithPermission<P>
where
    Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts)?;
        let claims = Verifier::from_ref(state)
            .verify_with_revocation(token)
            .await?;
        if claims.has_permission(P::NAME) {
            Ok(Self(claims, PhantomData))
        } else {
            Err(Rejection::InsufficientScope(P::NAME))
        }
    }
}
