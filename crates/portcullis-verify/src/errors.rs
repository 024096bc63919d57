//! Why a token is refused ([`VerifyError`]) and why a configuration is
//! ([`ConfigError`]): what the extractors turn into `401`, `403`, `503` or
//! `500`, and what [`VerifierBuilder::try_build`](crate::VerifierBuilder::try_build) says.

use std::time::Duration;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token is signed by a key not fetched yet; try again later")]
    KeyNotYetKnown {
        /// When the JWKS may be fetched again.
        retry_after: Duration,
    },
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued for another issuer or audience")]
    WrongIssuerOrAudience,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token has been revoked")]
    Revoked,
    #[error("the token carries no session, so its revocation cannot be checked")]
    NoSessionToCheck,
    /// Personal access tokens and revocation checks need introspection: a
    /// mistake of the application, answered `500`.
    #[error(
        "personal access tokens and revocation checks need introspection; configure it with VerifierBuilder::introspection"
    )]
    IntrospectionNotConfigured,
    /// The verifier was built from a configuration it refused (see
    /// [`VerifierBuilder::try_build`](crate::VerifierBuilder::try_build)); answered `500`.
    #[error("the verifier is misconfigured: {0}")]
    Misconfigured(ConfigError),
    /// The Portcullis server could not be asked; the request must be refused.
    #[error("the authentication server is unavailable: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// Whether the failure is the server's (answer 503) rather than the token's (401).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::KeyNotYetKnown { .. })
    }

    /// Whether the failure is the application's configuration (answer 500,
    /// log the message, show it to no client).
    #[must_use]
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            Self::IntrospectionNotConfigured | Self::Misconfigured(_)
        )
    }

    /// When asking again may succeed, for a `Retry-After` header.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::KeyNotYetKnown { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Why a [`VerifierBuilder`](crate::VerifierBuilder) could not make a verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("the Portcullis base URL {url:?} is not a URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error(
        "the Portcullis base URL {url:?} must be http:// or https:// and carry no query or fragment"
    )]
    UnsupportedBaseUrl { url: String },
    #[error(
        "the Portcullis base URL {url:?} is plain HTTP to a host that is not loopback: tokens and the \
         introspection credential would travel in clear and the JWKS could be swapped. Use https://, \
         or call VerifierBuilder::danger_allow_plain_http_to_any_host if a TLS proxy on the same host \
         or network really is in between"
    )]
    PlainHttpToRemoteHost { url: String },
    #[error(
        "RevocationCheck::EveryRequest needs introspection; configure it with VerifierBuilder::introspection"
    )]
    RevocationCheckWithoutIntrospection,
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(String),
}
