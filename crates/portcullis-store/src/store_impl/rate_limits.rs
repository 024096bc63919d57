//! Events counted per key in fixed windows, one atomic upsert per event.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use portcullis_core::store::{RateLimitStore, StoreError, WindowCount};

use crate::dialect::Dialect;
use crate::rows::Columns as _;
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> RateLimitStore for SqlStore<D> {
    async fn count_event(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<WindowCount, StoreError> {
        // In DO UPDATE, bare column names are the stored row's values; a
        // window that started at or before `$3` is over, and this event
        // starts the next one.
        let statement = Statement::new(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.count + 1 END,
                 window_start = CASE WHEN rate_limits.window_start <= $3
                                     THEN excluded.window_start ELSE rate_limits.window_start END
             RETURNING count, window_start",
        )
        .bind(key)
        .bind(now.unix_timestamp())
        .bind((now - window).unix_timestamp())
        .into_owned();
        let row = self
            .write(|store| async move { store.fetch_optional(statement).await })
            .await?
            .ok_or_else(|| StoreError::Other("the count was not returned".into()))?;
        let count = row.integer("count")?;
        Ok(WindowCount {
            count: u64::try_from(count)
                .map_err(|_| StoreError::Other(format!("negative count {count}")))?,
            window_start: row.timestamp("window_start")?,
        })
    }

    async fn prune_window_counts(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.write_one(
            Statement::new(
                "DELETE FROM rate_limits WHERE key IN
                     (SELECT key FROM rate_limits WHERE window_start < $1 LIMIT $2)",
            )
            .bind(before.unix_timestamp())
            .bind(i64::from(limit)),
        )
        .await
    }
}
