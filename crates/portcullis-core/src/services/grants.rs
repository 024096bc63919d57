//! The OAuth 2.0 grants of the token endpoint: a password opens a session,
//! a refresh token continues one.
//!
//! The password grant enforces, in this order: throttling (before any
//! hashing), one verification whose time does not depend on whether the
//! email exists, and one failure for every bad credential. The refresh grant
//! rotates through the store's compare-and-set, hands a just-rotated token's
//! successor out again within the grace interval, and treats any older token
//! as reuse, which revokes the whole session (RFC 9700 §4.14.2). Everything
//! that can refuse a refresh is checked before the rotation, so a refused
//! refresh never uses the token up. A client address that keeps presenting
//! refresh tokens that were never ours is throttled like failed logins.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use crate::core::Core;
use crate::email::Email;
use crate::email_tokens::{EmailTokenPurpose, MAX_CODE_TRIES};
use crate::error::AuthError;
use crate::hashing::Verification;
use crate::login_attempts::AttemptKeys;
use crate::mail_requests;
use crate::names::Scope;
use crate::password::Password;
use crate::refresh::{Lineage, RefreshToken, SessionRefreshKey};
use crate::settings::EmailVerification;
use crate::store::{SessionRecord, TokenEffect, UserRecord};
use crate::telemetry::{self, LoginOutcome};
use crate::throttle;
use crate::tokens::AccessGrant;

/// Longest user agent kept with a session, in characters.
const MAX_USER_AGENT_LENGTH: usize = 512;

/// Where a login came from, kept with the session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the token endpoint returns on success. The tokens are secrets until
/// the wire type serialises them.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: SecretString,
    pub expires_in: i64,
    pub refresh_token: SecretString,
    pub scope: String,
}

/// The password and refresh grants.
pub struct Grants {
    core: Arc<Core>,
}

impl Grants {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The password grant: checks the credentials and opens a session,
    /// narrowed to `requested_scope` when given.
    ///
    /// # Errors
    /// [`AuthError::Throttled`], [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`].
    pub async fn password(
        &self,
        identifier: &str,
        password: &SecretString,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let email = Email::parse(identifier).ok();
        let account_key = throttle::account_key(
            &email
                .as_ref()
                .map_or_else(|| identifier.trim().to_lowercase(), ToString::to_string),
        );
        let address_key = client.ip.as_deref().map(throttle::address_key);
        let keys = AttemptKeys {
            account: Some(&account_key),
            address: address_key.as_deref(),
        };
        let attempt = core.attempts.begin(keys).await.inspect_err(|error| {
            if matches!(error, AuthError::Throttled { .. }) {
                telemetry::login(LoginOutcome::Throttled);
            }
        })?;

        let user = match &email {
            Some(email) => core.store.user_by_email(email).await?,
            None => None,
        };
        let verification = core
            .hasher
            .verify(
                &Password::presented(password.expose_secret()),
                user.as_ref().map(|u| &u.password_hash),
            )
            .await?;
        let user = match (user, verification) {
            (Some(user), outcome @ (Verification::Match | Verification::NeedsRehash(_)))
                if !user.disabled =>
            {
                if let Verification::NeedsRehash(new_hash) = outcome {
                    core.store.set_password_hash(user.id, &new_hash).await?;
                }
                attempt.succeeded().await?;
                // Said only to whoever knows the password.
                if core.settings.email.verification == EmailVerification::Required
                    && !user.email_verified
                {
                    return Err(AuthError::EmailNotVerified);
                }
                telemetry::login(LoginOutcome::Success);
                user
            }
            _ => {
                telemetry::login(LoginOutcome::InvalidGrant);
                attempt.failed().await?;
                return Err(AuthError::InvalidGrant);
            }
        };
        self.open_session(&user, requested_scope, client).await
    }

    /// The email-code grant (`--email-code-login on`): spends the sign-in
    /// code sent to `email` (which proves the address) and opens a session
    /// like the password grant. A wrong code counts against the account's
    /// live code, which dies at the fifth.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`] for a wrong, spent, expired or
    /// cancelled code, or an unknown or disabled account;
    /// [`AuthError::InvalidScope`].
    pub async fn email_code(
        &self,
        email: &str,
        code: &SecretString,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let Ok(email) = Email::parse(email) else {
            return Err(AuthError::InvalidGrant);
        };
        let token = mail_requests::token_for_code(core, &email, code, &[EmailTokenPurpose::SignIn])
            .await?
            .ok_or(AuthError::InvalidGrant)?;
        let user = core
            .store
            .user_by_id(token.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(AuthError::InvalidGrant)?;
        let spent = core
            .accounts
            .writing_account(
                user.id,
                core.store.spend_email_token(
                    &token,
                    core.clock.now(),
                    MAX_CODE_TRIES,
                    TokenEffect::VerifyEmail,
                    None,
                ),
            )
            .await?;
        if !spent {
            return Err(AuthError::InvalidGrant);
        }
        telemetry::login(LoginOutcome::Success);
        self.open_session(&user, requested_scope, client).await
    }

    /// Opens a session for `user`, who just proved who they are, narrowed
    /// to `requested_scope` when given.
    async fn open_session(
        &self,
        user: &UserRecord,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let permissions = core.accounts.stored_permissions(&user.roles).await?;
        let narrowed = requested_scope
            .map(|requested| narrow_scope(requested, &permissions))
            .transpose()?;
        let now = core.clock.now_seconds();
        let session_id = Uuid::now_v7();
        let first = RefreshToken::first(session_id);
        let session = SessionRecord {
            id: session_id,
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + core.settings.session_max_age,
            revoked_at: None,
            refresh_key: SessionRefreshKey::generate(),
            refresh_generation: 0,
            refresh_hash: first.secret.hash(),
            scope: narrowed.clone(),
            user_agent: client
                .user_agent
                .map(|agent| agent.chars().take(MAX_USER_AGENT_LENGTH).collect()),
            ip: client.ip,
        };
        core.store.insert_session(&session).await?;
        let scope = narrowed.unwrap_or_else(|| permissions.into_iter().collect());
        Ok(self.token_pair(user, session_id, scope, &first))
    }

    /// The refresh grant, with rotation, a grace interval for the token just
    /// rotated, and reuse detection.
    ///
    /// Two store round trips: one read of the session with its account and
    /// roles held, one compare-and-set. The roles' permissions come from the
    /// account cache, which this process forgets before answering a change
    /// it makes and other processes' changes reach within
    /// [`ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN`](crate::services::feeds::ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN)
    /// (when it cannot vouch for that, it reads the database): the same
    /// bound as for a revocation, and every use of the access token is
    /// checked against the permissions of that moment anyway.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`], [`AuthError::Throttled`].
    pub async fn refresh(
        &self,
        presented: &SecretString,
        requested_scope: Option<&str>,
        client: &ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let address_key = client.ip.as_deref().map(throttle::address_key);
        if let Some(address_key) = &address_key {
            core.refresh_failures.ensure_allowed(address_key)?;
        }
        let not_ours = || {
            if let Some(address_key) = &address_key {
                core.refresh_failures.record(address_key);
            }
            Err(AuthError::InvalidGrant)
        };
        let Some(token) = RefreshToken::parse(presented.expose_secret().trim()) else {
            return not_ours();
        };
        // The second pass runs only when a concurrent refresh won the compare-and-set.
        for _ in 0..2 {
            let now = core.clock.now_seconds();
            // One read brings the session and its account; the permissions
            // come from the account cache (see `refresh`'s documentation).
            let Some((session, user)) = core.store.session_with_user(token.session_id).await?
            else {
                return not_ours();
            };
            if session.revoked_at.is_some() || core.session_end(&session) <= now {
                return Err(AuthError::InvalidGrant);
            }
            let (rotate, next) = match token.lineage(
                &session.refresh_key,
                session.refresh_generation,
                &session.refresh_hash,
            ) {
                Lineage::Current => (true, token.successor(&session.refresh_key)),
                Lineage::JustRotated(current)
                    if now - session.last_used_at <= core.settings.refresh_reuse_grace =>
                {
                    (false, current)
                }
                Lineage::JustRotated(_) | Lineage::Older => {
                    tracing::warn!(session_id = %session.id, user_id = %session.user_id, "refresh token reuse detected; session revoked");
                    telemetry::refresh_token_reuse();
                    core.revocations.revoke_session(session.id).await?;
                    return Err(AuthError::InvalidGrant);
                }
                Lineage::Foreign => return not_ours(),
            };
            let user = match user {
                Some(user) if !user.disabled => user,
                _ => return Err(AuthError::InvalidGrant),
            };
            let permissions = core.accounts.current_permissions(&user.roles).await?;
            let allowed: BTreeSet<String> = match &session.scope {
                Some(narrowed) => narrowed
                    .iter()
                    .filter(|p| permissions.contains(*p))
                    .cloned()
                    .collect(),
                None => permissions,
            };
            let scope = match requested_scope {
                Some(requested) => narrow_scope(requested, &allowed)?,
                None => allowed.into_iter().collect(),
            };
            if rotate
                && !core
                    .store
                    .rotate_refresh_token(
                        session.id,
                        session.refresh_generation,
                        &next.secret.hash(),
                        now,
                    )
                    .await?
            {
                continue;
            }
            return Ok(self.token_pair(&user, session.id, scope, &next));
        }
        Err(AuthError::InvalidGrant)
    }

    /// Signs an access token for `session_id` and pairs it with `refresh`.
    fn token_pair(
        &self,
        user: &UserRecord,
        session_id: Uuid,
        scope: Vec<String>,
        refresh: &RefreshToken,
    ) -> TokenPair {
        let grant = AccessGrant {
            user_id: user.id,
            session_id,
            roles: user.roles.clone(),
            scope,
            email_verified: user.email_verified,
        };
        let (access_token, claims) = self
            .core
            .tokens
            .issue(&grant, self.core.clock.now_seconds());
        TokenPair {
            access_token: access_token.into(),
            expires_in: self.core.tokens.lifetime().whole_seconds(),
            refresh_token: refresh.encode().into(),
            scope: claims.scope,
        }
    }
}

/// The permissions of the space-separated `requested`, when every one is in `allowed`.
fn narrow_scope(requested: &str, allowed: &BTreeSet<String>) -> Result<Vec<String>, AuthError> {
    let requested =
        Scope::parse(requested).map_err(|error| AuthError::InvalidScope(error.to_string()))?;
    let missing: Vec<&str> = requested.not_in(allowed).collect();
    if missing.is_empty() {
        Ok(requested.into_strings())
    } else {
        Err(AuthError::InvalidScope(format!(
            "not granted to this user: {}",
            missing.join(" ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_narrowing() {
        let allowed: BTreeSet<String> = ["a:read", "b:write"].map(String::from).into();
        assert_eq!(
            narrow_scope("b:write  a:read", &allowed).unwrap(),
            ["a:read", "b:write"]
        );
        assert_eq!(narrow_scope("", &allowed).unwrap(), Vec::<String>::new());
        assert!(
            matches!(narrow_scope("a:read c:x", &allowed), Err(AuthError::InvalidScope(m)) if m.contains("c:x"))
        );
    }
}
