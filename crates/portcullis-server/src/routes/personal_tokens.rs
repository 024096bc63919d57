//! The caller's personal access tokens (`/me/tokens`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::service::personal_tokens::NewPersonalToken;

use crate::error::{ApiError, no_store_headers};
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin::parse_id;
use crate::state::AppState;
use crate::wire::{NewPersonalTokenRequest, PersonalTokenBody};

/// `201` with the token, shown this once.
pub(crate) async fn create(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<NewPersonalTokenRequest>,
) -> Result<Response, ApiError> {
    let new = NewPersonalToken { name: &request.name, scopes: request.scopes, expires_in_days: request.expires_in_days };
    let (view, token) = state.auth.create_personal_token(&principal, new).await?;
    Ok((StatusCode::CREATED, no_store_headers(), Json(PersonalTokenBody::new(view, Some(token)))).into_response())
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<PersonalTokenBody>>, ApiError> {
    let tokens = state.auth.personal_tokens(&principal).await?;
    Ok(Json(tokens.into_iter().map(|view| PersonalTokenBody::new(view, None)).collect()))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.delete_personal_token(&principal, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
