//! The two feeds other processes read: revocations and account changes.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::StoreError;

/// What the account-change feed says changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountChanged {
    /// This user's email, name, disabled flag or roles, or the user is gone.
    User(Uuid),
    /// A role was created, changed or deleted: any account's permissions may differ.
    Roles,
    /// Too much changed to name (a truncated table, a bulk update): forget
    /// every account and role.
    Everything,
}

/// Where a reader of the account-change feed or the revocations is up to,
/// as the store counts (an entry number, a transaction id). Positions only
/// grow on one database; a position past the database's own means the
/// database went back (a failover, a restore), and the store then answers
/// as if read from the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition(pub i64);

impl FeedPosition {
    /// Before every entry: reading from here reads all that is kept.
    pub const BEGINNING: Self = Self(0);
}

/// One read of the account-change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChanges {
    /// Each change committed after the position read from, once; at most
    /// [`MAX_ACCOUNT_CHANGES_PER_READ`], or else just
    /// [`AccountChanged::Everything`].
    pub changes: Vec<AccountChanged>,
    /// Where the next read continues.
    pub position: FeedPosition,
}

/// One read of the revocations made since a [`FeedPosition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationsRead {
    /// Each session revoked, with when.
    pub sessions: Vec<(Uuid, OffsetDateTime)>,
    /// Where the next read continues.
    pub position: FeedPosition,
}

/// The most changes one read of the feed names; more are read as
/// [`AccountChanged::Everything`].
pub const MAX_ACCOUNT_CHANGES_PER_READ: usize = 10_000;

#[async_trait]
pub trait FeedStore: Send + Sync + 'static {
    /// Sessions revoked, by whichever process, since the read that returned
    /// `after`, with when, including sessions deleted since with their user:
    /// every revocation committed since then is in this read or a later one,
    /// whatever the clocks of the processes and however long its transaction
    /// ran (it may also repeat in a later read). From
    /// [`FeedPosition::BEGINNING`], or from a position the database has gone
    /// back behind, every revocation kept (about one token lifetime's, see
    /// [`FeedStore::prune_revocations`]); `None` returns only the current
    /// position.
    async fn sessions_revoked_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<RevocationsRead, StoreError>;
    /// The accounts and roles changed, however and by whichever process,
    /// since the read that returned `after`: every change committed since
    /// then is in this read or a later one, however long its transaction
    /// ran (it may also repeat in a later read). From a position the
    /// database has gone back behind, [`AccountChanged::Everything`]. `None`
    /// returns only the current position, for a reader that keeps nothing yet.
    async fn account_changes_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<AccountChanges, StoreError>;
    /// Deletes at most `limit` account-change entries that a read returning
    /// `before` had already made readable (those a read from `before` would
    /// not return); returns how many.
    async fn prune_account_changes(
        &self,
        before: FeedPosition,
        limit: u32,
    ) -> Result<u64, StoreError>;
    /// Deletes at most `limit` records of revocations that a read returning
    /// `before` had already made readable; returns how many. Never a
    /// session: see [`Store::prune_sessions`].
    async fn prune_revocations(&self, before: FeedPosition, limit: u32) -> Result<u64, StoreError>;
}
