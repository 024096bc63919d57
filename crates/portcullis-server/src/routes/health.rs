//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// `200` while the process runs.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `200` when the database answers, else `503` with `Retry-After`.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match state.auth.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(json!({ "status": "unavailable", "detail": "the database does not answer" })),
        )
            .into_response(),
    }
}
