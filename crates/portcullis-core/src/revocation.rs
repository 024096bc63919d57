//! The in-memory list of revoked sessions whose access tokens may still be
//! unexpired.
//!
//! Checking a valid access token must not cost a database read, yet a revoked
//! session's tokens must stop at once. So every revocation lands here too, and
//! stays only until the last token of that session has expired; at start the
//! list is rebuilt from the sessions revoked within one token lifetime.
//!
//! [`Revocations`] is the only way a use case revokes: it writes the store
//! and the deny list together, so a revocation can never reach one and not
//! the other. Revocations made by other processes arrive through the
//! revocation feed, read every half second; the deny list answers only for
//! [`DENY_LIST_TRUSTED_FOR`] after a successful read of it, and after that
//! access tokens are refused as undecidable (`Unavailable`) until a read
//! succeeds again: a database that cannot be read must not leave revoked
//! tokens working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::AuthError;
use crate::store::{RevocationsRead, Store};
use crate::tokens::TokenError;

/// How long one successful read of the revocation feed lets the deny list
/// decide: the feed is read every 500 ms, so this rides out one slow read.
pub const DENY_LIST_TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Revokes sessions in the store and denies them here at once.
pub(crate) struct Revocations {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How long after signing an access token may still be accepted.
    token_horizon: Duration,
    denied: RevokedSessions,
    /// When the last successful read of the revocation feed started.
    read_at: Mutex<Option<Instant>>,
}

impl Revocations {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        token_horizon: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            token_horizon,
            denied: RevokedSessions::default(),
            read_at: Mutex::default(),
        }
    }

    /// Ends one session everywhere.
    pub(crate) async fn revoke_session(&self, session_id: Uuid) -> Result<(), AuthError> {
        let now = self.clock.now();
        self.store.revoke_session(session_id, now).await?;
        self.denied.deny(session_id, now + self.token_horizon);
        Ok(())
    }

    /// Denies sessions whose revocation the database recorded another way
    /// (a user deleted with them), until their last token has expired.
    pub(crate) fn deny_here(&self, sessions: &[Uuid]) {
        let until = self.clock.now() + self.token_horizon;
        for session_id in sessions {
            self.denied.deny(*session_id, until);
        }
    }

    /// Ends every session of a user but `except`.
    pub(crate) async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        for session_id in self
            .store
            .revoke_sessions_of_user(user_id, except, now)
            .await?
        {
            self.denied.deny(session_id, now + self.token_horizon);
        }
        Ok(())
    }

    /// Sessions on the deny list now, for monitoring.
    pub(crate) fn denied_sessions(&self) -> usize {
        self.denied.len()
    }

    /// Whether the revocations of other processes were read recently enough
    /// for the deny list to decide.
    pub(crate) fn is_current(&self) -> bool {
        self.read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < DENY_LIST_TRUSTED_FOR)
    }

    /// Refuses the tokens of a revoked session, and every token while the
    /// revocations of other processes may have gone unread.
    pub(crate) fn check(&self, session_id: Uuid) -> Result<(), AuthError> {
        if !self.is_current() {
            return Err(AuthError::Unavailable);
        }
        if self.denied.is_denied(session_id) {
            return Err(AuthError::InvalidToken(TokenError::Revoked));
        }
        Ok(())
    }

    /// Denies the sessions another process revoked, for a token lifetime
    /// from the revocation or from now, whichever is later (the revoking
    /// process's clock may run behind this one's), and forgets entries
    /// whose tokens have all expired.
    /// `read_started` is when the read began: whatever was committed before
    /// then is in it.
    pub(crate) fn learn(&self, read: &RevocationsRead, read_started: Instant) {
        let now = self.clock.now();
        for (session_id, revoked_at) in &read.sessions {
            // The store keeps whole seconds: one more covers the fraction lost.
            self.denied.deny(
                *session_id,
                (*revoked_at).max(now) + self.token_horizon + Duration::SECOND,
            );
        }
        self.denied.prune(now);
        let mut read_at = self.read_at.lock().unwrap_or_else(PoisonError::into_inner);
        *read_at = (*read_at).max(Some(read_started));
    }
}

/// Session ids denied until a given time.
#[derive(Debug, Default)]
pub struct RevokedSessions {
    until: RwLock<HashMap<Uuid, OffsetDateTime>>,
}

impl RevokedSessions {
    /// Denies `session_id` until `until` (when its last access token expires).
    pub fn deny(&self, session_id: Uuid, until: OffsetDateTime) {
        let mut map = self
            .until
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry(session_id).or_insert(until);
        *entry = (*entry).max(until);
    }

    #[must_use]
    pub fn is_denied(&self, session_id: Uuid) -> bool {
        self.until
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&session_id)
    }

    /// Forgets entries whose tokens have all expired.
    pub fn prune(&self, now: OffsetDateTime) {
        self.until
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, until| *until > now);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.until
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn denied_until_pruned_after_expiry() {
        let list = RevokedSessions::default();
        let now = OffsetDateTime::now_utc();
        let (short, long) = (Uuid::now_v7(), Uuid::now_v7());
        list.deny(short, now + Duration::minutes(1));
        list.deny(long, now + Duration::minutes(10));
        list.deny(long, now + Duration::minutes(5));
        assert!(list.is_denied(short) && list.is_denied(long));
        list.prune(now + Duration::minutes(6));
        assert!(!list.is_denied(short));
        assert!(list.is_denied(long), "a later deadline is never shortened");
        assert_eq!(list.len(), 1);
    }
}
