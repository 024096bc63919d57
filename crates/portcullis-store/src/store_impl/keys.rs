//! Signing keys: the first key, rotation and pruning.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;

use portcullis_core::keys::SigningKey;
use portcullis_core::store::{KeyStore, StoreError};

use crate::dialect::Dialect;
use crate::rows::signing_key_from_row;
use crate::sql_store::SqlStore;
use crate::statement::Statement;
use crate::store_impl::signing_keys_change;

const INSERT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
     VALUES ($1, $2, $3, $4, NULL)";

#[async_trait]
impl<D: Dialect> KeyStore for SqlStore<D> {
    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError> {
        let statement = Statement::new(
            "DELETE FROM signing_keys WHERE retiring_since IS NOT NULL AND retiring_since < $1",
        )
        .bind(retired_before.unix_timestamp());
        self.write_one(statement).await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let statement = Statement::new(
            "SELECT kid, private_pkcs8, public_key, created_at, retiring_since FROM signing_keys
             ORDER BY created_at, kid",
        );
        self.fetch_all(statement)
            .await?
            .iter()
            .map(signing_key_from_row)
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        // Under the lock, this statement's snapshot includes any key committed
        // by whoever held it before.
        let insert = Statement::new(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             SELECT $1, $2, $3, $4, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        );
        let changed = self
            .write_together(signing_keys_change::<D>(insert, key, None))
            .await?;
        Ok(changed.last() == Some(&1))
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Locked like the first insert: two rotations at once would otherwise
        // each retire only the keys they saw and leave two active.
        let retire = Statement::new(
            "UPDATE signing_keys SET retiring_since = $1 WHERE retiring_since IS NULL",
        )
        .bind(now.unix_timestamp());
        let insert = Statement::new(INSERT_SIGNING_KEY);
        self.write_together(signing_keys_change::<D>(insert, key, Some(retire)))
            .await
            .map(drop)
    }
}
