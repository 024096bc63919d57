//! The key material of each algorithm: a fresh key pair from the OS CSPRNG,
//! the forms it is stored in, the public key as a JWK (RFC 7518 §6, RFC
//! 8037 §2) with its RFC 7638 thumbprint, and the keys `jsonwebtoken` signs
//! and verifies with.
//!
//! The private half is always PKCS#8 (RFC 5958). The public half is kept
//! as JOSE libraries take it: Ed25519's 32 raw bytes, P-256's uncompressed
//! SEC1 point (65 bytes), RSA's PKCS#1 `RSAPublicKey` DER. JWKs are built
//! here from the public half, never by `jsonwebtoken` (its
//! `Jwk::from_encoding_key` refuses ed25519-dalek 3's PKCS#8 v2 keys), and
//! a private half is checked against its public half before it signs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::pkcs1::{DecodeRsaPublicKey as _, EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::keys::SigningAlgorithm;

/// The RFC 8410 PKCS#8 v1 prefix for an Ed25519 private key; the 32-byte seed follows.
pub(crate) const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The size of the RSA keys made here.
const RSA_MODULUS_BITS: usize = 2048;

/// The public parameters of a JWK, by key type (`kty`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kty")]
pub enum JwkParameters {
    /// An octet key pair (RFC 8037): Ed25519.
    #[serde(rename = "OKP")]
    Okp { crv: &'static str, x: String },
    /// An elliptic-curve key (RFC 7518 §6.2): P-256.
    #[serde(rename = "EC")]
    Ec {
        crv: &'static str,
        x: String,
        y: String,
    },
    /// An RSA key (RFC 7518 §6.3): modulus and exponent.
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
}

/// Key bytes that are not a key of the algorithm they are stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("its public key is malformed")]
    Public,
    #[error("its private key is malformed or does not match its public key")]
    Private,
}

/// A new key pair: the private half as PKCS#8, the public half as stored.
pub(crate) struct KeyPair {
    pub(crate) private_pkcs8: Vec<u8>,
    pub(crate) public_key: Vec<u8>,
}

impl KeyPair {
    /// A fresh key pair of `algorithm` from the OS CSPRNG. RSA takes tens of
    /// milliseconds (optimised); the others well under one.
    ///
    /// # Panics
    /// When the operating system has no randomness to give, which leaves nothing safe to do.
    pub(crate) fn generate(algorithm: SigningAlgorithm) -> Self {
        const NO_RANDOMNESS: &str = "the OS CSPRNG is unavailable";
        match algorithm {
            SigningAlgorithm::EdDSA => {
                let mut seed = [0u8; 32];
                getrandom::getrandom(&mut seed).expect(NO_RANDOMNESS);
                let public_key = ed25519_dalek::SigningKey::from_bytes(&seed)
                    .verifying_key()
                    .to_bytes()
                    .to_vec();
                let mut private_pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
                private_pkcs8.extend_from_slice(&seed);
                Self {
                    private_pkcs8,
                    public_key,
                }
            }
            SigningAlgorithm::ES256 => {
                let key =
                    <p256::ecdsa::SigningKey as p256::elliptic_curve::Generate>::try_generate()
                        .expect(NO_RANDOMNESS);
                Self {
                    private_pkcs8: key
                        .to_pkcs8_der()
                        .expect("a P-256 key encodes as PKCS#8")
                        .as_bytes()
                        .to_vec(),
                    public_key: key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
                }
            }
            SigningAlgorithm::RS256 => {
                let key = rsa::PrivateKey::new(&mut getrandom_sys_rng::SysRng, RSA_MODULUS_BITS)
                    .expect(NO_RANDOMNESS);
                Self {
                    private_pkcs8: key
                        .to_pkcs8_der()
                        .expect("an RSA key encodes as PKCS#8")
                        .as_bytes()
                        .to_vec(),
                    public_key: key
                        .to_public_key()
                        .to_pkcs1_der()
                        .expect("an RSA public key encodes as PKCS#1")
                        .into_vec(),
                }
            }
        }
    }
}

impl JwkParameters {
    /// The parameters of a stored public key of `algorithm`.
    ///
    /// # Errors
    /// [`MalformedKey::Public`] when the bytes are not such a key.
    pub fn of_public_key(
        algorithm: SigningAlgorithm,
        public_key: &[u8],
    ) -> Result<Self, MalformedKey> {
        match algorithm {
            SigningAlgorithm::EdDSA => {
                if public_key.len() != 32 {
                    return Err(MalformedKey::Public);
                }
                Ok(Self::Okp {
                    crv: "Ed25519",
                    x: URL_SAFE_NO_PAD.encode(public_key),
                })
            }
            SigningAlgorithm::ES256 => {
                // Uncompressed (0x04, x, y) and on the curve.
                let (x, y) = match public_key {
                    [0x04, point @ ..] if point.len() == 64 => point.split_at(32),
                    _ => return Err(MalformedKey::Public),
                };
                p256::PublicKey::from_sec1_bytes(public_key).map_err(|_| MalformedKey::Public)?;
                Ok(Self::Ec {
                    crv: "P-256",
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                })
            }
            SigningAlgorithm::RS256 => {
                let key =
                    rsa::PublicKey::from_pkcs1_der(public_key).map_err(|_| MalformedKey::Public)?;
                Ok(Self::Rsa {
                    n: URL_SAFE_NO_PAD.encode(key.n_bytes()),
                    e: URL_SAFE_NO_PAD.encode(key.e_bytes()),
                })
            }
        }
    }

    /// The key type, as the JWK's `kty` names it.
    #[must_use]
    pub fn kty(&self) -> &'static str {
        match self {
            Self::Okp { .. } => "OKP",
            Self::Ec { .. } => "EC",
            Self::Rsa { .. } => "RSA",
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in
    /// lexicographic order with no whitespace, in base64url. (Base64url text
    /// needs no JSON escaping.)
    #[must_use]
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Okp { crv, x } => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
            Self::Ec { crv, x, y } => {
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Self::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The key `jsonwebtoken` signs with, from the PKCS#8 private half, once it
/// is checked to belong to `public_key`.
pub(crate) fn encoding_key(
    algorithm: SigningAlgorithm,
    private_pkcs8: &[u8],
    public_key: &[u8],
) -> Result<EncodingKey, MalformedKey> {
    match algorithm {
        SigningAlgorithm::EdDSA => {
            let seed: [u8; 32] = private_pkcs8
                .strip_prefix(&PKCS8_ED25519_PREFIX)
                .and_then(|seed| seed.try_into().ok())
                .ok_or(MalformedKey::Private)?;
            let derived = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            if derived.as_slice() != public_key {
                return Err(MalformedKey::Private);
            }
            Ok(EncodingKey::from_ed_der(private_pkcs8))
        }
        SigningAlgorithm::ES256 => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(private_pkcs8)
                .map_err(|_| MalformedKey::Private)?;
            if key.verifying_key().to_sec1_point(false).as_bytes() != public_key {
                return Err(MalformedKey::Private);
            }
            Ok(EncodingKey::from_ec_der(private_pkcs8))
        }
        SigningAlgorithm::RS256 => {
            let key = rsa::PrivateKey::from_pkcs8_der(private_pkcs8)
                .map_err(|_| MalformedKey::Private)?;
            let derived = key
                .to_public_key()
                .to_pkcs1_der()
                .map_err(|_| MalformedKey::Private)?;
            if derived.as_bytes() != public_key {
                return Err(MalformedKey::Private);
            }
            // jsonwebtoken signs RSA with PKCS#1 `RSAPrivateKey` DER.
            let pkcs1 = key.to_pkcs1_der().map_err(|_| MalformedKey::Private)?;
            Ok(EncodingKey::from_rsa_der(pkcs1.as_bytes()))
        }
    }
}

/// The key `jsonwebtoken` verifies with, from a public half that
/// [`JwkParameters::of_public_key`] accepted.
pub(crate) fn decoding_key(algorithm: SigningAlgorithm, public_key: &[u8]) -> DecodingKey {
    match algorithm {
        SigningAlgorithm::EdDSA => DecodingKey::from_ed_der(public_key),
        SigningAlgorithm::ES256 => DecodingKey::from_ec_der(public_key),
        SigningAlgorithm::RS256 => DecodingKey::from_rsa_der(public_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_thumbprint(parameters: &JwkParameters, expected: &str) {
        assert_eq!(parameters.thumbprint(), expected, "{parameters:?}");
    }

    #[test]
    fn thumbprints_match_known_vectors() {
        // RFC 7638 §3.1.
        check_thumbprint(
            &JwkParameters::Rsa {
                n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
                e: "AQAB".into(),
            },
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
        );
        // RFC 8037 Appendix A.3.
        let ed25519 = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        check_thumbprint(
            &JwkParameters::of_public_key(SigningAlgorithm::EdDSA, &ed25519).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        );
        // The P-256 key of RFC 7517 Appendix A.1 (no RFC gives its
        // thumbprint: computed with Python's hashlib and json, sort_keys).
        let mut point = vec![0x04];
        point.extend(
            URL_SAFE_NO_PAD
                .decode("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4")
                .unwrap(),
        );
        point.extend(
            URL_SAFE_NO_PAD
                .decode("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
                .unwrap(),
        );
        check_thumbprint(
            &JwkParameters::of_public_key(SigningAlgorithm::ES256, &point).unwrap(),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s",
        );
    }

    #[test]
    fn each_algorithm_makes_a_key_pair_that_signs_and_verifies() {
        for algorithm in SigningAlgorithm::ALL {
            let pair = KeyPair::generate(algorithm);
            let parameters = JwkParameters::of_public_key(algorithm, &pair.public_key).unwrap();
            match (&parameters, algorithm) {
                (JwkParameters::Okp { crv: "Ed25519", .. }, SigningAlgorithm::EdDSA)
                | (JwkParameters::Ec { crv: "P-256", .. }, SigningAlgorithm::ES256) => {}
                (JwkParameters::Rsa { n, e }, SigningAlgorithm::RS256) => {
                    assert_eq!(URL_SAFE_NO_PAD.decode(n).unwrap().len(), 256, "2048 bits");
                    assert_eq!(e, "AQAB");
                }
                other => panic!("{other:?}"),
            }
            let signing = encoding_key(algorithm, &pair.private_pkcs8, &pair.public_key).unwrap();
            let message = b"header.payload";
            let signature = jsonwebtoken::crypto::sign(message, &signing, algorithm.jwt()).unwrap();
            let verifying = decoding_key(algorithm, &pair.public_key);
            assert!(
                jsonwebtoken::crypto::verify(&signature, message, &verifying, algorithm.jwt())
                    .unwrap(),
                "{algorithm}"
            );
            assert!(
                !jsonwebtoken::crypto::verify(
                    &signature,
                    b"header.other",
                    &verifying,
                    algorithm.jwt()
                )
                .unwrap_or(false),
                "{algorithm}: another message"
            );
        }
    }

    #[test]
    fn keys_that_do_not_fit_their_algorithm_are_refused() {
        let pairs =
            SigningAlgorithm::ALL.map(|algorithm| (algorithm, KeyPair::generate(algorithm)));
        for (algorithm, pair) in &pairs {
            for (other, other_pair) in &pairs {
                if other != algorithm {
                    assert_eq!(
                        JwkParameters::of_public_key(*algorithm, &other_pair.public_key),
                        Err(MalformedKey::Public),
                        "a {other} public key as {algorithm}"
                    );
                    assert!(
                        encoding_key(*algorithm, &other_pair.private_pkcs8, &pair.public_key)
                            .is_err(),
                        "a {other} private key as {algorithm}"
                    );
                }
            }
            let stranger = KeyPair::generate(*algorithm);
            assert!(
                encoding_key(*algorithm, &stranger.private_pkcs8, &pair.public_key).is_err(),
                "{algorithm}: another key's private half"
            );
        }
        let mut off_curve = vec![0x04];
        off_curve.extend([1u8; 64]);
        assert_eq!(
            JwkParameters::of_public_key(SigningAlgorithm::ES256, &off_curve),
            Err(MalformedKey::Public)
        );
        assert_eq!(
            JwkParameters::of_public_key(SigningAlgorithm::EdDSA, &[7; 31]),
            Err(MalformedKey::Public)
        );
    }
}
