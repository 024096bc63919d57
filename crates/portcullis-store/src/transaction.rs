//! A write transaction on a pooled connection that never goes back to the
//! pool while it may still be inside a transaction.
//!
//! sqlx's own transactions are not safe to drop at every await: a `BEGIN`
//! dropped while in flight leaves PostgreSQL's session in a transaction that
//! nothing ends (transact-rs/sqlx#4385, #4393, present in 0.8.6), and
//! SQLite's connection at a transaction depth the next `begin` refuses, the
//! write lock held. The store therefore runs every write to its end in a
//! task of its own ([`crate::SqlStore`]), and this guard adds the second
//! line: it sends `BEGIN`, `COMMIT` and `ROLLBACK` itself and counts the
//! connection clean only once `COMMIT` or `ROLLBACK` has answered. Dropped
//! in any other state (an error, a panic, a runtime shutting down), it has
//! the pool close the connection, which ends the transaction in the
//! database. It must never hand its connection back to the pool any other way.

use sqlx::pool::PoolConnection;

use portcullis_core::store::StoreError;

use crate::dialect::Dialect;
use crate::statement::Statement;

/// A connection inside a write transaction (or, from
/// [`Transaction::acquire`], in a state not yet vouched for).
pub(crate) struct Transaction<D: Dialect> {
    connection: PoolConnection<D::Database>,
    /// The connection is outside any transaction and may be pooled again.
    clean: bool,
}

impl<D: Dialect> Transaction<D> {
    /// A connection from `pool` that will be closed unless [`Self::finish`]
    /// or [`Self::release`] vouches for it.
    pub(crate) async fn acquire(pool: &sqlx::Pool<D::Database>) -> Result<Self, StoreError> {
        let connection = pool.acquire().await.map_err(D::map_err)?;
        Ok(Self {
            connection,
            clean: false,
        })
    }

    /// Starts a write transaction ([`Dialect::BEGIN_WRITE`]) on a pooled connection.
    pub(crate) async fn begin(pool: &sqlx::Pool<D::Database>) -> Result<Self, StoreError> {
        let mut transaction = Self::acquire(pool).await?;
        transaction.execute(Statement::new(D::BEGIN_WRITE)).await?;
        Ok(transaction)
    }

    /// Runs one statement; the rows it changed.
    pub(crate) async fn execute(&mut self, statement: Statement<'_>) -> Result<u64, StoreError> {
        statement.refuse_nul()?;
        D::execute(&mut self.connection, statement).await
    }

    /// Runs one statement; its first row, if any.
    pub(crate) async fn fetch_optional(
        &mut self,
        statement: Statement<'_>,
    ) -> Result<Option<D::Row>, StoreError> {
        statement.refuse_nul()?;
        D::fetch_optional(&mut self.connection, statement).await
    }

    /// Runs SQL text without parameters, which may hold many statements.
    pub(crate) async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        D::execute_script(&mut self.connection, sql).await
    }

    /// Commits when `outcome` is `Ok`, rolls back when it is an error, and
    /// returns it (or the commit's error). The connection returns to the
    /// pool only when that succeeded.
    pub(crate) async fn finish<T>(
        mut self,
        outcome: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = D::execute(&mut self.connection, Statement::new(end)).await;
        self.clean = ended.is_ok();
        match outcome {
            Ok(value) => ended.map(|_| value),
            // A failed ROLLBACK matters less than what made it necessary.
            Err(error) => Err(error),
        }
    }

    /// Vouches that the connection is outside any transaction, as it came.
    pub(crate) fn release(mut self) {
        self.clean = true;
    }
}

impl<D: Dialect> Drop for Transaction<D> {
    fn drop(&mut self) {
        if !self.clean {
            self.connection.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis_core::store::DatabaseHealth as _;

    use crate::{SqliteStore, SqliteStoreOptions};

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_takes_its_connection_with_it() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("portcullis.db");
        let options = SqliteStoreOptions {
            max_connections: 1,
            ..SqliteStoreOptions::default()
        };
        let store = SqliteStore::connect_with(path.to_str().expect("UTF-8 path"), options)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");

        // Dropped inside `BEGIN IMMEDIATE`, as a panic or a cancelled task would.
        drop(store.begin().await.expect("begin"));

        // The pool's only connection was closed, not pooled inside the
        // transaction: a new one begins at once.
        let again = tokio::time::timeout(Duration::from_secs(2), store.begin())
            .await
            .expect("no wait for a lock")
            .expect("begin again");
        again.finish(Ok(())).await.expect("commit");
        assert_eq!(store.pool_status().open, 1, "one connection, the new one");
    }
}
