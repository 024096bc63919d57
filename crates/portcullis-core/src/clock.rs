//! Where the domain reads the time: one [`Clock`], passed in at start.
//!
//! Every rule that depends on the time (token lifetimes, session ends, the
//! refresh grace interval, throttling back-off, revocation deadlines) reads
//! it here, never from the system directly, so that tests can move time
//! forward instead of sleeping. Production uses [`SystemClock`]; unit tests
//! use [`ManualClock`], and tests that run a whole server use
//! [`OffsetClock`], which keeps time flowing but can jump ahead. Monotonic timers that only pace background work (the
//! account cache's trust window, reload intervals) use `std::time::Instant`
//! and are not part of this.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// The current wall-clock time, in UTC.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Now, to the whole second the store keeps, so that what is issued and
    /// what is stored agree.
    fn now_seconds(&self) -> OffsetDateTime {
        let now = self.now();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to: for tests that must jump in time.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    #[must_use]
    pub fn starting_at(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock stopped at the system's current time.
    #[must_use]
    pub fn starting_now() -> Self {
        Self::starting_at(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

/// The system's clock moved forward by an offset that grows when told:
/// time flows as usual, and a test jumps over a token lifetime at once.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_nanoseconds: AtomicI64,
}

impl OffsetClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanoseconds = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.offset_nanoseconds
            .fetch_add(nanoseconds, Ordering::Relaxed);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + Duration::nanoseconds(self.offset_nanoseconds.load(Ordering::Relaxed))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_runs_with_the_system_and_jumps_when_told() {
        let clock = OffsetClock::default();
        let before = OffsetDateTime::now_utc();
        assert!(clock.now() >= before);
        clock.advance(Duration::days(31));
        assert!(clock.now() >= before + Duration::days(31));
        assert!(
            clock.now() < OffsetDateTime::now_utc() + Duration::days(31) + Duration::minutes(1)
        );
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
            + Duration::milliseconds(250);
        let clock = ManualClock::starting_at(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now_seconds().unix_timestamp(), 1_700_000_000);
        assert_eq!(clock.now_seconds().nanosecond(), 0);
        clock.advance(Duration::minutes(16));
        assert_eq!(clock.now(), start + Duration::minutes(16));
    }
}
