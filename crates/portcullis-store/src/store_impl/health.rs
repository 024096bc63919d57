//! Whether the database answers and can take a write.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use std::time::Duration;

use async_trait::async_trait;

use portcullis_core::store::{DatabaseHealth, PoolStatus, StoreError};

use crate::dialect::Dialect;
use crate::rows::Columns as _;
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> DatabaseHealth for SqlStore<D> {
    fn pool_status(&self) -> PoolStatus {
        let pool = self.pool();
        PoolStatus {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.execute(Statement::new("SELECT 1")).await.map(drop)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.check_writable_within_bound().await
    }

    async fn feeds_held_back_for(&self) -> Result<Option<Duration>, StoreError> {
        let Some(query) = D::OLDEST_WRITING_TRANSACTION else {
            return Ok(None);
        };
        let row = self.fetch_optional(Statement::new(query)).await?;
        let running_ms = match row {
            Some(row) => row.optional_integer("running_ms")?,
            None => None,
        };
        Ok(running_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
    }
}
