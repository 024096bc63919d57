//! The signing keys.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::keys::SigningKey;
use crate::store::StoreError;

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;
    /// Stores `key` as the active key only when there is no key at all;
    /// returns whether it did (two instances starting at once create one key).
    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError>;
    /// Marks every active key retiring since `now` and stores `key` as the
    /// active one, in one transaction.
    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Deletes retiring keys that stopped signing before `retired_before`; returns how many.
    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError>;
}
