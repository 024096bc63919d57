//! What a running server learns from other processes sharing its database
//! (other instances, the command line, SQL by hand), and the upkeep that
//! keeps the database small.
//!
//! Two feeds are read from exact positions, never from a time: the
//! revocations (into the deny list) and the account changes (out of the
//! account cache). A first read of the revocations reads every one kept;
//! the store answers a position the database went back behind (a failover,
//! a restore) as a read from the beginning. Housekeeping deletes, in
//! bounded batches, what can serve no request any more.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use time::Duration;

use crate::core::Core;
use crate::error::AuthError;
use crate::store::{FeedPosition, SessionCutoff, StoreError};

/// How long the account-change feed keeps an entry: far longer than any
/// process goes between two reads while it trusts its cache.
const ACCOUNT_CHANGES_RETENTION: Duration = Duration::minutes(10);

/// How long a rate-limit window's count is kept: longer than any window.
const WINDOW_COUNTS_KEPT: Duration = Duration::DAY;

/// Rows deleted per statement by [`Feeds::housekeeping`], and how many
/// statements one run may take: a run never holds the database for long.
const HOUSEKEEPING_BATCH: u32 = 1_000;
const HOUSEKEEPING_MAX_BATCHES: u32 = 50;

/// How soon after an account or role changes, in any process sharing the
/// database, every running server shows the change: each server's account
/// cache answers only this long after its last read of the change feed,
/// which it reads every half second.
pub const ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN: std::time::Duration =
    crate::account_cache::TRUST_PER_READ;

/// The two feeds and housekeeping.
pub struct Feeds {
    core: Arc<Core>,
    /// Where [`Feeds::follow_revocations`] has read up to.
    revocations_read: Mutex<Option<FeedPosition>>,
    /// Where [`Feeds::follow_account_changes`] has read up to.
    account_changes_read: Mutex<Option<FeedPosition>>,
}

impl Feeds {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            revocations_read: Mutex::default(),
            account_changes_read: Mutex::default(),
        }
    }

    /// Adds sessions revoked since the last call (by any process sharing the
    /// database) to the deny list, and forgets entries whose tokens have all
    /// expired. The first call reads every revocation the store keeps.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn follow_revocations(&self) -> Result<(), AuthError> {
        let started = Instant::now();
        let previous = *lock(&self.revocations_read);
        let read = self
            .core
            .store
            .sessions_revoked_after(Some(previous.unwrap_or(FeedPosition::BEGINNING)))
            .await?;
        self.core.revocations.learn(&read, started);
        *lock(&self.revocations_read) = Some(read.position);
        Ok(())
    }

    /// Reads which accounts and roles changed since the last call (in any
    /// process sharing the database) and forgets them from the account
    /// cache. The cache answers only for a moment after each successful
    /// call, so the server calls this every half second; a process that
    /// never calls it (the command line) always reads the database.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn follow_account_changes(&self) -> Result<(), AuthError> {
        let started = Instant::now();
        let position = *lock(&self.account_changes_read);
        let feed = self.core.store.account_changes_after(position).await?;
        self.core.accounts.apply_feed(&feed.changes, started);
        *lock(&self.account_changes_read) = Some(feed.position);
        Ok(())
    }

    /// Deletes, in bounded batches, what can serve no request any more:
    /// sessions revoked more than a token lifetime ago or past their end,
    /// keys retired more than a token lifetime ago, forgotten login
    /// failures, and old entries of the account-change feed. Returns how
    /// many rows went.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn housekeeping(&self) -> Result<u64, AuthError> {
        let core = &self.core;
        let store = &core.store;
        let now = core.clock.now();
        let horizon = core.settings.access_token_horizon();
        let cutoff = SessionCutoff {
            now,
            revoked_before: now - horizon,
            idle_before: now - core.settings.refresh_idle_ttl,
        };
        let forget_failures_before = now - core.settings.throttle.forget_after;
        let mut deleted = prune_in_batches(|limit| store.prune_sessions(&cutoff, limit)).await?;
        deleted += store.prune_signing_keys(now - horizon).await?;
        deleted +=
            prune_in_batches(|limit| store.prune_login_failures(forget_failures_before, limit))
                .await?;
        deleted +=
            prune_in_batches(|limit| store.prune_account_changes(ACCOUNT_CHANGES_RETENTION, limit))
                .await?;
        let windows_before = now - WINDOW_COUNTS_KEPT;
        deleted +=
            prune_in_batches(|limit| store.prune_window_counts(windows_before, limit)).await?;
        Ok(deleted)
    }
}

fn lock(position: &Mutex<Option<FeedPosition>>) -> std::sync::MutexGuard<'_, Option<FeedPosition>> {
    position.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `prune` with a limit of [`HOUSEKEEPING_BATCH`] rows until a batch
/// comes back short, at most [`HOUSEKEEPING_MAX_BATCHES`] times; returns how
/// many rows went.
async fn prune_in_batches<F, Batch>(mut prune: F) -> Result<u64, AuthError>
where
    F: FnMut(u32) -> Batch,
    Batch: Future<Output = Result<u64, StoreError>>,
{
    let mut deleted = 0;
    for _ in 0..HOUSEKEEPING_MAX_BATCHES {
        let batch = prune(HOUSEKEEPING_BATCH).await?;
        deleted += batch;
        if batch < u64::from(HOUSEKEEPING_BATCH) {
            break;
        }
    }
    Ok(deleted)
}
