//! The Portcullis HTTP API: the axum router, its extractors, and the single
//! mapping from errors to responses.
//!
//! This is the only crate that knows HTTP and JSON. Handlers stay thin: they
//! parse the request, call one use case of [`portcullis_core::Services`] and
//! shape the answer. Request bodies are capped at 64 KiB, a panic in a
//! handler becomes a 500 while the server keeps serving, and CORS admits only
//! the configured origins.
//!
//! Every endpoint is one row of [`endpoints`], and `GET /openapi.json` serves
//! an OpenAPI 3.1 document generated from the handlers' annotations; a test
//! checks that the two agree.

mod error;
mod extract;
mod maintenance;
mod metrics;
mod openapi;
mod routes;
mod state;
mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use maintenance::spawn_maintenance;
pub use metrics::install_recorder as install_metrics_recorder;
pub use openapi::openapi_json;
pub use state::{AppState, HttpSettings};

use crate::error::{ApiError, problem_response};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the router for the whole contract.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.http.cors_origins);
    let api = endpoints()
        .into_iter()
        .fold(Router::new(), |api, endpoint| {
            api.route(endpoint.path, endpoint.handler)
        })
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(axum::middleware::from_fn(metrics::track_requests))
        .with_state(state);
    let api = match cors {
        Some(cors) => api.layer(cors),
        None => api,
    };
    with_safety_layers(api)
}

/// The layers every route sits behind: the body limit, `Connection: close`
/// after a 413, request spans, and a panic turned into a 500.
fn with_safety_layers(routes: Router) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(close_after_unread_body))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// One method on one path: what the router serves and the OpenAPI document describes.
struct Endpoint {
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the OpenAPI tests"))]
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
}

/// Every endpoint of the contract. A handler added here needs a
/// `#[utoipa::path]` with the same method and path, listed in
/// [`openapi`]'s `paths(...)`: the tests there fail otherwise.
fn endpoints() -> Vec<Endpoint> {
    use routes::{
        accounts, admin, discovery, health, personal_tokens, protected_apis, sessions, token,
    };
    vec![
        endpoint(Method::POST, "/users", accounts::sign_up),
        endpoint(Method::GET, "/users", admin::list_users),
        endpoint(Method::GET, "/users/{id}", admin::get_user),
        endpoint(Method::PATCH, "/users/{id}", admin::update_user),
        endpoint(Method::DELETE, "/users/{id}", admin::delete_user),
        endpoint(Method::GET, "/roles", admin::list_roles),
        endpoint(Method::PUT, "/roles/{name}", admin::put_role),
        endpoint(Method::DELETE, "/roles/{name}", admin::delete_role),
        endpoint(Method::POST, "/me/tokens", personal_tokens::create),
        endpoint(Method::GET, "/me/tokens", personal_tokens::list),
        endpoint(Method::DELETE, "/me/tokens/{id}", personal_tokens::delete),
        endpoint(
            Method::POST,
            "/token/introspect",
            protected_apis::introspect,
        ),
        endpoint(Method::GET, "/auth/verify", protected_apis::verify),
        endpoint(Method::GET, "/me", accounts::me),
        endpoint(Method::PATCH, "/me", accounts::update_me),
        endpoint(Method::DELETE, "/me", accounts::delete_me),
        endpoint(Method::PUT, "/me/password", accounts::change_password),
        endpoint(Method::GET, "/me/sessions", sessions::list),
        endpoint(Method::DELETE, "/me/sessions", sessions::revoke_all),
        endpoint(Method::DELETE, "/me/sessions/{id}", sessions::revoke_one),
        endpoint(Method::POST, "/logout", sessions::logout),
        endpoint(Method::POST, "/token", token::token),
        endpoint(Method::POST, "/token/revoke", token::revoke),
        endpoint(Method::GET, "/.well-known/jwks.json", discovery::jwks),
        endpoint(
            Method::GET,
            "/.well-known/openid-configuration",
            discovery::openid_configuration,
        ),
        endpoint(Method::GET, "/healthz", health::healthz),
        endpoint(Method::GET, "/readyz", health::readyz),
        endpoint(Method::GET, "/openapi.json", openapi::serve_document),
        endpoint(Method::GET, "/metrics", metrics::serve_metrics),
    ]
}

/// One row of [`endpoints`]; a `GET` also answers `HEAD`, as `axum::routing::get` does.
fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| panic!("axum cannot route {method}"));
    Endpoint {
        method,
        path,
        handler: axum::routing::on(filter, handler),
    }
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

/// A `413` leaves the rest of the body unread on the connection, so the
/// connection cannot carry another request: say so, rather than let a
/// client's next request on it fail.
async fn close_after_unread_body(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    async fn panicking_handler() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_problem_and_the_router_keeps_serving() {
        let app = with_safety_layers(
            Router::new()
                .route("/boom", axum::routing::get(panicking_handler))
                .route("/fine", axum::routing::get(|| async { "fine" })),
        );
        let boom = app
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            boom.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(boom.into_body(), 4096).await.unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains("handler bug"),
            "no internal detail is sent"
        );
        let fine = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
