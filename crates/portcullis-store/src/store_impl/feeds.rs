//! The revocation and account-change feeds, read from exact positions.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;

use portcullis_core::store::{
    AccountChanges, FeedPosition, FeedStore, RevocationsRead, StoreError,
};

use crate::dialect::Dialect;
use crate::rows::{self, BackendRow as _, Columns as _};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> FeedStore for SqlStore<D> {
    async fn sessions_revoked_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<RevocationsRead, StoreError> {
        let position = self.feed_position(D::REVOCATIONS_POSITION).await?;
        let after = match after {
            None => {
                return Ok(RevocationsRead {
                    sessions: Vec::new(),
                    position,
                });
            }
            // Past where the database is: it went back (a failover to a
            // lagging replica, a restore), so every revocation kept is read again.
            Some(after) if after.0 > position.0 => FeedPosition::BEGINNING,
            Some(after) => after,
        };
        let statement = Statement::new(D::REVOCATIONS_AFTER).bind(after.0);
        let sessions = self
            .fetch_all(statement)
            .await?
            .iter()
            .map(rows::revocation_from_row)
            .collect::<Result<_, _>>()?;
        Ok(RevocationsRead { sessions, position })
    }

    async fn account_changes_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<AccountChanges, StoreError> {
        let position = self.feed_position(D::ACCOUNT_CHANGES_POSITION).await?;
        let after = match after {
            None => return rows::account_changes(Vec::new(), position),
            // Past where the database is: it went back (see above).
            Some(after) if after.0 > position.0 => return Ok(rows::everything_changed(position)),
            Some(after) => after,
        };
        let statement = Statement::new(D::ACCOUNT_CHANGES_AFTER)
            .bind(after.0)
            .bind(rows::feed_read_limit());
        let entries = self
            .fetch_all(statement)
            .await?
            .iter()
            .map(|row| Ok((row.text("kind")?, row.optional_uuid("user_id")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        rows::account_changes(entries, position)
    }

    async fn prune_account_changes(
        &self,
        before: FeedPosition,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let statement = Statement::new(D::PRUNE_ACCOUNT_CHANGES)
            .bind(before.0)
            .bind(i64::from(limit));
        self.write_one(statement).await
    }

    async fn prune_revocations(&self, before: FeedPosition, limit: u32) -> Result<u64, StoreError> {
        let statement = Statement::new(D::PRUNE_REVOCATIONS)
            .bind(before.0)
            .bind(i64::from(limit));
        self.write_one(statement).await
    }
}
