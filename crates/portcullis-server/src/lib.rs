//! The Portcullis HTTP API: the axum router, its extractors, and the single
//! mapping from errors to responses.
//!
//! This is the only crate that knows HTTP and JSON. Handlers stay thin: they
//! parse the request, call one use case of [`portcullis_core::Services`] and
//! shape the answer. Request bodies are capped at 64 KiB, a panic in a
//! handler becomes a 500 while the server keeps serving, and CORS admits only
//! the configured origins. [`serve`] runs the router with the bounds a server
//! facing the internet needs: header, body and idle timeouts and a cap on
//! connections ([`HttpSettings`]).
//!
//! Every endpoint is one row of the route table (`routes::table`), which
//! builds both the router and the OpenAPI 3.1 document that
//! `GET /openapi.json` serves, from the handlers' annotations.
//! With the `test-support` feature, [`conformance`] checks responses
//! against that document.

mod body_deadline;
mod browser;
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
mod connections;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod mail_sender;
mod maintenance;
mod metrics;
mod openapi;
mod pages;
mod responses;
mod routes;
mod state;
mod text_input;
mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use connections::serve;
pub use mail_sender::spawn_mail_sender;
pub use maintenance::spawn_maintenance;
pub use metrics::install_recorder as install_metrics_recorder;
pub use metrics_exporter_prometheus::PrometheusHandle as MetricsHandle;
pub use pages::{Colour, InvalidBranding, LogoUrl, PageSettings, Pages, PagesError};
pub use routes::openapi_json;
pub use state::{AppState, HttpSettings};

use crate::error::{ApiError, problem_response};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the router for the whole contract.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.http.cors_origins);
    let (api, _document) = routes::table().split_for_parts();
    let api = api
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .with_state(state);
    let api = match cors {
        Some(cors) => api.layer(cors),
        None => api,
    };
    with_safety_layers(api)
}

/// The layers every route sits behind: the body limit, `Connection: close`
/// after a 413 or 408, request spans, and a panic turned into a 500.
fn with_safety_layers(routes: Router) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(close_after_unread_body))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(CatchPanicLayer::custom(panic_response))
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

/// A `413` or a `408` leaves the rest of the body unread on the connection,
/// so the connection cannot carry another request: say so, rather than let
/// a client's next request on it fail.
async fn close_after_unread_body(mut response: Response) -> Response {
    if matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
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
