//! The verifier: access tokens checked locally against the server's JWKS
//! (see `jwks`), personal access tokens and revocation checked through the
//! server's introspection endpoint (see `introspection`), every request to
//! the server bounded by `http`.
//!
//! Which check a token gets depends on what it is, never on what it claims:
//! a personal access token always goes through introspection; an access
//! token is verified locally, and when revocation is asked, its session is
//! checked too, and the permissions it grants are the server's current ones.
//! An access token without a session cannot be checked, so it is refused
//! when revocation is asked. An access token is checked with the one
//! algorithm the verifier was built for and a key of that algorithm only,
//! whatever its header says. A misconfigured verifier refuses every token.

use std::sync::Arc;

use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::algorithm::SigningAlgorithm;
use crate::builder::RevocationCheck;
use crate::errors::{ConfigError, VerifyError};
use crate::introspection::{Answer, Introspector};
use crate::jwks::KeyCache;

/// What a valid token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`sub`).
    pub user_id: String,
    /// The session (`sid`); `None` for a personal access token.
    pub session_id: Option<String>,
    pub roles: Vec<String>,
    /// The permissions this token grants: those it carries, or, when
    /// revocation was checked, those the server grants it now.
    pub permissions: Vec<String>,
    /// Expiry, seconds since the epoch; `None` for a token that does not expire.
    pub expires_at: Option<i64>,
}

impl Claims {
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|granted| granted == permission)
    }
}

/// Verifies tokens issued by one Portcullis server. Cheap to clone; clones
/// share the key and answer caches and the background JWKS refresh, which
/// starts at the first verification and stops when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    pub(crate) inner: Arc<Result<Ready, ConfigError>>,
}

/// A verifier whose configuration was accepted.
pub(crate) struct Ready {
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) revocation_check: RevocationCheck,
    pub(crate) validation: Validation,
    pub(crate) keys: Arc<KeyCache>,
    pub(crate) introspector: Introspector,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.as_ref() {
            Ok(ready) => f
                .debug_struct("Verifier")
                .field("jwks_url", &ready.keys.url())
                .field("algorithm", &ready.algorithm)
                .field("revocation_check", &ready.revocation_check)
                .finish_non_exhaustive(),
            Err(error) => f
                .debug_struct("Verifier")
                .field("misconfigured", error)
                .finish(),
        }
    }
}

#[derive(Deserialize)]
struct AccessTokenClaims {
    sub: String,
    sid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
    exp: i64,
}

/// The one claim read before the signature is checked: it only decides
/// whether an unknown `kid` may be a key published since the last fetch.
#[derive(Deserialize)]
struct UnverifiedIssuedAt {
    iat: Option<serde_json::Value>,
}

impl Verifier {
    /// Verifies an access token locally, or a personal access token through
    /// introspection. Revocation of an access token is checked only when the
    /// verifier was built with [`RevocationCheck::EveryRequest`] (see
    /// [`Verifier::verify_with_revocation`]).
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let ready = self.ready()?;
        if ready.revocation_check == RevocationCheck::EveryRequest {
            return self.verify_with_revocation(token).await;
        }
        if is_personal_token(token) {
            return ready.verify_personal_token(token).await;
        }
        ready.verify_locally(token).await
    }

    /// Verifies the token and asks the server whether it is still active
    /// (cached briefly): a personal access token through introspection alone;
    /// an access token locally first, then its session, refused when it has
    /// none. The permissions and roles returned are the server's answer (the
    /// token's scope intersected with the user's current permissions), so a
    /// permission taken away no longer passes.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify_with_revocation(&self, token: &str) -> Result<Claims, VerifyError> {
        let ready = self.ready()?;
        if is_personal_token(token) {
            return ready.verify_personal_token(token).await;
        }
        let local = ready.verify_locally(token).await?;
        if local.session_id.is_none() {
            return Err(VerifyError::NoSessionToCheck);
        }
        match ready.introspector.introspect(token).await? {
            Answer::Inactive => Err(VerifyError::Revoked),
            Answer::Active(live) if live.user_id != local.user_id => {
                tracing::error!("introspection answered about another user than the token's");
                Err(VerifyError::Unavailable(
                    "introspection answered about another user".to_owned(),
                ))
            }
            Answer::Active(live) => Ok(Claims {
                roles: live.roles,
                permissions: live.permissions,
                ..local
            }),
        }
    }

    fn ready(&self) -> Result<&Ready, VerifyError> {
        self.inner
            .as_ref()
            .as_ref()
            .map_err(|error| VerifyError::Misconfigured(error.clone()))
    }
}
impl Ready {
    async fn verify_personal_token(&self, token: &str) -> Result<Claims, VerifyError> {
        if !is_well_formed_personal_token(token) {
            return Err(VerifyError::Malformed);
        }
        match self.introspector.introspect(token).await? {
            Answer::Active(claims) => Ok(claims),
            Answer::Inactive => Err(VerifyError::Revoked),
        }
    }

    async fn verify_locally(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        // `none` does not even parse; HMAC and every other algorithm stop here.
        if header.alg != self.algorithm.jwt() {
            return Err(VerifyError::Malformed);
        }
        if !header.typ.as_deref().is_some_and(|typ| {
            // `at+jwt` or `application/at+jwt`, without case (RFC 9068 §4).
            let typ = typ.to_ascii_lowercase();
            typ.strip_prefix("application/").unwrap_or(&typ) == "at+jwt"
        }) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        self.keys.ensure_refreshing();
        let key = self.keys.key(&kid, unverified_issued_at(token)).await?;
        // A key of another algorithm (another kind of key) never verifies.
        if key.algorithm != self.algorithm {
            return Err(VerifyError::UnknownKey);
        }
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    VerifyError::WrongIssuerOrAudience
                }
                _ => VerifyError::Malformed,
            })?;
        let claims = data.claims;
        Ok(Claims {
            user_id: claims.sub,
            session_id: claims.sid,
            roles: claims.roles,
            permissions: claims
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_at: Some(claims.exp),
        })
    }
}

/// The token's `iat` as it claims it, unverified; `None` when absent or not
/// a non-negative integer.
fn unverified_issued_at(token: &str) -> Option<u64> {
    let claims: UnverifiedIssuedAt = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.iat?.as_u64()
}

fn is_personal_token(token: &str) -> bool {
    token.starts_with("pat_")
}

/// Whether `token` has the shape and checksum of a Portcullis personal access
/// token (`pat_` + base64url of id, secret and the first four bytes of
/// SHA-256 over `pat_`, id and secret), so a typo or a made-up token is
/// refused here instead of costing a call to the server.
fn is_well_formed_personal_token(token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = token.strip_prefix("pat_") else {
        return false;
    };
    let Ok(payload) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    let Some((body, checksum)) = payload.split_last_chunk::<4>() else {
        return false;
    };
    if body.len() != 48 {
        return false;
    }
    let digest = Sha256::new()
        .chain_update(b"pat_")
        .chain_update(body)
        .finalize();
    digest[..4] == checksum[..]
}
