//! Asking Portcullis about a token (`POST /token/introspect`, RFC 7662),
//! for personal access tokens and revocation checks.
//!
//! A personal access token's checksum is public, so anyone can make up
//! well-formed ones that only the server can refuse. What keeps a flood of
//! them from becoming a flood of calls, and from evicting real answers:
//! - at most [`DEFAULT_INTROSPECTION_CONCURRENCY`](crate::DEFAULT_INTROSPECTION_CONCURRENCY)
//!   calls in flight (configurable); a request that cannot get a turn within
//!   the fetch timeout is answered `503`;
//! - one call per token however many requests carry it at once (single
//!   flight): the others wait for its answer;
//! - answers kept in two bounded caches (`quick_cache`, S3-FIFO eviction),
//!   one for active tokens and one for inactive ones, so negatives cannot
//!   push positives out; each entry expires on its own, after the configured
//!   lifetime, never after [`MAX_INTROSPECTION_CACHE`]
//!   and never after the token's `exp`.
//!
//! Failures (the server unreachable, our credential refused) are never
//! cached. The token is sent only in the request body, to the configured URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::{OnceCell, Semaphore};

use crate::builder::MAX_INTROSPECTION_CACHE;
use crate::errors::VerifyError;
use crate::http::{FetchError, Http};
use crate::verifier::Claims;

/// The largest introspection answer read, in bytes.
const INTROSPECTION_BODY_LIMIT: usize = 64 * 1024;

/// Most answers about active tokens remembered at once.
const ACTIVE_CACHE_CAPACITY: usize = 10_000;
/// Most answers about inactive (unknown, revoked, expired) tokens remembered at once.
const INACTIVE_CACHE_CAPACITY: usize = 10_000;

/// SHA-256 of a token: what the caches and the in-flight calls are keyed by,
/// so no token is held longer than its request.
type TokenHash = [u8; 32];

/// What the server said about a token.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Active(Claims),
    Inactive,
}

/// The outcome of one call, shared with the requests that waited for it.
type Outcome = Result<Answer, VerifyError>;

/// An introspection credential; its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Credential(pub(crate) String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

pub(crate) struct Introspector {
    url: String,
    credential: Option<Credential>,
    http: Arc<Http>,
    /// How long an answer is reused, at most [`MAX_INTROSPECTION_CACHE`].
    lifetime: Duration,
    /// Clock skew tolerated on an answer's `exp`.
    leeway: Duration,
    active: quick_cache::sync::Cache<TokenHash, ActiveAnswer>,
    /// When each inactive answer stops being reused.
    inactive: quick_cache::sync::Cache<TokenHash, Instant>,
    in_flight: Mutex<HashMap<TokenHash, Arc<OnceCell<Outcome>>>>,
    turns: Semaphore,
    /// How long a call may wait for a turn.
    turn_timeout: Duration,
}

#[derive(Debug, Clone)]
struct ActiveAnswer {
    claims: Claims,
    until: Instant,
}

/// The members of an introspection answer this crate reads.
#[derive(Deserialize)]
struct IntrospectionResponse {
    active: bool,
    sub: Option<String>,
    sid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
    exp: Option<i64>,
}

pub(crate) struct IntrospectorSettings {
    pub(crate) url: String,
    pub(crate) credential: Option<Credential>,
    pub(crate) lifetime: Duration,
    pub(crate) leeway: Duration,
    pub(crate) concurrency: usize,
    pub(crate) turn_timeout: Duration,
}

impl Introspector {
    pub(crate) fn new(settings: IntrospectorSettings, http: Arc<Http>) -> Self {
        Self {
            url: settings.url,
            credential: settings.credential,
            http,
            lifetime: settings.lifetime.min(MAX_INTROSPECTION_CACHE),
            leeway: settings.leeway,
            active: quick_cache::sync::Cache::new(ACTIVE_CACHE_CAPACITY),
            inactive: quick_cache::sync::Cache::new(INACTIVE_CACHE_CAPACITY),
            in_flight: Mutex::new(HashMap::new()),
            turns: Semaphore::new(settings.concurrency.max(1)),
            turn_timeout: settings.turn_timeout,
        }
    }

    /// What the server says about `token`: from the cache, from a call in
    /// flight for the same token, or from a new call.
    pub(crate) async fn introspect(&self, token: &str) -> Outcome {
        let credential = self
            .credential
            .as_ref()
            .ok_or(VerifyError::IntrospectionNotConfigured)?;
        let hash: TokenHash = Sha256::digest(token.as_bytes()).into();
        if let Some(answer) = self.cached(&hash) {
            return Ok(answer);
        }
        let flight = InFlight::join(&self.in_flight, hash);
        flight
            .cell()
            .get_or_init(|| self.call(credential, token, hash))
            .await
            .clone()
    }

    fn cached(&self, hash: &TokenHash) -> Option<Answer> {
        let now = Instant::now();
        if let Some(answer) = self.active.get(hash) {
            if answer.until > now {
                return Some(Answer::Active(answer.claims));
            }
            self.active.remove_if(hash, |answer| answer.until <= now);
        }
        if let Some(until) = self.inactive.get(hash) {
            if until > now {
                return Some(Answer::Inactive);
            }
            self.inactive.remove_if(hash, |until| *until <= now);
        }
        None
    }

    /// One call to the server, within the concurrency bound; caches its answer.
    async fn call(&self, credential: &Credential, token: &str, hash: TokenHash) -> Outcome {
        // A call that finished just before this flight began has filled the cache.
        if let Some(answer) = self.cached(&hash) {
            return Ok(answer);
        }
        let _turn = tokio::time::timeout(self.turn_timeout, self.turns.acquire())
            .await
            .map_err(|_| {
                VerifyError::Unavailable(
                    "too many introspection calls in flight; none finished in time".to_owned(),
                )
            })?
            .map_err(|_| VerifyError::Unavailable("introspection is shut down".to_owned()))?;
        let body = self
            .http
            .post_json(
                &self.url,
                &credential.0,
                &serde_json::json!({ "token": token }),
                INTROSPECTION_BODY_LIMIT,
            )
            .await
            .map_err(|error| {
                if let FetchError::Status(status) = &error
                    && (status.as_u16() == 401 || status.as_u16() == 403)
                {
                    tracing::error!(
                        url = %self.url,
                        %status,
                        "Portcullis refused the introspection credential: it must be a live \
                         personal access token or access token holding tokens:introspect"
                    );
                } else {
                    tracing::warn!(url = %self.url, reason = %error, "introspection failed");
                }
                VerifyError::Unavailable(format!("introspection failed: {error}"))
            })?;
        let response: IntrospectionResponse = serde_json::from_slice(&body).map_err(|error| {
            VerifyError::Unavailable(format!("the introspection answer is malformed: {error}"))
        })?;
        let answer = match response {
            IntrospectionResponse {
                active: true,
                sub: Some(user_id),
                sid,
                roles,
                scope,
                exp,
            } => Answer::Active(Claims {
                user_id,
                session_id: sid,
                roles,
                permissions: scope.split_ascii_whitespace().map(str::to_owned).collect(),
                expires_at: exp,
            }),
            _ => Answer::Inactive,
        };
        let now = SystemTime::now();
        match &answer {
            Answer::Active(claims) => {
                if claims
                    .expires_at
                    .is_some_and(|exp| has_expired(exp, self.leeway, now))
                {
                    return Err(VerifyError::Expired);
                }
                let lifetime = answer_lifetime(self.lifetime, claims.expires_at, now);
                if !lifetime.is_zero() {
                    self.active.insert(
                        hash,
                        ActiveAnswer {
                            claims: claims.clone(),
                            until: Instant::now() + lifetime,
                        },
                    );
                }
            }
            Answer::Inactive => {
                if !self.lifetime.is_zero() {
                    self.inactive.insert(hash, Instant::now() + self.lifetime);
                }
            }
        }
        Ok(answer)
    }
}

/// How long an answer about an active token is reused: the configured
/// lifetime, at most [`MAX_INTROSPECTION_CACHE`], and never past the token's `exp`.
pub(crate) fn answer_lifetime(
    configured: Duration,
    expires_at: Option<i64>,
    now: SystemTime,
) -> Duration {
    let lifetime = configured.min(MAX_INTROSPECTION_CACHE);
    let Some(exp) = expires_at else {
        return lifetime;
    };
    let now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // Unix seconds fit an f64 exactly for 285 million years.
    let left = (exp as f64 - now).max(0.0);
    lifetime.min(Duration::from_secs_f64(
        left.min(MAX_INTROSPECTION_CACHE.as_secs_f64()),
    ))
}

/// Whether `exp` (Unix seconds) is past, beyond the leeway.
pub(crate) fn has_expired(exp: i64, leeway: Duration, now: SystemTime) -> bool {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    });
    let leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
    exp.saturating_add(leeway) < now
}

/// A request's share in the call in flight for one token. The map entry goes
/// when the call has an outcome (later requests use the cache) or when the
/// last request sharing it gave up (a cancelled request leaves nothing behind).
struct InFlight<'a> {
    map: &'a Mutex<HashMap<TokenHash, Arc<OnceCell<Outcome>>>>,
    hash: TokenHash,
    cell: Option<Arc<OnceCell<Outcome>>>,
}

impl<'a> InFlight<'a> {
    fn join(map: &'a Mutex<HashMap<TokenHash, Arc<OnceCell<Outcome>>>>, hash: TokenHash) -> Self {
        let cell = Arc::clone(
            map.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(hash)
                .or_default(),
        );
        Self {
            map,
            hash,
            cell: Some(cell),
        }
    }

    fn cell(&self) -> &OnceCell<Outcome> {
        self.cell.as_ref().expect("present until dropped")
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else {
            return;
        };
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ours = map
            .get(&self.hash)
            .is_some_and(|entry| Arc::ptr_eq(entry, &cell));
        // Every clone is made and dropped under the lock, so the count is exact:
        // 2 means the map's and ours.
        if ours && (cell.initialized() || Arc::strong_count(&cell) == 2) {
            map.remove(&self.hash);
        }
        drop(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    #[track_caller]
    fn check(configured: Duration, exp: Option<i64>, now: SystemTime, expected: Duration) {
        assert_eq!(answer_lifetime(configured, exp, now), expected);
    }

    #[test]
    fn an_answer_lives_at_most_a_minute_and_never_past_the_tokens_expiry() {
        let exp = |seconds: u64| Some(i64::try_from(seconds).unwrap());
        let secs = Duration::from_secs;
        check(secs(5), None, at(NOW, 0), secs(5));
        check(secs(3600), None, at(NOW, 0), secs(60));
        check(secs(3600), exp(NOW + 600), at(NOW, 0), secs(60));
        check(secs(3600), exp(NOW + 10), at(NOW, 0), secs(10));
        check(
            secs(5),
            exp(NOW + 2),
            at(NOW, 500),
            Duration::from_millis(1500),
        );
        check(secs(5), exp(NOW), at(NOW, 500), Duration::ZERO);
        check(secs(5), exp(NOW - 100), at(NOW, 0), Duration::ZERO);
        check(Duration::ZERO, exp(NOW + 100), at(NOW, 0), Duration::ZERO);
    }

    #[test]
    fn expiry_allows_the_leeway_only() {
        let exp = i64::try_from(NOW).unwrap();
        let leeway = Duration::from_secs(2);
        assert!(!has_expired(exp, leeway, at(NOW + 2, 0)));
        assert!(has_expired(exp, leeway, at(NOW + 3, 0)));
        assert!(!has_expired(exp, Duration::ZERO, at(NOW, 900)));
    }
}
