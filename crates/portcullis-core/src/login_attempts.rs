//! Failed password checks, counted in the store and enforced before the
//! next check: the stateful side of [`crate::throttle`]'s policy.
//!
//! Every place that checks a password (the password grant, the current
//! password before a sensitive change) goes through [`LoginAttempts`], so
//! throttling cannot be forgotten on one path. An attempt at an account is
//! counted as a failure in the database *before* the password is checked,
//! and forgotten only when it succeeds: concurrent guesses, on one instance
//! or many, each take their own place in the count, so no more of them are
//! checked than one after another would be. An attempt whose client hangs
//! up mid-check stays counted. Within one process, attempts at one account
//! also take turns, so only instances, not requests, can have attempts
//! pending at once. A client address is checked against its lock before
//! the password and charged with a failure after it (so an address's count
//! may trail by the guesses in flight; the account's never does).
//!
//! Refresh tokens that are not ours are counted apart, per client address
//! and in this process's memory only ([`RefreshFailures`]): a refresh token
//! is 256 random bits, so the count bounds work, not guessing.

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

/// Times an attempt tries to take its place in an account's count while
/// other attempts keep taking it first; then it is refused as throttled.
const MAX_COUNT_RACES: usize = 16;

/// Counts failures per account and per client address and refuses attempts
/// while either is locked out.
pub(crate) struct LoginAttempts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: ThrottleSettings,
    turns: AccountAttempts,
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

    /// Accounts with a password check under way or waiting in this
    /// process, for monitoring.
    pub(crate) fn accounts_in_progress(&self) -> usize {
        self.turns.in_progress()
    }

    /// Waits for the account's turn in this process; then refuses the
    /// attempt while the account or the address is locked out, or else
    /// counts it against the account as a failure until it is known to
    /// have succeeded.
    pub(crate) async fn begin<'a>(
        &'a self,
        keys: AttemptKeys<'a>,
    ) -> Result<PendingAttempt<'a>, AuthError> {
        let attempt = PendingAttempt {
            attempts: self,
            keys,
            _turn: match keys.account {
                Some(account) => Some(self.turns.turn(account).await),
                None => None,
            },
        };
        if !self.settings.enabled {
            return Ok(attempt);
        }
        // Both counts in one read when there are both.
        let [address_failures, account_failures] = match (keys.address, keys.account) {
            (Some(address), Some(account)) => {
                self.store
                    .login_failures_of_both([address, account])
                    .await?
            }
            (Some(address), None) => [self.store.login_failures(address).await?, None],
            (None, Some(account)) => [None, self.store.login_failures(account).await?],
            (None, None) => [None, None],
        };
        if let Some(failures) = &address_failures {
            self.refuse_if_locked(ThrottleSubject::Address, failures)?;
        }
        if let Some(account) = keys.account {
            self.count_against_account(account, account_failures)
                .await?;
        }
        Ok(attempt)
    }

    /// Takes this attempt's place in the account's count, unless the count
    /// so far (`seen` first, then as read again after a lost race) locks the
    /// account out.
    async fn count_against_account(
        &self,
        account: &str,
        mut seen: Option<LoginFailures>,
    ) -> Result<(), AuthError> {
        for race in 0..MAX_COUNT_RACES {
            if race > 0 {
                seen = self.store.login_failures(account).await?;
            }
            if let Some(failures) = &seen {
                self.refuse_if_locked(ThrottleSubject::Account, failures)?;
            }
            let now = self.clock.now();
            let forget_before = now - self.settings.forget_after;
            if self
                .store
                .count_login_attempt(account, seen, now, forget_before)
                .await?
            {
                return Ok(());
            }
        }
        telemetry::throttled_attempt();
        Err(AuthError::Throttled {
            retry_after_seconds: 1,
        })
    }

    fn refuse_if_locked(
        &self,
        subject: ThrottleSubject,
        failures: &LoginFailures,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        match self.settings.locked_until(subject, failures, now) {
            Some(until) => {
                telemetry::throttled_attempt();
                Err(AuthError::Throttled {
                    retry_after_seconds: ceil_seconds(until - now),
                })
            }
            None => Ok(()),
        }
    }
}

/// Whom one attempt counts against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptKeys<'a> {
    pub(crate) account: Option<&'a str>,
    pub(crate) address: Option<&'a str>,
}

/// An attempt that passed the throttle and is counted as a failure of its
/// account until [`PendingAttempt::succeeded`] says otherwise.
#[must_use = "say how the attempt ended: an address counts a failure only when told"]
pub(crate) struct PendingAttempt<'a> {
    attempts: &'a LoginAttempts,
    keys: AttemptKeys<'a>,
    _turn: Option<AttemptTurn<'a>>,
}

impl PendingAttempt<'_> {
    /// The secret was right: forgets the account's failures, this attempt
    /// included. The address's count is left alone (an attacker could
    /// otherwise reset it by signing in to an account of their own).
    pub(crate) async fn succeeded(self) -> Result<(), AuthError> {
        match self.keys.account {
            Some(account) if self.attempts.settings.enabled => {
                Ok(self.attempts.store.clear_login_failures(account).await?)
            }
            _ => Ok(()),
        }
    }

    /// The secret was wrong: counts a failure against the address too (the
    /// account's was counted when the attempt began).
    pub(crate) async fn failed(self) -> Result<(), AuthError> {
        let attempts = self.attempts;
        match self.keys.address {
            Some(address) if attempts.settings.enabled => {
                let now = attempts.clock.now();
                let forget_before = now - attempts.settings.forget_after;
                Ok(attempts
                    .store
                    .record_login_failure(address, now, forget_before)
                    .await?)
            }
            _ => Ok(()),
        }
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

    /// Addresses whose failed refreshes are remembered now, for monitoring.
    pub(crate) fn addresses(&self) -> usize {
        self.by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
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
