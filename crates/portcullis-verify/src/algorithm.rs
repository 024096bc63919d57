//! The algorithms a Portcullis server may sign access tokens with (its
//! `--access-token-alg`), named as JOSE names them.
//!
//! A verifier expects exactly one: a token whose header names another, or
//! `none`, or an HMAC algorithm, is refused before any key is looked at, and
//! a token is checked only with a key of the expected algorithm (a JWK's
//! `kty` and `crv` say which: `OKP`/`Ed25519`, `EC`/`P-256`, `RSA`).

use std::fmt;

/// A JWS algorithm Portcullis signs access tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlgorithm {
    /// Ed25519 (RFC 8037): the server's default.
    #[default]
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    pub(crate) const fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
