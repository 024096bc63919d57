//! Mail flows: proving an address and recovering an account
//! (`/email/*`, `/password/*`).
//!
//! A request for a message answers `202` with the same bytes whatever the
//! address; the work goes on after the answer. A proof is the link's token
//! or the address and the code, never both.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::services::email_flows::EmailProof;
use portcullis_core::{AuthError, FieldError, SecretString};

use crate::error::ApiError;
use crate::extract::{Client, JsonBody};
use crate::responses::{
    BadRequest, EmailCodeLoginOff, EmailTaken, InternalError, PayloadTooLarge, TooManyAttempts,
    Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::state::AppState;
use crate::wire::{
    MailRequestAccepted, MailRequestBody, ResetPasswordRequest, UserBody, VerifyEmailRequest,
};

/// Ask for a verification message
///
/// Sends a message with a link and a code to the address, if an account
/// has it and has not proved it yet. The answer is the same either way.
#[utoipa::path(
    post,
    path = "/email/verify-request",
    operation_id = "request_email_verification",
    tag = "email",
    request_body = MailRequestBody,
    responses(
        (status = 202, description = "Accepted, whether or not an account has the address.", body = MailRequestAccepted),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn request_verification(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<MailRequestBody>,
) -> Result<(StatusCode, Json<MailRequestAccepted>), ApiError> {
    // The work goes on without us: the answer must not wait for it.
    drop(
        state
            .services
            .email_flows
            .request_verification(&request.email, &client)
            .await?,
    );
    Ok((StatusCode::ACCEPTED, Json(MailRequestAccepted::ANSWER)))
}

/// Ask for a sign-in code
///
/// Sends an 8-digit code (10 minutes) to the address, if an active account
/// has it; `POST /token` with `grant_type=urn:portcullis:grant-type:email-code`,
/// `email` and `code` signs in with it. The answer is the same either way.
/// `403` unless the server runs with `--email-code-login on`.
#[utoipa::path(
    post,
    path = "/login/email-code",
    operation_id = "request_sign_in_code",
    tag = "email",
    request_body = MailRequestBody,
    responses(
        (status = 202, description = "Accepted, whether or not an account has the address.", body = MailRequestAccepted),
        (status = 400, response = BadRequest),
        (status = 403, response = EmailCodeLoginOff),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn request_sign_in_code(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<MailRequestBody>,
) -> Result<(StatusCode, Json<MailRequestAccepted>), ApiError> {
    // The work goes on without us: the answer must not wait for it.
    drop(
        state
            .services
            .email_flows
            .request_sign_in_code(&request.email, &client)
            .await?,
    );
    Ok((StatusCode::ACCEPTED, Json(MailRequestAccepted::ANSWER)))
}

/// Prove an address
///
/// Spends the token of a verification link, or the address and the code
/// of the message, and marks the address verified. The link of an email
/// change moves the account to the new address and tells the old one.
#[utoipa::path(
    post,
    path = "/email/verify",
    operation_id = "verify_email",
    tag = "email",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The user, `email_verified: true` (for the link of an email change, with its new address).", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 409, response = EmailTaken),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<VerifyEmailRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let proof = proof(
        request.token.as_ref(),
        request.email.as_deref(),
        request.code.as_ref(),
    )?;
    let user = state
        .services
        .email_flows
        .verify_email(proof, &client)
        .await?;
    Ok(Json(UserBody::new(user, None)))
}

/// Ask for a password reset
///
/// Sends a message with a link and a code to the address, if an active
/// account has it. The answer is the same either way.
#[utoipa::path(
    post,
    path = "/password/forgot",
    operation_id = "forgot_password",
    tag = "email",
    request_body = MailRequestBody,
    responses(
        (status = 202, description = "Accepted, whether or not an account has the address.", body = MailRequestAccepted),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<MailRequestBody>,
) -> Result<(StatusCode, Json<MailRequestAccepted>), ApiError> {
    // The work goes on without us: the answer must not wait for it.
    drop(
        state
            .services
            .email_flows
            .request_password_reset(&request.email, &client)
            .await?,
    );
    Ok((StatusCode::ACCEPTED, Json(MailRequestAccepted::ANSWER)))
}

/// Reset the password
///
/// Spends the token of a reset link, or the address and the code of the
/// message, and sets the new password: every session of the user is
/// revoked, and the address counts as verified.
#[utoipa::path(
    post,
    path = "/password/reset",
    operation_id = "reset_password",
    tag = "email",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is set; every session has ended."),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(request): JsonBody<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let proof = proof(
        request.token.as_ref(),
        request.email.as_deref(),
        request.code.as_ref(),
    )?;
    state
        .services
        .email_flows
        .reset_password(proof, &request.new_password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The proof a body gives: a token alone, or an email and a code.
fn proof<'a>(
    token: Option<&'a SecretString>,
    email: Option<&'a str>,
    code: Option<&'a SecretString>,
) -> Result<EmailProof<'a>, ApiError> {
    match (token, email, code) {
        (Some(token), None, None) => Ok(EmailProof::Link { token }),
        (None, Some(email), Some(code)) => Ok(EmailProof::Code { email, code }),
        _ => Err(ApiError::from(AuthError::Invalid(vec![FieldError::new(
            "token",
            "give either `token`, or `email` and `code`",
        )]))),
    }
}
