//! Login throttling: growing back-off per account and per client address.
//!
//! Failures are counted in the database (so every instance sees them) under
//! two keys: the account (the normalised identifier typed, whether or not it
//! exists, so throttling reveals nothing) and the client IP. After a number
//! of free attempts, each further failure doubles the wait, up to a ceiling;
//! a count with no failure for `forget_after` starts over. A success clears
//! the account's count, never the address's (an attacker could otherwise
//! reset it by logging into an account of their own). Locking one account
//! leaves every other account alone.
//!
//! [`crate::login_attempts`] applies this policy. It counts an attempt
//! before the password is hashed, so concurrent guesses cannot all pass the
//! check before any failure is counted; and [`AccountAttempts`] makes
//! attempts at one account wait for each other within this process, so
//! that a few right passwords sent at once (a service signing in from many
//! workers) are not mistaken for guesses. Other accounts are not affected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::store::LoginFailures;

/// Longest identifier kept in a throttling key: a longer one is no email,
/// and must not become a large database key.
const MAX_KEY_IDENTIFIER_CHARS: usize = 256;

/// The throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub enabled: bool,
    /// Failures allowed for one account before waits begin.
    pub account_free_attempts: u32,
    /// Failures allowed from one address before waits begin.
    pub ip_free_attempts: u32,
    /// The first wait; each further failure doubles it.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A count with no new failure for this long is forgotten.
    pub forget_after: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            account_free_attempts: 5,
            ip_free_attempts: 20,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(1),
        }
    }
}

/// Whose attempts a count is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleSubject {
    Account,
    Address,
}

impl ThrottleSettings {
    /// The time before which no further attempt is allowed, if any.
    #[must_use]
    pub fn locked_until(
        &self,
        subject: ThrottleSubject,
        failures: &LoginFailures,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        if !self.enabled || failures.last_at + self.forget_after < now {
            return None;
        }
        let free = match subject {
            ThrottleSubject::Account => self.account_free_attempts,
            ThrottleSubject::Address => self.ip_free_attempts,
        };
        let over = failures.count.checked_sub(free)?;
        let factor = 2i32.saturating_pow(over.min(30));
        let delay = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let until = failures.last_at + delay;
        (until > now).then_some(until)
    }
}

/// The storage key counting failures for an account identifier.
#[must_use]
pub fn account_key(normalised_identifier: &str) -> String {
    let identifier: String = normalised_identifier
        .chars()
        .take(MAX_KEY_IDENTIFIER_CHARS)
        .collect();
    format!("account:{identifier}")
}

/// Password checks of one account, one at a time in this process.
#[derive(Debug, Default)]
pub struct AccountAttempts {
    in_progress: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while an attempt at one account is checked; the next one waits.
pub struct AttemptTurn<'a> {
    attempts: &'a AccountAttempts,
    key: String,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl AccountAttempts {
    /// Accounts with an attempt being checked or waiting, for monitoring.
    pub fn in_progress(&self) -> usize {
        self.in_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Waits until no other attempt at `key` is being checked.
    pub async fn turn(&self, key: &str) -> AttemptTurn<'_> {
        let lock = Arc::clone(
            self.in_progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key.to_owned())
                .or_default(),
        );
        AttemptTurn {
            attempts: self,
            key: key.to_owned(),
            _turn: lock.lock_owned().await,
        }
    }
}

impl Drop for AttemptTurn<'_> {
    fn drop(&mut self) {
        let mut in_progress = self
            .attempts
            .in_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Held by the map and by this turn only: nobody waits, forget the key.
        if in_progress
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) <= 2)
        {
            in_progress.remove(&self.key);
        }
    }
}

/// The storage key counting failures from a client address. IPv6 addresses
/// count per /64, the block one subscriber usually holds: otherwise every
/// guess could come from a fresh address of the same network.
#[must_use]
pub fn address_key(ip: &str) -> String {
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("ip:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Err(_) => format!("ip:{ip}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn attempts_at_one_account_take_turns_and_leave_nothing_behind() {
        let attempts = Arc::new(AccountAttempts::default());
        let first = attempts.turn("account:a").await;
        let other_account = attempts.turn("account:b").await;
        assert_eq!(attempts.in_progress(), 2);
        let waiter = {
            let attempts = Arc::clone(&attempts);
            tokio::spawn(async move {
                let _turn = attempts.turn("account:a").await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "the second attempt waits for the first"
        );
        drop(first);
        waiter.await.unwrap();
        drop(other_account);
        assert_eq!(attempts.in_progress(), 0);
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        assert_eq!(
            address_key("2001:db8:1:2:3:4:5:6"),
            address_key("2001:db8:1:2:ffff::1")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.7"), address_key("192.0.2.7"));
        assert_eq!(address_key("192.0.2.7"), "ip:192.0.2.7");
    }

    #[test]
    fn long_identifiers_make_bounded_keys() {
        assert_eq!(
            account_key(&"x".repeat(10_000)).len(),
            "account:".len() + MAX_KEY_IDENTIFIER_CHARS
        );
    }

    #[track_caller]
    fn check(count: u32, seconds_ago: i64, expected_wait: Option<i64>) {
        let settings = ThrottleSettings::default();
        let now = OffsetDateTime::now_utc();
        let failures = LoginFailures {
            count,
            last_at: now - Duration::seconds(seconds_ago),
        };
        let wait = settings
            .locked_until(ThrottleSubject::Account, &failures, now)
            .map(|until| (until - now).whole_seconds());
        assert_eq!(wait, expected_wait, "count {count}, {seconds_ago}s ago");
    }

    #[test]
    fn back_off_grows_and_caps() {
        check(4, 0, None);
        check(5, 0, Some(1));
        check(6, 0, Some(2));
        check(8, 0, Some(8));
        check(8, 3, Some(5));
        check(8, 9, None);
        check(40, 0, Some(900));
        check(40, 3601, None);
    }

    #[test]
    fn addresses_get_more_free_attempts_and_disabled_means_never() {
        let now = OffsetDateTime::now_utc();
        let failures = LoginFailures {
            count: 10,
            last_at: now,
        };
        let settings = ThrottleSettings::default();
        assert!(
            settings
                .locked_until(ThrottleSubject::Address, &failures, now)
                .is_none()
        );
        assert!(
            settings
                .locked_until(ThrottleSubject::Account, &failures, now)
                .is_some()
        );
        let off = ThrottleSettings {
            enabled: false,
            ..settings
        };
        assert!(
            off.locked_until(ThrottleSubject::Account, &failures, now)
                .is_none()
        );
    }
}
