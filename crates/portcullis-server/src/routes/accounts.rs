//! Accounts: sign-up and the caller's own account (`/users`, `/me`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::PersonalTokensOnNewPassword;
use portcullis_core::services::accounts::{AccountChange, ProfileUpdate};

use crate::error::ApiError;
use crate::extract::{Authenticated, Client, JsonBody};
use crate::responses::{
    BadRequest, EmailTaken, InternalError, LastAdministrator, PayloadTooLarge,
    SessionTokenRequired, SignupClosed, TooManyAttempts, Unauthorized, Unavailable,
    UnsupportedMediaType, ValidationFailed,
};
use crate::state::AppState;
use crate::wire::{
    ChangePasswordRequest, DeleteMeRequest, SignUpRequest, UpdateMeRequest, UserBody,
};

/// Sign up
///
/// Creates an account (open sign-up; `403` when closed).
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "sign_up",
    tag = "accounts",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The new user.", body = UserBody,
            headers(("Location" = String, description = "`/users/{id}` of the new user."))),
        (status = 400, response = BadRequest),
        (status = 403, response = SignupClosed),
        (status = 409, response = EmailTaken),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<SignUpRequest>,
) -> Result<Response, ApiError> {
    let user = state
        .services
        .accounts
        .sign_up(
            &request.email,
            &request.password,
            request.name.as_deref(),
            &client,
        )
        .await?;
    let location = format!("/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserBody::new(user, None)),
    )
        .into_response())
}

/// The caller's account
///
/// The caller's account, with the permissions its roles grant now.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "get_me",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller, with `permissions`.", body = UserBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<UserBody>, ApiError> {
    let (user, permissions) = state.services.accounts.me(&principal).await?;
    Ok(Json(UserBody::new(
        user,
        Some(permissions.into_iter().collect()),
    )))
}

/// Change the caller's name or email
///
/// Changes the caller's name or email; an email change needs
/// `current_password` and, with email verification on, applies when the
/// new address confirms (`202`; the old address is told).
#[utoipa::path(
    patch,
    path = "/me",
    operation_id = "update_me",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The changed user.", body = UserBody),
        (status = 202, description = "Email verification is on: the other changes applied, and the email changes when the new address confirms with the link sent there (the user as it is now).", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 409, response = EmailTaken),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Client(client): Client,
    JsonBody(request): JsonBody<UpdateMeRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    let change = AccountChange {
        email: request.email.as_deref(),
        name: request.name.as_ref().map(Option::as_deref),
        current_password: request.current_password.as_ref(),
    };
    Ok(
        match state
            .services
            .accounts
            .update(&principal, change, &client)
            .await?
        {
            ProfileUpdate::Applied(user) => (StatusCode::OK, Json(UserBody::new(user, None))),
            ProfileUpdate::EmailConfirmationSent(user) => {
                (StatusCode::ACCEPTED, Json(UserBody::new(user, None)))
            }
        },
    )
}

/// Change the caller's password
///
/// Sets a new password; every other session of the user is revoked.
#[utoipa::path(
    put,
    path = "/me/password",
    operation_id = "change_password",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session is revoked."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .accounts
        .change_password(
            &principal,
            &request.current_password,
            &request.new_password,
            if request.revoke_tokens {
                PersonalTokensOnNewPassword::Revoke
            } else {
                PersonalTokensOnNewPassword::Keep
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the caller's account
///
/// Deletes the caller's account, its sessions and its tokens.
#[utoipa::path(
    delete,
    path = "/me",
    operation_id = "delete_me",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = DeleteMeRequest,
    responses(
        (status = 204, description = "Deleted, with every session and token."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = SessionTokenRequired),
        (status = 409, response = LastAdministrator),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<DeleteMeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .accounts
        .delete(&principal, &request.current_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
