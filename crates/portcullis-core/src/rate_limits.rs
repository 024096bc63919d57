//! How often something may happen per key, counted by the store so that
//! every instance shares the count: sign-ups per client address, and the
//! mail requests of the email flows.
//!
//! A limit is a number of events per fixed window that starts with the
//! first event; the event that goes past it is refused with
//! [`AuthError::Throttled`] and the time until the window ends. A limit of
//! zero counts nothing and refuses nothing.

use time::Duration;

use crate::clock::Clock;
use crate::error::AuthError;
use crate::login_attempts::ceil_seconds;
use crate::store::Store;
use crate::telemetry;

/// At most `max` events per `window`; zero for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl RateLimit {
    /// At most `max` events an hour; zero for no limit.
    #[must_use]
    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            window: Duration::HOUR,
        }
    }

    /// Counts one event for `key`, refusing it when it goes past the limit.
    pub(crate) async fn count(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
        key: &str,
    ) -> Result<(), AuthError> {
        if self.max == 0 {
            return Ok(());
        }
        let now = clock.now();
        let counted = store.count_event(key, now, self.window).await?;
        if counted.count <= u64::from(self.max) {
            return Ok(());
        }
        telemetry::throttled_attempt();
        Err(AuthError::Throttled {
            retry_after_seconds: ceil_seconds(counted.window_start + self.window - now),
        })
    }
}
