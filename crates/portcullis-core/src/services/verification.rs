//! Checking credentials: the caller of a protected endpoint, the proof of an
//! administrative right, token introspection (RFC 7662) for the APIs behind
//! Portcullis, forward-auth for reverse proxies, and the command line's
//! `token verify`.
//!
//! A valid access token costs no database read: its signature is checked
//! against the key ring (remembered once verified), its session against the
//! in-memory deny list, and its account against the account cache. A
//! personal access token is read by id. Either way the caller holds what
//! the credential was granted *and* what the account's roles grant now, so
//! a permission taken away stops working within a second, whatever tokens
//! are still live. Every answer fails closed: anything that cannot be
//! decided (the database is down) is an error, never an answer that lets
//! the request through.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::Core;
use crate::error::AuthError;
use crate::personal_tokens::PersonalToken;
use crate::principal::{AdminRight, Authorized, Credential, Principal};
use crate::roles::{ADMIN_ROLE, PERMISSION_INTROSPECT};
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
        Ok(self.authenticate_with_account(token).await?.0)
    }

    /// The proof that `principal` holds the administrative right `R`. A
    /// session of a holder of the `admin` role that was not narrowed at
    /// login may hand out every permission, even one no role names yet (so
    /// that an administrator can introduce a permission); any other
    /// credential only what it holds itself.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] naming the permission needed.
    pub async fn authorize<R: AdminRight>(
        &self,
        principal: &Principal,
    ) -> Result<Authorized<R>, AuthError> {
        principal.require_permission(R::PERMISSION)?;
        let holds_everything = match principal.credential {
            Credential::Session(id) if principal.roles.iter().any(|r| r == ADMIN_ROLE) => self
                .core
                .store
                .session(id)
                .await?
                .is_some_and(|session| session.scope.is_none()),
            Credential::Session(_)
            | Credential::PersonalToken(_)
            | Credential::ClientSession(_) => false,
        };
        Authorized::user(principal, holds_everything)
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
        let (claims, principal) = match self.access_token_caller(token).await {
            Ok((claims, principal, _)) => (claims, principal),
            Err(AuthError::InvalidToken(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        let (Ok(issued_at), Ok(expires_at)) = (
            OffsetDateTime::from_unix_timestamp(claims.iat),
            OffsetDateTime::from_unix_timestamp(claims.exp),
        ) else {
            return Ok(None);
        };
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
        let (principal, user) = self.authenticate_with_account(token).await?;
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

impl Verification {
    /// The caller `token` names, with its account as read to check it.
    async fn authenticate_with_account(
        &self,
        token: &str,
    ) -> Result<(Principal, Arc<User>), AuthError> {
        if PersonalToken::is_personal_token(token) {
            let checked = personal_tokens::authenticate(&self.core, token).await?;
            return Ok((checked.principal, checked.user));
        }
        let (_, principal, user) = self.access_token_caller(token).await?;
        Ok((principal, user))
    }

    /// An access token's claims and caller: the permissions it carries that
    /// the account's roles still grant (no database read while the account
    /// cache answers).
    async fn access_token_caller(
        &self,
        token: &str,
    ) -> Result<(AccessTokenClaims, Principal, Arc<User>), AuthError> {
        let claims = self.core.verify_access_token(token).await?;
        let user = self.core.accounts.active_account(claims.sub).await?;
        let current = self.core.accounts.current_permissions(&user.roles).await?;
        let principal = Principal {
            user_id: claims.sub,
            credential: if claims.client_id.is_some() {
                Credential::ClientSession(claims.sid)
            } else {
                Credential::Session(claims.sid)
            },
            roles: user.roles.clone(),
            scope: claims
                .permissions()
                .filter(|permission| current.contains(*permission))
                .map(str::to_owned)
                .collect(),
        };
        Ok((claims, principal, user))
    }
}
