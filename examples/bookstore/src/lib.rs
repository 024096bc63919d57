//! The tutorial's bookstore, protected by Portcullis.
//!
//! - The catalogue and the comments are public.
//! - Downloading a book needs `books:download`, which the `customer` role
//!   grants; buying a book (a simulated payment) gives the buyer that role
//!   through Portcullis's admin API.
//! - Posting a comment needs any logged-in user.
//! - A user's profile and medical history are read and changed only by that
//!   user; anyone else gets `404`, as for a user that does not exist. A
//!   `doctor` role holding `records:read` may read (not change) them.
//!
//! State is in memory: this is an example of protecting an API, not of
//! storing books.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_verify::{
    Authenticated, ConfigError, Owner, OwnerOr, Verifier, VerifierBuilder, WithPermission,
    permission,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::cors::{AllowOrigin, CorsLayer};

permission!(pub BooksDownload = "books:download");
permission!(pub RecordsRead = "records:read");

/// The role a purchase grants.
pub const CUSTOMER_ROLE: &str = "customer";

/// How the bookstore reaches Portcullis.
#[derive(Debug, Clone)]
pub struct Config {
    /// Portcullis's base URL: `https://…`, or `http://` to a loopback host
    /// such as `http://localhost:8080`.
    pub portcullis_url: String,
    /// A personal access token holding `admin:users` and `books:download`
    /// (to grant the `customer` role, whose permission a granter must hold)
    /// and `tokens:introspect` (to accept users' personal access tokens).
    pub admin_token: String,
    /// The `iss` (and `aud`) of Portcullis's tokens, its `--issuer`, when it
    /// differs from `portcullis_url` [default: `portcullis_url`].
    pub issuer: Option<String>,
    /// Browser origins allowed to call the API (CORS), such as the
    /// single-page app of `examples/spa`; none by default.
    pub cors_origins: Vec<String>,
}

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    config: Arc<Config>,
    http: reqwest::Client,
    data: Arc<Mutex<Data>>,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

#[derive(Default)]
struct Data {
    comments: HashMap<u32, Vec<Comment>>,
    profiles: HashMap<String, Profile>,
}

#[derive(Clone, Serialize)]
struct Book {
    id: u32,
    title: &'static str,
    author: &'static str,
}

const BOOKS: [Book; 3] = [
    Book {
        id: 1,
        title: "The Rust Programming Language",
        author: "Klabnik & Nichols",
    },
    Book {
        id: 2,
        title: "Zero To Production In Rust",
        author: "Palmieri",
    },
    Book {
        id: 3,
        title: "Designing Data-Intensive Applications",
        author: "Kleppmann",
    },
];

#[derive(Clone, Serialize)]
struct Comment {
    user_id: String,
    text: String,
}

#[derive(Deserialize)]
struct NewComment {
    text: String,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    medical_history: Vec<String>,
}

/// The bookstore's router. A configuration the verifier refuses (see
/// [`try_app`]) gives a router that answers `500` on protected routes.
pub fn app(config: Config) -> Router {
    let verifier = verifier_builder(&config).build();
    router(config, verifier)
}

/// The bookstore's router, or why Portcullis cannot be reached safely with
/// this configuration (e.g. plain `http://` to a host that is not loopback).
///
/// # Errors
/// The verifier's [`ConfigError`].
pub fn try_app(config: Config) -> Result<Router, ConfigError> {
    let verifier = verifier_builder(&config).try_build()?;
    Ok(router(config, verifier))
}

fn verifier_builder(config: &Config) -> VerifierBuilder {
    let mut verifier = Verifier::builder(&config.portcullis_url).introspection(&config.admin_token);
    if let Some(issuer) = &config.issuer {
        verifier = verifier.issuer(issuer);
    }
    verifier
}

fn router(config: Config, verifier: Verifier) -> Router {
    let cors = cors_layer(&config.cors_origins);
    let state = AppState {
        verifier,
        config: Arc::new(config),
        http: reqwest::Client::new(),
        data: Arc::default(),
    };
    Router::new()
        .route("/books", get(catalogue))
        .route("/books/{id}/download", get(download))
        .route("/books/{id}/comments", get(comments).post(comment))
        .route("/purchases", post(purchase))
        .route(
            "/users/{user_id}/profile",
            get(read_profile).put(write_profile),
        )
        .route(
            "/users/{user_id}/medical-history",
            get(read_medical_history),
        )
        .with_state(state)
        .layer(cors)
}

/// Lets the browser origins of `origins` call every route with a bearer
/// token; with none, a cross-origin page can read nothing.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE])
}

async fn catalogue() -> Json<Vec<Book>> {
    Json(BOOKS.to_vec())
}

fn book(id: u32) -> Result<&'static Book, StatusCode> {
    BOOKS
        .iter()
        .find(|book| book.id == id)
        .ok_or(StatusCode::NOT_FOUND)
}

async fn download(
    WithPermission(claims, ..): WithPermission<BooksDownload>,
    Path(id): Path<u32>,
) -> Result<String, StatusCode> {
    let book = book(id)?;
    Ok(format!(
        "{} by {}, downloaded by {}\n",
        book.title, book.author, claims.user_id
    ))
}

async fn comments(
    State(state): State<AppState>,
    Path(id): Path<u32>,
) -> Result<Json<Vec<Comment>>, StatusCode> {
    book(id)?;
    let data = state
        .data
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Json(data.comments.get(&id).cloned().unwrap_or_default()))
}

async fn comment(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Path(id): Path<u32>,
    Json(new): Json<NewComment>,
) -> Result<(StatusCode, Json<Comment>), StatusCode> {
    book(id)?;
    let comment = Comment {
        user_id: claims.user_id,
        text: new.text,
    };
    let mut data = state
        .data
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    data.comments.entry(id).or_default().push(comment.clone());
    Ok((StatusCode::CREATED, Json(comment)))
}

/// Simulates a payment, then grants the `customer` role through Portcullis.
/// The buyer's next token (after a refresh) carries `books:download`.
async fn purchase(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<Value>, StatusCode> {
    let user_url = format!(
        "{}/users/{}",
        state.config.portcullis_url.trim_end_matches('/'),
        claims.user_id
    );
    let user: Value = state
        .http
        .get(&user_url)
        .bearer_auth(&state.config.admin_token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|_| StatusCode::BAD_GATEWAY)?
        .json()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let mut roles: Vec<String> = serde_json::from_value(user["roles"].clone()).unwrap_or_default();
    if !roles.iter().any(|role| role == CUSTOMER_ROLE) {
        roles.push(CUSTOMER_ROLE.to_owned());
    }
    state
        .http
        .patch(&user_url)
        .bearer_auth(&state.config.admin_token)
        .json(&json!({ "roles": roles }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(Json(
        json!({ "paid": true, "roles": roles, "note": "refresh your token to use the new permission" }),
    ))
}

async fn read_profile(
    State(state): State<AppState>,
    OwnerOr(..): OwnerOr<RecordsRead>,
    Path(user_id): Path<String>,
) -> Json<Profile> {
    let data = state
        .data
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(data.profiles.get(&user_id).cloned().unwrap_or_default())
}

async fn write_profile(
    State(state): State<AppState>,
    Owner(claims): Owner,
    Json(profile): Json<Profile>,
) -> Json<Profile> {
    let mut data = state
        .data
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    data.profiles.insert(claims.user_id, profile.clone());
    Json(profile)
}

async fn read_medical_history(
    State(state): State<AppState>,
    OwnerOr(..): OwnerOr<RecordsRead>,
    Path(user_id): Path<String>,
) -> Json<Vec<String>> {
    let data = state
        .data
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(
        data.profiles
            .get(&user_id)
            .map(|profile| profile.medical_history.clone())
            .unwrap_or_default(),
    )
}
