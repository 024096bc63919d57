//! The store over one SQL database: every query written once, for any
//! [`Dialect`].
//!
//! [`SqlStore`] owns the connection pool and the two rules that make it
//! safe to drop a caller's future (a client that hangs up) at any await:
//! every method that writes runs to its end in a tokio task of its own
//! ([`SqlStore::write`]), so the caller's future only waits for it, and
//! every transaction is a [`Transaction`], which never returns a connection
//! to the pool inside a transaction. A write that answered `Ok` is
//! committed; one whose caller stopped waiting is committed or rolled back
//! whole, never left open. Reads run on the caller's future: dropping one
//! leaves nothing to undo.
//!
//! The methods of [`Store`](portcullis_core::store::Store) are in
//! `crate::store_impl`. This module must never hold a statement whose text
//! differs between databases (those are the dialect's) nor run a write on
//! the caller's future.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use sqlx::Pool;
use sqlx::pool::PoolConnection;

use portcullis_core::store::{FeedPosition, StoreError};

use crate::dialect::Dialect;
use crate::migration;
use crate::rows::Columns as _;
use crate::statement::Statement;
use crate::transaction::Transaction;

/// How long [`Store::check_writable`](portcullis_core::store::Store::check_writable)
/// lets the database take to show it can write; it answers within twice this.
const WRITABLE_CHECK_BOUND: Duration = Duration::from_millis(500);

/// A [`Store`](portcullis_core::store::Store) on one database, through its
/// [`Dialect`]: [`crate::SqliteStore`] or [`crate::PgStore`].
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::Database>,
}

impl<D: Dialect> SqlStore<D> {
    /// Opens a pool on the database at `url` with default options
    /// ([`crate::SqliteStoreOptions`], [`crate::PgStoreOptions`]). Does not
    /// migrate: call [`SqlStore::migrate`].
    ///
    /// SQLite: `sqlite://path`, `sqlite:path` or a plain file path; the file
    /// is created when missing. PostgreSQL: `postgres://user:password@host:port/database?…`
    /// (libpq's URL form); the database must exist.
    ///
    /// # Errors
    /// [`StoreError::Other`] for a malformed URL, a refused login or a
    /// missing PostgreSQL database; [`StoreError::Unavailable`] when the
    /// database cannot be reached within the acquire timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, D::Options::default()).await
    }

    /// [`SqlStore::connect`] with explicit options.
    ///
    /// # Errors
    /// As [`SqlStore::connect`].
    pub async fn connect_with(url: &str, options: D::Options) -> Result<Self, StoreError> {
        D::connect(url, options).await.map(|pool| Self { pool })
    }

    /// Applies the embedded migrations not yet applied; safe to call at every
    /// start, from several instances at once.
    ///
    /// # Errors
    /// A failed migration (rolled back), or a database newer than this build.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.write(|store| async move { migration::run(&store).await })
            .await
    }

    /// Closes every connection, waiting for those in use; later calls fail
    /// with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool<D::Database> {
        &self.pool
    }

    /// Runs `write` on a clone of this store in a task of its own and waits
    /// for its result: dropping the returned future stops the waiting, not
    /// the write. A panic in the write resumes here.
    pub(crate) async fn write<T, W, F>(&self, write: W) -> Result<T, StoreError>
    where
        W: FnOnce(Self) -> F,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::spawn(write(self.clone())).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Only a runtime shutting down cancels the task.
            Err(error) => Err(StoreError::Unavailable(format!("write not run: {error}"))),
        }
    }

    /// Runs one statement that writes, in a task of its own; the rows it changed.
    pub(crate) async fn write_one(&self, statement: Statement<'_>) -> Result<u64, StoreError> {
        let statement = statement.into_owned();
        self.write(|store| async move { store.execute(statement).await })
            .await
    }

    /// Runs `statements` in one write transaction, in a task of its own: all
    /// of them or none. The rows each changed.
    pub(crate) async fn write_together(
        &self,
        statements: Vec<Statement<'_>>,
    ) -> Result<Vec<u64>, StoreError> {
        let statements: Vec<Statement<'static>> =
            statements.into_iter().map(Statement::into_owned).collect();
        self.write(|store| async move {
            let mut transaction = store.begin().await?;
            let mut changed = Vec::with_capacity(statements.len());
            let mut outcome = Ok(());
            for statement in statements {
                match transaction.execute(statement).await {
                    Ok(rows) => changed.push(rows),
                    Err(error) => {
                        outcome = Err(error);
                        break;
                    }
                }
            }
            transaction.finish(outcome).await.map(|()| changed)
        })
        .await
    }

    /// Starts a write transaction.
    pub(crate) async fn begin(&self) -> Result<Transaction<D>, StoreError> {
        Transaction::begin(&self.pool).await
    }

    /// Runs one statement on a pooled connection; the rows it changed.
    pub(crate) async fn execute(&self, statement: Statement<'_>) -> Result<u64, StoreError> {
        statement.refuse_nul()?;
        let mut connection = self.acquire().await?;
        D::execute(&mut connection, statement).await
    }

    /// Runs one statement on a pooled connection; every row it returns.
    pub(crate) async fn fetch_all(
        &self,
        statement: Statement<'_>,
    ) -> Result<Vec<D::Row>, StoreError> {
        statement.refuse_nul()?;
        let mut connection = self.acquire().await?;
        D::fetch_all(&mut connection, statement).await
    }

    /// Runs one statement on a pooled connection; its first row, if any.
    pub(crate) async fn fetch_optional(
        &self,
        statement: Statement<'_>,
    ) -> Result<Option<D::Row>, StoreError> {
        statement.refuse_nul()?;
        let mut connection = self.acquire().await?;
        D::fetch_optional(&mut connection, statement).await
    }

    /// Where a feed is now, by one of the dialect's `*_POSITION` queries.
    pub(crate) async fn feed_position(
        &self,
        query: &'static str,
    ) -> Result<FeedPosition, StoreError> {
        let row = self.fetch_optional(Statement::new(query)).await?;
        let row =
            row.ok_or_else(|| StoreError::Other("a feed position query returned no row".into()))?;
        Ok(FeedPosition(row.integer("position")?))
    }

    /// [`Store::check_writable`](portcullis_core::store::Store::check_writable):
    /// the dialect's check, in a task of its own, answered within twice
    /// [`WRITABLE_CHECK_BOUND`] whatever it waits for.
    pub(crate) async fn check_writable_within_bound(&self) -> Result<(), StoreError> {
        let check = self.write(|store| async move { store.check_writable_now().await });
        tokio::time::timeout(WRITABLE_CHECK_BOUND * 2, check)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no write possible within {:?}",
                    WRITABLE_CHECK_BOUND * 2
                )))
            })
    }

    /// The dialect's write check, on a connection of its own that is closed
    /// rather than pooled when the check fails half-way.
    async fn check_writable_now(&self) -> Result<(), StoreError> {
        let mut connection =
            tokio::time::timeout(WRITABLE_CHECK_BOUND, Transaction::<D>::acquire(&self.pool))
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "no connection free within {WRITABLE_CHECK_BOUND:?}"
                    ))
                })??;
        for step in D::writable_check(WRITABLE_CHECK_BOUND) {
            connection.execute_script(&step).await?;
        }
        connection.release();
        Ok(())
    }

    async fn acquire(&self) -> Result<PoolConnection<D::Database>, StoreError> {
        self.pool.acquire().await.map_err(D::map_err)
    }
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SqlStore")
            .field("database", &D::NAME)
            .field("pool", &self.pool)
            .finish()
    }
}
