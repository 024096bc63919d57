//! When to try a message again after a transient failure, and when to give
//! up: pure arithmetic over times the caller passes in, so it is tested
//! without a clock and the store only persists what it decides.
//!
//! It never sleeps, reads the clock or touches the store.

use std::time::Duration;

use time::OffsetDateTime;

/// Back-off that doubles from `first_delay` up to `max_delay`, for at most
/// `give_up_after` since the first attempt. The default (30 s doubling,
/// capped at 1 h, for a day) makes 30 attempts: eight in the first hour and
/// a bit, then hourly; the last starts about 23 h after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub give_up_after: Duration,
}

/// What the store remembers of a message's earlier attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryHistory {
    /// Attempts that failed transiently so far (a permanent failure or a
    /// success ends the message).
    pub failed_attempts: u32,
    /// When the first attempt was made; `None` before it.
    pub first_attempt_at: Option<OffsetDateTime>,
}

/// What follows a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Stop: the message is failed for good.
    GiveUp(GiveUpReason),
}

/// Why a message was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The server refused it for good (a 5xx answer, a malformed address).
    Permanent,
    /// The next attempt would fall after `give_up_after`.
    TriedTooLong,
    /// The next attempt would fall after the link or code expires.
    Expired,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th transient failure in a row (1 for
    /// the first): `first_delay × 2^(failures − 1)`, at most `max_delay`,
    /// never under a second.
    #[must_use]
    pub fn delay_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
            .max(Duration::from_secs(1))
    }

    /// Decides after a transient failure at `now`, the `failures`-th in a
    /// row (this one included), of a message first tried at
    /// `first_attempt_at` whose link or code, if any, dies at `expires_at`.
    #[must_use]
    pub fn after_transient_failure(
        &self,
        failures: u32,
        first_attempt_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> AfterFailure {
        let Some(next) = add(now, self.delay_after(failures)) else {
            return AfterFailure::GiveUp(GiveUpReason::TriedTooLong);
        };
        if expires_at.is_some_and(|expires_at| next >= expires_at) {
            return AfterFailure::GiveUp(GiveUpReason::Expired);
        }
        // A deadline beyond the calendar is no deadline.
        match add(first_attempt_at, self.give_up_after) {
            Some(deadline) if next > deadline => AfterFailure::GiveUp(GiveUpReason::TriedTooLong),
            _ => AfterFailure::RetryAt(next),
        }
    }
}

impl GiveUpReason {
    /// A short stable name (a metrics label, a store column).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::TriedTooLong => "tried_too_long",
            Self::Expired => "expired",
        }
    }
}

fn add(at: OffsetDateTime, duration: Duration) -> Option<OffsetDateTime> {
    at.checked_add(time::Duration::try_from(duration).ok()?)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const START: OffsetDateTime = datetime!(2026-12-07 10:00 UTC);

    #[test]
    fn delays_double_from_30_seconds_up_to_an_hour() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=10).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(
            policy.delay_after(0).as_secs(),
            30,
            "0 is read as the first failure"
        );
        assert_eq!(policy.delay_after(u32::MAX).as_secs(), 3600, "no overflow");
    }

    #[test]
    fn a_zero_delay_still_waits_a_second() {
        let policy = RetryPolicy {
            first_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay_after(1), Duration::from_secs(1));
    }

    /// A message that always fails transiently, retried when told: how
    /// often and for how long.
    #[test]
    fn the_default_policy_retries_for_a_day_then_gives_up() {
        let policy = RetryPolicy::default();
        let mut now = START;
        let mut failures = 0;
        let outcome = loop {
            failures += 1;
            match policy.after_transient_failure(failures, START, None, now) {
                AfterFailure::RetryAt(at) => {
                    assert!(at > now);
                    now = at;
                }
                AfterFailure::GiveUp(reason) => break reason,
            }
        };
        assert_eq!(outcome, GiveUpReason::TriedTooLong);
        assert_eq!(failures, 30, "attempts in all, the first included");
        assert!(now - START <= time::Duration::hours(24));
        assert!(
            now - START > time::Duration::hours(23),
            "the last attempt is in the day's last hour"
        );
    }

    #[test]
    fn a_message_whose_code_expires_is_not_retried_past_it() {
        let policy = RetryPolicy::default();
        let expires = START + time::Duration::minutes(10);
        let cases = [
            (
                1,
                START,
                AfterFailure::RetryAt(START + time::Duration::seconds(30)),
            ),
            (
                5,
                START + time::Duration::minutes(4),
                AfterFailure::GiveUp(GiveUpReason::Expired),
            ),
            (1, expires, AfterFailure::GiveUp(GiveUpReason::Expired)),
        ];
        for (failures, now, expected) in cases {
            let outcome = policy.after_transient_failure(failures, START, Some(expires), now);
            assert_eq!(outcome, expected, "failure {failures} at {now}");
        }
    }

    #[test]
    fn the_deadline_counts_from_the_first_attempt() {
        let policy = RetryPolicy::default();
        let first = START - time::Duration::hours(24) + time::Duration::seconds(15);
        assert_eq!(
            policy.after_transient_failure(1, first, None, START),
            AfterFailure::GiveUp(GiveUpReason::TriedTooLong),
            "30 s from now is past 24 h since the first attempt"
        );
        let first = START - time::Duration::hours(23);
        assert_eq!(
            policy.after_transient_failure(1, first, None, START),
            AfterFailure::RetryAt(START + time::Duration::seconds(30))
        );
    }

    #[test]
    fn times_beyond_the_calendar_do_not_panic() {
        let endless = RetryPolicy {
            give_up_after: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(
            endless.after_transient_failure(40, START, None, START),
            AfterFailure::RetryAt(START + time::Duration::hours(1)),
            "a deadline past the calendar's end is no deadline"
        );
        let last_minute = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(
            endless.after_transient_failure(1, last_minute, None, last_minute),
            AfterFailure::GiveUp(GiveUpReason::TriedTooLong),
            "no next attempt can be written"
        );
    }
}
