//! The signing keys.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::keys::{PrivateKey, SigningKey};
use crate::store::StoreError;

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every key of every algorithm, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;
    /// Stores `key` only when no key of its algorithm is without an end
    /// (`retiring_since`); returns whether it did (two instances starting
    /// at once create one key per algorithm).
    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError>;
    /// Stores `key` and ends every key of its algorithm that has no end yet
    /// when `key` starts signing (its `active_from`), in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Replaces how the private half of `kid` is kept (sealing it).
    async fn replace_private_key(
        &self,
        kid: &str,
        private_key: &PrivateKey,
    ) -> Result<(), StoreError>;
    /// Deletes the key `kid`; `false` when there was none.
    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError>;
    /// Deletes keys that stopped signing before `retired_before`; returns how many.
    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError>;
}
