//! The verifier: access tokens checked locally against the server's JWKS
//! (see `jwks`), personal access tokens and revocation checked through the
//! server's introspection endpoint (see `introspection`), every request to
//! the server bounded by `http`.
//!
//! Which check a token gets depends on what it is, never on what it claims:
//! a personal access token always goes through introspection; an access
//! token is verified locally, and when revocation is asked, its session is
//! checked too, and the permissions it grants are the server's current ones.
//! An access token without a session cannot be checked, so it is refused
//! when revocation is asked. A misconfigured verifier refuses every token.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::http::{ClientOptions, Http, PlainHttp, checked_base_url};
use crate::introspection::{Answer, Credential, Introspector, IntrospectorSettings};
use crate::jwks::KeyCache;

/// The least time between two JWKS fetches caused by unknown keys.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// How often the JWKS is refetched in the background by default, so that a
/// key the server withdraws stops verifying within this time.
pub const DEFAULT_JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest background refresh interval accepted.
const MIN_JWKS_REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// How long an introspection answer is reused by default.
pub const DEFAULT_INTROSPECTION_CACHE: Duration = Duration::from_secs(5);

/// The longest an introspection answer is ever reused, whatever is configured.
pub const MAX_INTROSPECTION_CACHE: Duration = Duration::from_secs(60);

/// Most introspection calls in flight at once by default.
pub const DEFAULT_INTROSPECTION_CONCURRENCY: usize = 16;

/// How long a request to Portcullis may take by default, answer read included.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a request to Portcullis may take, whatever is configured.
pub const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest clock skew tolerated on `exp` and `nbf`, whatever is configured.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// What a valid token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`sub`).
    pub user_id: String,
    /// The session (`sid`); `None` for a personal access token.
    pub session_id: Option<String>,
    pub roles: Vec<String>,
    /// The permissions this token grants: those it carries, or, when
    /// revocation was checked, those the server grants it now.
    pub permissions: Vec<String>,
    /// Expiry, seconds since the epoch; `None` for a token that does not expire.
    pub expires_at: Option<i64>,
}

impl Claims {
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|granted| granted == permission)
    }
}

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
    /// [`VerifierBuilder::try_build`]); answered `500`.
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

/// Why a [`VerifierBuilder`] could not make a verifier.
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

/// When a verifier asks the server whether a token was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationCheck {
    /// Only through [`Verifier::verify_with_revocation`] and the extractors
    /// that say so (`RevocationChecked`, `RevocationCheckedWithPermission`).
    #[default]
    WhenAsked,
    /// On every verification: [`Verifier::verify`] and every extractor check
    /// revocation and take permissions from the server's answer.
    EveryRequest,
}

/// Configures a [`Verifier`].
#[derive(Clone)]
pub struct VerifierBuilder {
    base_url: String,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    introspection_credential: Option<Credential>,
    introspection_cache: Duration,
    introspection_concurrency: usize,
    revocation_check: RevocationCheck,
    fetch_timeout: Duration,
    jwks_refresh_interval: Duration,
    root_certificates: Vec<reqwest::Certificate>,
    http_client_options: Option<ClientOptions>,
    plain_http: PlainHttp,
}

impl std::fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("base_url", &self.base_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("introspection_credential", &self.introspection_credential)
            .field("introspection_cache", &self.introspection_cache)
            .field("introspection_concurrency", &self.introspection_concurrency)
            .field("revocation_check", &self.revocation_check)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("jwks_refresh_interval", &self.jwks_refresh_interval)
            .field("root_certificates", &self.root_certificates.len())
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// The `iss` tokens must carry [default: the base URL].
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` tokens must carry [default: the issuer].
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` [default: 1 s; at most
    /// [`MAX_LEEWAY`], a longer one is shortened to it].
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Enables introspection (for personal access tokens and revocation
    /// checks) with a credential holding `tokens:introspect`.
    #[must_use]
    pub fn introspection(mut self, credential: impl Into<String>) -> Self {
        self.introspection_credential = Some(Credential(credential.into()));
        self
    }

    /// How long an introspection answer is reused [default: 5 s; at most
    /// [`MAX_INTROSPECTION_CACHE`], and never past the token's `exp`].
    #[must_use]
    pub fn introspection_cache(mut self, ttl: Duration) -> Self {
        self.introspection_cache = ttl;
        self
    }

    /// Most introspection calls in flight at once [default:
    /// [`DEFAULT_INTROSPECTION_CONCURRENCY`]; at least 1]. A request that
    /// cannot get a turn within the fetch timeout is answered `503`.
    #[must_use]
    pub fn introspection_concurrency(mut self, calls: usize) -> Self {
        self.introspection_concurrency = calls.max(1);
        self
    }

    /// When revocation is checked [default: [`RevocationCheck::WhenAsked`]].
    /// [`RevocationCheck::EveryRequest`] needs [`introspection`](Self::introspection).
    #[must_use]
    pub fn revocation_check(mut self, check: RevocationCheck) -> Self {
        self.revocation_check = check;
        self
    }

    /// How long one request to Portcullis may take, connection and answer
    /// included, whatever the HTTP client is configured with [default:
    /// [`DEFAULT_FETCH_TIMEOUT`]; at most [`MAX_FETCH_TIMEOUT`]].
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How often the JWKS is refetched in the background, so that keys the
    /// server withdraws stop verifying [default:
    /// [`DEFAULT_JWKS_REFRESH_INTERVAL`]; at least 100 ms].
    #[must_use]
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = interval;
        self
    }

    /// Trusts this root certificate too (a private CA, or a self-signed
    /// certificate in tests), besides Mozilla's roots compiled in.
    #[must_use]
    pub fn add_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Adjusts the HTTP client (a proxy, a local address, client
    /// certificates). Whatever it sets, redirects stay off, an `https://`
    /// base URL stays HTTPS-only, and every request stays bounded by the
    /// [`fetch_timeout`](Self::fetch_timeout).
    #[must_use]
    pub fn configure_http_client(
        mut self,
        options: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        self.http_client_options = Some(Arc::new(options));
        self
    }

    /// Accepts a plain `http://` base URL whatever its host. Without this,
    /// plain HTTP is accepted only to `localhost`, `127.0.0.0/8` and `::1`:
    /// anyone on the path of plain HTTP can read the introspection
    /// credential and users' tokens, and swap the JWKS for their own keys.
    /// Call it only when a TLS-terminating proxy on a trusted path is in between.
    #[must_use]
    pub fn danger_allow_plain_http_to_any_host(mut self) -> Self {
        self.plain_http = PlainHttp::AnyHost;
        self
    }

    /// Builds the verifier, or says why the configuration is refused: a
    /// base URL that is not a URL or is plain HTTP to a host that is not
    /// loopback, revocation checked on every request without introspection,
    /// an HTTP client that cannot be built.
    ///
    /// # Errors
    /// [`ConfigError`] naming what to change.
    pub fn try_build(self) -> Result<Verifier, ConfigError> {
        let base_url = checked_base_url(&self.base_url, self.plain_http)?;
        if base_url.scheme() == "http" && self.plain_http == PlainHttp::AnyHost {
            tracing::warn!(
                url = %self.base_url,
                "Portcullis is reached over plain HTTP: tokens and the introspection credential travel in clear"
            );
        }
        if self.leeway > MAX_LEEWAY {
            tracing::warn!(leeway = ?self.leeway, max = ?MAX_LEEWAY, "the leeway is shortened to its maximum");
        }
        if self.introspection_cache > MAX_INTROSPECTION_CACHE {
            tracing::warn!(
                cache = ?self.introspection_cache,
                max = ?MAX_INTROSPECTION_CACHE,
                "the introspection cache lifetime is shortened to its maximum"
            );
        }
        if self.revocation_check == RevocationCheck::EveryRequest
            && self.introspection_credential.is_none()
        {
            return Err(ConfigError::RevocationCheckWithoutIntrospection);
        }
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        let leeway = self.leeway.min(MAX_LEEWAY);
        let fetch_timeout = self.fetch_timeout.min(MAX_FETCH_TIMEOUT);
        let http = Arc::new(Http::new(
            &base_url,
            fetch_timeout,
            &self.root_certificates,
            self.http_client_options.as_ref(),
        )?);
        // The given spelling, not the parsed one (which may add a `/`), as before.
        let issuer = self
            .issuer
            .unwrap_or_else(|| self.base_url.trim_end_matches('/').to_owned());
        let audience = self.audience.unwrap_or_else(|| issuer.clone());
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.leeway = leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let keys = Arc::new(KeyCache::new(
            format!("{base}/.well-known/jwks.json"),
            Arc::clone(&http),
            self.jwks_refresh_interval.max(MIN_JWKS_REFRESH_INTERVAL),
            leeway,
        ));
        let introspector = Introspector::new(
            IntrospectorSettings {
                url: format!("{base}/token/introspect"),
                credential: self.introspection_credential,
                lifetime: self.introspection_cache,
                leeway,
                concurrency: self.introspection_concurrency,
                turn_timeout: fetch_timeout,
            },
            http,
        );
        Ok(Verifier {
            inner: Arc::new(Ok(Ready {
                revocation_check: self.revocation_check,
                validation,
                keys,
                introspector,
            })),
        })
    }

    /// Builds the verifier. A configuration [`try_build`](Self::try_build)
    /// would refuse gives a verifier that logs why and refuses every token
    /// with [`VerifyError::Misconfigured`] (`500`), sending nothing anywhere:
    /// prefer `try_build` to fail at start-up instead.
    #[must_use]
    pub fn build(self) -> Verifier {
        self.try_build().unwrap_or_else(|error| {
            tracing::error!(%error, "the Portcullis verifier is misconfigured and will refuse every token");
            Verifier {
                inner: Arc::new(Err(error)),
            }
        })
    }
}

/// Verifies tokens issued by one Portcullis server. Cheap to clone; clones
/// share the key and answer caches and the background JWKS refresh, which
/// starts at the first verification and stops when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Result<Ready, ConfigError>>,
}

struct Ready {
    revocation_check: RevocationCheck,
    validation: Validation,
    keys: Arc<KeyCache>,
    introspector: Introspector,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.as_ref() {
            Ok(ready) => f
                .debug_struct("Verifier")
                .field("jwks_url", &ready.keys.url())
                .field("revocation_check", &ready.revocation_check)
                .finish_non_exhaustive(),
            Err(error) => f
                .debug_struct("Verifier")
                .field("misconfigured", error)
                .finish(),
        }
    }
}

#[derive(Deserialize)]
struct AccessTokenClaims {
    sub: String,
    sid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
    exp: i64,
}

/// The one claim read before the signature is checked: it only decides
/// whether an unknown `kid` may be a key published since the last fetch.
#[derive(Deserialize)]
struct UnverifiedIssuedAt {
    iat: Option<serde_json::Value>,
}

impl Verifier {
    /// A verifier for the Portcullis server at `base_url`: `https://…`, or
    /// `http://` to a loopback host (e.g. `http://localhost:8080`).
    #[must_use]
    pub fn builder(base_url: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            base_url: base_url.into(),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(1),
            introspection_credential: None,
            introspection_cache: DEFAULT_INTROSPECTION_CACHE,
            introspection_concurrency: DEFAULT_INTROSPECTION_CONCURRENCY,
            revocation_check: RevocationCheck::WhenAsked,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            jwks_refresh_interval: DEFAULT_JWKS_REFRESH_INTERVAL,
            root_certificates: Vec::new(),
            http_client_options: None,
            plain_http: PlainHttp::LoopbackOnly,
        }
    }

    /// Verifies an access token locally, or a personal access token through
    /// introspection. Revocation of an access token is checked only when the
    /// verifier was built with [`RevocationCheck::EveryRequest`] (see
    /// [`Verifier::verify_with_revocation`]).
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let ready = self.ready()?;
        if ready.revocation_check == RevocationCheck::EveryRequest {
            return self.verify_with_revocation(token).await;
        }
        if is_personal_token(token) {
            return ready.verify_personal_token(token).await;
        }
        ready.verify_locally(token).await
    }

    /// Verifies the token and asks the server whether it is still active
    /// (cached briefly): a personal access token through introspection alone;
    /// an access token locally first, then its session, refused when it has
    /// none. The permissions and roles returned are the server's answer (the
    /// token's scope intersected with the user's current permissions), so a
    /// permission taken away no longer passes.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify_with_revocation(&self, token: &str) -> Result<Claims, VerifyError> {
        let ready = self.ready()?;
        if is_personal_token(token) {
            return ready.verify_personal_token(token).await;
        }
        let local = ready.verify_locally(token).await?;
        if local.session_id.is_none() {
            return Err(VerifyError::NoSessionToCheck);
        }
        match ready.introspector.introspect(token).await? {
            Answer::Inactive => Err(VerifyError::Revoked),
            Answer::Active(live) if live.user_id != local.user_id => {
                tracing::error!("introspection answered about another user than the token's");
                Err(VerifyError::Unavailable(
                    "introspection answered about another user".to_owned(),
                ))
            }
            Answer::Active(live) => Ok(Claims {
                roles: live.roles,
                permissions: live.permissions,
                ..local
            }),
        }
    }

    fn ready(&self) -> Result<&Ready, VerifyError> {
        self.inner
            .as_ref()
            .as_ref()
            .map_err(|error| VerifyError::Misconfigured(error.clone()))
    }
}

impl Ready {
    async fn verify_personal_token(&self, token: &str) -> Result<Claims, VerifyError> {
        if !is_well_formed_personal_token(token) {
            return Err(VerifyError::Malformed);
        }
        match self.introspector.introspect(token).await? {
            Answer::Active(claims) => Ok(claims),
            Answer::Inactive => Err(VerifyError::Revoked),
        }
    }

    async fn verify_locally(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Malformed);
        }
        if !header.typ.as_deref().is_some_and(|typ| {
            // `at+jwt` or `application/at+jwt`, without case (RFC 9068 §4).
            let typ = typ.to_ascii_lowercase();
            typ.strip_prefix("application/").unwrap_or(&typ) == "at+jwt"
        }) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        self.keys.ensure_refreshing();
        let key = self.keys.key(&kid, unverified_issued_at(token)).await?;
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    VerifyError::WrongIssuerOrAudience
                }
                _ => VerifyError::Malformed,
            })?;
        let claims = data.claims;
        Ok(Claims {
            user_id: claims.sub,
            session_id: claims.sid,
            roles: claims.roles,
            permissions: claims
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_at: Some(claims.exp),
        })
    }
}

/// The token's `iat` as it claims it, unverified; `None` when absent or not
/// a non-negative integer.
fn unverified_issued_at(token: &str) -> Option<u64> {
    let claims: UnverifiedIssuedAt = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.iat?.as_u64()
}

fn is_personal_token(token: &str) -> bool {
    token.starts_with("pat_")
}

/// Whether `token` has the shape and checksum of a Portcullis personal access
/// token (`pat_` + base64url of id, secret and the first four bytes of
/// SHA-256 over `pat_`, id and secret), so a typo or a made-up token is
/// refused here instead of costing a call to the server.
fn is_well_formed_personal_token(token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = token.strip_prefix("pat_") else {
        return false;
    };
    let Ok(payload) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    let Some((body, checksum)) = payload.split_last_chunk::<4>() else {
        return false;
    };
    if body.len() != 48 {
        return false;
    }
    let digest = Sha256::new()
        .chain_update(b"pat_")
        .chain_update(body)
        .finalize();
    digest[..4] == checksum[..]
}
