//! Protect a Rust API with Portcullis: verify its
//! access tokens and personal access tokens, and require permissions.
//!
//! Access tokens (JWTs signed with the server's `--access-token-alg`: EdDSA
//! by default, ES256 or RS256 when told with [`VerifierBuilder::algorithm`];
//! any other algorithm, `none` and HMAC are refused) are verified locally
//! against the server's JWKS,
//! fetched on first use, refreshed in the background every minute (so a key
//! the server withdraws stops verifying), and refetched early when a token
//! names a key that may have been published since the last fetch, at most
//! every 30 seconds; meanwhile such a token gets `503` with `Retry-After`,
//! not `401`. Personal access tokens (`pat_…`) and, where asked, the
//! revocation of an access token's session are checked through the server's
//! introspection endpoint, with a short cache, one call per token however
//! many requests carry it, and a bound on calls in flight; that needs a
//! credential holding `tokens:introspect`.
//!
//! Portcullis is reached over HTTPS (rustls; Mozilla's roots, plus any given
//! with [`VerifierBuilder::add_root_certificate`]); plain `http://` only to a
//! loopback host unless [`VerifierBuilder::danger_allow_plain_http_to_any_host`]
//! says otherwise. No request follows a redirect, takes longer than the fetch
//! timeout, or reads an unbounded answer.
//!
//! With the default `axum` feature, extractors do the checking: [`Authenticated`],
//! [`WithPermission`], [`Owner`], [`OwnerOr`], [`RevocationChecked`] and
//! [`RevocationCheckedWithPermission`]; with [`RevocationCheck::EveryRequest`]
//! every one of them checks revocation. A refused request gets an RFC 6750
//! answer: `401` with `WWW-Authenticate`, `403` with
//! `error="insufficient_scope"`, `400` for several `Authorization` headers,
//! `503` when the server cannot be asked, or `500` (reason logged, not sent)
//! when the verifier is misconfigured.
//!
//! ```no_run
//! use axum::extract::FromRef;
//! use axum::routing::{get, post};
//! use axum::{Json, Router};
//! use portcullis_verify::{Authenticated, OwnerOr, Verifier, WithPermission, permission};
//!
//! permission!(pub BooksDownload = "books:download");
//! permission!(pub RecordsRead = "records:read");
//!
//! #[derive(Clone)]
//! struct AppState {
//!     verifier: Verifier,
//! }
//!
//! impl FromRef<AppState> for Verifier {
//!     fn from_ref(state: &AppState) -> Verifier {
//!         state.verifier.clone()
//!     }
//! }
//!
//! async fn download(WithPermission(claims, ..): WithPermission<BooksDownload>) -> String {
//!     format!("here is your book, {}", claims.user_id)
//! }
//!
//! async fn comment(Authenticated(claims): Authenticated) -> String {
//!     format!("comment posted by {}", claims.user_id)
//! }
//!
//! async fn records(OwnerOr(claims, ..): OwnerOr<RecordsRead>) -> Json<Vec<String>> {
//!     Json(vec![format!("records visible to {}", claims.user_id)])
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let verifier = Verifier::builder("http://localhost:8080")
//!         .introspection(std::env::var("PORTCULLIS_INTROSPECTION_TOKEN").unwrap_or_default())
//!         .try_build()
//!         .expect("a valid Portcullis configuration");
//!     let app = Router::new()
//!         .route("/books/{id}/download", get(download))
//!         .route("/books/{id}/comments", post(comment))
//!         .route("/users/{user_id}/records", get(records))
//!         .with_state(AppState { verifier });
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! ```

mod algorithm;
mod builder;
mod errors;
#[cfg(feature = "axum")]
mod extract;
mod http;
mod introspection;
mod jwks;
mod key_set;
mod verifier;

pub use algorithm::SigningAlgorithm;
pub use builder::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_INTROSPECTION_CACHE, DEFAULT_INTROSPECTION_CONCURRENCY,
    DEFAULT_JWKS_REFRESH_INTERVAL, JWKS_REFETCH_INTERVAL, MAX_FETCH_TIMEOUT,
    MAX_INTROSPECTION_CACHE, MAX_LEEWAY, RevocationCheck, VerifierBuilder,
};
pub use errors::{ConfigError, VerifyError};
#[cfg(feature = "axum")]
pub use extract::{
    Authenticated, Owner, OwnerOr, Permission, Rejection, RevocationChecked,
    RevocationCheckedWithPermission, WithPermission,
};
/// The HTTP client's types that the builder takes (root certificates, client options).
pub use reqwest;
pub use verifier::{Claims, Verifier};
