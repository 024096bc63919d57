//! Events counted per key in fixed windows, shared by every instance: how
//! many sign-ups a client address made this hour, how many mail requests
//! an address or an email made.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::store::StoreError;

/// The events counted for one key in its current window, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub window_start: OffsetDateTime,
}

#[async_trait]
pub trait RateLimitStore: Send + Sync + 'static {
    /// Counts one event for `key` at `now`: in its current window when that
    /// started less than `window` ago, else in a new one starting at `now`.
    /// Atomic: concurrent events from every instance are each counted once.
    async fn count_event(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<WindowCount, StoreError>;
    /// Deletes at most `limit` counts whose window started before `before`.
    async fn prune_window_counts(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
