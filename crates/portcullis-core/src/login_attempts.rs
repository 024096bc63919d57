//! Failed password checks, counted in the store and enforced before the
//! next check: the stateful side of [`crate::throttle`]'s policy.
//!
//! Every place that checks a password (the password grant, the current
//! password before a sensitive change) goes through [`LoginAttempts`], so
//! throttling cannot be forgotten on one path. Checks of one account take
//! turns within this process, so concurrent guesses cannot all pass the
//! count before any failure is recorded.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::AuthError;
use crate::store::Store;
use crate::telemetry;
use crate::throttle::{AccountAttempts, AttemptTurn, ThrottleSettings, ThrottleSubject};

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
    pub(crate) account: &'a str,
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
            (Some(keys.account), ThrottleSubject::Account),
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
        for key in std::iter::once(keys.account).chain(keys.address) {
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

/// Whole seconds to wait, rounded up, at least one (a `Retry-After` value).
fn ceil_seconds(duration: time::Duration) -> u64 {
    let seconds = duration.whole_seconds() + i64::from(duration.subsec_nanoseconds() > 0);
    u64::try_from(seconds.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_seconds(Duration::milliseconds(1500)), 2);
        assert_eq!(ceil_seconds(Duration::seconds(3)), 3);
        assert_eq!(ceil_seconds(Duration::ZERO), 1);
    }
}
