//! Signing keys for tokens, one line per [`SigningAlgorithm`] (Ed25519,
//! P-256, RSA), and the key ring that signs with the key of an algorithm
//! whose time has come and verifies with every key that is published or
//! whose tokens may still be live.
//!
//! Keys are generated here from the OS CSPRNG and persisted by the store;
//! the private half is PKCS#8 bytes, sealed under the key-encryption key
//! when one is configured ([`crate::key_encryption`]). The `kid` is the
//! RFC 7638 JWK thumbprint of the public key, so it is stable and derivable
//! by anyone holding the JWKS. What differs between the algorithms' keys is
//! in `key_pairs`.
//!
//! A key's life is in its times, so every instance agrees on it whatever
//! it last read: it is published from its creation, signs from
//! `active_from` (a rotation sets that a publication lead ahead, so that
//! verifiers that cache the JWKS already hold the key when tokens signed
//! by it arrive), and stops signing at `retiring_since`, when the next key
//! of its algorithm starts; it keeps verifying for a token lifetime after
//! that. Each algorithm's keys live this way side by side.

mod algorithm;
mod key_pairs;

use std::collections::HashMap;

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

pub use algorithm::{ID_TOKEN_SIGNING_ALGORITHMS, SigningAlgorithm, UnknownSigningAlgorithm};
pub use key_pairs::{JwkParameters, MalformedKey};

use key_pairs::KeyPair;

/// Where a key is in its life at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing from `from`.
    Next { from: OffsetDateTime },
    /// Signing (the newest key of its algorithm whose time has come).
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
    pub algorithm: SigningAlgorithm,
    /// When it was made, and published.
    pub created_at: OffsetDateTime,
    /// When it starts signing.
    pub active_from: OffsetDateTime,
    /// When the next key of its algorithm starts signing instead.
    pub retiring_since: Option<OffsetDateTime>,
    pub private_key: PrivateKey,
    /// The public half as JOSE libraries take it: Ed25519's 32 raw bytes,
    /// P-256's uncompressed SEC1 point, RSA's PKCS#1 `RSAPublicKey` DER.
    pub public_key: Vec<u8>,
}

/// A public key in JWK form (RFC 7517), as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    /// `kty` and the key's own members (`crv`, `x`, `y`, `n`, `e`).
    #[serde(flatten)]
    pub parameters: JwkParameters,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

impl SigningKey {
    /// Generates a fresh key of `algorithm` from the OS CSPRNG, made at
    /// `now` and signing from `active_from`. An RSA key takes tens of
    /// milliseconds: call it off the async runtime.
    ///
    /// # Panics
    /// When the operating system has no randomness to give, which leaves nothing safe to do.
    #[must_use]
    pub fn generate(
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
        active_from: OffsetDateTime,
    ) -> Self {
        let KeyPair {
            private_pkcs8,
            public_key,
        } = KeyPair::generate(algorithm);
        let kid = JwkParameters::of_public_key(algorithm, &public_key)
            .expect("a key made here is well formed")
            .thumbprint();
        Self {
            kid,
            algorithm,
            created_at: now,
            active_from,
            retiring_since: None,
            private_key: PrivateKey::Plain(private_pkcs8),
            public_key,
        }
    }

    /// The public key as a JWK.
    ///
    /// # Errors
    /// [`MalformedKey::Public`] when the stored public key is not one of its algorithm.
    pub fn public_jwk(&self) -> Result<PublicJwk, MalformedKey> {
        Ok(PublicJwk {
            parameters: JwkParameters::of_public_key(self.algorithm, &self.public_key)?,
            kid: self.kid.clone(),
            alg: self.algorithm.name(),
            key_use: "sig",
        })
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

/// The keys in use over a stretch of time: for each algorithm that has
/// keys, the ones that may sign, each from its time; and all those
/// published or still verifying.
pub struct KeyRing {
    /// Keys that sign now or will, newest `active_from` first.
    signers: Vec<Signer>,
    verifying_keys: HashMap<String, VerifyingKey>,
    jwks: Vec<PublicJwk>,
}

struct Signer {
    kid: String,
    algorithm: SigningAlgorithm,
    active_from: OffsetDateTime,
    retiring_since: Option<OffsetDateTime>,
    key: EncodingKey,
}

/// A key tokens are verified with, and the one algorithm it verifies.
pub struct VerifyingKey {
    pub algorithm: SigningAlgorithm,
    pub key: DecodingKey,
}

/// Why keys cannot make a ring.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("no {0} signing key is active")]
    NoActiveKey(SigningAlgorithm),
    /// A private key still sealed: it must be opened with the key-encryption key first.
    #[error("the private key of {0} is sealed")]
    Sealed(String),
    #[error("the signing key {kid}: {reason}")]
    Malformed { kid: String, reason: MalformedKey },
}

impl KeyRing {
    /// Builds the ring from stored keys, opened, with a key that signs at
    /// `now` for every algorithm that has keys (a line is made when first
    /// needed, see [`crate::key_loading`]); retiring keys stay for
    /// `token_lifetime` (access-token lifetime plus leeway) after they
    /// stopped signing.
    ///
    /// # Errors
    /// [`KeyRingError`] when an algorithm with live keys has none that signs
    /// at `now`, or a key is still sealed or malformed.
    pub fn new(
        keys: &[SigningKey],
        now: OffsetDateTime,
        token_lifetime: Duration,
    ) -> Result<Self, KeyRingError> {
        let live: Vec<&SigningKey> = keys
            .iter()
            .filter(|key| key.may_verify_at(now, token_lifetime))
            .collect();
        if let Some(missing) = SigningAlgorithm::ALL.into_iter().find(|algorithm| {
            let mut line = live.iter().filter(|key| key.algorithm == *algorithm);
            line.clone().next().is_some() && !line.any(|key| key.signs_at(now))
        }) {
            return Err(KeyRingError::NoActiveKey(missing));
        }
        let malformed = |key: &SigningKey, reason| KeyRingError::Malformed {
            kid: key.kid.clone(),
            reason,
        };
        let mut signers = Vec::new();
        let mut verifying_keys = HashMap::new();
        let mut jwks = Vec::new();
        for key in live {
            jwks.push(key.public_jwk().map_err(|reason| malformed(key, reason))?);
            verifying_keys.insert(
                key.kid.clone(),
                VerifyingKey {
                    algorithm: key.algorithm,
                    key: key_pairs::decoding_key(key.algorithm, &key.public_key),
                },
            );
            if key.retiring_since.is_some_and(|since| since <= now) {
                continue;
            }
            let PrivateKey::Plain(pkcs8) = &key.private_key else {
                return Err(KeyRingError::Sealed(key.kid.clone()));
            };
            signers.push(Signer {
                kid: key.kid.clone(),
                algorithm: key.algorithm,
                active_from: key.active_from,
                retiring_since: key.retiring_since,
                key: key_pairs::encoding_key(key.algorithm, pkcs8, &key.public_key)
                    .map_err(|reason| malformed(key, reason))?,
            });
        }
        signers.sort_by_key(|signer| std::cmp::Reverse(signer.active_from));
        Ok(Self {
            signers,
            verifying_keys,
            jwks,
        })
    }

    /// The key of `algorithm` that signs at `now`: the newest whose time has
    /// come and not gone; the newest whose time has come when none (a ring
    /// kept past the next rotation's end, until it is reloaded). `None` when
    /// the ring has no key of `algorithm`.
    #[must_use]
    pub fn signing(
        &self,
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
    ) -> Option<(&str, &EncodingKey)> {
        let mut line = self
            .signers
            .iter()
            .filter(|signer| signer.algorithm == algorithm);
        let signer = line
            .clone()
            .find(|signer| {
                signer.active_from <= now && signer.retiring_since.is_none_or(|since| since > now)
            })
            .or_else(|| line.clone().find(|signer| signer.active_from <= now))
            .or_else(|| line.next_back())?;
        Some((&signer.kid, &signer.key))
    }

    /// Whether the ring has a key of `algorithm` to sign with.
    #[must_use]
    pub fn signs_with(&self, algorithm: SigningAlgorithm) -> bool {
        self.signers
            .iter()
            .any(|signer| signer.algorithm == algorithm)
    }

    /// The published or still verifying key named `kid`.
    #[must_use]
    pub fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying_keys.get(kid)
    }

    #[must_use]
    pub fn jwks(&self) -> &[PublicJwk] {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    /// An ES256 and an RS256 key signing since the epoch, made once: what a
    /// ring needs besides the Ed25519 keys a test is about.
    fn other_lines() -> Vec<SigningKey> {
        static KEYS: LazyLock<Vec<SigningKey>> = LazyLock::new(|| {
            let epoch = OffsetDateTime::UNIX_EPOCH;
            [SigningAlgorithm::ES256, SigningAlgorithm::RS256]
                .map(|algorithm| SigningKey::generate(algorithm, epoch, epoch))
                .to_vec()
        });
        KEYS.clone()
    }

    fn ed25519(created_at: OffsetDateTime, active_from: OffsetDateTime) -> SigningKey {
        SigningKey::generate(SigningAlgorithm::EdDSA, created_at, active_from)
    }

    fn with_other_lines(keys: &[SigningKey]) -> Vec<SigningKey> {
        keys.iter().cloned().chain(other_lines()).collect()
    }

    #[test]
    fn generated_keys_are_distinct_thumbprinted_and_redacted() {
        let now = OffsetDateTime::now_utc();
        for algorithm in SigningAlgorithm::ALL {
            let (a, b) = (
                SigningKey::generate(algorithm, now, now),
                SigningKey::generate(algorithm, now, now),
            );
            assert_eq!(a.algorithm, algorithm);
            assert_ne!(a.kid, b.kid);
            assert_eq!(a.kid.len(), 43);
            let jwk = a.public_jwk().unwrap();
            assert_eq!(
                a.kid,
                jwk.parameters.thumbprint(),
                "{algorithm}: kid is the thumbprint"
            );
            assert_eq!(jwk.alg, algorithm.name());
            let pkcs8 = a.pkcs8().unwrap();
            assert_eq!(pkcs8[0], 0x30, "{algorithm}: PKCS#8 is a DER SEQUENCE");
            let shown = format!("{a:?}");
            assert!(shown.contains("[redacted]"), "{shown}");
            assert!(
                !shown.contains(&format!("{:?}", &pkcs8[pkcs8.len() - 8..])),
                "{algorithm}: Debug shows the private key"
            );
        }
        let ed25519 = SigningKey::generate(SigningAlgorithm::EdDSA, now, now);
        assert!(
            ed25519
                .pkcs8()
                .unwrap()
                .starts_with(&key_pairs::PKCS8_ED25519_PREFIX)
        );
        assert_eq!(ed25519.pkcs8().unwrap().len(), 48);
    }

    #[test]
    fn the_jwks_holds_each_key_type_with_its_members() {
        let now = OffsetDateTime::now_utc();
        let ring = KeyRing::new(
            &with_other_lines(&[ed25519(now, now)]),
            now,
            Duration::minutes(16),
        )
        .unwrap();
        let jwks: Vec<serde_json::Value> = ring
            .jwks()
            .iter()
            .map(|jwk| serde_json::to_value(jwk).unwrap())
            .collect();
        let members = |jwk: &serde_json::Value| {
            let mut names: Vec<String> = jwk.as_object().unwrap().keys().cloned().collect();
            names.sort();
            names
        };
        let by_kty = |kty: &str| {
            jwks.iter()
                .find(|jwk| jwk["kty"] == kty)
                .unwrap_or_else(|| panic!("no {kty} key in {jwks:?}"))
        };
        assert_eq!(jwks.len(), 3);
        let okp = by_kty("OKP");
        assert_eq!(members(okp), ["alg", "crv", "kid", "kty", "use", "x"]);
        assert_eq!(
            (&okp["crv"], &okp["alg"]),
            (&"Ed25519".into(), &"EdDSA".into())
        );
        let ec = by_kty("EC");
        assert_eq!(members(ec), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!((&ec["crv"], &ec["alg"]), (&"P-256".into(), &"ES256".into()));
        let rsa = by_kty("RSA");
        assert_eq!(members(rsa), ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(rsa["alg"], "RS256");
        assert!(jwks.iter().all(|jwk| jwk["use"] == "sig"));
        for algorithm in SigningAlgorithm::ALL {
            let (kid, _) = ring.signing(algorithm, now).unwrap();
            assert_eq!(ring.verifying_key(kid).unwrap().algorithm, algorithm);
        }
    }

    #[test]
    fn retiring_keys_stay_until_their_tokens_expire() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(15);
        let new = ed25519(now - Duration::hours(1), now - Duration::minutes(5));
        let recent = SigningKey {
            retiring_since: Some(now - Duration::minutes(5)),
            ..ed25519(now - Duration::days(1), now - Duration::days(1))
        };
        let old = SigningKey {
            retiring_since: Some(now - Duration::days(1)),
            ..ed25519(now - Duration::days(2), now - Duration::days(2))
        };
        let ring = KeyRing::new(
            &with_other_lines(&[old.clone(), recent.clone(), new.clone()]),
            now,
            lifetime,
        )
        .unwrap();
        assert_eq!(
            ring.signing(SigningAlgorithm::EdDSA, now).unwrap().0,
            new.kid
        );
        assert!(ring.verifying_key(&recent.kid).is_some());
        assert!(ring.verifying_key(&old.kid).is_none());
        assert_eq!(ring.jwks().len(), 4);
        let expired = KeyRing::new(&with_other_lines(&[old]), now, lifetime).unwrap();
        assert!(
            !expired.signs_with(SigningAlgorithm::EdDSA),
            "a key whose tokens have all expired is gone"
        );
    }

    #[test]
    fn each_algorithm_with_keys_needs_one_that_signs_and_others_may_be_absent() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(16);
        let all = with_other_lines(&[ed25519(now, now)]);
        for algorithm in SigningAlgorithm::ALL {
            let without: Vec<SigningKey> = all
                .iter()
                .filter(|key| key.algorithm != algorithm)
                .cloned()
                .collect();
            let ring = KeyRing::new(&without, now, lifetime).unwrap();
            assert!(!ring.signs_with(algorithm), "{algorithm}");
            assert!(ring.signing(algorithm, now).is_none(), "{algorithm}");
            assert_eq!(ring.jwks().len(), 2);

            let retired: Vec<SigningKey> = all
                .iter()
                .cloned()
                .map(|key| SigningKey {
                    retiring_since: (key.algorithm == algorithm)
                        .then(|| now - Duration::minutes(1)),
                    ..key
                })
                .collect();
            assert!(
                matches!(
                    KeyRing::new(&retired, now, lifetime),
                    Err(KeyRingError::NoActiveKey(missing)) if missing == algorithm
                ),
                "{algorithm}: keys that no longer sign, none that does"
            );
        }
        let ring = KeyRing::new(&all, now, lifetime).unwrap();
        assert!(
            SigningAlgorithm::ALL
                .into_iter()
                .all(|algorithm| ring.signs_with(algorithm))
        );
    }

    #[test]
    fn the_next_key_is_published_before_it_signs_and_signs_on_time() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(15);
        let lead = Duration::minutes(10);
        let next = ed25519(now, now + lead);
        let current = SigningKey {
            retiring_since: Some(now + lead),
            ..ed25519(now - Duration::days(1), now - Duration::days(1))
        };
        assert_eq!(next.state_at(now), KeyState::Next { from: now + lead });
        assert_eq!(current.state_at(now), KeyState::Active);
        let ring = KeyRing::new(
            &with_other_lines(&[current.clone(), next.clone()]),
            now,
            lifetime,
        )
        .unwrap();
        assert_eq!(ring.jwks().len(), 4, "both published");
        assert_eq!(
            ring.signing(SigningAlgorithm::EdDSA, now).unwrap().0,
            current.kid
        );
        assert_eq!(
            ring.signing(SigningAlgorithm::EdDSA, now + lead).unwrap().0,
            next.kid,
            "on time, without a reload"
        );
        assert_eq!(
            current.state_at(now + lead),
            KeyState::Retiring { since: now + lead }
        );
        let other = other_lines();
        assert_eq!(
            ring.signing(SigningAlgorithm::RS256, now + lead).unwrap().0,
            other[1].kid,
            "another algorithm's line is its own"
        );
    }

    #[test]
    fn sealed_and_malformed_keys_make_no_ring() {
        let now = OffsetDateTime::now_utc();
        let lifetime = Duration::minutes(16);
        let sealed = SigningKey {
            private_key: PrivateKey::Sealed(vec![1, 2, 3]),
            ..ed25519(now, now)
        };
        assert!(matches!(
            KeyRing::new(&with_other_lines(&[sealed]), now, lifetime),
            Err(KeyRingError::Sealed(_))
        ));
        let stranger = ed25519(now, now);
        let mismatched = SigningKey {
            private_key: stranger.private_key,
            ..ed25519(now, now)
        };
        assert!(matches!(
            KeyRing::new(&with_other_lines(&[mismatched]), now, lifetime),
            Err(KeyRingError::Malformed {
                reason: MalformedKey::Private,
                ..
            })
        ));
        let short = SigningKey {
            public_key: vec![7; 20],
            ..ed25519(now, now)
        };
        assert!(matches!(
            KeyRing::new(&with_other_lines(&[short]), now, lifetime),
            Err(KeyRingError::Malformed {
                reason: MalformedKey::Public,
                ..
            })
        ));
    }
}
