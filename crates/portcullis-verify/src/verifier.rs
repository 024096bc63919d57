//! The verifier: access tokens checked locally against a cached JWKS,
//! personal access tokens (and, on request, revocation) checked through the
//! server's introspection endpoint with a short cache.
//!
//! The JWKS is fetched on first use and again only when a token names a key
//! the cache does not hold, at most once per [`JWKS_REFETCH_INTERVAL`], and by
//! one task at a time: a burst of tokens with an unknown `kid` causes one
//! fetch, not one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The least time between two JWKS fetches caused by unknown keys.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// The least time between two JWKS fetches after one failed.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Most introspection answers remembered at once.
const INTROSPECTION_CACHE_CAPACITY: usize = 10_000;

/// How long an introspection answer is reused by default.
pub const DEFAULT_INTROSPECTION_CACHE: Duration = Duration::from_secs(5);

/// What a valid token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`sub`).
    pub user_id: String,
    /// The session (`sid`); `None` for a personal access token.
    pub session_id: Option<String>,
    pub roles: Vec<String>,
    /// The permissions this token grants.
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
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
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
    #[error(
        "personal access tokens need introspection; configure it with VerifierBuilder::introspection"
    )]
    IntrospectionNotConfigured,
    /// The Portcullis server could not be asked; the request must be refused.
    #[error("the authentication server is unavailable: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// Whether the failure is the server's (answer 503) rather than the token's (401).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Configures a [`Verifier`].
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    base_url: String,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    introspection_credential: Option<String>,
    introspection_cache: Duration,
    http: Option<reqwest::Client>,
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

    /// Clock skew tolerated on `exp` and `nbf` [default: 1 s].
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Enables introspection (for personal access tokens and revocation
    /// checks) with a credential holding `tokens:introspect`.
    #[must_use]
    pub fn introspection(mut self, credential: impl Into<String>) -> Self {
        self.introspection_credential = Some(credential.into());
        self
    }

    /// How long an introspection answer is reused [default: 5 s].
    #[must_use]
    pub fn introspection_cache(mut self, ttl: Duration) -> Self {
        self.introspection_cache = ttl;
        self
    }

    /// Uses this HTTP client (timeouts, proxies) instead of a default one.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    #[must_use]
    pub fn build(self) -> Verifier {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let issuer = self.issuer.unwrap_or_else(|| base_url.clone());
        let audience = self.audience.unwrap_or_else(|| issuer.clone());
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let http = self.http.unwrap_or_else(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default()
        });
        Verifier {
            inner: Arc::new(Inner {
                jwks_url: format!("{base_url}/.well-known/jwks.json"),
                introspection_url: format!("{base_url}/token/introspect"),
                introspection_credential: self.introspection_credential,
                introspection_cache_ttl: self.introspection_cache,
                validation,
                http,
                keys: RwLock::new(HashMap::new()),
                last_fetch: tokio::sync::Mutex::new(None),
                introspected: Mutex::new(HashMap::new()),
            }),
        }
    }
}

/// Verifies tokens issued by one Portcullis server. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    jwks_url: String,
    introspection_url: String,
    introspection_credential: Option<String>,
    introspection_cache_ttl: Duration,
    validation: Validation,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// The last JWKS fetch; the lock makes fetches one at a time.
    last_fetch: tokio::sync::Mutex<Option<JwksFetch>>,
    introspected: Mutex<HashMap<[u8; 32], IntrospectionAnswerCached>>,
}

/// When the JWKS was last fetched and whether that worked.
#[derive(Debug, Clone, Copy)]
struct JwksFetch {
    at: Instant,
    succeeded: bool,
}

/// When an introspection answer was received, and the claims of an active
/// token (`None`: not active), keyed by SHA-256 of the token.
type IntrospectionAnswerCached = (Instant, Option<Claims>);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks_url", &self.inner.jwks_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    kty: String,
    crv: Option<String>,
    x: Option<String>,
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

#[derive(Deserialize)]
struct IntrospectionAnswer {
    active: bool,
    sub: Option<String>,
    sid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
    exp: Option<i64>,
}

impl Verifier {
    /// A verifier for the Portcullis server at `base_url` (e.g. `http://localhost:8080`).
    #[must_use]
    pub fn builder(base_url: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            base_url: base_url.into(),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(1),
            introspection_credential: None,
            introspection_cache: DEFAULT_INTROSPECTION_CACHE,
            http: None,
        }
    }

    /// Verifies an access token locally, or a personal access token through
    /// introspection. Revocation of an access token is not checked (see
    /// [`Verifier::verify_with_revocation`]).
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.starts_with("pat_") {
            if !is_well_formed_personal_token(token) {
                return Err(VerifyError::Malformed);
            }
            return self.introspect(token).await;
        }
        self.verify_locally(token).await
    }

    /// Like [`Verifier::verify`], then asks the server whether the token is
    /// still active (cached briefly), so a revoked session is refused too.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub async fn verify_with_revocation(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = self.verify(token).await?;
        if claims.session_id.is_some() {
            self.introspect(token).await?;
        }
        Ok(claims)
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
        let key = match self.cached_key(&kid) {
            Some(key) => key,
            None => {
                self.refresh_keys_for(&kid).await?;
                self.cached_key(&kid).ok_or(VerifyError::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &self.inner.validation)
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

    fn cached_key(&self, kid: &str) -> Option<DecodingKey> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// Fetches the JWKS unless it was fetched within the refetch interval;
    /// concurrent callers wait for the one fetch in flight.
    async fn refresh_keys_for(&self, kid: &str) -> Result<(), VerifyError> {
        let mut last_fetch = self.inner.last_fetch.lock().await;
        if self.cached_key(kid).is_some() {
            return Ok(());
        }
        match *last_fetch {
            Some(fetch) if fetch.succeeded && fetch.at.elapsed() < JWKS_REFETCH_INTERVAL => {
                return Err(VerifyError::UnknownKey);
            }
            // While the server is unreachable, say so (never blame the token),
            // and ask again at most once per second.
            Some(fetch) if !fetch.succeeded && fetch.at.elapsed() < JWKS_RETRY_AFTER_FAILURE => {
                return Err(VerifyError::Unavailable(
                    "the last JWKS fetch failed".to_owned(),
                ));
            }
            _ => {}
        }
        let fetched = self.fetch_jwks().await;
        *last_fetch = Some(JwksFetch {
            at: Instant::now(),
            succeeded: fetched.is_ok(),
        });
        let set = fetched?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .into_iter()
            .filter(|jwk| jwk.kty == "OKP" && jwk.crv.as_deref() == Some("Ed25519"))
            .filter_map(|jwk| {
                let key = DecodingKey::from_ed_components(jwk.x.as_deref()?).ok()?;
                Some((jwk.kid, key))
            })
            .collect();
        tracing::debug!(keys = keys.len(), "fetched the Portcullis JWKS");
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
        Ok(())
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, VerifyError> {
        self.inner
            .http
            .get(&self.inner.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| VerifyError::Unavailable(e.to_string()))
    }

    async fn introspect(&self, token: &str) -> Result<Claims, VerifyError> {
        let credential = self
            .inner
            .introspection_credential
            .as_deref()
            .ok_or(VerifyError::IntrospectionNotConfigured)?;
        let cache_key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(cached) = self.cached_introspection(&cache_key) {
            return cached.ok_or(VerifyError::Revoked);
        }
        let answer: IntrospectionAnswer = self
            .inner
            .http
            .post(&self.inner.introspection_url)
            .bearer_auth(credential)
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?;
        let claims = match answer {
            IntrospectionAnswer {
                active: true,
                sub: Some(user_id),
                sid,
                roles,
                scope,
                exp,
            } => Some(Claims {
                user_id,
                session_id: sid,
                roles,
                permissions: scope.split_ascii_whitespace().map(str::to_owned).collect(),
                expires_at: exp,
            }),
            _ => None,
        };
        let mut cache = self
            .inner
            .introspected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ttl = self.inner.introspection_cache_ttl;
        if cache.len() >= INTROSPECTION_CACHE_CAPACITY {
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= INTROSPECTION_CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(cache_key, (Instant::now(), claims.clone()));
        claims.ok_or(VerifyError::Revoked)
    }

    fn cached_introspection(&self, key: &[u8; 32]) -> Option<Option<Claims>> {
        let cache = self
            .inner
            .introspected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.inner.introspection_cache_ttl)
            .map(|(_, claims)| claims.clone())
    }
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
