//! Password hashing on a fixed pool of worker threads: Argon2id for every
//! new hash, and every scheme of [`StoredHash`] for verifying.
//!
//! Hashing is deliberately expensive, so it must never run on the async
//! runtime's worker threads (a storm of logins would stall every
//! token-checked request) and never without a bound. [`PasswordHasher`] owns
//! `workers` threads (one per core by default); requests queue for them.
//! Each thread allocates its Argon2 memory once and reuses it for every hash:
//! no 19 MiB allocation per login, and memory stays at workers × m_cost
//! however many logins arrive. The threads run in the idle scheduling class:
//! when the cores are otherwise idle, logins use all of them, and requests
//! that only check a token never wait behind a storm of logins.
//!
//! Verifying against an unknown account, or against a stored string that
//! cannot be read, hashes against a dummy Argon2id of the configured cost,
//! and every verification lasts at least the verification floor (the time of
//! the costliest kind of hash known, see [`PasswordHasher::expect_stored`]),
//! so the response time does not tell whether an email exists nor which
//! scheme its hash uses. A hash in another scheme, or with other
//! parameters, that matches reports [`Verification::NeedsRehash`].
//!
//! This module holds the hasher and the types of its interface; its parts
//! are the thread pool and its queue (`pool`), making new Argon2id hashes
//! (`argon2id`), reading and checking stored hashes of every scheme
//! (`stored`, `formats`, `keycloak`, `stand_in`) and the verification floor
//! (`floor`).
//!
//! This module must never panic on a stored hash, never let a hashing thread
//! sleep, and never show a password or a hash in `Debug`.

mod argon2id;
mod floor;
mod formats;
mod keycloak;
mod pool;
mod stand_in;
mod stored;

pub use stored::{
    HashScheme, MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM,
    MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_LOG_N, MAX_SCRYPT_MEMORY_BYTES,
    MAX_SCRYPT_R_TIMES_P, MIN_BCRYPT_COST, MIN_PBKDF2_ITERATIONS, StoredHash, StoredHashError,
};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::Params;

use crate::hashing::argon2id::hash_with;
use crate::hashing::floor::VerificationFloor;
use crate::hashing::pool::HashingPool;
use crate::hashing::stored::CostClass;
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

/// A stored hash string: a PHC string, or another format [`StoredHash`] reads.
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
    /// The password matched a hash made in another scheme or with other
    /// parameters; store this new Argon2id one.
    NeedsRehash(PasswordHashString),
}

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParameters(String),
    #[error("the hashing pool is shut down")]
    PoolClosed,
    /// So many hashes are waiting that this one would wait too long: shed it.
    #[error("too many passwords are waiting to be hashed")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords off the async runtime on `workers` threads.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<HasherInner>,
}

struct HasherInner {
    params: Params,
    pool: HashingPool,
    dummy: StoredHash,
    floor: VerificationFloor,
}

/// Checks timed per cost class by [`PasswordHasher::expect_stored`]; the median counts.
const TIMED_CHECKS: usize = 5;

/// The password the dummy hash is made from, and timing checks use.
const DUMMY_PASSWORD: &str = "portcullis dummy password for unknown accounts";

impl PasswordHasher {
    /// Starts `workers` hashing threads (at least one).
    ///
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
        let dummy =
            StoredHash::parse_unchecked(&hash_with(&params, DUMMY_PASSWORD, &mut Vec::new())?)
                .map_err(|e| HashingError::Internal(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(HasherInner {
                params,
                pool: HashingPool::start(workers)?,
                dummy,
                floor: VerificationFloor::default(),
            }),
        })
    }

    /// Requests waiting for a hashing thread right now.
    #[must_use]
    pub fn queue_depth(&self) -> usize {
        self.inner.pool.queue_depth()
    }

    /// # Errors
    /// [`HashingError`] when the pool is gone or Argon2 fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHashString, HashingError> {
        let secret = password.expose().to_owned();
        let params = self.inner.params.clone();
        self.inner
            .pool
            .run(move |memory| hash_with(&params, &secret, memory).map(PasswordHashString))
            .await
    }

    /// Verifies `password` against `stored` in its own scheme, or against
    /// the dummy hash when there is no account or the stored string cannot
    /// be read (or is beyond the import bounds, unless it has the configured
    /// Argon2id parameters), so all of them cost the same; then waits out the
    /// [verification floor](Self::verification_floor). When the password
    /// was presented in a form other than its NFKC one
    /// ([`Password::presented`]), a hash that is not the server's own
    /// (made elsewhere, from the password as typed) is also checked against
    /// that form, and every such verification waits out twice the floor.
    ///
    /// # Errors
    /// [`HashingError`] when the pool is gone.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHashString>,
    ) -> Result<Verification, HashingError> {
        let secret = password.expose().to_owned();
        let typed = password.typed().map(str::to_owned);
        let two_forms = typed.is_some();
        let readable = stored.and_then(|stored| self.inner.readable(stored));
        let is_real = readable.is_some();
        let target = readable.unwrap_or_else(|| self.inner.dummy.clone());
        let class = target.cost_class();
        let params = self.inner.params.clone();
        let (outcome, started, took) = self
            .inner
            .pool
            .run(move |memory| {
                let started = Instant::now();
                let matched = target.matches(secret.as_bytes(), memory, params.block_count());
                let took = started.elapsed();
                // A hash made elsewhere was made from the password as typed.
                let matched = matched
                    || (is_real
                        && !target.is_argon2id_with(&params)
                        && typed.is_some_and(|typed| {
                            target.matches(typed.as_bytes(), memory, params.block_count())
                        }));
                let outcome = if !matched || !is_real {
                    Verification::Mismatch
                } else if target.is_argon2id_with(&params) {
                    Verification::Match
                } else {
                    Verification::NeedsRehash(PasswordHashString(hash_with(
                        &params, &secret, memory,
                    )?))
                };
                Ok((outcome, started, took))
            })
            .await?;
        if self.inner.floor.learn(class, took) && class != self.inner.dummy.cost_class() {
            tracing::warn!(
                scheme = %class.scheme(),
                ?took,
                "a stored password hash of a cost the hasher was not told about; until \
                 `expect_stored` is called with it, the first check of each such cost \
                 can show that the account exists"
            );
        }
        // Two forms may cost two checks: every such verification waits out two floors.
        let floor = self.inner.floor.current() * if two_forms { 2 } else { 1 };
        tokio::time::sleep_until((started + floor).into()).await;
        Ok(outcome)
    }

    /// The least time a verification takes now: zero while one cost of hash
    /// is known, else the slowest known cost plus a 30 % margin.
    #[must_use]
    pub fn verification_floor(&self) -> Duration {
        self.inner.floor.current()
    }

    /// Times, on the hashing threads, a check of each cost of hash among
    /// `stored` (scheme and parameters; one string per distinct cost is
    /// enough) and of the dummy, and raises the floor so that a wrong
    /// password for any of them takes as long as an unknown email. Call it
    /// at start with the hashes in the database, and again after an import.
    /// Unreadable strings are skipped (they are checked against the dummy).
    /// Returns the new floor.
    ///
    /// # Errors
    /// [`HashingError`] when the pool is gone or too busy.
    pub async fn expect_stored<'a>(
        &self,
        stored: impl IntoIterator<Item = &'a PasswordHashString>,
    ) -> Result<Duration, HashingError> {
        let mut costs: HashMap<CostClass, StoredHash> = HashMap::new();
        costs.insert(self.inner.dummy.cost_class(), self.inner.dummy.clone());
        for hash in stored.into_iter().filter_map(|s| self.inner.readable(s)) {
            costs.entry(hash.cost_class()).or_insert(hash);
        }
        let mut floor = self.verification_floor();
        for (class, hash) in costs {
            let mut times = Vec::with_capacity(TIMED_CHECKS);
            for _ in 0..TIMED_CHECKS {
                let hash = hash.clone();
                let reusable = self.inner.params.block_count();
                times.push(
                    self.inner
                        .pool
                        .run(move |memory| {
                            let started = Instant::now();
                            hash.matches(DUMMY_PASSWORD.as_bytes(), memory, reusable);
                            Ok(started.elapsed())
                        })
                        .await?,
                );
            }
            times.sort_unstable();
            floor = self.inner.floor.record(class, times[TIMED_CHECKS / 2]);
        }
        Ok(floor)
    }
}

impl HasherInner {
    /// The stored hash to check, or `None` for the dummy: unreadable, or
    /// beyond the import bounds without being one of ours.
    fn readable(&self, stored: &PasswordHashString) -> Option<StoredHash> {
        if stored.is_no_password() {
            return None;
        }
        let checked = StoredHash::parse_unchecked(&stored.0).and_then(|hash| {
            if hash.is_argon2id_with(&self.params) {
                Ok(hash)
            } else {
                hash.check_bounds().map(|()| hash)
            }
        });
        checked
            .inspect_err(|error| {
                tracing::debug!(%error, "a stored password hash cannot be checked; it never matches");
            })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHash, SaltString};
    use argon2::{Algorithm, Argon2, Version};
    use base64::Engine as _;

    use super::*;
    use crate::hashing::pool::WAITING_PER_WORKER;

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
    async fn hashes_interoperate_with_the_argon2_crates_own_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let settings = cheap();
        let hasher = PasswordHasher::new(settings, 1).unwrap();
        let password = Password::normalise("correct horse battery");
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(
            hasher
                .verify(&password, Some(&PasswordHashString(theirs)))
                .await
                .unwrap(),
            Verification::Match
        );
        let ours = hasher.hash(&password).await.unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .verify_password(
                b"correct horse battery",
                &PasswordHash::new(&ours.0).unwrap(),
            )
            .expect("the argon2 crate verifies our hash");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_sheds_instead_of_growing() {
        let hasher = PasswordHasher::new(cheap(), 1).unwrap();
        let password = Password::normalise("correct horse battery");
        let waiting: Vec<_> = (0..WAITING_PER_WORKER * 3)
            .map(|_| {
                let (hasher, password) = (hasher.clone(), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        let mut shed = 0;
        for outcome in waiting {
            match outcome.await.unwrap() {
                Ok(_) => {}
                Err(HashingError::Busy) => shed += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert!(shed > 0, "some requests were shed");
        assert_eq!(hasher.queue_depth(), 0);
        assert!(hasher.hash(&password).await.is_ok(), "and it recovers");
    }

    #[tokio::test]
    async fn our_own_hashes_beyond_the_import_bounds_keep_verifying() {
        let settings = Argon2Settings {
            iterations: MAX_ARGON2_ITERATIONS + 1,
            ..cheap()
        };
        let hasher = PasswordHasher::new(settings, 1).unwrap();
        let password = Password::normalise("correct horse battery");
        let stored = hasher.hash(&password).await.unwrap();
        assert!(
            StoredHash::parse(&stored.0).is_err(),
            "beyond the import bounds"
        );
        assert_eq!(
            hasher.verify(&password, Some(&stored)).await.unwrap(),
            Verification::Match
        );
    }

    #[tokio::test]
    async fn a_legacy_hash_beyond_the_import_bounds_never_matches() {
        let hasher = PasswordHasher::new(cheap(), 1).unwrap();
        let password = "correct horse battery";
        let django = |iterations| {
            let mut hash = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                password.as_bytes(),
                b"salt",
                iterations,
                &mut hash,
            );
            let hash = base64::engine::general_purpose::STANDARD.encode(hash);
            PasswordHashString(format!("pbkdf2_sha256${iterations}$salt${hash}"))
        };
        let password = Password::normalise(password);
        assert!(matches!(
            hasher.verify(&password, Some(&django(1000))).await.unwrap(),
            Verification::NeedsRehash(_)
        ));
        assert_eq!(
            hasher.verify(&password, Some(&django(999))).await.unwrap(),
            Verification::Mismatch
        );
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
