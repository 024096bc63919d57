//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::wire::HealthBody;

/// Liveness
///
/// `200` while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The process runs: `{\"status\": \"ok\"}`.", body = HealthBody),
    )
)]
pub(crate) async fn healthz() -> Json<HealthBody> {
    Json(HealthBody {
        status: "ok",
        detail: None,
    })
}

/// Readiness
///
/// `200` when the database answers, else `503` with `Retry-After`.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers: `{\"status\": \"ready\"}`.", body = HealthBody),
        (status = 503, description = "The database does not answer: `{\"status\": \"unavailable\", \"detail\": \"...\"}`.",
            body = HealthBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before asking again."))),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.check_ready().await {
        Ok(()) => Json(HealthBody {
            status: "ready",
            detail: None,
        })
        .into_response(),
        Err(not_ready) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(HealthBody {
                status: "unavailable",
                detail: Some(not_ready.to_string()),
            }),
        )
            .into_response(),
    }
}
