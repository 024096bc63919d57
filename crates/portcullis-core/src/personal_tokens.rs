//! Personal access tokens (API keys): long-lived credentials a user makes for
//! scripts and integrations.
//!
//! Wire form: `pat_` + base64url(id (16 bytes) || secret (32 bytes) ||
//! checksum (4 bytes)), 74 characters. The prefix lets secret scanners
//! recognise a leaked token; the checksum (the first four bytes of SHA-256
//! over id and secret) lets a typo or a made-up token fail without a database
//! lookup; the id makes the lookup a primary-key read. Only SHA-256 of the
//! secret is stored, so the token is shown once, at creation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

/// The prefix of every personal access token.
pub const PREFIX: &str = "pat_";
const PAYLOAD_LENGTH: usize = 52;
const ENCODED_LENGTH: usize = PREFIX.len() + 70;

/// SHA-256 of a token's secret, the only form stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PersonalTokenSecretHash(pub [u8; 32]);

impl std::fmt::Debug for PersonalTokenSecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalTokenSecretHash([redacted])")
    }
}

impl PersonalTokenSecretHash {
    /// Constant-time equality.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A parsed personal access token.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalToken {
    pub id: Uuid,
    secret: [u8; 32],
}

impl std::fmt::Debug for PersonalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PersonalToken {
    /// A new token from the OS CSPRNG.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("the OS CSPRNG is unavailable");
        Self {
            id: Uuid::now_v7(),
            secret,
        }
    }

    /// Whether `input` looks like a personal access token at all (by prefix).
    #[must_use]
    pub fn is_personal_token(input: &str) -> bool {
        input.starts_with(PREFIX)
    }

    #[must_use]
    pub fn secret_hash(&self) -> PersonalTokenSecretHash {
        PersonalTokenSecretHash(Sha256::digest(self.secret).into())
    }

    #[must_use]
    pub fn encode(&self) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_LENGTH);
        payload.extend_from_slice(self.id.as_bytes());
        payload.extend_from_slice(&self.secret);
        payload.extend_from_slice(&checksum(self.id.as_bytes(), &self.secret));
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(payload))
    }

    /// Parses the wire form and checks its checksum; `None` for anything else.
    #[must_use]
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() != ENCODED_LENGTH {
            return None;
        }
        let payload = URL_SAFE_NO_PAD.decode(input.strip_prefix(PREFIX)?).ok()?;
        let (id, rest) = payload.split_first_chunk::<16>()?;
        let (secret, sum) = rest.split_first_chunk::<32>()?;
        if sum != checksum(id, secret) {
            return None;
        }
        Some(Self {
            id: Uuid::from_bytes(*id),
            secret: *secret,
        })
    }
}

fn checksum(id: &[u8], secret: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(PREFIX)
        .chain_update(id)
        .chain_update(secret)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_typos_fail_fast() {
        let token = PersonalToken::generate();
        let encoded = token.encode();
        assert!(encoded.starts_with("pat_"));
        assert_eq!(encoded.len(), ENCODED_LENGTH);
        assert_eq!(PersonalToken::parse(&encoded), Some(token.clone()));
        let mut typo = encoded.clone().into_bytes();
        typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            PersonalToken::parse(std::str::from_utf8(&typo).unwrap()),
            None
        );
        for bad in [
            "",
            "pat_",
            "pat_abc",
            &encoded[..encoded.len() - 1],
            &encoded.replace("pat_", "tap_"),
        ] {
            assert_eq!(PersonalToken::parse(bad), None, "{bad:?}");
        }
        assert!(!format!("{token:?}").contains("secret"));
    }

    #[test]
    fn hashes_compare_by_value() {
        let token = PersonalToken::generate();
        assert!(token.secret_hash().matches(&token.secret_hash()));
        assert!(
            !token
                .secret_hash()
                .matches(&PersonalToken::generate().secret_hash())
        );
    }
}
