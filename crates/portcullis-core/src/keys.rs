//! Ed25519 signing keys for access tokens, and the key ring that signs with
//! the key whose time has come and verifies with every key that is
//! published or whose tokens may still be live.
//!
//! Keys are generated here from the OS CSPRNG and persisted by the store;
//! the private half is PKCS#8 bytes, sealed under the key-encryption key
//! when one is configured ([`crate::key_encryption`]). The `kid` is the
//! RFC 7638 JWK thumbprint of the public key, so it is stable and derivable
//! by anyone holding the JWKS.
//!
//! A key's life is in its times, so every instance agrees on it whatever
//! it last read: it is published from its creation, signs from
//! `active_from` (a rotation sets that a publication lead ahead, so that
//! verifiers that cache the JWKS already hold the key when tokens signed
//! by it arrive), and stops signing at `retiring_since`, when the next key
//! starts; it keeps verifying for a token lifetime after that.

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

/// STUB
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    EdDSA,
    ES256,
    RS256,
}
impl std::str::FromStr for SigningAlgorithm {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "EdDSA" => Ok(Self::EdDSA),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            _ => Err(()),
        }
    }
}

/// The only algorithm Portcullis signs with.
pub const ALGORITHM: &str = "EdDSA";

/// Where a key is in its life at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing from `from`.
    Next { from: OffsetDateTime },
    /// Signing (the newest key whose time has come).
    Active,
    /// No longer signing since `since`; verifying what it signed.
    Retiring { since: OffsetDateTime },
}

/// The private half of a key as it is kept: PKCS#8 in the clear, or
/// sealed under the key-encryption key. Neither is ever shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum PrivateKey {
    Plain(Vec<u8>),
    Sealed(Vec<u8>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "PrivateKey::Plain([redacted])",
            Self::Sealed(_) => "PrivateKey::Sealed([redacted])",
        })
    }
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    /// When it was made, and published.
    pub created_at: OffsetDateTime,
    /// When it starts signing.
    pub active_from: OffsetDateTime,
    /// When the next key starts signing instead.
    pub retiring_since: Option<OffsetDateTime>,
    pub private_key: PrivateKey,
    pub public_key: [u8; 32],
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
    /// Generates a fresh key from the OS CSPRNG, made at `now` and signing
    /// from `active_from`.
    ///
    /// # Panics
    /// When the operating system has no randomness to give, which leaves nothing safe to do.
    #[must_use]
    pub fn generate(now: OffsetDateTime, active_from: OffsetDateTime) -> Self {
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
            active_from,
            retiring_since: None,
            private_key: PrivateKey::Plain(private_pkcs8),
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

    /// The private half as PKCS#8, when it is not sealed.
    #[must_use]
    pub fn pkcs8(&self) -> Option<&[u8]> {
        match &self.private_key {
            PrivateKey::Plain(pkcs8) => Some(pkcs8),
            PrivateKey::Sealed(_) => None,
        }
    }

    /// Where the key is in its life at `now`.
    #[must_use]
    pub fn state_at(&self, now: OffsetDateTime) -> KeyState {
        match self.retiring_since {
            Some(since) if since <= now => KeyState::Retiring { since },
            _ if self.active_from > now => KeyState::Next {
                from: self.active_from,
            },
            _ => KeyState::Active,
        }
    }

    /// Whether the key signs at `now`.
    fn signs_at(&self, now: OffsetDateTime) -> bool {
        self.state_at(now) == KeyState::Active
    }

    /// Whether tokens signed by this key may still be unexpired at `now`
    /// (or it is about to sign).
    fn may_verify_at(&self, now: OffsetDateTime, token_lifetime: Duration) -> bool {
        self.retiring_since
            .is_none_or(|since| since + token_lifetime > now)
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

/// The keys in use over a stretch of time: the ones that may sign, each
/// from its time, and all those published or still verifying.
pub struct KeyRing {
    /// Keys that sign now or will, newest `active_from` first.
    signers: Vec<Signer>,
    verifying_keys: HashMap<String, DecodingKey>,
    jwks: Vec<PublicJwk>,
}

struct Signer {
    kid: String,
    active_from: OffsetDateTime,
    retiring_since: Option<OffsetDateTime>,
    key: EncodingKey,
}

/// Why keys cannot make a ring.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("no signing key is active")]
    NoActiveKey,
    /// A private key still sealed: it must be opened with the key-encryption key first.
    #[error("the private key of {0} is sealed")]
    Sealed(String),
}

impl KeyRing {
    /// Builds the ring from stored keys, opened; retiring keys stay for
    /// `token_lifetime` (access-token lifetime plus leeway) after they
    /// stopped signing.
    ///
    /// # Errors
    /// [`KeyRingError`] when no key signs at `now` or a key is still sealed.
    pub fn new(
        keys: &[SigningKey],
        now: OffsetDateTime,
        token_lifetime: Duration,
    ) -> Result<Self, KeyRingError> {
        let live: Vec<&SigningKey> = keys
            .iter()
            .filter(|key| key.may_verify_at(now, token_lifetime))
            .collect();
        let mut signers = Vec::new();
        for key in &live {
            if key.retiring_since.is_some_and(|since| since <= now) {
                continue;
            }
            let PrivateKey::Plain(pkcs8) = &key.private_key else {
                return Err(KeyRingError::Sealed(key.kid.clone()));
            };
            signers.push(Signer {
                kid: key.kid.clone(),
                active_from: key.active_from,
                retiring_since: key.retiring_since,
                key: EncodingKey::from_ed_der(pkcs8),
            });
        }
        signers.sort_by_key(|signer| std::cmp::Reverse(signer.active_from));
        if !live.iter().any(|key| key.signs_at(now)) {
            return Err(KeyRingError::NoActiveKey);
        }
        Ok(Self {
            signers,
            verifying_keys: live
                .iter()
                .map(|key| (key.kid.clone(), DecodingKey::from_ed_der(&key.public_key)))
                .collect(),
            jwks: live.iter().map(|key| key.public_jwk()).collect(),
        })
    }

    /// The key that signs at `now`: the newest whose time has come and not
    /// gone; the newest whose time has come when none (a ring kept past
    /// the next rotation's end, until it is reloaded).
    ///
    /// # Panics
    /// Never: a ring is only built with a key that signs.
    #[must_use]
    pub fn signing(&self, now: OffsetDateTime) -> (&str, &EncodingKey) {
        let signer = self
            .signers
            .iter()
            .find(|signer| {
                signer.active_from <= now && signer.retiring_since.is_none_or(|since| since > now)
            })
            .or_else(|| self.signers.iter().find(|signer| signer.active_from <= now))
            .or_else(|| self.signers.last())
            .expect("a ring is built with a key that signs");
        (&signer.kid, &signer.key)
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
        let (a, b) = (
            SigningKey::generate(now, now),
            SigningKey::generate(now, now),
        );
        assert_ne!(a.kid, b.kid);
        assert_eq!(a.kid.len(), 43);
        assert!(matches!(&a.private_key, PrivateKey::Plain(pkcs8) if pkcs8.len() == 48));
        assert!(!format!("{a:?}").contains(&format!("{:?}", &PKCS8_ED25519_PREFIX[..4])));
        assert!(format!("{a:?}").contains("[redacted]"));
    }

    #[test]
    fn retiring_keys_stay_until_their_tokens_expire() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(15);
        let new = SigningKey::generate(now - Duration::hours(1), now - Duration::minutes(5));
        let recent = SigningKey {
            retiring_since: Some(now - Duration::minutes(5)),
            ..SigningKey::generate(now - Duration::days(1), now - Duration::days(1))
        };
        let old = SigningKey {
            retiring_since: Some(now - Duration::days(1)),
            ..SigningKey::generate(now - Duration::days(2), now - Duration::days(2))
        };
        let ring =
            KeyRing::new(&[old.clone(), recent.clone(), new.clone()], now, lifetime).unwrap();
        assert_eq!(ring.signing(now).0, new.kid);
        assert!(ring.verifying_key(&recent.kid).is_some());
        assert!(ring.verifying_key(&old.kid).is_none());
        assert_eq!(ring.jwks().len(), 2);
        assert!(matches!(
            KeyRing::new(&[old], now, lifetime),
            Err(KeyRingError::NoActiveKey)
        ));
    }

    #[test]
    fn the_next_key_is_published_before_it_signs_and_signs_on_time() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(15);
        let lead = Duration::minutes(10);
        let next = SigningKey::generate(now, now + lead);
        let current = SigningKey {
            retiring_since: Some(now + lead),
            ..SigningKey::generate(now - Duration::days(1), now - Duration::days(1))
        };
        assert_eq!(next.state_at(now), KeyState::Next { from: now + lead });
        assert_eq!(current.state_at(now), KeyState::Active);
        let ring = KeyRing::new(&[current.clone(), next.clone()], now, lifetime).unwrap();
        assert_eq!(ring.jwks().len(), 2, "both published");
        assert_eq!(ring.signing(now).0, current.kid);
        assert_eq!(
            ring.signing(now + lead).0,
            next.kid,
            "on time, without a reload"
        );
        assert_eq!(
            current.state_at(now + lead),
            KeyState::Retiring { since: now + lead }
        );
    }

    #[test]
    fn a_sealed_key_makes_no_ring() {
        let now = OffsetDateTime::now_utc();
        let sealed = SigningKey {
            private_key: PrivateKey::Sealed(vec![1, 2, 3]),
            ..SigningKey::generate(now, now)
        };
        assert!(matches!(
            KeyRing::new(&[sealed], now, Duration::minutes(16)),
            Err(KeyRingError::Sealed(_))
        ));
    }
}
