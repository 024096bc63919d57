//! The pages a mailed link opens: `GET /email/verify` and
//! `GET /password/reset` show a form and spend nothing (a mail scanner that
//! follows links spends no token); the form POSTs to
//! `/email/verify/confirm` or `/password/reset/confirm`, which spend it
//! through the same use cases as the JSON API and answer a page.
//!
//! `GET /password/forgot` is the page that asks for such a message.
//!
//! The JSON endpoints stay JSON-only; these answer HTML only, through the
//! templates of [`crate::pages`]. The form carries the token from the link
//! (unguessable, single-use), which is what stops another site from
//! submitting it in the user's name.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use portcullis_core::services::email_flows::EmailProof;
use portcullis_core::{AuthError, ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;

use crate::browser::our_form;
use crate::error::ApiError;
use crate::error::Problem;
use crate::extract::{Client, QueryParameters, is_json, parse_json};
use crate::pages::{Page, View};
use crate::responses::{BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed};
use crate::routes::sign_in::with_csrf;
use crate::state::AppState;
use crate::wire::{ForgotPasswordForm, LinkQuery, ResetPasswordForm, VerifyEmailForm};

const VERIFY_TITLE: &str = "Confirm your email address";
const RESET_TITLE: &str = "Choose a new password";
const FORGOT_TITLE: &str = "Forgot your password?";
/// What a link or code that cannot be spent gets.
const UNUSABLE_PROOF: &str = "This link or code does not work: it is wrong, was already used, was replaced by a newer one, or has expired. Ask for a new message, or type the code of the newest one.";
/// What a form with neither a token nor an address and a code gets.
const NO_PROOF: &str = "Give the code and the address it was sent to.";
/// The `maxLength` of a link token in the document.
const MAX_LINK_TOKEN_CHARS: usize = 64;

/// The page of a verification link
///
/// A page with a button that confirms the address; without `token`, a
/// form for the address and the code. Spends nothing.
#[utoipa::path(
    get,
    path = "/email/verify",
    operation_id = "email_verification_page",
    tag = "pages",
    params(LinkQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
    )
)]
pub(crate) async fn verify_page(
    State(state): State<AppState>,
    QueryParameters(query): QueryParameters<LinkQuery>,
) -> Result<Response, ApiError> {
    let view = View::EmailVerify {
        token: link_token(&query)?.map(str::to_owned),
        form_error: None,
    };
    Ok(state.pages.render(Page::new(VERIFY_TITLE, view)))
}

/// Confirm an address from its page
///
/// The form of `GET /email/verify`: spends the token (or the address and
/// the code) and answers a page.
#[utoipa::path(
    post,
    path = "/email/verify/confirm",
    operation_id = "email_verification_form",
    tag = "pages",
    request_body(content(
        (VerifyEmailForm = "application/x-www-form-urlencoded"),
        (VerifyEmailForm = "application/json"),
    )),
    responses(
        (status = 200, description = "The address is confirmed.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The token or code does not work (a page that says so), or a field is refused at the edge (problem details).",
            content((String = "text/html"), (Problem = "application/problem+json"))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn verify_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: VerifyEmailForm = read_form(&headers, body)?;
    let again = |message: &str| {
        let view = View::EmailVerify {
            token: None,
            form_error: Some(message.to_owned()),
        };
        Page::new(VERIFY_TITLE, view).with_status(StatusCode::UNPROCESSABLE_ENTITY)
    };
    let Some(proof) = proof(
        posted.token.as_ref(),
        posted.email.as_deref(),
        posted.code.as_ref(),
    ) else {
        return Ok(state.pages.render(again(NO_PROOF)));
    };
    let page = match state
        .services
        .email_flows
        .verify_email(proof, &client)
        .await
    {
        Ok(user) => Page::new(
            "Email address confirmed",
            View::EmailVerified {
                email: user.email.to_string(),
            },
        ),
        Err(AuthError::EmailTaken) => Page::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            VERIFY_TITLE,
            "Another account has this address now, so it cannot become this account's.",
        ),
        Err(AuthError::Invalid(_)) => again(UNUSABLE_PROOF),
        Err(other) => failure(VERIFY_TITLE, &other),
    };
    Ok(state.pages.render(page))
}

/// The page of a password-reset link
///
/// A form for the new password; without `token`, also for the address and
/// the code. Spends nothing.
#[utoipa::path(
    get,
    path = "/password/reset",
    operation_id = "password_reset_page",
    tag = "pages",
    params(LinkQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
    )
)]
pub(crate) async fn reset_page(
    State(state): State<AppState>,
    QueryParameters(query): QueryParameters<LinkQuery>,
) -> Result<Response, ApiError> {
    let view = View::PasswordReset {
        token: link_token(&query)?.map(str::to_owned),
        form_error: None,
        new_password_error: None,
    };
    Ok(state.pages.render(Page::new(RESET_TITLE, view)))
}

/// Reset a password from its page
///
/// The form of `GET /password/reset`: spends the token (or the address and
/// the code), sets the password, ends every session, and answers a page.
#[utoipa::path(
    post,
    path = "/password/reset/confirm",
    operation_id = "password_reset_form",
    tag = "pages",
    request_body(content(
        (ResetPasswordForm = "application/x-www-form-urlencoded"),
        (ResetPasswordForm = "application/json"),
    )),
    responses(
        (status = 200, description = "The password is set.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The token, code or password does not work (a page that says why), or a field is refused at the edge (problem details).",
            content((String = "text/html"), (Problem = "application/problem+json"))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn reset_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: ResetPasswordForm = read_form(&headers, body)?;
    let again = |token: Option<&SecretString>, form_error: Option<&str>, new_password_error| {
        let view = View::PasswordReset {
            token: token.map(|token| token.expose_secret().to_owned()),
            form_error: form_error.map(str::to_owned),
            new_password_error,
        };
        Page::new(RESET_TITLE, view).with_status(StatusCode::UNPROCESSABLE_ENTITY)
    };
    let Some(proof) = proof(
        posted.token.as_ref(),
        posted.email.as_deref(),
        posted.code.as_ref(),
    ) else {
        return Ok(state.pages.render(again(None, Some(NO_PROOF), None)));
    };
    let page = match state
        .services
        .email_flows
        .reset_password(proof, &posted.new_password, &client)
        .await
    {
        Ok(()) => Page::new("Password changed", View::PasswordChanged {}),
        Err(AuthError::Invalid(fields))
            if fields.iter().all(|field| field.field == "new_password") =>
        {
            let reasons: Vec<String> = fields.into_iter().map(|field| field.message).collect();
            again(
                posted.token.as_ref(),
                None,
                Some(format!(
                    "This password cannot be used: {}.",
                    reasons.join("; ")
                )),
            )
        }
        Err(AuthError::Invalid(_)) => again(None, Some(UNUSABLE_PROOF), None),
        Err(other) => failure(RESET_TITLE, &other),
    };
    Ok(state.pages.render(page))
}

/// The page to ask for a password reset
///
/// A form for the address, which sends the reset message (`POST
/// /password/forgot/confirm`).
#[utoipa::path(
    get,
    path = "/password/forgot",
    operation_id = "forgot_password_page",
    tag = "pages",
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    with_csrf(&state, &headers, |csrf| {
        Page::new(FORGOT_TITLE, forgot_view(csrf, None, None))
    })
}

/// Ask for a password reset from its page
///
/// The form of `GET /password/forgot`: as `POST /password/forgot`, the
/// same page whether or not an account has the address.
#[utoipa::path(
    post,
    path = "/password/forgot/confirm",
    operation_id = "forgot_password_form",
    tag = "pages",
    request_body(content((ForgotPasswordForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The message is on its way if an account has the address.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
        (status = 403, description = "The form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, description = "Too many requests for this address.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn forgot_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let posted: ForgotPasswordForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return refused.into_response(),
    };
    let page = match state
        .services
        .email_flows
        .request_password_reset(&posted.email, &client)
        .await
    {
        // The work goes on without us: the answer must not wait for it.
        Ok(request) => {
            drop(request);
            Page::new("Check your mail", View::CheckYourMail {})
        }
        Err(AuthError::Throttled {
            retry_after_seconds,
        }) => {
            let message = format!(
                "Too many requests for this address. Try again in {retry_after_seconds} seconds."
            );
            Page {
                retry_after_seconds: Some(retry_after_seconds),
                ..Page::new(FORGOT_TITLE, forgot_view(&posted.csrf, Some(message), None))
                    .with_status(StatusCode::TOO_MANY_REQUESTS)
            }
        }
        Err(AuthError::Invalid(_)) => Page::new(
            FORGOT_TITLE,
            forgot_view(
                &posted.csrf,
                None,
                Some("This is not a valid email address.".to_owned()),
            ),
        )
        .with_status(StatusCode::UNPROCESSABLE_ENTITY),
        Err(other) => failure(FORGOT_TITLE, &other),
    };
    state.pages.render(page)
}

fn forgot_view(csrf: &str, form_error: Option<String>, email_error: Option<String>) -> View {
    View::ForgotPassword {
        csrf: csrf.to_owned(),
        form_error,
        email_error,
    }
}

/// The link's token, refused past its documented length (a real one is 43 characters).
fn link_token(query: &LinkQuery) -> Result<Option<&str>, ApiError> {
    match query.token.as_deref() {
        Some(token) if token.chars().count() > MAX_LINK_TOKEN_CHARS => {
            Err(ApiError::invalid_query(&format!(
                "token is longer than {MAX_LINK_TOKEN_CHARS} characters"
            )))
        }
        token => Ok(token),
    }
}

/// The proof a form gives: a token alone, or an email and a code.
fn proof<'a>(
    token: Option<&'a SecretString>,
    email: Option<&'a str>,
    code: Option<&'a SecretString>,
) -> Option<EmailProof<'a>> {
    match (token, email, code) {
        (Some(token), None, None) => Some(EmailProof::Link { token }),
        (None, Some(email), Some(code)) => Some(EmailProof::Code { email, code }),
        _ => None,
    }
}

/// `503` when the database is away, else `500`, the cause logged and not shown.
pub(crate) fn failure(title: &str, error: &AuthError) -> Page {
    let (status, reason) = match error {
        AuthError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is unavailable for a moment. Try again shortly: nothing was spent.",
        ),
        other => {
            tracing::error!(cause = %other, "a page's form failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Try again later.",
            )
        }
    };
    Page {
        retry_after_seconds: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(5),
        ..Page::error(status, title, reason)
    }
}

/// A form body (`application/x-www-form-urlencoded`, what a page's form
/// sends) or a JSON one as `T`, refused at the edge exactly as every JSON
/// body is: the form's fields become a JSON object of strings and go
/// through the same parser (`400`, `422` naming the field, NUL refused).
pub(crate) fn read_form<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    parse_json(&form_as_json(headers, body)?)
}

/// A form or JSON body as JSON text: `413`, `415`, or `400` for a form
/// that does not parse or repeats a field (JSON syntax is checked later).
pub(crate) fn form_as_json(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    let is_form = essence.as_deref() == Some("application/x-www-form-urlencoded");
    if !is_form && !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::MalformedJson("the body could not be read".to_owned())
        }
    })?;
    if !is_form {
        return Ok(body.to_vec());
    }
    let malformed =
        || ApiError::MalformedJson("the form is malformed or repeats a field".to_owned());
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| malformed())?;
    let mut object = serde_json::Map::new();
    for (name, value) in pairs {
        if object
            .insert(name, serde_json::Value::String(value))
            .is_some()
        {
            return Err(malformed());
        }
    }
    serde_json::to_vec(&object).map_err(|_| malformed())
}
