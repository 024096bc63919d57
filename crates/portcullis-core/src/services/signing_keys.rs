//! The signing keys as the outside sees them: the public keys served as
//! the JWKS, the algorithms tokens are signed with, and the operator's
//! rotation, revocation and listing.
//!
//! A rotation makes a new key for every algorithm (an algorithm that had
//! none gets its first key too: lines are otherwise made when first needed,
//! `crate::key_loading`), publishes them at once and has them sign only
//! after the publication lead (unless asked for now), so verifiers that
//! cache the JWKS hold them before the first token they sign; the old keys
//! sign until then and verify for a token lifetime after. A revocation
//! removes a key at once (a compromised one): its tokens are refused, and
//! if it was signing, a new key of its algorithm signs from now. Every
//! instance picks a change up within a second (they reload the keys every
//! half second).

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::core::Core;
use crate::error::AuthError;
use crate::key_loading::generate_keys;
use crate::keys::{ID_TOKEN_SIGNING_ALGORITHMS, KeyState, PublicJwk, SigningAlgorithm, SigningKey};
use crate::principal::Operator;
use crate::tokens::IdTokenHint;

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

    /// The public keys published, of every algorithm: those about to sign,
    /// the ones signing, and those whose tokens may still be live.
    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.core.tokens.jwks()
    }

    /// What access tokens are signed with (`--access-token-alg`).
    #[must_use]
    pub fn access_token_algorithm(&self) -> SigningAlgorithm {
        self.core.tokens.algorithm()
    }

    /// What id tokens may be signed with, the default first.
    #[must_use]
    pub fn id_token_algorithms(&self) -> &'static [SigningAlgorithm] {
        &ID_TOKEN_SIGNING_ALGORITHMS
    }

    /// `claims` signed now as an id token (`typ: JWT`) by the `algorithm`
    /// key, which is made first if this is its first token.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails while making the key.
    pub async fn sign_id_token<C: serde::Serialize>(
        &self,
        claims: &C,
        algorithm: SigningAlgorithm,
    ) -> Result<String, AuthError> {
        self.core.sign_id_token(claims, algorithm).await
    }

    /// Who an `id_token_hint` names: signed by one of our RS256 or EdDSA
    /// keys, our `iss`; it may have expired.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] saying why the hint is refused.
    pub async fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenHint, AuthError> {
        self.core.verify_id_token_hint(token).await
    }

    /// Re-reads the keys (another process may have changed them); rebuilds
    /// the ring only when they changed.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails or a key cannot be opened.
    pub async fn reload(&self) -> Result<(), AuthError> {
        self.core.reload_keys().await
    }

    /// Makes a new key of every algorithm that signs from `activation`;
    /// returns them. An algorithm that had no key gets its first, signing
    /// from now, before that.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn rotate(
        &self,
        _operator: &Operator,
        activation: Activation,
    ) -> Result<Vec<SigningKey>, AuthError> {
        self.core
            .keys
            .make_first_keys(&SigningAlgorithm::ALL)
            .await?;
        self.rotate_lines(&SigningAlgorithm::ALL, activation).await
    }

    /// A new key for each of `algorithms`, each ending the one signing in its line.
    async fn rotate_lines(
        &self,
        algorithms: &[SigningAlgorithm],
        activation: Activation,
    ) -> Result<Vec<SigningKey>, AuthError> {
        let now = self.core.clock.now_seconds();
        let active_from = match activation {
            Activation::AfterPublication(lead) => now + lead,
            Activation::Now => now,
        };
        let keys = generate_keys(algorithms.iter().copied(), now, active_from).await?;
        for key in &keys {
            self.core
                .store
                .rotate_signing_key(&self.core.keys.vault.seal(key.clone()))
                .await?;
        }
        self.core.reload_keys().await?;
        Ok(keys)
    }

    /// Removes the key `kid` at once; if it signs now or was about to, a
    /// new key of its algorithm signs from now first.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] for an unknown `kid`.
    pub async fn revoke(&self, _operator: &Operator, kid: &str) -> Result<Revoked, AuthError> {
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
            KeyState::Active | KeyState::Next { .. } => self
                .rotate_lines(&[key.algorithm], Activation::Now)
                .await?
                .pop()
                .map(|replacement| replacement.kid),
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
