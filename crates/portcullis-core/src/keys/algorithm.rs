//! The algorithms Portcullis signs with, named as JOSE names them (RFC 7518
//! §3.1, RFC 8037 §3.1): one key line each in the ring.
//!
//! Which tokens use which is the settings' choice (access tokens) or the
//! caller's (id tokens, among [`ID_TOKEN_SIGNING_ALGORITHMS`]); a token is
//! only ever verified against the algorithm it must have, never the one its
//! header names.

use std::fmt;
use std::str::FromStr;

/// A JWS signing algorithm and the kind of key it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlgorithm {
    /// Ed25519 (RFC 8037): the default for access tokens.
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, on 2048-bit keys: what every OpenID
    /// Connect relying party must accept.
    RS256,
}

/// The algorithms an id token may be signed with, the default first.
pub const ID_TOKEN_SIGNING_ALGORITHMS: [SigningAlgorithm; 2] =
    [SigningAlgorithm::RS256, SigningAlgorithm::EdDSA];

/// A name that is not one of [`SigningAlgorithm`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signing algorithm: EdDSA, ES256 or RS256")]
pub struct UnknownSigningAlgorithm(pub String);

impl SigningAlgorithm {
    /// Every algorithm, each with its own key line in the ring.
    pub const ALL: [Self; 3] = [Self::EdDSA, Self::ES256, Self::RS256];

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

    /// The algorithm a JWT header names, when it is one of ours.
    pub(crate) fn of_jwt(algorithm: jsonwebtoken::Algorithm) -> Option<Self> {
        Self::ALL.into_iter().find(|ours| ours.jwt() == algorithm)
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = UnknownSigningAlgorithm;

    /// The exact JOSE name: `EdDSA`, `ES256` or `RS256` (case matters, as in a JWT header).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
            .ok_or_else(|| UnknownSigningAlgorithm(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_jose_names_and_read_back_exactly() {
        for (algorithm, name) in [
            (SigningAlgorithm::EdDSA, "EdDSA"),
            (SigningAlgorithm::ES256, "ES256"),
            (SigningAlgorithm::RS256, "RS256"),
        ] {
            assert_eq!(algorithm.to_string(), name);
            assert_eq!(name.parse::<SigningAlgorithm>(), Ok(algorithm));
            assert_eq!(SigningAlgorithm::of_jwt(algorithm.jwt()), Some(algorithm));
        }
        for refused in ["eddsa", "rs256", "HS256", "none", "Ed25519", "", " RS256"] {
            assert_eq!(
                refused.parse::<SigningAlgorithm>(),
                Err(UnknownSigningAlgorithm(refused.to_owned())),
                "{refused:?}"
            );
        }
        assert_eq!(
            SigningAlgorithm::of_jwt(jsonwebtoken::Algorithm::HS256),
            None
        );
        assert_eq!(
            SigningAlgorithm::of_jwt(jsonwebtoken::Algorithm::PS256),
            None
        );
    }
}
