//! Accounts: sign-up and the caller's own account (`/users`, `/me`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::service::AccountChange;

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::state::AppState;
use crate::wire::{
    ChangePasswordRequest, DeleteMeRequest, SignUpRequest, UpdateMeRequest, UserBody,
};

pub(crate) async fn sign_up(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SignUpRequest>,
) -> Result<Response, ApiError> {
    let user = state
        .auth
        .sign_up(&request.email, &request.password, request.name.as_deref())
        .await?;
    let location = format!("/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserBody::new(user, None)),
    )
        .into_response())
}

pub(crate) async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<UserBody>, ApiError> {
    let (user, permissions) = state.auth.me(&principal).await?;
    Ok(Json(UserBody::new(
        user,
        Some(permissions.into_iter().collect()),
    )))
}

pub(crate) async fn update_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<UpdateMeRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let change = AccountChange {
        email: request.email.as_deref(),
        name: request.name.as_ref().map(Option::as_deref),
        current_password: request.current_password.as_deref(),
    };
    let user = state.auth.update_me(&principal, change).await?;
    Ok(Json(UserBody::new(user, None)))
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .change_password(&principal, &request.current_password, &request.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn delete_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<DeleteMeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .delete_me(&principal, &request.current_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
