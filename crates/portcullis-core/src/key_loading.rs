//! Loading the signing keys into the key ring: at start (making the first
//! key of the access-token algorithm when it has none, and sealing keys
//! kept in the clear once a key-encryption key is given), every half second
//! after that (so a rotation or a revocation made anywhere counts here
//! within a second), and at once for a token signed by a key this process
//! has not loaded yet.
//!
//! A line of keys is made when first needed: the access-token algorithm's
//! at start, another's when a token of it is first signed (an id token) or
//! at `keys rotate`. An RSA key takes tens of milliseconds to make, which
//! every start on a fresh database (every HTTP test) would pay for a key
//! it may never use. Instances making a first key at once each make one,
//! and the store keeps one per algorithm (the first insert wins; the
//! others are dropped unused), so every instance signs with the same keys.
//! Keys are made off the async runtime.
//!
//! A reload that finds the same keys changes nothing: replacing the ring
//! forgets every verified token, which must not happen twice a second.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::error::AuthError;
use crate::key_encryption::KeyVault;
use crate::keys::{KeyRing, PrivateKey, SigningAlgorithm, SigningKey};
use crate::store::Store;

/// The least time between two key reloads caused by tokens with unknown keys
/// (a flood of forged `kid`s must not become a flood of queries).
const UNKNOWN_KEY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// What distinguishes one set of keys from another: every key's id and times.
type KeySetShape = Vec<(String, OffsetDateTime, Option<OffsetDateTime>)>;

/// See the module documentation.
pub(crate) struct KeyLoader {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pub(crate) vault: KeyVault,
    token_horizon: Duration,
    /// The line every ring must sign with.
    access_algorithm: SigningAlgorithm,
    /// Held while first keys are made, so this process makes each once.
    making_first_keys: tokio::sync::Mutex<()>,
    /// The shape of the keys the current ring was built from.
    loaded: Mutex<KeySetShape>,
    /// When a token with an unknown key last made this process reload.
    last_unknown_key_reload: Mutex<Option<Instant>>,
}

impl KeyLoader {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        vault: KeyVault,
        token_horizon: Duration,
        access_algorithm: SigningAlgorithm,
    ) -> Self {
        Self {
            store,
            clock,
            vault,
            token_horizon,
            access_algorithm,
            making_first_keys: tokio::sync::Mutex::default(),
            loaded: Mutex::default(),
            last_unknown_key_reload: Mutex::default(),
        }
    }

    /// Makes the first key of the access-token algorithm when it has none
    /// (or its keys all have an end), seals keys kept in the clear when
    /// there is a key-encryption key (or says that they are kept in the
    /// clear), and builds the first ring.
    pub(crate) async fn start(&self) -> Result<KeyRing, AuthError> {
        self.make_first_keys(&[self.access_algorithm]).await?;
        let stored = self.store.signing_keys().await?;
        if self.vault.seals() {
            let mut sealed = 0;
            for key in stored {
                if matches!(key.private_key, PrivateKey::Plain(_)) {
                    let kid = key.kid.clone();
                    let key = self.vault.seal(key);
                    self.store
                        .replace_private_key(&kid, &key.private_key)
                        .await?;
                    sealed += 1;
                }
            }
            if sealed > 0 {
                tracing::info!(keys = sealed, "sealed the signing keys kept in the clear");
            }
        } else {
            tracing::warn!(
                "the private signing keys are stored in the clear: anyone who can read the database can sign tokens; give a key-encryption key (--key-encryption-key-file or PORTCULLIS_KEY_ENCRYPTION_KEY) to seal them"
            );
        }
        self.load()
            .await?
            .ok_or_else(|| AuthError::Internal("no signing keys were loaded".into()))
    }

    /// A ring of the keys stored now, or `None` when they are the ones
    /// the current ring was built from.
    pub(crate) async fn load(&self) -> Result<Option<KeyRing>, AuthError> {
        let keys = self.store.signing_keys().await?;
        let shape: KeySetShape = keys
            .iter()
            .map(|key| (key.kid.clone(), key.active_from, key.retiring_since))
            .collect();
        if *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) == shape {
            return Ok(None);
        }
        let opened = keys
            .into_iter()
            .map(|key| self.vault.open(key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AuthError::Misconfigured(error.to_string()))?;
        let ring = KeyRing::new(&opened, self.clock.now(), self.token_horizon)
            .map_err(|error| AuthError::Internal(error.to_string()))?;
        if !ring.signs_with(self.access_algorithm) {
            return Err(AuthError::Internal(format!(
                "no {} key signs access tokens",
                self.access_algorithm
            )));
        }
        *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) = shape;
        Ok(Some(ring))
    }

    /// Stores a first key for each of `algorithms` that has no key without
    /// an end; the store keeps the first of several made at once anywhere.
    /// The caller reloads the ring.
    pub(crate) async fn make_first_keys(
        &self,
        algorithms: &[SigningAlgorithm],
    ) -> Result<(), AuthError> {
        let _making = self.making_first_keys.lock().await;
        let stored = self.store.signing_keys().await?;
        let missing = algorithms.iter().copied().filter(|algorithm| {
            !stored
                .iter()
                .any(|key| key.algorithm == *algorithm && key.retiring_since.is_none())
        });
        let now = self.clock.now();
        for key in generate_keys(missing, now, now).await? {
            let algorithm = key.algorithm;
            if self
                .store
                .insert_first_signing_key(&self.vault.seal(key))
                .await?
            {
                tracing::info!(%algorithm, "generated the first signing key");
            }
        }
        Ok(())
    }

    /// Whether an unknown key may trigger a reload now; claims the slot if so.
    pub(crate) fn may_reload_for_unknown_key(&self) -> bool {
        let mut last = self
            .last_unknown_key_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KEY_RELOAD_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// A new key of each of `algorithms`, made at `now` and signing from
/// `active_from`, each on a blocking thread of its own (an RSA key takes
/// tens of milliseconds; the others well under one).
pub(crate) async fn generate_keys(
    algorithms: impl IntoIterator<Item = SigningAlgorithm>,
    now: OffsetDateTime,
    active_from: OffsetDateTime,
) -> Result<Vec<SigningKey>, AuthError> {
    let making: Vec<_> = algorithms
        .into_iter()
        .map(|algorithm| {
            tokio::task::spawn_blocking(move || SigningKey::generate(algorithm, now, active_from))
        })
        .collect();
    let mut keys = Vec::with_capacity(making.len());
    for made in making {
        keys.push(
            made.await
                .map_err(|error| AuthError::Internal(format!("making a signing key: {error}")))?,
        );
    }
    Ok(keys)
}
