//! Failed-attempt counts, shared by every instance.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreError;

/// Failed login attempts counted against one throttling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub last_at: OffsetDateTime,
}

#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError>;
    /// The counts of two keys in one read, in the order asked (a password
    /// check needs its client address's and its account's before it starts).
    async fn login_failures_of_both(
        &self,
        keys: [&str; 2],
    ) -> Result<[Option<LoginFailures>; 2], StoreError>;
    /// Adds one failure at `now`; a count whose last failure is before
    /// `forget_before` starts again from one. Atomic.
    async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Counts one attempt at `now` if the stored count is still `seen`
    /// (`None`: no count stored); returns whether it was counted. A count
    /// whose last failure is before `forget_before` starts again from one.
    /// Instances racing on one key each see their own count, so no more
    /// attempts pass a limit than would one after another.
    async fn count_login_attempt(
        &self,
        key: &str,
        seen: Option<LoginFailures>,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes at most `limit` failure counts whose last failure is before `before`.
    async fn prune_login_failures(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
