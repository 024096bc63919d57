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
//!
//! Feed entries are pruned by position, never by their age: an entry goes
//! once a read that made it readable lies a retention period back (by this
//! process's clock). An entry written long before it committed (a long
//! transaction), or stamped by a clock running behind, is kept as long as
//! any other. A reader that missed an entry pruned this way had not read
//! for longer than the retention, which no reader survives unharmed
//! anyway: the account cache is forgotten once its trust lapses, and a
//! revocation that old is of access tokens that have all expired.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use time::{Duration, OffsetDateTime};

use crate::core::Core;
use crate::error::AuthError;
use crate::store::{FeedPosition, SessionCutoff, StoreError};
use crate::telemetry;

/// How long the account-change feed keeps an entry after a read made it
/// readable: far longer than any process goes between two reads while it
/// trusts its cache.
const ACCOUNT_CHANGES_RETENTION: Duration = Duration::minutes(10);

/// How often a feed's position is noted for pruning: how late after its
/// retention an entry may go.
const POSITION_SAMPLE_EVERY: Duration = Duration::minutes(1);

/// How long a rate-limit window's count is kept: longer than any window.
const WINDOW_COUNTS_KEPT: Duration = Duration::DAY;

/// Rows deleted per statement by [`Feeds::housekeeping`], and how many
/// statements one run may take: a run never holds the database for long.
const HOUSEKEEPING_BATCH: u32 = 1_000;
/// How long a sent or given-up message stays in the outbox (without its
/// payload), for an operator asking what became of it.
const FINISHED_MAIL_KEPT: Duration = Duration::days(7);
/// How long an authorization code is kept after it was made: long past
/// its 60 s of use, so that a code presented again, even late, still
/// revokes what its redemption issued.
const AUTHORIZATION_CODES_KEPT: Duration = Duration::days(1);
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
    /// How far [`Feeds::follow_revocations`] has read.
    revocations: Mutex<FeedReader>,
    /// How far [`Feeds::follow_account_changes`] has read.
    account_changes: Mutex<FeedReader>,
}

/// Where this process has read one feed up to, and positions it read in
/// the past, oldest first, at most one per [`POSITION_SAMPLE_EVERY`].
#[derive(Debug, Default)]
struct FeedReader {
    read: Option<FeedPosition>,
    samples: VecDeque<(OffsetDateTime, FeedPosition)>,
}

impl FeedReader {
    /// Notes a read that returned `position` at `now`.
    fn read_to(&mut self, position: FeedPosition, now: OffsetDateTime) {
        self.read = Some(position);
        // Behind a position read before: the database went back (a
        // failover, a restore), and positions noted before mean nothing.
        if self
            .samples
            .back()
            .is_some_and(|(_, noted)| position.0 < noted.0)
        {
            self.samples.clear();
        }
        if self
            .samples
            .back()
            .is_none_or(|(noted_at, _)| now - *noted_at >= POSITION_SAMPLE_EVERY)
        {
            self.samples.push_back((now, position));
        }
    }

    /// The newest position read at least `retention` before `now`: what
    /// it had made readable may go. Forgets the positions before it.
    fn prunable_before(
        &mut self,
        now: OffsetDateTime,
        retention: Duration,
    ) -> Option<FeedPosition> {
        let cutoff = now - retention;
        while self.samples.get(1).is_some_and(|(at, _)| *at <= cutoff) {
            self.samples.pop_front();
        }
        self.samples
            .front()
            .filter(|(at, _)| *at <= cutoff)
            .map(|(_, position)| *position)
    }
}

impl Feeds {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            revocations: Mutex::default(),
            account_changes: Mutex::default(),
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
        let previous = lock(&self.revocations).read;
        let read = self
            .core
            .store
            .sessions_revoked_after(Some(previous.unwrap_or(FeedPosition::BEGINNING)))
            .await?;
        self.core.revocations.learn(&read, started);
        lock(&self.revocations).read_to(read.position, self.core.clock.now());
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
        let position = lock(&self.account_changes).read;
        let feed = self.core.store.account_changes_after(position).await?;
        self.core.accounts.apply_feed(&feed.changes, started);
        lock(&self.account_changes).read_to(feed.position, self.core.clock.now());
        Ok(())
    }

    /// Measures how long a transaction still running (in any process on
    /// the database server) has held the feeds back. Until it ends, every
    /// read of them returns again all written since it began, and
    /// housekeeping cannot prune past it: a long one makes the account
    /// cache useless and the feeds grow. The server measures every few
    /// seconds; an operator alerts on it.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn measure_hold_back(&self) -> Result<(), AuthError> {
        let held_back = self.core.store.feeds_held_back_for().await?;
        telemetry::feeds_held_back(held_back.unwrap_or_default());
        Ok(())
    }

    /// Deletes, in bounded batches, what can serve no request any more:
    /// sessions revoked more than a token lifetime ago or past their end,
    /// keys retired more than a token lifetime ago, forgotten login
    /// failures, old rate-limit windows, and the entries of both feeds that
    /// a read a retention period ago had made readable (a token lifetime
    /// for revocations), messages sent or given up a week ago, and expired
    /// one-time email tokens. Returns how many rows went.
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
        let revocations_before = lock(&self.revocations).prunable_before(now, horizon);
        if let Some(before) = revocations_before {
            deleted += prune_in_batches(|limit| store.prune_revocations(before, limit)).await?;
        }
        let account_changes_before =
            lock(&self.account_changes).prunable_before(now, ACCOUNT_CHANGES_RETENTION);
        if let Some(before) = account_changes_before {
            deleted += prune_in_batches(|limit| store.prune_account_changes(before, limit)).await?;
        }
        let windows_before = now - WINDOW_COUNTS_KEPT;
        deleted +=
            prune_in_batches(|limit| store.prune_window_counts(windows_before, limit)).await?;
        let mail_before = now - FINISHED_MAIL_KEPT;
        deleted += prune_in_batches(|limit| store.prune_finished_mail(mail_before, limit)).await?;
        deleted += prune_in_batches(|limit| store.prune_email_tokens(now, limit)).await?;
        let codes_before = now - AUTHORIZATION_CODES_KEPT;
        deleted +=
            prune_in_batches(|limit| store.prune_authorization_codes(codes_before, limit)).await?;
        Ok(deleted)
    }
}

fn lock(reader: &Mutex<FeedReader>) -> std::sync::MutexGuard<'_, FeedReader> {
    reader.lock().unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    #[test]
    fn entries_go_a_retention_after_a_read_made_them_readable() {
        let mut reader = FeedReader::default();
        let retention = Duration::minutes(10);
        assert_eq!(reader.prunable_before(at(0), retention), None);
        reader.read_to(FeedPosition(5), at(0));
        reader.read_to(FeedPosition(7), at(0) + Duration::SECOND);
        reader.read_to(FeedPosition(9), at(1));
        reader.read_to(FeedPosition(12), at(3));
        assert_eq!(reader.read, Some(FeedPosition(12)));
        assert_eq!(reader.prunable_before(at(9), retention), None, "too soon");
        assert_eq!(
            reader.prunable_before(at(10), retention),
            Some(FeedPosition(5)),
            "a read between two samples is not one"
        );
        assert_eq!(
            reader.prunable_before(at(12), retention),
            Some(FeedPosition(9))
        );
        assert_eq!(reader.samples.len(), 2, "what is past is forgotten");
    }

    #[test]
    fn a_database_that_went_back_voids_the_positions_read_before() {
        let mut reader = FeedReader::default();
        reader.read_to(FeedPosition(100), at(0));
        reader.read_to(FeedPosition(40), at(5));
        assert_eq!(
            reader.prunable_before(at(30), Duration::minutes(10)),
            Some(FeedPosition(40))
        );
    }
}
