//! The signing keys as the outside sees them: the public keys served as
//! the JWKS, and the operator's rotation and listing.
//!
//! A rotation makes a new key active at once; the old key keeps verifying
//! until its last token has expired. Other instances pick the new key up
//! when they reload (every few seconds, or at once on a token with an
//! unknown `kid`).

use std::sync::Arc;

use crate::core::Core;
use crate::error::AuthError;
use crate::keys::{PublicJwk, SigningKey};
use crate::principal::Operator;

/// The signing keys.
pub struct SigningKeys {
    core: Arc<Core>,
}

impl SigningKeys {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The public keys whose tokens may still be live.
    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.core.tokens.jwks()
    }

    /// Re-reads the keys (another process may have rotated them).
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn reload(&self) -> Result<(), AuthError> {
        self.core.reload_keys().await
    }

    /// Makes a new signing key active; returns its `kid`.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn rotate(&self, _operator: &Operator) -> Result<String, AuthError> {
        let now = self.core.clock.now();
        let key = SigningKey::generate(now);
        self.core.store.rotate_signing_key(&key, now).await?;
        self.core.reload_keys().await?;
        Ok(key.kid)
    }

    /// Every stored key, oldest first.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list(&self, _operator: &Operator) -> Result<Vec<SigningKey>, AuthError> {
        Ok(self.core.store.signing_keys().await?)
    }
}
