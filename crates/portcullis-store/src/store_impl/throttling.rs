//! Failed-attempt counts, one atomic upsert per failure.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;

use portcullis_core::store::{LoginFailures, StoreError, ThrottleStore};

use crate::dialect::Dialect;
use crate::rows::{Columns as _, login_failures_from_row, unix_millis};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> ThrottleStore for SqlStore<D> {
    async fn prune_login_failures(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let statement = Statement::new(
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE last_at_ms < $1 LIMIT $2)",
        )
        .bind(unix_millis(before))
        .bind(i64::from(limit));
        self.write_one(statement).await
    }

    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        let statement =
            Statement::new("SELECT count, last_at_ms FROM login_failures WHERE key = $1").bind(key);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(login_failures_from_row).transpose()
    }

    async fn login_failures_of_both(
        &self,
        keys: [&str; 2],
    ) -> Result<[Option<LoginFailures>; 2], StoreError> {
        let statement = Statement::new(
            "SELECT key, count, last_at_ms FROM login_failures WHERE key IN ($1, $2)",
        )
        .bind(keys[0])
        .bind(keys[1]);
        let mut both = [None, None];
        for row in self.fetch_all(statement).await? {
            let key = row.text("key")?;
            let failures = login_failures_from_row(&row)?;
            for (wanted, found) in keys.iter().zip(&mut both) {
                if *wanted == key {
                    *found = Some(failures);
                }
            }
        }
        Ok(both)
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One upsert: it either inserts or locks and updates the existing
        // row, never both nor neither. Qualified names are the stored row's.
        let statement = Statement::new(
            "INSERT INTO login_failures (key, count, last_at_ms) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE
             SET count = CASE WHEN login_failures.last_at_ms < $3 THEN 1 ELSE login_failures.count + 1 END,
                 last_at_ms = excluded.last_at_ms",
        )
        .bind(key)
        .bind(unix_millis(now))
        .bind(unix_millis(forget_before));
        self.write_one(statement).await.map(drop)
    }

    async fn count_login_attempt(
        &self,
        key: &str,
        seen: Option<LoginFailures>,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // Compare and set: the write happens only over the row that was read.
        let statement = match seen {
            None => Statement::new(
                "INSERT INTO login_failures (key, count, last_at_ms) VALUES ($1, 1, $2)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(unix_millis(now)),
            Some(seen) => {
                let count = if seen.last_at < forget_before {
                    1
                } else {
                    seen.count.saturating_add(1)
                };
                Statement::new(
                    "UPDATE login_failures SET count = $2, last_at_ms = $3
                     WHERE key = $1 AND count = $4 AND last_at_ms = $5",
                )
                .bind(key)
                .bind(i64::from(count))
                .bind(unix_millis(now))
                .bind(i64::from(seen.count))
                .bind(unix_millis(seen.last_at))
            }
        };
        Ok(self.write_one(statement).await? == 1)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let statement = Statement::new("DELETE FROM login_failures WHERE key = $1").bind(key);
        self.write_one(statement).await.map(drop)
    }
}
