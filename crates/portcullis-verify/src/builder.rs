//! Configuring a [`Verifier`]: the Portcullis server it trusts, the
//! algorithm access tokens must be signed with, the leeway, introspection,
//! the HTTP client, and the bounds every setting is held to.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;

use crate::algorithm::SigningAlgorithm;
use crate::errors::ConfigError;
use crate::http::{ClientOptions, Http, PlainHttp, checked_base_url};
use crate::introspection::{Credential, Introspector, IntrospectorSettings};
use crate::jwks::KeyCache;
use crate::verifier::{Ready, Verifier};

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
    algorithm: SigningAlgorithm,
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
            .field("algorithm", &self.algorithm)
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
    /// The algorithm access tokens are signed with: the server's
    /// `--access-token-alg` [default: [`SigningAlgorithm::EdDSA`], the
    /// server's default]. Tokens signed otherwise are refused.
    #[must_use]
    pub fn algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

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
        let mut validation = Validation::new(self.algorithm.jwt());
        validation.algorithms = vec![self.algorithm.jwt()];
        validation.leeway = leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let keys = Arc::new(KeyCache::new(
            format!("{base}/.well-known/jwks.json"),
            self.algorithm,
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
                algorithm: self.algorithm,
                revocation_check: self.revocation_check,
                validation,
                keys,
                introspector,
            })),
        })
    }

    /// Builds the verifier. A configuration [`try_build`](Self::try_build)
    /// would refuse gives a verifier that logs why and refuses every token
    /// with [`VerifyError::Misconfigured`](crate::VerifyError::Misconfigured) (`500`), sending nothing anywhere:
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

impl Verifier {
    /// A verifier for the Portcullis server at `base_url`: `https://…`, or
    /// `http://` to a loopback host (e.g. `http://localhost:8080`).
    #[must_use]
    pub fn builder(base_url: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            base_url: base_url.into(),
            algorithm: SigningAlgorithm::EdDSA,
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
}
