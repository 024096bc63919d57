//! Failed password checks, counted in the store and enforced before the
//! next check: the stateful side of [`crate::throttle`]'s policy.
//!
//! Every place that checks a secret (the password grant, the current
//! password before a sensitive change, a refresh token that is not one of
//! ours) goes through [`LoginAttempts`], so throttling cannot be forgotten
//! on one path. Checks of one account take
//! turns within this process, so concurrent guesses cannot all pass the
//! count before any failure is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::Clock;
use crate::error::AuthError;
use crate::store::{LoginFailures, Store};
use crate::telemetry;
use crate::throttle::{AccountAttempts, AttemptTurn, ThrottleSettings, ThrottleSubject};

/// Addresses whose failed refreshes are remembered at most; beyond, the
/// oldest are forgotten first.
const MAX_REFRESH_FAILURE_ADDRESSES: usize = 10_000;

/// Counts failures per account and per client address and refuses attempts
/// while either is locked out.
pub(crate) struct LoginAttempts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: ThrottleSettings,
    turns: AccountAttempts,
}

/// Whom one attempt counts against.
pub(crate) struct AttemptKeys<'a> {
    pub(crate) account: Option<&'a str>,
    pub(crate) address: Option<&'a str>,
}

impl LoginAttempts {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: ThrottleSettings,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            turns: AccountAttempts::default(),
        }
    }

    /// Waits until no other attempt at this account is being checked here.
    pub(crate) async fn turn(&self, account_key: &str) -> AttemptTurn<'_> {
        self.turns.turn(account_key).await
    }

    /// Refuses an attempt while the account or the address is locked out;
    /// otherwise returns whether failures are on record for the account (a
    /// success then clears them, and only then needs a write).
    pub(crate) async fn ensure_allowed(&self, keys: &AttemptKeys<'_>) -> Result<bool, AuthError> {
        if !self.settings.enabled {
            return Ok(false);
        }
        let now = self.clock.now();
        let mut locked_until = None;
        let mut account_has_failures = false;
        for (key, subject) in [
            (keys.account, ThrottleSubject::Account),
            (keys.address, ThrottleSubject::Address),
        ] {
            let Some(key) = key else { continue };
            if let Some(failures) = self.store.login_failures(key).await? {
                account_has_failures |= subject == ThrottleSubject::Account;
                locked_until =
                    locked_until.max(self.settings.locked_until(subject, &failures, now));
            }
        }
        match locked_until {
            Some(until) => {
                telemetry::throttled_attempt();
                Err(AuthError::Throttled {
                    retry_after_seconds: ceil_seconds(until - now),
                })
            }
            None => Ok(account_has_failures),
        }
    }

    /// Counts one failure against each key.
    pub(crate) async fn record_failure(&self, keys: &AttemptKeys<'_>) -> Result<(), AuthError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let now = self.clock.now();
        let forget_before = now - self.settings.forget_after;
        for key in keys.account.iter().chain(&keys.address) {
            self.store
                .record_login_failure(key, now, forget_before)
                .await?;
        }
        Ok(())
    }

    /// Forgets the account's failures after a success.
    pub(crate) async fn clear(&self, account_key: &str) -> Result<(), AuthError> {
        Ok(self.store.clear_login_failures(account_key).await?)
    }
}

/// Failed refreshes per client address, in this process's memory: a refresh
/// is the hottest write path, so counting them in the database would cost
/// every refresh a read. A refresh token is 256 random bits and cannot be
/// guessed; what this bounds is the work a client sending made-up tokens
/// causes (a lookup, and for a known session id up to a thousand HMACs).
pub(crate) struct RefreshFailures {
    clock: Arc<dyn Clock>,
    settings: ThrottleSettings,
    by_address: Mutex<HashMap<String, LoginFailures>>,
}

impl RefreshFailures {
    pub(crate) fn new(clock: Arc<dyn Clock>, settings: ThrottleSettings) -> Self {
        Self {
            clock,
            settings,
            by_address: Mutex::default(),
        }
    }

    /// Refuses a refresh from `address_key` while it is locked out.
    pub(crate) fn ensure_allowed(&self, address_key: &str) -> Result<(), AuthError> {
        let now = self.clock.now();
        let locked_until = self
            .by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(address_key)
            .and_then(|failures| {
                self.settings
                    .locked_until(ThrottleSubject::Address, failures, now)
            });
        match locked_until {
            Some(until) => {
                telemetry::throttled_attempt();
                Err(AuthError::Throttled {
                    retry_after_seconds: ceil_seconds(until - now),
                })
            }
            None => Ok(()),
        }
    }

    /// Counts one refresh with a token that was never ours.
    pub(crate) fn record(&self, address_key: &str) {
        if !self.settings.enabled {
            return;
        }
        let now = self.clock.now();
        let mut by_address = self
            .by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if by_address.len() >= MAX_REFRESH_FAILURE_ADDRESSES
            && !by_address.contains_key(address_key)
        {
            let forget_before = now - self.settings.forget_after;
            by_address.retain(|_, failures| failures.last_at >= forget_before);
            if by_address.len() >= MAX_REFRESH_FAILURE_ADDRESSES
                && let Some(oldest) = by_address
                    .iter()
                    .min_by_key(|(_, failures)| failures.last_at)
                    .map(|(key, _)| key.clone())
            {
                by_address.remove(&oldest);
            }
        }
        let failures = by_address
            .entry(address_key.to_owned())
            .or_insert(LoginFailures {
                count: 0,
                last_at: now,
            });
        if failures.last_at < now - self.settings.forget_after {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last_at = now;
    }
}

/// Whole seconds to wait, rounded up, at least one (a `Retry-After` value).
pub(crate) fn ceil_seconds(duration: time::Duration) -> u64 {
    let seconds = duration.whole_seconds() + i64::from(duration.subsec_nanoseconds() > 0);
    u64::try_from(seconds.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn made_up_refresh_tokens_lock_their_address_out_for_a_while() {
        let clock = Arc::new(ManualClock::starting_now());
        let failures = RefreshFailures::new(clock.clone(), ThrottleSettings::default());
        let free = ThrottleSettings::default().ip_free_attempts;
        for _ in 0..free {
            failures.ensure_allowed("ip:192.0.2.1").unwrap();
            failures.record("ip:192.0.2.1");
        }
        assert!(matches!(
            failures.ensure_allowed("ip:192.0.2.1"),
            Err(AuthError::Throttled {
                retry_after_seconds: 1
            })
        ));
        failures.ensure_allowed("ip:192.0.2.2").unwrap();
        clock.advance(Duration::seconds(2));
        failures.ensure_allowed("ip:192.0.2.1").unwrap();
        clock.advance(Duration::hours(2));
        failures.record("ip:192.0.2.1");
        failures.ensure_allowed("ip:192.0.2.1").unwrap();
    }

    #[test]
    fn the_memory_of_refresh_failures_is_bounded() {
        let clock = Arc::new(ManualClock::starting_now());
        let failures = RefreshFailures::new(clock, ThrottleSettings::default());
        for n in 0..=MAX_REFRESH_FAILURE_ADDRESSES {
            failures.record(&format!("ip:{n}"));
        }
        assert_eq!(
            failures.by_address.lock().unwrap().len(),
            MAX_REFRESH_FAILURE_ADDRESSES
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_seconds(Duration::milliseconds(1500)), 2);
        assert_eq!(ceil_seconds(Duration::seconds(3)), 3);
        assert_eq!(ceil_seconds(Duration::ZERO), 1);
    }
}
