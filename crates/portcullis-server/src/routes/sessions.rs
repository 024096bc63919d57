//! Sessions and logout: listing and ending the caller's own sessions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Authenticated, PathParameter};
use crate::responses::{InternalError, NotFound, SessionTokenRequired, Unauthorized, Unavailable};
use crate::state::AppState;
use crate::wire::SessionBody;

/// List the caller's sessions
///
/// The caller's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/me/sessions",
    operation_id = "list_sessions",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The live sessions.", body = Vec<SessionBody>),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let sessions = state.services.sessions.list(&principal).await?;
    Ok(Json(sessions.into_iter().map(SessionBody::from).collect()))
}

/// End one session
///
/// Ends one session; an id that is not a UUID is as unknown as any other.
#[utoipa::path(
    delete,
    path = "/me/sessions/{id}",
    operation_id = "revoke_session",
    tag = "sessions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The session's id; another user's is `404`.")),
    responses(
        (status = 204, description = "Revoked: its refresh token and access tokens stop working."),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revoke_one(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    PathParameter(id): PathParameter,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state.services.sessions.revoke_own(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log out everywhere
///
/// Ends every session of the caller, the current one included.
#[utoipa::path(
    delete,
    path = "/me/sessions",
    operation_id = "revoke_all_sessions",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session is revoked."),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revoke_all(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.services.sessions.revoke_all_own(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log out
///
/// Ends the session of the caller's access token.
#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The current session is revoked."),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.services.sessions.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}
