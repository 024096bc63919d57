//! The state every use case shares, built once at start: the store, the
//! clock, the settings, the password hasher, the signing keys, the account
//! directory, the revocations and the login attempts.
//!
//! Each use case in [`crate::services`] holds an `Arc<Core>` and reaches
//! these parts directly; the few operations that combine several parts
//! (verifying an access token against keys and revocations, ending an
//! account) live here so that no use case reaches into another.
//! [`Core`] holds no rule of the contract itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::account_directory::AccountDirectory;
use crate::clock::Clock;
use crate::error::AuthError;
use crate::hashing::{PasswordHashString, PasswordHasher};
use crate::key_encryption::KeyVault;
use crate::key_loading::KeyLoader;
use crate::keys::SigningAlgorithm;
use crate::login_attempts::{LoginAttempts, RefreshFailures};
use crate::refresh::{RefreshToken, SessionRefreshKey};
use crate::revocation::Revocations;
use crate::services::grants::ClientInfo;
use crate::settings::AuthSettings;
use crate::store::{PersonalTokenRecord, SessionOrigin, SessionRecord, Store};
use crate::tokens::{AccessTokenClaims, AccessTokens, IdTokenHint, TokenError};

/// Longest user agent kept with a session, in characters.
const MAX_USER_AGENT_LENGTH: usize = 512;

/// What a new password does to the account's personal access tokens.
/// Sessions always end: a password change is what a user does when they
/// fear someone else is signed in. Tokens made for scripts and
/// integrations are kept unless asked, since revoking them breaks those
/// integrations; a user who fears a token leaked asks for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PersonalTokensOnNewPassword {
    #[default]
    Keep,
    Revoke,
}

/// See the module documentation.
pub(crate) struct Core {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: AuthSettings,
    pub(crate) hasher: PasswordHasher,
    pub(crate) tokens: AccessTokens,
    pub(crate) accounts: AccountDirectory,
    pub(crate) revocations: Revocations,
    pub(crate) attempts: LoginAttempts,
    pub(crate) refresh_failures: RefreshFailures,
    pub(crate) personal_token_uses: PersonalTokenUses,
    pub(crate) keys: KeyLoader,
}

impl Core {
    /// Loads (or on first start creates) the signing keys and starts the
    /// password hasher.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        settings: AuthSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, AuthError> {
        let horizon = settings.access_token_horizon();
        let keys = KeyLoader::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            KeyVault::new(settings.key_encryption_key.clone()),
            horizon,
            settings.access_token_algorithm,
        );
        let ring = keys.start().await?;
        let tokens = AccessTokens::new(
            Arc::clone(&clock),
            settings.issuer.clone(),
            settings.audience.clone(),
            settings.access_token_ttl,
            settings.leeway,
            settings.access_token_algorithm,
            ring,
        );
        Ok(Arc::new(Self {
            hasher: PasswordHasher::new(settings.argon2, settings.hashing_workers)?,
            tokens,
            accounts: AccountDirectory::new(Arc::clone(&store)),
            revocations: Revocations::new(Arc::clone(&store), Arc::clone(&clock), horizon),
            attempts: LoginAttempts::new(Arc::clone(&store), Arc::clone(&clock), settings.throttle),
            refresh_failures: RefreshFailures::new(Arc::clone(&clock), settings.throttle),
            personal_token_uses: PersonalTokenUses::default(),
            keys,
            store,
            clock,
            settings,
        }))
    }

    /// Re-reads the signing keys (another process may have rotated or
    /// revoked one) and rebuilds the ring when they changed.
    pub(crate) async fn reload_keys(&self) -> Result<(), AuthError> {
        if let Some(ring) = self.keys.load().await? {
            self.tokens.replace_ring(ring);
        }
        Ok(())
    }

    /// Makes the first key of `algorithm` unless the ring already signs
    /// with it (a line is made when first needed; the store decides which of
    /// several instances' first keys is kept), and loads it.
    pub(crate) async fn ensure_signing_key(
        &self,
        algorithm: SigningAlgorithm,
    ) -> Result<(), AuthError> {
        if self.tokens.signs_with(algorithm) {
            return Ok(());
        }
        self.keys.make_first_keys(&[algorithm]).await?;
        self.reload_keys().await?;
        if self.tokens.signs_with(algorithm) {
            Ok(())
        } else {
            Err(AuthError::Internal(format!(
                "no {algorithm} key was loaded"
            )))
        }
    }

    /// An id token of `claims` (OpenID Connect Core §2) signed now by the
    /// `algorithm` key, made first if this is the first token of it; see
    /// [`AccessTokens::sign_id_token`].
    pub(crate) async fn sign_id_token<C: serde::Serialize>(
        &self,
        claims: &C,
        algorithm: SigningAlgorithm,
    ) -> Result<String, AuthError> {
        self.ensure_signing_key(algorithm).await?;
        Ok(self
            .tokens
            .sign_id_token(claims, algorithm, self.clock.now()))
    }

    /// Who an `id_token_hint` names (RP-initiated logout), signed by one of
    /// our RS256 or EdDSA keys; a key this process has not loaded yet makes
    /// it reload, as for access tokens. See [`AccessTokens::verify_id_token_hint`].
    pub(crate) async fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenHint, AuthError> {
        match self.tokens.verify_id_token_hint(token) {
            Err(TokenError::UnknownKey) if self.keys.may_reload_for_unknown_key() => {
                self.reload_keys().await?;
                self.tokens.verify_id_token_hint(token)
            }
            verified => verified,
        }
        .map_err(AuthError::InvalidToken)
    }

    /// An access token's claims, when its signature, claims and session are
    /// all valid. A key this process does not know yet (rotated by another
    /// process) makes it reload the keys, at most once every few seconds,
    /// and try again.
    pub(crate) async fn verify_access_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims, AuthError> {
        let claims = match self.tokens.verify(token) {
            Err(TokenError::UnknownKey) if self.keys.may_reload_for_unknown_key() => {
                self.reload_keys().await?;
                self.tokens.verify(token)
            }
            verified => verified,
        }
        .map_err(AuthError::InvalidToken)?;
        self.revocations.check(claims.sid)?;
        Ok(claims)
    }

    /// A new session of `user_id` from `origin`, narrowed to `scope` when
    /// given, and its first refresh token (for a browser session, its cookie).
    pub(crate) fn new_session(
        &self,
        user_id: Uuid,
        origin: SessionOrigin,
        scope: Option<Vec<String>>,
        client: ClientInfo,
    ) -> (SessionRecord, RefreshToken) {
        let now = self.clock.now_seconds();
        let id = Uuid::now_v7();
        let first = RefreshToken::first(id);
        let session = SessionRecord {
            id,
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.session_max_age,
            revoked_at: None,
            refresh_key: SessionRefreshKey::generate(),
            refresh_generation: 0,
            refresh_hash: first.secret.hash(),
            scope,
            user_agent: client
                .user_agent
                .map(|agent| agent.chars().take(MAX_USER_AGENT_LENGTH).collect()),
            ip: client.ip,
            origin,
        };
        (session, first)
    }

    /// When a session ends: its idle end or its absolute end, whichever is first.
    pub(crate) fn session_end(&self, session: &SessionRecord) -> OffsetDateTime {
        (session.last_used_at + self.settings.refresh_idle_ttl).min(session.expires_at)
    }

    /// Stores a new password hash for `user_id` and ends every session but
    /// `except`; with [`PersonalTokensOnNewPassword::Revoke`] also deletes
    /// every personal access token.
    pub(crate) async fn replace_password(
        &self,
        user_id: Uuid,
        hash: &PasswordHashString,
        except: Option<Uuid>,
        tokens: PersonalTokensOnNewPassword,
    ) -> Result<(), AuthError> {
        self.store.set_password_hash(user_id, hash).await?;
        self.revocations
            .revoke_user_sessions(user_id, except)
            .await?;
        if tokens == PersonalTokensOnNewPassword::Revoke {
            self.accounts
                .writing_account(user_id, self.store.delete_personal_tokens_of_user(user_id))
                .await?;
        }
        Ok(())
    }

    /// The user's personal access tokens, newest first, with the uses this
    /// process has seen but not written yet counted in `last_used_at`.
    pub(crate) async fn personal_tokens_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<PersonalTokenRecord>, AuthError> {
        let mut tokens = self.store.personal_tokens_of_user(user_id).await?;
        let pending = self.personal_token_uses.pending();
        for token in &mut tokens {
            if let Some(used) = pending
                .iter()
                .find(|(id, _)| *id == token.id)
                .map(|(_, at)| *at)
            {
                token.last_used_at = token.last_used_at.max(Some(used));
            }
        }
        Ok(tokens)
    }

    /// Deletes the account, its sessions and tokens with it, and denies
    /// those sessions here at once (other instances learn of them through
    /// the revocation feed, which the database's triggers write). The store
    /// may refuse (the last administrator): nothing has ended then.
    pub(crate) async fn delete_account(&self, user_id: Uuid) -> Result<(), AuthError> {
        let sessions: Vec<Uuid> = self
            .store
            .sessions_of_user(user_id)
            .await?
            .into_iter()
            .map(|session| session.id)
            .collect();
        self.accounts
            .writing_account(user_id, self.store.delete_user(user_id))
            .await?;
        self.revocations.deny_here(&sessions);
        Ok(())
    }
}

/// When each personal access token was last used, gathered in memory and
/// written in batches.
#[derive(Debug, Default)]
pub(crate) struct PersonalTokenUses(Mutex<HashMap<Uuid, OffsetDateTime>>);

impl PersonalTokenUses {
    pub(crate) fn record(&self, id: Uuid, at: OffsetDateTime) {
        self.lock().insert(id, at);
    }

    /// How many tokens have a use not yet written, for monitoring.
    pub(crate) fn unwritten(&self) -> usize {
        self.lock().len()
    }

    /// Every use not yet written.
    pub(crate) fn pending(&self) -> Vec<(Uuid, OffsetDateTime)> {
        self.lock().iter().map(|(id, at)| (*id, *at)).collect()
    }

    /// Forgets the uses written, unless a newer use came meanwhile.
    pub(crate) fn written(&self, uses: &[(Uuid, OffsetDateTime)]) {
        let mut pending = self.lock();
        for (id, at) in uses {
            if pending.get(id) == Some(at) {
                pending.remove(id);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, OffsetDateTime>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn a_use_written_is_forgotten_unless_a_newer_one_came() {
        let uses = PersonalTokenUses::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let then = OffsetDateTime::UNIX_EPOCH;
        uses.record(a, then);
        uses.record(b, then);
        let written = uses.pending();
        uses.record(b, then + Duration::SECOND);
        uses.written(&written);
        assert_eq!(uses.pending(), [(b, then + Duration::SECOND)]);
    }
}
