//! The in-memory list of revoked sessions whose access tokens may still be
//! unexpired.
//!
//! Checking a valid access token must not cost a database read, yet a revoked
//! session's tokens must stop at once. So every revocation lands here too, and
//! stays only until the last token of that session has expired; at start the
//! list is rebuilt from the sessions revoked within one token lifetime.

use std::collections::HashMap;
use std::sync::RwLock;

use time::OffsetDateTime;
use uuid::Uuid;

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
