//! Sessions and logout: listing and ending the caller's own sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;
use crate::wire::SessionBody;

pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let sessions = state.auth.sessions(&principal).await?;
    Ok(Json(sessions.into_iter().map(SessionBody::from).collect()))
}

/// Ends one session; an id that is not a UUID is as unknown as any other.
pub(crate) async fn revoke_one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state.auth.revoke_own_session(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn revoke_all(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.auth.revoke_all_own_sessions(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.auth.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}
