//! The caller's personal access tokens (`/me/tokens`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::services::personal_tokens::NewPersonalToken;

use crate::error::{ApiError, no_store_headers};
use crate::extract::{Authenticated, JsonBody, PathParameter};
use crate::responses::{
    BadRequest, InternalError, NotFound, PayloadTooLarge, SessionTokenRequired, Unauthorized,
    Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::routes::admin::parse_id;
use crate::state::AppState;
use crate::wire::{NewPersonalTokenRequest, PersonalTokenBody};

/// Create a personal access token
///
/// `201` with the token, shown this once. Needs a session's access token.
#[utoipa::path(
    post,
    path = "/me/tokens",
    operation_id = "create_personal_token",
    tag = "personal-access-tokens",
    security(("bearer" = [])),
    request_body = NewPersonalTokenRequest,
    responses(
        (status = 201, description = "The new token; `token` is shown only here.", body = PersonalTokenBody, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<NewPersonalTokenRequest>,
) -> Result<Response, ApiError> {
    let new = NewPersonalToken {
        name: &request.name,
        scopes: request.scopes,
        expires_in_days: request.expires_in_days,
    };
    let created = state
        .services
        .personal_tokens
        .create(&principal, new)
        .await?;
    Ok((
        StatusCode::CREATED,
        no_store_headers(),
        Json(PersonalTokenBody::new(created.view, Some(created.token))),
    )
        .into_response())
}

/// List the caller's personal access tokens
///
/// Every personal access token of the caller, without secrets. Needs a
/// session's access token.
#[utoipa::path(
    get,
    path = "/me/tokens",
    operation_id = "list_personal_tokens",
    tag = "personal-access-tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tokens, newest first, without `token`.", body = Vec<PersonalTokenBody>),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<PersonalTokenBody>>, ApiError> {
    let tokens = state.services.personal_tokens.list(&principal).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|view| PersonalTokenBody::new(view, None))
            .collect(),
    ))
}

/// Delete a personal access token
///
/// Deletes one of the caller's personal access tokens; it stops working at
/// once. Needs a session's access token.
#[utoipa::path(
    delete,
    path = "/me/tokens/{id}",
    operation_id = "delete_personal_token",
    tag = "personal-access-tokens",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    PathParameter(id): PathParameter,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .personal_tokens
        .delete(&principal, parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
