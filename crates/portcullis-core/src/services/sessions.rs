//! Sessions as their owner sees them, and every way to end one: logout,
//! "log out everywhere", ending one session from the list, and RFC 7009
//! revocation by anyone holding a token.
//!
//! Every revocation goes through [`crate::revocation::Revocations`], which
//! writes the store and this process's deny list together; other instances
//! learn of it through the revocation feed within a second.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::Core;
use crate::error::AuthError;
use crate::personal_tokens::PersonalToken;
use crate::principal::Principal;
use crate::refresh::{Lineage, RefreshToken};

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
}

/// The caller's sessions and revocation.
pub struct Sessions {
    core: Arc<Core>,
}

impl Sessions {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The caller's live sessions, newest first.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list(&self, principal: &Principal) -> Result<Vec<SessionView>, AuthError> {
        principal.require_not_client()?;
        let core = &self.core;
        let now = core.clock.now_seconds();
        Ok(core
            .store
            .sessions_of_user(principal.user_id)
            .await?
            .into_iter()
            .filter(|session| core.session_end(session) > now)
            .map(|session| SessionView {
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: core.session_end(&session),
                current: Some(session.id) == principal.session_id(),
                user_agent: session.user_agent,
                ip: session.ip,
            })
            .collect())
    }

    /// Ends one of the caller's sessions; another user's id is [`AuthError::NotFound`].
    ///
    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn revoke_own(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<(), AuthError> {
        principal.require_not_client()?;
        match self.core.store.session(session_id).await? {
            Some(session)
                if session.user_id == principal.user_id && session.revoked_at.is_none() =>
            {
                self.core.revocations.revoke_session(session_id).await
            }
            _ => Err(AuthError::NotFound),
        }
    }

    /// Ends every session of the caller ("log out everywhere").
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn revoke_all_own(&self, principal: &Principal) -> Result<(), AuthError> {
        principal.require_not_client()?;
        self.core
            .revocations
            .revoke_user_sessions(principal.user_id, None)
            .await
    }

    /// Ends the caller's current session.
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`], or when the store fails.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        let session = principal
            .session_id()
            .ok_or(AuthError::NotWithPersonalToken)?;
        self.core.revocations.revoke_session(session).await
    }

    /// RFC 7009: revokes the session of a refresh or access token, or deletes
    /// a personal access token; anything else is silently ignored, as the RFC asks.
    ///
    /// # Errors
    /// [`AuthError`] only when the store fails.
    pub async fn revoke_token(&self, token: &SecretString) -> Result<(), AuthError> {
        let core = &self.core;
        let token = token.expose_secret().trim();
        if let Some(personal) = PersonalToken::parse(token) {
            if let Some(record) = core.store.personal_token(personal.id).await?
                && record.secret_hash.matches(&personal.secret_hash())
            {
                core.accounts
                    .writing_account(record.user_id, core.store.delete_personal_token(record.id))
                    .await?;
            }
        } else if let Some(refresh) = RefreshToken::parse(token) {
            if let Some(session) = core.store.session(refresh.session_id).await? {
                let lineage = refresh.lineage(
                    &session.refresh_key,
                    session.refresh_generation,
                    &session.refresh_hash,
                );
                if lineage != Lineage::Foreign && session.revoked_at.is_none() {
                    core.revocations.revoke_session(session.id).await?;
                }
            }
        } else if let Ok(claims) = core.tokens.verify(token) {
            core.revocations.revoke_session(claims.sid).await?;
        }
        Ok(())
    }
}
