//! Argon2id password hashing on a bounded pool of blocking threads.
//!
//! Hashing is deliberately expensive, so it must never run on the async
//! runtime's worker threads (a storm of logins would stall every
//! token-checked request) and never without a bound (a storm would queue
//! unbounded memory). [`PasswordHasher`] runs each hash through
//! `spawn_blocking` behind a semaphore sized to the cores. Verifying against
//! an unknown account hashes against a dummy of the same cost, so the response
//! time does not tell whether an email exists. A stored hash whose parameters
//! differ from the configured ones reports [`Verification::NeedsRehash`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::password::Password;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's first recommended Argon2id setting.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// A stored PHC-format hash string.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(pub String);

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString([redacted])")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// The password matched a hash made with other parameters; store this new one.
    NeedsRehash(PasswordHashString),
}

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParameters(String),
    #[error("the hashing pool is shut down")]
    PoolClosed,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords off the async runtime, at most `workers` at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<HasherInner>,
}

struct HasherInner {
    params: Params,
    permits: Semaphore,
    waiting: AtomicUsize,
    dummy_hash: String,
}

impl PasswordHasher {
    /// # Errors
    /// [`HashingError::InvalidParameters`] when Argon2 refuses the settings.
    pub fn new(settings: Argon2Settings, workers: usize) -> Result<Self, HashingError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| HashingError::InvalidParameters(e.to_string()))?;
        let dummy_hash = hash_blocking(&params, "portcullis dummy password for unknown accounts")?;
        Ok(Self {
            inner: Arc::new(HasherInner {
                params,
                permits: Semaphore::new(workers.max(1)),
                waiting: AtomicUsize::new(0),
                dummy_hash,
            }),
        })
    }

    /// Requests waiting for a hashing slot right now.
    #[must_use]
    pub fn queue_depth(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// # Errors
    /// [`HashingError`] when the pool is gone or Argon2 fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHashString, HashingError> {
        let secret = password.expose().to_owned();
        let inner = Arc::clone(&self.inner);
        self.run(move || hash_blocking(&inner.params, &secret).map(PasswordHashString))
            .await
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no account, so both cost the same.
    ///
    /// # Errors
    /// [`HashingError`] when the pool is gone.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHashString>,
    ) -> Result<Verification, HashingError> {
        let secret = password.expose().to_owned();
        let stored = stored.map(|hash| hash.0.clone());
        let inner = Arc::clone(&self.inner);
        self.run(move || {
            let (phc, is_real) = match &stored {
                Some(phc) => (phc.as_str(), true),
                None => (inner.dummy_hash.as_str(), false),
            };
            let Ok(parsed) = PasswordHash::new(phc) else {
                return Ok(Verification::Mismatch);
            };
            let Ok(hasher) = argon2_for(&parsed) else {
                return Ok(Verification::Mismatch);
            };
            if hasher.verify_password(secret.as_bytes(), &parsed).is_err() || !is_real {
                return Ok(Verification::Mismatch);
            }
            if has_current_parameters(&parsed, &inner.params) {
                Ok(Verification::Match)
            } else {
                hash_blocking(&inner.params, &secret)
                    .map(|new| Verification::NeedsRehash(PasswordHashString(new)))
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = self.inner.permits.acquire().await;
        self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
        let _permit = permit.map_err(|_| HashingError::PoolClosed)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashingError::Internal(e.to_string()))?
    }
}

fn hash_blocking(params: &Params, secret: &str) -> Result<String, HashingError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashingError::Internal(e.to_string()))
}

/// An Argon2 instance with the parameters written in the stored hash, so old
/// hashes keep verifying after the configuration changes.
fn argon2_for(parsed: &PasswordHash<'_>) -> Result<Argon2<'static>, argon2::password_hash::Error> {
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)?;
    let params = Params::try_from(parsed)?;
    Ok(Argon2::new(algorithm, version, params))
}

fn has_current_parameters(parsed: &PasswordHash<'_>, current: &Params) -> bool {
    parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(parsed).is_ok_and(|p| {
            p.m_cost() == current.m_cost()
                && p.t_cost() == current.t_cost()
                && p.p_cost() == current.p_cost()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Settings {
        Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new(cheap(), 2).unwrap();
        let password = Password::normalise("correct horse battery");
        let stored = hasher.hash(&password).await.unwrap();
        assert!(stored.0.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            hasher.verify(&password, Some(&stored)).await.unwrap(),
            Verification::Match
        );
        let wrong = Password::normalise("correct horse battery!");
        assert_eq!(
            hasher.verify(&wrong, Some(&stored)).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_the_dummy_password() {
        let hasher = PasswordHasher::new(cheap(), 1).unwrap();
        let dummy = Password::normalise("portcullis dummy password for unknown accounts");
        assert_eq!(
            hasher.verify(&dummy, None).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn old_parameters_are_upgraded_on_match() {
        let old = PasswordHasher::new(cheap(), 1).unwrap();
        let password = Password::normalise("correct horse battery");
        let stored = old.hash(&password).await.unwrap();
        let stronger = PasswordHasher::new(
            Argon2Settings {
                memory_kib: 2048,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .unwrap();
        match stronger.verify(&password, Some(&stored)).await.unwrap() {
            Verification::NeedsRehash(new) => {
                assert!(new.0.starts_with("$argon2id$v=19$m=2048,t=2,p=1$"));
                assert_eq!(
                    stronger.verify(&password, Some(&new)).await.unwrap(),
                    Verification::Match
                );
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn garbage_in_the_database_is_a_mismatch_not_a_panic() {
        let hasher = PasswordHasher::new(cheap(), 1).unwrap();
        let password = Password::normalise("whatever it is here");
        let garbage = PasswordHashString("not a phc string".to_owned());
        assert_eq!(
            hasher.verify(&password, Some(&garbage)).await.unwrap(),
            Verification::Mismatch
        );
    }
}
