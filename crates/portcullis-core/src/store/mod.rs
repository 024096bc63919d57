//! The storage boundary: what the domain needs persisted, as one trait made
//! of one trait per area (accounts, sessions, feeds, keys, personal
//! tokens, OAuth clients, throttling, rate limits, the mail outbox, browser
//! sign-in, the database's health), so that each area's records
//! and methods are read together and a new area adds a module, not lines
//! to a long list.
//!
//! Implementations live in `portcullis-store` (SQLite and PostgreSQL). They
//! must make every method atomic on its own, return [`StoreError`] and never
//! a driver error, and serialise [`Store::rotate_refresh_token`] in the
//! database itself, since several server processes may share it. A method
//! that writes must be safe to drop at any await (a client that hangs up):
//! the write then happens whole or not at all, never leaves a transaction
//! open, and an `Ok` means it is committed. Times are stored with
//! one-second precision.

mod accounts;
mod authorization;
mod clients;
mod feeds;
mod import;
mod keys;
mod mail;
mod personal_tokens;
mod rate_limits;
mod sessions;
mod throttling;

use async_trait::async_trait;

pub use accounts::{AccountStore, ProfileChange, UserQuery, UserRecord, UserUpdate};
pub use authorization::{AuthorizationCodeRecord, AuthorizationStore, ConsentRecord};
pub use clients::{ClientRecord, ClientStore, ClientUpdate};
pub use feeds::{
    AccountChanged, AccountChanges, FeedPosition, FeedStore, MAX_ACCOUNT_CHANGES_PER_READ,
    RevocationsRead,
};
pub use import::{
    AccountUpdate, ExistingAccount, ImportBatch, ImportStore, ImportedAccount, StoredPassword,
};
pub use keys::KeyStore;
pub use mail::{
    ClaimedMail, EmailTokenRecord, EmailTokenStore, MailAttempt, MailStore, QueuedMail, TokenEffect,
};
pub use personal_tokens::{PersonalTokenRecord, PersonalTokenStore};
pub use rate_limits::{RateLimitStore, WindowCount};
pub use sessions::{SessionCutoff, SessionOrigin, SessionRecord, SessionStore};
pub use throttling::{LoginFailures, ThrottleStore};

/// What can go wrong in storage, as the domain sees it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (an email already taken).
    #[error("conflict")]
    Conflict,
    /// The change would leave no active holder of the built-in `admin`
    /// role where there was one.
    #[error("the last active administrator cannot be removed, disabled or demoted")]
    LastAdministrator,
    /// The database cannot be reached or timed out; worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

/// The database connections of a store's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open.
    pub open: u32,
    /// Of those, waiting for work.
    pub idle: u32,
}

/// Whether the database answers and can take a write.
#[async_trait]
pub trait DatabaseHealth: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Answers `Ok` only when the database can take a write right now:
    /// within about a second, it took the write lock (or did a write that
    /// changes nothing) and let it go. An error when it is read-only,
    /// locked by another writer, or unreachable; for readiness checks.
    async fn check_writable(&self) -> Result<(), StoreError>;
    /// How long the oldest transaction still running that wrote has run,
    /// where such a transaction holds back what the feeds return until it
    /// ends (PostgreSQL: every database of the cluster counts). `None`
    /// when none is running, or where nothing can hold the feeds back.
    async fn feeds_held_back_for(&self) -> Result<Option<std::time::Duration>, StoreError>;
    /// Connections of the pool right now, for monitoring.
    fn pool_status(&self) -> PoolStatus;
}

/// Everything the domain keeps, on one database.
pub trait Store:
    DatabaseHealth
    + AccountStore
    + SessionStore
    + FeedStore
    + KeyStore
    + PersonalTokenStore
    + ThrottleStore
    + RateLimitStore
    + ImportStore
    + MailStore
    + EmailTokenStore
    + AuthorizationStore
    + ClientStore
{
}

impl<T> Store for T where
    T: DatabaseHealth
        + AccountStore
        + SessionStore
        + FeedStore
        + KeyStore
        + PersonalTokenStore
        + ThrottleStore
        + RateLimitStore
        + ImportStore
        + MailStore
        + EmailTokenStore
        + AuthorizationStore
        + ClientStore
{
}
