//! Protect a Rust API with Portcullis: verify its
//! access tokens and personal access tokens, and require permissions.
//!
//! Access tokens (EdDSA JWTs) are verified locally against the server's JWKS,
//! fetched once and refetched only when a token names an unknown key, at most
//! every 30 seconds. Personal access tokens (`pat_…`) and, for routes that
//! ask, the revocation of an access token's session are checked through the
//! server's introspection endpoint, with a short cache; that needs a
//! credential holding `tokens:introspect`.
//!
//! With the default `axum` feature, extractors do the checking: [`Authenticated`],
//! [`WithPermission`], [`Owner`], [`OwnerOr`] and [`RevocationChecked`]. A refused
//! request gets an RFC 6750 answer: `401` with `WWW-Authenticate`, `403` with
//! `error="insufficient_scope"`, or `503` when the server cannot be asked.
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
//!         .build();
//!     let app = Router::new()
//!         .route("/books/{id}/download", get(download))
//!         .route("/books/{id}/comments", post(comment))
//!         .route("/users/{user_id}/records", get(records))
//!         .with_state(AppState { verifier });
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! ```

#[cfg(feature = "axum")]
mod extract;
mod verifier;

#[cfg(feature = "axum")]
pub use extract::{
    Authenticated, Owner, OwnerOr, Permission, Rejection, RevocationChecked, WithPermission,
};
pub use verifier::{
    Claims, DEFAULT_INTROSPECTION_CACHE, JWKS_REFETCH_INTERVAL, Verifier, VerifierBuilder,
    VerifyError,
};
