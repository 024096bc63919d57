//! The signing keys: the server's JWKS, fetched on first use, refreshed in
//! the background, and refetched early when a token names a key that may
//! have been published since.
//!
//! What this module guarantees:
//! - A key the server stops publishing stops verifying at the next refresh
//!   (every [`DEFAULT_JWKS_REFRESH_INTERVAL`](crate::DEFAULT_JWKS_REFRESH_INTERVAL)
//!   unless configured): each successful fetch replaces the whole set.
//! - At most one fetch at a time, and an unknown `kid` causes at most one
//!   fetch per [`JWKS_REFETCH_INTERVAL`], so
//!   forged `kid`s cannot make APIs hammer Portcullis.
//! - An unknown `kid` is the token's fault (`401`) when the last fetch was
//!   sent after the request arrived, or after the token's `iat` (give or take
//!   the leeway): the server publishes a key before signing with it, so that
//!   fetch would hold it. Otherwise it may be a new key: the verifier
//!   refetches, or, while refetching is rate-limited, answers `503` with
//!   `Retry-After`. The `iat` is read before the signature is checked; a
//!   forger choosing it chooses only between `401` and `503` for itself.
//! - A set with no usable key of the expected algorithm (see `key_set`) is
//!   a failed fetch: the keys held stay.
//!
//! It never trusts a key from anywhere but the configured JWKS URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::algorithm::SigningAlgorithm;
use crate::builder::JWKS_REFETCH_INTERVAL;
use crate::errors::VerifyError;
use crate::http::Http;
use crate::key_set::{PublicKey, usable_keys};

/// The least time between two fetches after one failed.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The largest JWKS read, in bytes (an Ed25519 JWK is about 150, an RSA one about 450).
pub(crate) const JWKS_BODY_LIMIT: usize = 256 * 1024;

/// The keys tokens may be signed with, and how they are kept fresh.
pub(crate) struct KeyCache {
    url: String,
    /// The algorithm tokens must be signed with: a set without a key of it is a failed fetch.
    algorithm: SigningAlgorithm,
    http: Arc<Http>,
    refresh_interval: Duration,
    /// Clock skew tolerated between this host and Portcullis.
    leeway: Duration,
    keys: RwLock<Arc<HashMap<String, PublicKey>>>,
    /// The fetch history; holding the lock is what makes fetches one at a time.
    fetches: tokio::sync::Mutex<FetchHistory>,
    /// Whether a background refresh task is alive (cleared by the task when it ends).
    refresher_running: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct FetchHistory {
    last_attempt: Option<Attempt>,
    last_success: Option<Success>,
}

/// When the last successful fetch was sent.
#[derive(Debug, Clone, Copy)]
struct Success {
    sent: Instant,
    /// The same moment in Unix seconds on this host's clock, to compare with `iat`.
    sent_at_unix: u64,
}

#[derive(Debug, Clone, Copy)]
struct Attempt {
    at: Instant,
    succeeded: bool,
}

impl KeyCache {
    pub(crate) fn new(
        url: String,
        algorithm: SigningAlgorithm,
        http: Arc<Http>,
        refresh_interval: Duration,
        leeway: Duration,
    ) -> Self {
        Self {
            url,
            algorithm,
            http,
            refresh_interval,
            leeway,
            keys: RwLock::new(Arc::default()),
            fetches: tokio::sync::Mutex::new(FetchHistory::default()),
            refresher_running: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The key named `kid`, fetching the JWKS if the key may have been
    /// published since the last fetch. `issued_at` is the token's `iat`, as
    /// the token claims it (it only chooses between `401` and a refetch).
    pub(crate) async fn key(
        &self,
        kid: &str,
        issued_at: Option<u64>,
    ) -> Result<PublicKey, VerifyError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let arrived = Instant::now();
        // Waits for a fetch in flight, which its timeout bounds.
        let mut history = self.fetches.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if let Some(success) = history.last_success {
            // A fetch sent after the token was in hand saw every key
            // published before it was signed: this one is not the server's.
            if success.sent >= arrived || !self.may_be_newer_than(issued_at, success.sent_at_unix) {
                return Err(VerifyError::UnknownKey);
            }
        }
        if let Some(attempt) = history.last_attempt {
            let since = attempt.at.elapsed();
            if !attempt.succeeded && since < JWKS_RETRY_AFTER_FAILURE {
                // While the server is unreachable, say so (never blame the token).
                return Err(VerifyError::Unavailable(
                    "the last JWKS fetch failed".to_owned(),
                ));
            }
            if attempt.succeeded && since < JWKS_REFETCH_INTERVAL {
                return Err(VerifyError::KeyNotYetKnown {
                    retry_after: JWKS_REFETCH_INTERVAL - since,
                });
            }
        }
        self.fetch(&mut history).await?;
        self.cached(kid).ok_or(VerifyError::UnknownKey)
    }

    /// Refetches the JWKS now, whatever the rate limit says (the background refresh).
    async fn refresh(&self) -> Result<(), VerifyError> {
        let mut history = self.fetches.lock().await;
        self.fetch(&mut history).await
    }

    /// Whether a token claiming `issued_at` may be signed by a key published
    /// after a fetch sent at `sent_at`: issued at most `leeway` (plus the
    /// second `iat` truncates) before it, and not in the future.
    fn may_be_newer_than(&self, issued_at: Option<u64>, sent_at: u64) -> bool {
        let Some(issued_at) = issued_at else {
            return false;
        };
        let leeway = self.leeway.as_secs() + 1;
        let now = unix_now();
        issued_at.saturating_add(leeway) >= sent_at && issued_at <= now.saturating_add(leeway)
    }

    fn cached(&self, kid: &str) -> Option<PublicKey> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// One fetch; the caller holds the fetch lock.
    async fn fetch(&self, history: &mut FetchHistory) -> Result<(), VerifyError> {
        let sent = Instant::now();
        let sent_at_unix = unix_now();
        let fetched = match self.http.get(&self.url, JWKS_BODY_LIMIT).await {
            Ok(body) => usable_keys(&body, self.algorithm),
            Err(error) => Err(error.to_string()),
        };
        history.last_attempt = Some(Attempt {
            at: Instant::now(),
            succeeded: fetched.is_ok(),
        });
        match fetched {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched the Portcullis JWKS");
                history.last_success = Some(Success { sent, sent_at_unix });
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "could not fetch the Portcullis JWKS");
                Err(VerifyError::Unavailable(format!(
                    "the JWKS could not be fetched: {reason}"
                )))
            }
        }
    }

    /// Starts the background refresh unless it runs: a task on the current
    /// tokio runtime that holds only a weak reference, so it ends with the
    /// last clone of the verifier (or with its runtime, and the next use
    /// starts another).
    pub(crate) fn ensure_refreshing(self: &Arc<Self>) {
        // A load first: this runs on every verification, and a swap would
        // write the shared cache line each time.
        if self.refresher_running.load(Ordering::Acquire)
            || self.refresher_running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refresher_running.store(false, Ordering::Release);
            return;
        };
        let running = ClearOnDrop(Arc::clone(&self.refresher_running));
        let cache = Arc::downgrade(self);
        let interval = self.refresh_interval;
        runtime.spawn(async move {
            let _running = running;
            refresh_periodically(cache, interval).await;
        });
    }
}

async fn refresh_periodically(cache: Weak<KeyCache>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        // A failure is logged by the fetch; the keys held stay until a fetch succeeds.
        let _ = cache.refresh().await;
    }
}

/// Clears the flag when dropped: the task ended, or its runtime dropped it.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
