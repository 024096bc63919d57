//! One type for a stored password hash, whatever system made it.
//!
//! Teams moving to Portcullis bring hashes made elsewhere: PHC strings
//! (Argon2, scrypt, PBKDF2), passlib's own PBKDF2 strings, bcrypt, Django's
//! and Keycloak's (the latter turned into PHC strings by
//! [`StoredHash::from_keycloak_credential`]). [`StoredHash::parse`] reads any
//! of them and refuses, with a reason an import report can show, what it does
//! not know, what is malformed, and parameters so costly that one row could
//! stall the hashing threads (the bounds are the `MAX_*`/`MIN_*` constants
//! here). [`StoredHash::matches`] recomputes a hash in its own scheme.
//!
//! This module must never panic on what a database holds, never compare in
//! variable time, and never show a salt or a hash, in `Debug` or in an error.

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::hashing::formats::{self, malformed};

/// bcrypt's own minimum cost.
pub const MIN_BCRYPT_COST: u32 = 4;
/// One to two seconds per check on a server core; PHP and Spring default
/// to 10, passlib, Django and Laravel to 12.
pub const MAX_BCRYPT_COST: u32 = 14;
/// 1 GiB. argon2-cffi defaults to 64 MiB, Django to 100 MiB, Keycloak to 7 MiB.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
/// argon2-cffi uses 3 passes, Keycloak 5, Django 2.
pub const MAX_ARGON2_ITERATIONS: u32 = 10;
/// Lanes are computed one after the other here; argon2-cffi uses 4, Django 8.
pub const MAX_ARGON2_PARALLELISM: u32 = 16;
/// N = 2^20; passlib uses 2^16, RustCrypto 2^17, Django 2^14.
pub const MAX_SCRYPT_LOG_N: u8 = 20;
/// Memory is 128·N·r bytes: 64 MiB for passlib's N = 2^16, r = 8.
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 1 << 30;
/// Time grows with N·r·p; Django uses r·p = 40, most others 8.
pub const MAX_SCRYPT_R_TIMES_P: u32 = 64;
/// Below this a PBKDF2 hash protects nothing and is refused.
pub const MIN_PBKDF2_ITERATIONS: u32 = 1_000;
/// Django 5 uses 1,000,000, OWASP asks 600,000 (SHA-256) and 1,300,000
/// (SHA-1), passlib 29,000, Keycloak 27,500 to 600,000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Longer strings are not read at all; real ones are under 200 bytes.
const MAX_STORED_LENGTH: usize = 512;

/// The hash function of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashScheme {
    Argon2id,
    Argon2i,
    Argon2d,
    Scrypt,
    Pbkdf2Sha1,
    Pbkdf2Sha256,
    Pbkdf2Sha512,
    Bcrypt,
}

/// Why a stored string is not a hash Portcullis can verify. The message
/// names the format and the rule broken, never the salt or the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoredHashError {
    #[error(
        "not a password hash format Portcullis reads (PHC Argon2, scrypt or PBKDF2, passlib PBKDF2, bcrypt $2a$/$2b$/$2y$, Django pbkdf2_sha256/pbkdf2_sha1/argon2/scrypt, Keycloak)"
    )]
    UnknownScheme,
    #[error("{format} hashes are not supported: {reason}")]
    Unsupported {
        format: &'static str,
        reason: &'static str,
    },
    #[error("malformed {format} hash: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("{scheme} {parameter} is {value}, outside the accepted {min} to {max}")]
    OutOfBounds {
        scheme: HashScheme,
        parameter: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

/// A password hash as stored, parsed: its scheme, parameters, salt and hash.
/// Its `Debug` shows the scheme only.
#[derive(Clone)]
pub struct StoredHash {
    text: String,
    scheme: Scheme,
}

/// What a verification costs: hashes with equal classes take the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CostClass {
    scheme: HashScheme,
    parameters: [u32; 4],
}

impl CostClass {
    pub(crate) fn scheme(&self) -> HashScheme {
        self.scheme
    }
}

/// A parsed hash: what [`StoredHash::matches`] needs to recompute it.
#[derive(Clone)]
pub(crate) enum Scheme {
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        params: Params,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2 {
        prf: Prf,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Bcrypt {
        cost: u32,
        salt: [u8; 16],
        hash: [u8; 23],
    },
}

/// The HMAC hash function of PBKDF2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prf {
    Sha1,
    Sha256,
    Sha512,
}

impl fmt::Display for HashScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2Sha1 => "pbkdf2-sha1",
            Self::Pbkdf2Sha256 => "pbkdf2-sha256",
            Self::Pbkdf2Sha512 => "pbkdf2-sha512",
            Self::Bcrypt => "bcrypt",
        })
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredHash")
            .field("scheme", &self.scheme())
            .finish_non_exhaustive()
    }
}

impl StoredHash {
    /// Reads a stored hash for import: the format must be known and well
    /// formed, and its cost parameters within the bounds above.
    ///
    /// # Errors
    /// [`StoredHashError`] saying which format and which rule.
    pub fn parse(text: &str) -> Result<Self, StoredHashError> {
        let hash = Self::parse_unchecked(text)?;
        hash.check_bounds()?;
        Ok(hash)
    }

    /// The string to store: the input of [`StoredHash::parse`] unchanged, or
    /// the PHC string made from a Keycloak credential.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    #[must_use]
    pub fn scheme(&self) -> HashScheme {
        match &self.scheme {
            Scheme::Argon2 { algorithm, .. } => match algorithm {
                Algorithm::Argon2d => HashScheme::Argon2d,
                Algorithm::Argon2i => HashScheme::Argon2i,
                Algorithm::Argon2id => HashScheme::Argon2id,
            },
            Scheme::Scrypt { .. } => HashScheme::Scrypt,
            Scheme::Pbkdf2 { prf, .. } => match prf {
                Prf::Sha1 => HashScheme::Pbkdf2Sha1,
                Prf::Sha256 => HashScheme::Pbkdf2Sha256,
                Prf::Sha512 => HashScheme::Pbkdf2Sha512,
            },
            Scheme::Bcrypt { .. } => HashScheme::Bcrypt,
        }
    }

    /// Reads the format without judging the cost (for hashes already stored,
    /// which the caller may accept beyond the import bounds).
    pub(crate) fn parse_unchecked(text: &str) -> Result<Self, StoredHashError> {
        if text.len() > MAX_STORED_LENGTH {
            return Err(malformed(
                "password",
                format!("longer than {MAX_STORED_LENGTH} bytes"),
            ));
        }
        let scheme = formats::read(text)?;
        Ok(Self {
            text: text.to_owned(),
            scheme,
        })
    }

    /// Refuses parameters beyond the import bounds.
    pub(crate) fn check_bounds(&self) -> Result<(), StoredHashError> {
        let scheme = self.scheme();
        let within = |parameter, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(StoredHashError::OutOfBounds {
                    scheme,
                    parameter,
                    value,
                    min,
                    max,
                })
            }
        };
        match &self.scheme {
            Scheme::Argon2 { params, .. } => {
                within(
                    "memory (KiB)",
                    params.m_cost().into(),
                    Params::MIN_M_COST.into(),
                    MAX_ARGON2_MEMORY_KIB.into(),
                )?;
                within(
                    "iterations",
                    params.t_cost().into(),
                    1,
                    MAX_ARGON2_ITERATIONS.into(),
                )?;
                within(
                    "parallelism",
                    params.p_cost().into(),
                    1,
                    MAX_ARGON2_PARALLELISM.into(),
                )
            }
            Scheme::Scrypt { log_n, r, p, .. } => {
                within("log2(N)", (*log_n).into(), 1, MAX_SCRYPT_LOG_N.into())?;
                within(
                    "r·p",
                    u64::from(*r) * u64::from(*p),
                    1,
                    MAX_SCRYPT_R_TIMES_P.into(),
                )?;
                within(
                    "memory (128·N·r bytes)",
                    128 * (1u64 << log_n) * u64::from(*r),
                    1,
                    MAX_SCRYPT_MEMORY_BYTES,
                )
            }
            Scheme::Pbkdf2 { iterations, .. } => within(
                "iterations",
                (*iterations).into(),
                MIN_PBKDF2_ITERATIONS.into(),
                MAX_PBKDF2_ITERATIONS.into(),
            ),
            Scheme::Bcrypt { cost, .. } => within(
                "cost",
                (*cost).into(),
                MIN_BCRYPT_COST.into(),
                MAX_BCRYPT_COST.into(),
            ),
        }
    }

    /// What verifying this hash costs, without its salt and hash.
    pub(crate) fn cost_class(&self) -> CostClass {
        let length = |hash: &[u8]| u32::try_from(hash.len()).unwrap_or(u32::MAX);
        let parameters = match &self.scheme {
            Scheme::Argon2 {
                version, params, ..
            } => [
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                u32::from(*version),
            ],
            Scheme::Scrypt {
                log_n, r, p, hash, ..
            } => [(*log_n).into(), *r, *p, length(hash)],
            Scheme::Pbkdf2 {
                iterations, hash, ..
            } => [*iterations, length(hash), 0, 0],
            Scheme::Bcrypt { cost, .. } => [*cost, 0, 0, 0],
        };
        CostClass {
            scheme: self.scheme(),
            parameters,
        }
    }

    /// The parsed scheme, for the stand-in of its cost.
    pub(crate) fn scheme_parameters(&self) -> &Scheme {
        &self.scheme
    }

    /// Whether this is an Argon2id v1.3 hash made with exactly `params`.
    pub(crate) fn is_argon2id_with(&self, current: &Params) -> bool {
        matches!(&self.scheme, Scheme::Argon2 { algorithm: Algorithm::Argon2id, version: Version::V0x13, params, .. }
            if params.m_cost() == current.m_cost()
                && params.t_cost() == current.t_cost()
                && params.p_cost() == current.p_cost())
    }

    /// Recomputes the hash of `password` in this hash's scheme and compares
    /// in constant time. Argon2 uses `memory` (a hashing thread's buffer)
    /// when it needs at most `reusable_blocks`, and a buffer of its own
    /// otherwise, so that one costly row does not keep its memory forever.
    pub(crate) fn matches(
        &self,
        password: &[u8],
        memory: &mut Vec<Block>,
        reusable_blocks: usize,
    ) -> bool {
        match &self.scheme {
            Scheme::Argon2 {
                algorithm,
                version,
                params,
                salt,
                hash,
            } => {
                let blocks = params.block_count();
                let mut own = Vec::new();
                let buffer = if blocks <= reusable_blocks {
                    memory
                } else {
                    &mut own
                };
                if buffer.len() < blocks {
                    buffer.resize(blocks, Block::default());
                }
                let mut output = vec![0u8; hash.len()];
                Argon2::new(*algorithm, *version, params.clone())
                    .hash_password_into_with_memory(
                        password,
                        salt,
                        &mut output,
                        &mut buffer[..blocks],
                    )
                    .is_ok()
                    && bool::from(output.ct_eq(hash))
            }
            Scheme::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let mut output = vec![0u8; hash.len()];
                scrypt::Params::new(*log_n, *r, *p).is_ok_and(|params| {
                    scrypt::scrypt(password, salt, &params, &mut output).is_ok()
                }) && bool::from(output.ct_eq(hash))
            }
            Scheme::Pbkdf2 {
                prf,
                iterations,
                salt,
                hash,
            } => {
                let mut output = vec![0u8; hash.len()];
                // SHA-256 and SHA-512 through pbkdf2's non-generic entry point,
                // compiled in that crate: optimised in debug builds too, where
                // a generic call compiled here runs some 30 times slower.
                let algorithm = match prf {
                    Prf::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, *iterations, &mut output);
                        return bool::from(output.ct_eq(hash));
                    }
                    Prf::Sha256 => pbkdf2::Algorithm::Pbkdf2Sha256,
                    Prf::Sha512 => pbkdf2::Algorithm::Pbkdf2Sha512,
                };
                pbkdf2::Params::new(*iterations).is_ok_and(|params| {
                    pbkdf2::pbkdf2_hmac_with_params(password, salt, algorithm, params, &mut output);
                    bool::from(output.ct_eq(hash))
                })
            }
            Scheme::Bcrypt { cost, salt, hash } => bcrypt_matches(*cost, *salt, hash, password),
        }
    }
}

impl From<StoredHash> for crate::hashing::PasswordHashString {
    fn from(hash: StoredHash) -> Self {
        Self(hash.text)
    }
}

/// bcrypt as OpenBSD, crypt_blowfish (PHP, `$2y$`), passlib and pyca/bcrypt
/// before 5.0 compute it: the key is the password's bytes and a NUL, cut at
/// 72 bytes, so bytes past the 72nd never count (a hash made from a longer
/// password verifies with any password sharing its first 72 bytes, as it did
/// there). A password containing NUL never matches: those systems either
/// refuse it or cut it at the NUL, and guessing which is not worth a login.
fn bcrypt_matches(cost: u32, salt: [u8; 16], hash: &[u8; 23], password: &[u8]) -> bool {
    if password.contains(&0) || !(MIN_BCRYPT_COST..32).contains(&cost) {
        return false;
    }
    let mut key = [0u8; 72];
    let used = password.len().min(72);
    key[..used].copy_from_slice(&password[..used]);
    let output = bcrypt::bcrypt(cost, salt, &key[..(used + 1).min(72)]);
    bool::from(output[..23].ct_eq(hash))
}
