//! Signing keys: the first key of each algorithm, rotation, sealing,
//! revocation and pruning.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;

use portcullis_core::keys::{PrivateKey, SigningKey};
use portcullis_core::store::{KeyStore, StoreError};

use crate::dialect::Dialect;
use crate::rows::signing_key_from_row;
use crate::sql_store::SqlStore;
use crate::statement::Statement;
use crate::store_impl::{private_key_bytes, signing_keys_change};

const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys
     (kid, private_pkcs8, public_key, created_at, active_from, algorithm, retiring_since)
     VALUES ($1, $2, $3, $4, $5, $6, NULL)";

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
            "SELECT kid, algorithm, private_pkcs8, public_key, created_at, active_from, retiring_since
             FROM signing_keys ORDER BY created_at, kid",
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
            "INSERT INTO signing_keys
                 (kid, private_pkcs8, public_key, created_at, active_from, algorithm, retiring_since)
             SELECT $1, $2, $3, $4, $5, $6, NULL WHERE NOT EXISTS
                 (SELECT 1 FROM signing_keys WHERE algorithm = $6 AND retiring_since IS NULL)",
        );
        let changed = self
            .write_together(signing_keys_change::<D>(insert, key, None))
            .await?;
        Ok(changed.last() == Some(&1))
    }

    async fn rotate_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        // Locked like the first insert: two rotations at once would otherwise
        // each end only the keys they saw and leave two without an end.
        let retire = Statement::new(
            "UPDATE signing_keys SET retiring_since = $1
             WHERE retiring_since IS NULL AND algorithm = $2",
        )
        .bind(key.active_from.unix_timestamp())
        .bind(key.algorithm.name());
        let insert = Statement::new(INSERT_SIGNING_KEY);
        self.write_together(signing_keys_change::<D>(insert, key, Some(retire)))
            .await
            .map(drop)
    }

    async fn replace_private_key(
        &self,
        kid: &str,
        private_key: &PrivateKey,
    ) -> Result<(), StoreError> {
        let statement = Statement::new("UPDATE signing_keys SET private_pkcs8 = $1 WHERE kid = $2")
            .bind(private_key_bytes(private_key))
            .bind(kid);
        match self.write_one(statement).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let statement = Statement::new("DELETE FROM signing_keys WHERE kid = $1").bind(kid);
        Ok(self.write_one(statement).await? == 1)
    }
}
