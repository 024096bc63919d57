//! The memory of access tokens that verified, keyed by SHA-256 of the
//! token, until they expire.
//!
//! A token's signature and claims cannot change, only time can, and time is
//! checked again on every use; revocation is never cached (the caller
//! checks the deny list on every use). The memory is a bounded `quick_cache`
//! (S3-FIFO eviction): when full, the coldest entries make room one by one,
//! never the whole cache at once, and an entry found past its token's expiry
//! is removed, never answered from.

use std::sync::Arc;

use crate::tokens::{AccessTokenClaims, TokenError};

/// Most tokens remembered at once (about 400 bytes each).
pub(super) const VERIFIED_CACHE_CAPACITY: usize = 50_000;

/// Access tokens that verified, by SHA-256 of the token.
pub(super) struct VerifiedTokens {
    entries: quick_cache::sync::Cache<[u8; 32], Arc<AccessTokenClaims>>,
    leeway_seconds: i64,
}

impl VerifiedTokens {
    pub(super) fn with_capacity(capacity: usize, leeway_seconds: i64) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            leeway_seconds,
        }
    }

    /// The remembered claims of `key`, unless the token has expired since,
    /// which also forgets it.
    pub(super) fn get(
        &self,
        key: &[u8; 32],
        now: i64,
    ) -> Option<Result<AccessTokenClaims, TokenError>> {
        let claims = self.entries.get(key)?;
        let checked = claims.check_times(now, self.leeway_seconds);
        if checked == Err(TokenError::Expired) {
            self.entries.remove(key);
        }
        Some(checked.map(|()| AccessTokenClaims::clone(&claims)))
    }

    pub(super) fn insert(&self, key: [u8; 32], claims: &AccessTokenClaims) {
        self.entries.insert(key, Arc::new(claims.clone()));
    }

    pub(super) fn clear(&self) {
        self.entries.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The tolerance, in seconds, on `exp` and `nbf`.
    pub(super) fn leeway_seconds(&self) -> i64 {
        self.leeway_seconds
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://auth".into(),
            sub: Uuid::now_v7(),
            aud: "api".into(),
            exp: 1_900_000_000,
            iat: 1_800_000_000,
            nbf: None,
            jti: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            roles: vec!["admin".into()],
            scope: "a:b c:d".into(),
            email_verified: true,
            client_id: None,
        }
    }

    #[test]
    fn remembered_tokens_still_expire() {
        let claims = claims();
        let cache = VerifiedTokens::with_capacity(1_000, 1);
        let key = [1; 32];
        let expiring = AccessTokenClaims {
            exp: 100,
            ..claims.clone()
        };
        cache.insert(key, &expiring);
        assert_eq!(
            cache.get(&key, 101),
            Some(Ok(expiring.clone())),
            "within the leeway"
        );
        assert_eq!(cache.get(&key, 102), Some(Err(TokenError::Expired)));
        assert_eq!(
            cache.get(&key, 50),
            None,
            "an expired entry is forgotten once found"
        );
        assert_eq!(cache.get(&[2; 32], 50), None);
    }

    #[test]
    fn a_full_cache_evicts_the_coldest_entries_not_everything() {
        let claims = claims();
        let capacity = 1_000;
        let cache = VerifiedTokens::with_capacity(capacity, 1);
        let key_of = |i: u64| {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&i.to_le_bytes());
            key
        };
        let now = claims.iat;
        // A hot set, used all along, and a stream of tokens seen once that
        // overflows the cache ten times.
        let hot: Vec<u64> = (0..100).collect();
        for &i in &hot {
            cache.insert(key_of(i), &claims);
        }
        let mut previous_size = cache.entries.len();
        for i in 100..(100 + 10 * capacity as u64) {
            cache.insert(key_of(i), &claims);
            if i % 10 == 0 {
                for &h in &hot {
                    assert!(
                        cache.get(&key_of(h), now).is_some(),
                        "hot entry {h} evicted"
                    );
                }
            }
            let size = cache.entries.len();
            assert!(size <= capacity, "{size} entries after {i} insertions");
            assert!(
                size + 2 >= previous_size,
                "{previous_size} then {size} entries: one insertion emptied part of the cache"
            );
            previous_size = size;
        }
    }
}
