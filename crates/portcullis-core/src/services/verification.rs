//! Checking credentials: the caller of a protected endpoint, the proof of an
//! administrative right, token introspection (RFC 7662) for the APIs behind
//! Portcullis, forward-auth for reverse proxies, and the command line's
//! `token verify`.
//!
//! A valid access token costs no database read: its signature is checked
//! against the key ring (remembered once verified) and its session against
//! the in-memory deny list. A personal access token is read by id. Every
//! answer fails closed: anything that cannot be decided (the database is
//! down) is an error, never an answer that lets the request through.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::Core;
use crate::error::AuthError;
use crate::personal_tokens::PersonalToken;
use crate::principal::{AdminRight, Authorized, Credential, Principal};
use crate::roles::PERMISSION_INTROSPECT;
use crate::services::personal_tokens;
use crate::tokens::{AccessTokenClaims, TokenError};
use crate::user::User;

/// An active token as introspection describes it.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub user_id: Uuid,
    pub scope: Vec<String>,
    pub roles: Vec<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub session_id: Option<Uuid>,
    pub kind: TokenKind,
}

/// Which kind of credential was introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    AccessToken,
    PersonalAccessToken,
}

/// Credential checks.
pub struct Verification {
    core: Arc<Core>,
}

impl Verification {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Checks a credential: a personal access token (`pat_…`, one database
    /// read) or an access token (signature, claims and the deny list; no
    /// database read).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] saying why.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if PersonalToken::is_personal_token(token) {
            return Ok(personal_tokens::authenticate(&self.core, token)
                .await?
                .principal);
        }
        let claims = self.core.verify_access_token(token).await?;
        Ok(principal_of(claims))
    }

    /// The proof that `principal` holds the administrative right `R`.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] naming the permission needed.
    pub fn authorize<R: AdminRight>(
        &self,
        principal: &Principal,
    ) -> Result<Authorized<R>, AuthError> {
        Authorized::user(principal)
    }

    /// RFC 7662: describes `token` to a caller holding `tokens:introspect`;
    /// `None` for anything that is not an active token.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::Unavailable`].
    pub async fn introspect(
        &self,
        caller: &Principal,
        token: &SecretString,
    ) -> Result<Option<ActiveToken>, AuthError> {
        caller.require_permission(PERMISSION_INTROSPECT)?;
        let token = token.expose_secret().trim();
        if PersonalToken::is_personal_token(token) {
            let checked = match personal_tokens::authenticate(&self.core, token).await {
                Ok(checked) => checked,
                Err(AuthError::InvalidToken(_)) => return Ok(None),
                Err(other) => return Err(other),
            };
            let principal = checked.principal;
            return Ok(Some(ActiveToken {
                user_id: principal.user_id,
                scope: principal.scope,
                roles: principal.roles,
                issued_at: checked.token.created_at,
                expires_at: checked.token.expires_at,
                session_id: None,
                kind: TokenKind::PersonalAccessToken,
            }));
        }
        let Ok(claims) = self.core.verify_access_token(token).await else {
            return Ok(None);
        };
        let (Ok(issued_at), Ok(expires_at)) = (
            OffsetDateTime::from_unix_timestamp(claims.iat),
            OffsetDateTime::from_unix_timestamp(claims.exp),
        ) else {
            return Ok(None);
        };
        let principal = principal_of(claims);
        Ok(Some(ActiveToken {
            user_id: principal.user_id,
            session_id: principal.session_id(),
            scope: principal.scope,
            roles: principal.roles,
            issued_at,
            expires_at: Some(expires_at),
            kind: TokenKind::AccessToken,
        }))
    }

    /// Forward-auth: authenticates `token`, checks `permission` if given, and
    /// returns who the caller is now (through the account cache, which
    /// forgets an account as soon as it changes).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`], [`AuthError::Forbidden`], [`AuthError::Unavailable`].
    pub async fn verify_for_proxy(
        &self,
        token: &str,
        permission: Option<&str>,
    ) -> Result<(Principal, User), AuthError> {
        // A personal access token was checked against its account already;
        // an access token was not, so look the account up once now.
        let (principal, user) = if PersonalToken::is_personal_token(token) {
            let checked = personal_tokens::authenticate(&self.core, token).await?;
            (checked.principal, checked.user)
        } else {
            let principal = self.authenticate(token).await?;
            let user = self.core.accounts.active_account(principal.user_id).await?;
            (principal, user)
        };
        if let Some(permission) = permission {
            principal.require_permission(permission)?;
        }
        Ok((principal, User::clone(&user)))
    }

    /// Verifies an access token as a protected endpoint would, but reads
    /// revocation from the database (for a process that keeps no deny list:
    /// the command line).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] saying why.
    pub async fn inspect_access_token(
        &self,
        token: &SecretString,
    ) -> Result<AccessTokenClaims, AuthError> {
        let claims = self
            .core
            .tokens
            .verify(token.expose_secret().trim())
            .map_err(AuthError::InvalidToken)?;
        match self.core.store.session(claims.sid).await? {
            Some(session) if session.revoked_at.is_none() => Ok(claims),
            _ => Err(AuthError::InvalidToken(TokenError::Revoked)),
        }
    }
}

/// The caller an access token names.
fn principal_of(claims: AccessTokenClaims) -> Principal {
    let scope = claims.permissions().map(str::to_owned).collect();
    Principal {
        user_id: claims.sub,
        credential: Credential::Session(claims.sid),
        roles: claims.roles,
        scope,
    }
}
