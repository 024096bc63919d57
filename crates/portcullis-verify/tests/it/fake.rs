//! A fake Portcullis: `GET /.well-known/jwks.json` and `POST /token/introspect`
//! on `127.0.0.1:0`, counting the requests each gets, and a [`Signer`] that
//! issues access tokens with Portcullis's own signing code.
//!
//! The JWKS answer is slowed down a little so that concurrent verifications
//! really do overlap the fetch in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portcullis_core::SystemClock;
use portcullis_core::keys::{KeyRing, SigningKey};
use portcullis_core::tokens::{AccessGrant, AccessTokens};
use portcullis_verify::Verifier;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The `iss` and `aud` of the fake's tokens.
pub(crate) const ISSUER: &str = "https://auth.example.test";

/// The credential the fake's introspection endpoint accepts.
/// Personal access tokens in the real format (their checksum is checked
/// before any introspection call), one per role in the tests.
pub(crate) static PAT_ADA: LazyLock<String> = LazyLock::new(new_personal_token);
pub(crate) static PAT_UNKNOWN: LazyLock<String> = LazyLock::new(new_personal_token);
pub(crate) static PAT_WRONG: LazyLock<String> = LazyLock::new(new_personal_token);

fn new_personal_token() -> String {
    portcullis_core::personal_tokens::PersonalToken::generate().encode()
}

pub(crate) const INTROSPECTION_CREDENTIAL: &str = "pat_introspector";

/// How long the fake takes to answer a JWKS request.
const JWKS_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Signs access tokens as Portcullis does, with one fresh Ed25519 key.
pub(crate) struct Signer {
    key: SigningKey,
    tokens: AccessTokens,
}

impl Signer {
    pub(crate) fn new() -> Self {
        Self::with_issuer(ISSUER)
    }

    pub(crate) fn with_issuer(issuer: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        let key = SigningKey::generate(now);
        Self::from_key(key, issuer)
    }

    fn from_key(key: SigningKey, issuer: &str) -> Self {
        let lifetime = Duration::minutes(15);
        let ring = KeyRing::new(
            std::slice::from_ref(&key),
            OffsetDateTime::now_utc(),
            lifetime,
        )
        .expect("an active key");
        let tokens = AccessTokens::new(
            Arc::new(SystemClock),
            issuer.to_owned(),
            issuer.to_owned(),
            lifetime,
            Duration::seconds(1),
            ring,
        );
        Self { key, tokens }
    }

    /// The same key, issuing for another issuer.
    pub(crate) fn for_issuer(&self, issuer: &str) -> Self {
        Self::from_key(self.key.clone(), issuer)
    }

    /// The public key as the JWKS serves it.
    pub(crate) fn jwk(&self) -> Value {
        serde_json::to_value(self.key.public_jwk()).unwrap()
    }

    /// A token for a new user and session, granting `scope`; returns it with the user id.
    pub(crate) fn token(&self, scope: &[&str]) -> (String, String) {
        self.token_at(scope, OffsetDateTime::now_utc())
    }

    /// A token issued at `issued_at` (15 minutes of life).
    pub(crate) fn token_at(&self, scope: &[&str], issued_at: OffsetDateTime) -> (String, String) {
        let user_id = Uuid::now_v7();
        let grant = AccessGrant {
            user_id,
            session_id: Uuid::now_v7(),
            roles: vec!["member".to_owned()],
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
        };
        let (token, _) = self.tokens.issue(&grant, issued_at);
        (token, user_id.to_string())
    }
}

#[derive(Default)]
struct Shared {
    keys: Mutex<Vec<Value>>,
    jwks_hits: AtomicUsize,
    /// When set, the JWKS answers this status instead of the keys.
    jwks_failure: Mutex<Option<StatusCode>>,
    introspection_hits: AtomicUsize,
    /// Introspection answers by token; any other token is `{"active": false}`.
    answers: Mutex<HashMap<String, Value>>,
}

/// The fake server; it stops when the test's runtime ends.
pub(crate) struct FakePortcullis {
    pub(crate) base: String,
    shared: Arc<Shared>,
}

impl FakePortcullis {
    /// Serves a JWKS holding the keys of `signers`.
    pub(crate) async fn start(signers: &[&Signer]) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.keys.lock().unwrap() = signers.iter().map(|s| s.jwk()).collect();
        let app = axum::Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route("/token/introspect", post(introspect))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, shared }
    }

    /// A verifier of this fake's tokens, with introspection and no introspection cache.
    pub(crate) fn verifier(&self) -> Verifier {
        Verifier::builder(&self.base)
            .issuer(ISSUER)
            .introspection(INTROSPECTION_CREDENTIAL)
            .introspection_cache(std::time::Duration::ZERO)
            .build()
    }

    pub(crate) fn add_key(&self, signer: &Signer) {
        self.shared.keys.lock().unwrap().push(signer.jwk());
    }

    pub(crate) fn fail_jwks_with(&self, status: Option<StatusCode>) {
        *self.shared.jwks_failure.lock().unwrap() = status;
    }

    pub(crate) fn jwks_hits(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }

    pub(crate) fn introspection_hits(&self) -> usize {
        self.shared.introspection_hits.load(Ordering::SeqCst)
    }

    /// Makes introspection of `token` answer `answer`.
    pub(crate) fn answer(&self, token: &str, answer: Value) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(JWKS_DELAY).await;
    if let Some(status) = *shared.jwks_failure.lock().unwrap() {
        return status.into_response();
    }
    let keys = shared.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    shared.introspection_hits.fetch_add(1, Ordering::SeqCst);
    let expected = format!("Bearer {INTROSPECTION_CREDENTIAL}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let token = body["token"].as_str().unwrap_or_default();
    let answer = shared
        .answers
        .lock()
        .unwrap()
        .get(token)
        .cloned()
        .unwrap_or_else(|| json!({ "active": false }));
    Json(answer).into_response()
}

/// A base URL where nothing listens.
pub(crate) fn nothing_listening() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// An introspection answer for an active personal access token.
pub(crate) fn active_personal_token(user_id: &str, scope: &str) -> Value {
    json!({
        "active": true,
        "sub": user_id,
        "scope": scope,
        "exp": null,
        "iat": OffsetDateTime::now_utc().unix_timestamp(),
        "sid": null,
        "roles": ["member"],
        "token_type": "personal_access_token",
    })
}
