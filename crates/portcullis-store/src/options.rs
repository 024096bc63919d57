//! What the binary may tune of a store, per database: the pool's size and
//! waits. Plain data with the defaults a server runs with; this module must
//! never read configuration itself (the binary passes these in).

use std::time::Duration;

/// Sizing of the SQLite connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteStoreOptions {
    /// Connections open at most (default 8). SQLite admits one writer at a
    /// time whatever this is; more connections let reads run beside it.
    pub max_connections: u32,
    /// Longest wait for a free connection before [`StoreError::Unavailable`](portcullis_core::store::StoreError::Unavailable) (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Sizing of the PostgreSQL connection pool and the bound on each statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreOptions {
    /// Connections open at most (default 16). Keep the sum over all instances
    /// below the server's `max_connections`.
    pub max_connections: u32,
    /// Longest wait for a free connection, or to open one, before
    /// [`StoreError::Unavailable`](portcullis_core::store::StoreError::Unavailable) (default 5 s).
    pub acquire_timeout: Duration,
    /// The server cancels any statement running longer, which the store
    /// reports as [`StoreError::Unavailable`](portcullis_core::store::StoreError::Unavailable) (default 5 s; zero disables it).
    /// Migrations are exempt.
    pub statement_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }
}
