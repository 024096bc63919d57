//! What the store may keep about an imported hash besides the hash itself:
//! a stand-in of its cost, and the marker of an account with no password.
//!
//! The verification floor must know the cost of every kind of hash in the
//! database (see [`PasswordHasher::expect_stored`]), and reading a million
//! hashes at every start to find the few kinds is out of the question. So
//! the importer stores, beside each hash made elsewhere,
//! [`StoredHash::cost_stand_in`]: a hash string of the same scheme and
//! parameters whose salt and hash are all zero bytes. Two hashes of one cost
//! have the same stand-in, so the distinct stand-ins are the distinct costs;
//! a stand-in parses and verifies like the real hash, in the same time.
//!
//! An account imported without a hash stores [`PasswordHashString::no_password`],
//! which no reader parses: every login is checked against the dummy hash and
//! fails, like a wrong password, until a password reset replaces it.
//!
//! This module must never copy a byte of a salt or a hash into a stand-in.
//!
//! [`PasswordHasher::expect_stored`]: crate::hashing::PasswordHasher::expect_stored

use argon2::Algorithm;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::hashing::PasswordHashString;
use crate::hashing::stored::{Prf, Scheme, StoredHash};

/// The stored text of an account without a password. It starts with `!`,
/// which no hash format does, as a locked account in `/etc/shadow`.
const NO_PASSWORD: &str = "!no-password";

/// Sixteen zero bytes, the salt of every stand-in.
const ZERO_SALT: [u8; 16] = [0; 16];

impl PasswordHashString {
    /// What an account without a password stores: it never matches, and
    /// checking it costs the dummy hash, as an unknown email does.
    #[must_use]
    pub fn no_password() -> Self {
        Self(NO_PASSWORD.to_owned())
    }

    /// Whether this is [`PasswordHashString::no_password`]'s marker.
    #[must_use]
    pub fn is_no_password(&self) -> bool {
        self.0 == NO_PASSWORD
    }
}

impl StoredHash {
    /// A hash string of this hash's scheme and parameters with a zero salt
    /// and a zero hash: it costs the same to verify, hides nothing secret,
    /// and is equal for every hash of the same cost. Argon2 stand-ins have
    /// a 32-byte hash whatever the real length (it does not change the cost).
    #[must_use]
    pub fn cost_stand_in(&self) -> PasswordHashString {
        let zeros = |length: usize| STANDARD_NO_PAD.encode(vec![0u8; length]);
        let salt = zeros(ZERO_SALT.len());
        PasswordHashString(match self.scheme_parameters() {
            Scheme::Argon2 {
                algorithm,
                version,
                params,
                ..
            } => {
                let variant = match algorithm {
                    Algorithm::Argon2d => "argon2d",
                    Algorithm::Argon2i => "argon2i",
                    Algorithm::Argon2id => "argon2id",
                };
                format!(
                    "${variant}$v={}$m={},t={},p={}${salt}${}",
                    u32::from(*version),
                    params.m_cost(),
                    params.t_cost(),
                    params.p_cost(),
                    zeros(32)
                )
            }
            Scheme::Scrypt {
                log_n, r, p, hash, ..
            } => format!(
                "$scrypt$ln={log_n},r={r},p={p}${salt}${}",
                zeros(hash.len())
            ),
            Scheme::Pbkdf2 {
                prf,
                iterations,
                hash,
                ..
            } => {
                let ident = match prf {
                    Prf::Sha1 => "pbkdf2",
                    Prf::Sha256 => "pbkdf2-sha256",
                    Prf::Sha512 => "pbkdf2-sha512",
                };
                format!(
                    "${ident}$i={iterations},l={}${salt}${}",
                    hash.len(),
                    zeros(hash.len())
                )
            }
            // bcrypt's Base64 writes zero bits as `.`: 22 for the salt, 31 for the hash.
            Scheme::Bcrypt { cost, .. } => format!("$2b${cost:02}${}", ".".repeat(53)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(real: &str, expected: &str) {
        let real = StoredHash::parse(real).unwrap();
        let stand_in = real.cost_stand_in();
        assert_eq!(stand_in.0, expected);
        let parsed = StoredHash::parse(&stand_in.0).expect("a stand-in parses");
        assert_eq!(parsed.cost_class(), real.cost_class(), "{expected}");
        assert_eq!(
            parsed.cost_stand_in(),
            stand_in,
            "a stand-in is its own stand-in"
        );
    }

    #[test]
    fn a_stand_in_has_the_cost_and_nothing_else() {
        let zero_salt = "AAAAAAAAAAAAAAAAAAAAAA";
        let zero_32 = "A".repeat(43);
        check(
            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            &format!("$2b$10${}", ".".repeat(53)),
        );
        check(
            "pbkdf2_sha256$720000$fJvJqsbkYgszGTx8IIkBjE$i+oaMF1eb6CV4U9kjOI9tUc+Jt+fRwAs2w5JzUHcsZM=",
            &format!("$pbkdf2-sha256$i=720000,l=32${zero_salt}${zero_32}"),
        );
        check(
            "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            &format!("$argon2id$v=19$m=65536,t=3,p=4${zero_salt}${zero_32}"),
        );
    }

    #[test]
    fn no_password_is_no_hash() {
        let marker = PasswordHashString::no_password();
        assert!(marker.is_no_password());
        assert!(StoredHash::parse(&marker.0).is_err());
        assert!(!PasswordHashString("$2b$10$x".into()).is_no_password());
    }
}
