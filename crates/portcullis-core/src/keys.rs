//! Ed25519 signing keys for access tokens, and the key ring that signs with
//! the active key and verifies with every key whose tokens may still be live.
//!
//! Keys are generated here from the OS CSPRNG and persisted by the store; the
//! private half never leaves this module except as PKCS#8 bytes for storage.
//! The `kid` is the RFC 7638 JWK thumbprint of the public key, so it is
//! stable and derivable by anyone holding the JWKS.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

/// The RFC 8410 PKCS#8 v1 prefix for an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The only algorithm Portcullis signs with.
pub const ALGORITHM: &str = "EdDSA";

/// Whether a key signs new tokens or only verifies the ones it already signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Retiring { since: OffsetDateTime },
}

/// A signing key as stored.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub created_at: OffsetDateTime,
    pub state: KeyState,
    pub private_pkcs8: Vec<u8>,
    pub public_key: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A public key in JWK form (RFC 8037), as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

impl SigningKey {
    /// Generates a fresh key from the OS CSPRNG.
    ///
    /// # Panics
    /// When the operating system has no randomness to give, which leaves nothing safe to do.
    #[must_use]
    pub fn generate(now: OffsetDateTime) -> Self {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).expect("the OS CSPRNG is unavailable");
        let public_key = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let mut private_pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
        private_pkcs8.extend_from_slice(&seed);
        Self {
            kid: thumbprint(&public_key),
            created_at: now,
            state: KeyState::Active,
            private_pkcs8,
            public_key,
        }
    }

    #[must_use]
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(self.public_key),
            kid: self.kid.clone(),
            alg: ALGORITHM,
            key_use: "sig",
        }
    }

    /// Whether tokens signed by this key may still be unexpired at `now`.
    fn may_have_live_tokens(&self, now: OffsetDateTime, token_lifetime: Duration) -> bool {
        match self.state {
            KeyState::Active => true,
            KeyState::Retiring { since } => since + token_lifetime > now,
        }
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key.
fn thumbprint(public_key: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The keys in use at one moment: one to sign with, all live ones to verify with.
pub struct KeyRing {
    signing_kid: String,
    signing_key: EncodingKey,
    verifying_keys: HashMap<String, DecodingKey>,
    jwks: Vec<PublicJwk>,
}

/// The stored keys include no active key.
#[derive(Debug, thiserror::Error)]
#[error("no active signing key")]
pub struct NoActiveKey;

impl KeyRing {
    /// Builds the ring from stored keys; retiring keys stay for `token_lifetime`
    /// (access-token lifetime plus leeway) after they stopped signing.
    ///
    /// # Errors
    /// [`NoActiveKey`] when none of `keys` is active.
    pub fn new(
        keys: &[SigningKey],
        now: OffsetDateTime,
        token_lifetime: Duration,
    ) -> Result<Self, NoActiveKey> {
        let active = keys
            .iter()
            .filter(|key| key.state == KeyState::Active)
            .max_by_key(|key| key.created_at)
            .ok_or(NoActiveKey)?;
        let live: Vec<&SigningKey> = keys
            .iter()
            .filter(|key| key.may_have_live_tokens(now, token_lifetime))
            .collect();
        Ok(Self {
            signing_kid: active.kid.clone(),
            signing_key: EncodingKey::from_ed_der(&active.private_pkcs8),
            verifying_keys: live
                .iter()
                .map(|key| (key.kid.clone(), DecodingKey::from_ed_der(&key.public_key)))
                .collect(),
            jwks: live.iter().map(|key| key.public_jwk()).collect(),
        })
    }

    #[must_use]
    pub fn signing(&self) -> (&str, &EncodingKey) {
        (&self.signing_kid, &self.signing_key)
    }

    #[must_use]
    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying_keys.get(kid)
    }

    #[must_use]
    pub fn jwks(&self) -> &[PublicJwk] {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_thumbprinted() {
        let now = OffsetDateTime::now_utc();
        let (a, b) = (SigningKey::generate(now), SigningKey::generate(now));
        assert_ne!(a.kid, b.kid);
        assert_eq!(a.kid.len(), 43);
        assert_eq!(a.private_pkcs8.len(), 48);
        assert!(!format!("{a:?}").contains("private"));
    }

    #[test]
    fn retiring_keys_stay_until_their_tokens_expire() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(15);
        let new = SigningKey::generate(now);
        let mut recent = SigningKey::generate(now - Duration::hours(1));
        recent.state = KeyState::Retiring {
            since: now - Duration::minutes(5),
        };
        let mut old = SigningKey::generate(now - Duration::days(2));
        old.state = KeyState::Retiring {
            since: now - Duration::days(1),
        };
        let ring =
            KeyRing::new(&[old.clone(), recent.clone(), new.clone()], now, lifetime).unwrap();
        assert_eq!(ring.signing().0, new.kid);
        assert!(ring.verifying_key(&recent.kid).is_some());
        assert!(ring.verifying_key(&old.kid).is_none());
        assert_eq!(ring.jwks().len(), 2);
        assert!(KeyRing::new(&[old], now, lifetime).is_err());
    }
}
