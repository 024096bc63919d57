//! The Portcullis HTTP API: the axum router, its extractors, and the single
//! mapping from errors to responses.
//!
//! This is the only crate that knows HTTP and JSON. Handlers stay thin: they
//! parse the request, call one [`portcullis_core::AuthService`] method and
//! shape the answer. Request bodies are capped at 64 KiB, a panic in a
//! handler becomes a 500 while the server keeps serving, and CORS admits only
//! the configured origins.

mod error;
mod extract;
mod maintenance;
mod routes;
mod state;
mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use maintenance::spawn_maintenance;
pub use state::{AppState, HttpSettings};

use crate::error::{ApiError, problem_response};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the router for the whole contract.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.http.cors_origins);
    let api = Router::new()
        .route("/users", post(routes::accounts::sign_up).get(routes::admin::list_users))
        .route(
            "/users/{id}",
            get(routes::admin::get_user).patch(routes::admin::update_user).delete(routes::admin::delete_user),
        )
        .route("/roles", get(routes::admin::list_roles))
        .route("/roles/{name}", axum::routing::put(routes::admin::put_role).delete(routes::admin::delete_role))
        .route("/me/tokens", post(routes::personal_tokens::create).get(routes::personal_tokens::list))
        .route("/me/tokens/{id}", axum::routing::delete(routes::personal_tokens::delete))
        .route("/token/introspect", post(routes::protected_apis::introspect))
        .route("/auth/verify", get(routes::protected_apis::verify))
        .route(
            "/me",
            get(routes::accounts::me)
                .patch(routes::accounts::update_me)
                .delete(routes::accounts::delete_me),
        )
        .route(
            "/me/password",
            axum::routing::put(routes::accounts::change_password),
        )
        .route(
            "/me/sessions",
            get(routes::sessions::list).delete(routes::sessions::revoke_all),
        )
        .route(
            "/me/sessions/{id}",
            axum::routing::delete(routes::sessions::revoke_one),
        )
        .route("/logout", post(routes::sessions::logout))
        .route("/token", post(routes::token::token))
        .route("/token/revoke", post(routes::token::revoke))
        .route("/.well-known/jwks.json", get(routes::discovery::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(routes::discovery::openid_configuration),
        )
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);
    let api = match cors {
        Some(cors) => api.layer(cors),
        None => api,
    };
    api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// Serves `router` on `listener` until `shutdown` resolves; in-flight requests finish.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                header::WWW_AUTHENTICATE,
                header::RETRY_AFTER,
                header::LOCATION,
            ])
            .max_age(Duration::from_secs(3600)),
    )
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    problem_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred".to_owned(),
        None,
        axum::http::HeaderMap::new(),
    )
    .into_response()
}
