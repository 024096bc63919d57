//! What differs between the databases the store runs on, and nothing else.
//!
//! [`crate::SqlStore`] writes every query once, with `$N` placeholders that
//! both drivers read alike, and asks its [`Dialect`] only for what truly
//! differs: how values bind and rows are fetched (the one place that calls
//! the driver, so the generic store needs no bounds on sqlx's traits), the
//! few statements whose text differs (feed positions, locks, batch inserts,
//! a function name), how errors are classified, how to connect, and which
//! schema files to apply. A dialect must never hold a rule of the store
//! (what is refused, what a method returns): those are written once in the
//! shared code, so the two databases cannot drift apart.

use std::future::Future;
use std::time::Duration;

use sqlx::Database;

use portcullis_core::store::StoreError;

use crate::migration::Migration;
use crate::rows::BackendRow;
use crate::statement::Statement;

/// The driver's connection of a dialect.
pub(crate) type Connection<D> = <<D as Dialect>::Database as Database>::Connection;

/// One database's side of the store.
pub trait Dialect: Send + Sync + 'static {
    type Database: Database;
    /// A fetched row, decoded by `crate::rows` through [`BackendRow`].
    type Row: BackendRow + Send + Sync;
    /// What [`crate::SqlStore::connect_with`] takes besides the URL.
    type Options: Default + Send;

    /// The database's name, for log lines.
    const NAME: &'static str;

    /// Starts a transaction that writes: SQLite's `BEGIN IMMEDIATE` takes
    /// the write lock at once (so a read-then-write cannot fail half-way
    /// with `SQLITE_BUSY`); PostgreSQL's plain `BEGIN`, since its methods
    /// lock what they need.
    const BEGIN_WRITE: &'static str;
    /// `SELECT 1 FROM users WHERE id = $1`, locking the row until the
    /// transaction ends where the database does not serialise writers.
    const LOCK_USER: &'static str;
    /// Keeps every other writer of `signing_keys` out until the transaction
    /// ends, where `BEGIN_WRITE` does not already.
    const LOCK_SIGNING_KEYS: Option<&'static str>;
    /// Keeps every other change that could remove an administrator out
    /// until the transaction ends, where `BEGIN_WRITE` does not already.
    const LOCK_ADMINISTRATORS: Option<&'static str>;

    /// [`crate::queries::query_users!`] with the database's substring function.
    const QUERY_USERS: &'static str;
    /// Inserts a user's roles: `$1` the user, `$2` the role names (a list).
    const INSERT_USER_ROLES: &'static str;
    /// Inserts a role's permissions: `$1` the role, `$2` the permissions (a list).
    const INSERT_ROLE_PERMISSIONS: &'static str;
    /// Raises `last_used_at` of the personal tokens in `$1` (ids) to the
    /// times in `$2` (unix seconds, a list of the same length), never lowering it.
    const RECORD_TOKEN_USES: &'static str;
    /// Deletes at most `$2` entries of `account_changes` that
    /// [`Self::ACCOUNT_CHANGES_AFTER`] from position `$1` would not return.
    const PRUNE_ACCOUNT_CHANGES: &'static str;
    /// Deletes at most `$2` entries of `revoked_sessions` that
    /// [`Self::REVOCATIONS_AFTER`] from position `$1` would not return.
    const PRUNE_REVOCATIONS: &'static str;

    /// One `running_ms` column: how long the oldest transaction that wrote
    /// and is still running has run, NULL when none; where feed positions
    /// are the oldest running transaction, which such a transaction holds
    /// back. `None` where they cannot be held back.
    const OLDEST_WRITING_TRANSACTION: Option<&'static str>;

    /// One `position` column: where the revocation feed is now. Every
    /// revocation committed at or before this read is read by
    /// [`Self::REVOCATIONS_AFTER`] from an earlier position.
    const REVOCATIONS_POSITION: &'static str;
    /// `id` and `revoked_at` of every revocation recorded after position `$1`.
    const REVOCATIONS_AFTER: &'static str;
    /// Where the account-change feed is now, as [`Self::REVOCATIONS_POSITION`].
    const ACCOUNT_CHANGES_POSITION: &'static str;
    /// `kind` and `user_id` of at most `$2` entries recorded after position `$1`.
    const ACCOUNT_CHANGES_AFTER: &'static str;

    /// The statements of an import batch, around this database's way of
    /// reading a bound JSON document or list as a table.
    const IMPORT: crate::store_impl::import::ImportStatements;

    /// The schema, oldest first.
    const MIGRATIONS: &'static [Migration];
    /// `CREATE TABLE IF NOT EXISTS schema_migrations (version, file_name, applied_at)`.
    const CREATE_MIGRATIONS_TABLE: &'static str;
    /// Statements run after [`Self::BEGIN_WRITE`] in each migration's
    /// transaction, so that no other migrator runs beside it.
    fn migration_lock() -> Vec<Statement<'static>>;

    /// Opens a pool on the database at `url`.
    fn connect(
        url: &str,
        options: Self::Options,
    ) -> impl Future<Output = Result<sqlx::Pool<Self::Database>, StoreError>> + Send;

    /// Whether the database's error code (a SQLite result code, a
    /// PostgreSQL SQLSTATE) means "cannot serve this now, try again later"
    /// rather than "this request is wrong".
    fn is_transient(code: &str) -> bool;

    /// Turns a driver error into what the domain understands; the only place that does.
    fn map_err(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(database) if database.is_unique_violation() => {
                StoreError::Conflict
            }
            sqlx::Error::Database(database)
                if database
                    .code()
                    .is_some_and(|code| Self::is_transient(&code)) =>
            {
                StoreError::Unavailable(error.to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Other(error.to_string()),
        }
    }

    /// Runs `statement`; the number of rows it changed.
    fn execute<'c>(
        connection: &'c mut Connection<Self>,
        statement: Statement<'c>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'c;

    /// Runs `statement`; every row it returns.
    fn fetch_all<'c>(
        connection: &'c mut Connection<Self>,
        statement: Statement<'c>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send + 'c;

    /// Runs `statement`; its first row, if any.
    fn fetch_optional<'c>(
        connection: &'c mut Connection<Self>,
        statement: Statement<'c>,
    ) -> impl Future<Output = Result<Option<Self::Row>, StoreError>> + Send + 'c;

    /// Runs SQL text without parameters, which may hold many statements
    /// (a schema file).
    fn execute_script<'c>(
        connection: &'c mut Connection<Self>,
        sql: &'c str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'c;

    /// Statements that, run in order on one connection, succeed only when
    /// the database can take a write now: they take the write lock (or do
    /// a write that changes nothing), waiting at most about `bound`, and
    /// let it go, leaving the connection as it was. When one fails, the
    /// caller closes the connection.
    fn writable_check(bound: Duration) -> Vec<String>;
}

/// The executing methods of [`Dialect`] for a driver whose connection and
/// row types are given, in a module whose `query(&Statement)` binds a
/// statement for that driver: the same calls on every driver, so written once.
macro_rules! executing_methods {
    ($connection:ty, $row:ty) => {
        async fn execute(
            connection: &mut $connection,
            statement: Statement<'_>,
        ) -> Result<u64, StoreError> {
            let done = query(&statement)
                .execute(connection)
                .await
                .map_err(Self::map_err)?;
            Ok(done.rows_affected())
        }

        async fn fetch_all(
            connection: &mut $connection,
            statement: Statement<'_>,
        ) -> Result<Vec<$row>, StoreError> {
            query(&statement)
                .fetch_all(connection)
                .await
                .map_err(Self::map_err)
        }

        async fn fetch_optional(
            connection: &mut $connection,
            statement: Statement<'_>,
        ) -> Result<Option<$row>, StoreError> {
            query(&statement)
                .fetch_optional(connection)
                .await
                .map_err(Self::map_err)
        }

        /// Many statements at once (PostgreSQL's simple-query protocol),
        /// through `Executor` rather than `RawSql::execute`, whose future is
        /// not provably `Send`.
        async fn execute_script(connection: &mut $connection, sql: &str) -> Result<(), StoreError> {
            sqlx::Executor::execute(connection, sqlx::raw_sql(sql))
                .await
                .map(drop)
                .map_err(Self::map_err)
        }
    };
}

pub(crate) use executing_methods;
