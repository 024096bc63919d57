//! The signing keys as the outside sees them: the public keys served as
//! the JWKS, and the operator's rotation, revocation and listing.
//!
//! A rotation publishes the new key at once and has it sign only after the
//! publication lead (unless asked for now), so verifiers that cache the
//! JWKS hold it before the first token it signs; the old key signs until
//! then and verifies for a token lifetime after. A revocation removes a key
//! at once (a compromised one): its tokens are refused, and if it was
//! signing, a new key signs from now. Every instance picks a change up
//! within a second (they reload the keys every half second).

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::core::Core;
use crate::error::AuthError;
use crate::keys::{KeyState, PublicJwk, SigningKey};
use crate::principal::Operator;

/// When a rotated-in key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Once it has been published for this long (the publication lead:
    /// longer than verifiers cache the JWKS).
    AfterPublication(Duration),
    /// At once (verifiers meet an unknown `kid` and must fetch the JWKS).
    Now,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The key made to sign in the revoked key's place, if it was signing.
    pub replaced_by: Option<String>,
}

/// The signing keys.
pub struct SigningKeys {
    core: Arc<Core>,
}

impl SigningKeys {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The public keys published: those about to sign, the one signing,
    /// and those whose tokens may still be live.
    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.core.tokens.jwks()
    }

    /// Re-reads the keys (another process may have changed them); rebuilds
    /// the ring only when they changed.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails or a key cannot be opened.
    pub async fn reload(&self) -> Result<(), AuthError> {
        self.core.reload_keys().await
    }

    /// Makes a new key that signs from `activation`; returns it.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn rotate(
        &self,
        _operator: &Operator,
        activation: Activation,
    ) -> Result<SigningKey, AuthError> {
        let now = self.core.clock.now_seconds();
        let active_from = match activation {
            Activation::AfterPublication(lead) => now + lead,
            Activation::Now => now,
        };
        let key = SigningKey::generate(now, active_from);
        self.core
            .store
            .rotate_signing_key(&self.core.keys.vault.seal(key.clone()))
            .await?;
        self.core.reload_keys().await?;
        Ok(key)
    }

    /// Removes the key `kid` at once; if it signs now or was about to, a
    /// new key signs from now first.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] for an unknown `kid`.
    pub async fn revoke(&self, operator: &Operator, kid: &str) -> Result<Revoked, AuthError> {
        let now = self.core.clock.now();
        let key = self
            .core
            .store
            .signing_keys()
            .await?
            .into_iter()
            .find(|key| key.kid == kid)
            .ok_or(AuthError::NotFound)?;
        let replaced_by = match key.state_at(now) {
            KeyState::Active | KeyState::Next { .. } => {
                Some(self.rotate(operator, Activation::Now).await?.kid)
            }
            KeyState::Retiring { .. } => None,
        };
        self.core.store.delete_signing_key(kid).await?;
        self.core.reload_keys().await?;
        Ok(Revoked { replaced_by })
    }

    /// Every stored key, oldest first, with where each is at `now` (the
    /// private halves never leave the store's records).
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list(
        &self,
        _operator: &Operator,
    ) -> Result<Vec<(SigningKey, KeyState)>, AuthError> {
        let now: OffsetDateTime = self.core.clock.now();
        Ok(self
            .core
            .store
            .signing_keys()
            .await?
            .into_iter()
            .map(|key| {
                let state = key.state_at(now);
                (key, state)
            })
            .collect())
    }
}
