//! A fake Portcullis: `GET /.well-known/jwks.json` and `POST /token/introspect`
//! on `127.0.0.1:0`, over plain HTTP or over TLS with a self-signed
//! certificate made at start, counting the requests each gets, and a
//! [`Signer`] that issues access tokens with Portcullis's own signing code.
//!
//! The JWKS answer is slowed down a little so that concurrent verifications
//! really do overlap the fetch in flight. Tests can also slow introspection
//! down (to see how many calls overlap), make it redirect elsewhere, and
//! serve any JWKS body.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portcullis_core::SystemClock;
use portcullis_core::keys::{KeyRing, SigningAlgorithm, SigningKey};
use portcullis_core::tokens::{AccessGrant, AccessTokens};
use portcullis_verify::Verifier;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
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

/// How long the fake takes to answer a JWKS request unless told otherwise.
const JWKS_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Makes a personal access token in the real format.
pub(crate) fn personal_token() -> String {
    new_personal_token()
}

/// Signs access tokens as Portcullis does, with one fresh key of its
/// algorithm (Ed25519 unless told).
pub(crate) struct Signer {
    key: SigningKey,
    tokens: AccessTokens,
}

impl Signer {
    pub(crate) fn new() -> Self {
        Self::of(SigningAlgorithm::EdDSA)
    }

    /// A signer of `algorithm` tokens for the fake's issuer.
    pub(crate) fn of(algorithm: SigningAlgorithm) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::from_key(SigningKey::generate(algorithm, now, now), ISSUER)
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
            key.algorithm,
            ring,
        );
        Self { key, tokens }
    }

    /// The same key, issuing for another issuer.
    pub(crate) fn for_issuer(&self, issuer: &str) -> Self {
        Self::from_key(self.key.clone(), issuer)
    }

    /// A token with exactly these claims, signed with this Ed25519 key and
    /// the headers Portcullis writes (`EdDSA`, `at+jwt`, the `kid`).
    pub(crate) fn token_with_claims(&self, claims: &Value) -> String {
        self.token_naming_kid(&self.key.kid, claims)
    }

    /// A token signed with this Ed25519 key whose header names `kid`, maybe another key's.
    pub(crate) fn token_naming_kid(&self, kid: &str, claims: &Value) -> String {
        assert_eq!(
            self.key.algorithm,
            SigningAlgorithm::EdDSA,
            "an Ed25519 signer"
        );
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(kid.to_owned());
        let key =
            jsonwebtoken::EncodingKey::from_ed_der(self.key.pkcs8().expect("a key in the clear"));
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// The key's id.
    pub(crate) fn kid(&self) -> &str {
        &self.key.kid
    }

    /// The public key as the JWKS serves it.
    pub(crate) fn jwk(&self) -> Value {
        serde_json::to_value(self.key.public_jwk().unwrap()).unwrap()
    }

    /// The public key as stored (for RSA, PKCS#1 `RSAPublicKey` DER).
    pub(crate) fn public_key(&self) -> &[u8] {
        &self.key.public_key
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
            email_verified: false,
            client_id: None,
        };
        let (token, _) = self.tokens.issue(&grant, issued_at);
        (token, user_id.to_string())
    }
}

#[derive(Default)]
struct Shared {
    keys: Mutex<Vec<Value>>,
    /// When set, the JWKS answers this body instead of the keys.
    jwks_body: Mutex<Option<String>>,
    jwks_delay: Mutex<Option<std::time::Duration>>,
    jwks_hits: AtomicUsize,
    /// When set, the JWKS answers this status instead of the keys.
    jwks_failure: Mutex<Option<StatusCode>>,
    introspection_hits: AtomicUsize,
    /// Introspection answers by token; any other token is `{"active": false}`.
    answers: Mutex<HashMap<String, Value>>,
    introspection_hits_by_token: Mutex<HashMap<String, usize>>,
    introspection_delay: Mutex<std::time::Duration>,
    introspections_in_flight: AtomicUsize,
    most_introspections_in_flight: AtomicUsize,
    /// When set, introspection answers `307` to `/elsewhere/introspect`.
    introspection_redirects: AtomicBool,
    /// The bodies `/elsewhere/introspect` received.
    elsewhere_bodies: Mutex<Vec<String>>,
    /// TLS handshakes begun (the TLS fake only).
    tls_handshakes: AtomicUsize,
}

/// The fake server; it stops when the test's runtime ends.
pub(crate) struct FakePortcullis {
    pub(crate) base: String,
    shared: Arc<Shared>,
}

impl FakePortcullis {
    /// Serves a JWKS holding the keys of `signers`, over plain HTTP.
    pub(crate) async fn start(signers: &[&Signer]) -> Self {
        let shared = shared_with(signers);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, shared }
    }

    /// The same over TLS, at `https://127.0.0.1:PORT`, with a self-signed
    /// certificate for `127.0.0.1` and `localhost`, returned for the client to trust.
    pub(crate) async fn start_tls(signers: &[&Signer]) -> (Self, reqwest::Certificate) {
        let shared = shared_with(signers);
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .unwrap();
        let certificate_der = certified.cert.der().clone();
        let key_der =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        // The process's provider: ring, the only one compiled in.
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certificate_der.clone()], key_der)
            .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", tcp.local_addr().unwrap());
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            shared: Arc::clone(&shared),
        };
        let app = router(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let trusted = reqwest::Certificate::from_der(&certificate_der).unwrap();
        (Self { base, shared }, trusted)
    }

    /// A verifier of this fake's tokens, with introspection and no introspection cache.
    pub(crate) fn verifier(&self) -> Verifier {
        self.builder()
            .introspection_cache(std::time::Duration::ZERO)
            .build()
    }

    /// A builder for this fake with its issuer and introspection credential.
    pub(crate) fn builder(&self) -> portcullis_verify::VerifierBuilder {
        Verifier::builder(&self.base)
            .issuer(ISSUER)
            .introspection(INTROSPECTION_CREDENTIAL)
    }

    pub(crate) fn add_key(&self, signer: &Signer) {
        self.shared.keys.lock().unwrap().push(signer.jwk());
    }

    /// Serves these JWKs and no others.
    pub(crate) fn set_keys(&self, keys: Vec<Value>) {
        *self.shared.keys.lock().unwrap() = keys;
    }

    /// Serves this body as the JWKS (`None`: the keys again).
    pub(crate) fn serve_jwks_body(&self, body: Option<String>) {
        *self.shared.jwks_body.lock().unwrap() = body;
    }

    pub(crate) fn delay_jwks(&self, delay: std::time::Duration) {
        *self.shared.jwks_delay.lock().unwrap() = Some(delay);
    }

    pub(crate) fn delay_introspection(&self, delay: std::time::Duration) {
        *self.shared.introspection_delay.lock().unwrap() = delay;
    }

    pub(crate) fn redirect_introspection(&self) {
        self.shared
            .introspection_redirects
            .store(true, Ordering::SeqCst);
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

    /// How many introspection requests asked about `token`.
    pub(crate) fn introspection_hits_for(&self, token: &str) -> usize {
        self.shared
            .introspection_hits_by_token
            .lock()
            .unwrap()
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// The most introspection requests the fake was answering at one time.
    pub(crate) fn most_introspections_in_flight(&self) -> usize {
        self.shared
            .most_introspections_in_flight
            .load(Ordering::SeqCst)
    }

    /// What `/elsewhere/introspect`, the redirect's target, received.
    pub(crate) fn elsewhere_bodies(&self) -> Vec<String> {
        self.shared.elsewhere_bodies.lock().unwrap().clone()
    }

    pub(crate) fn tls_handshakes(&self) -> usize {
        self.shared.tls_handshakes.load(Ordering::SeqCst)
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

fn shared_with(signers: &[&Signer]) -> Arc<Shared> {
    let shared = Arc::new(Shared::default());
    *shared.keys.lock().unwrap() = signers.iter().map(|s| s.jwk()).collect();
    shared
}

fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/token/introspect", post(introspect))
        .route("/elsewhere/introspect", post(elsewhere))
        .with_state(shared)
}

/// Accepts TCP connections and completes the TLS handshake, for `axum::serve`.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else {
                continue;
            };
            self.shared.tls_handshakes.fetch_add(1, Ordering::SeqCst);
            if let Ok(Ok(tls)) = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.acceptor.accept(stream),
            )
            .await
            {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = shared.jwks_delay.lock().unwrap().unwrap_or(JWKS_DELAY);
    tokio::time::sleep(delay).await;
    if let Some(status) = *shared.jwks_failure.lock().unwrap() {
        return status.into_response();
    }
    if let Some(body) = shared.jwks_body.lock().unwrap().clone() {
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let keys = shared.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

async fn elsewhere(State(shared): State<Arc<Shared>>, body: String) -> Response {
    shared.elsewhere_bodies.lock().unwrap().push(body);
    Json(json!({ "active": true, "sub": "someone-else", "scope": "" })).into_response()
}

/// Counts the requests in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn begin(shared: &'a Shared) -> Self {
        let now = shared
            .introspections_in_flight
            .fetch_add(1, Ordering::SeqCst)
            + 1;
        shared
            .most_introspections_in_flight
            .fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .introspections_in_flight
            .fetch_sub(1, Ordering::SeqCst);
    }
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    shared.introspection_hits.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::begin(&shared);
    if shared.introspection_redirects.load(Ordering::SeqCst) {
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/elsewhere/introspect")],
        )
            .into_response();
    }
    let delay = *shared.introspection_delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let expected = format!("Bearer {INTROSPECTION_CREDENTIAL}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let token = body["token"].as_str().unwrap_or_default();
    *shared
        .introspection_hits_by_token
        .lock()
        .unwrap()
        .entry(token.to_owned())
        .or_default() += 1;
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
