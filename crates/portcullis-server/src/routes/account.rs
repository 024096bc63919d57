//! The account page: the signed-in user's profile, password, sessions,
//! personal access tokens and the applications they allowed, each change a
//! form that POSTs to `/account` and comes back.
//!
//! The browser session acts as a session credential
//! ([`BrowserSessions::principal`]) through the very use cases of the JSON
//! API (`/me`, `/me/password`, `/me/sessions`, `/me/tokens`), so the rules
//! and messages are theirs.
//!
//! [`BrowserSessions::principal`]: portcullis_core::services::BrowserSessions::principal

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use portcullis_core::services::accounts::AccountChange;
use portcullis_core::services::browser_sessions::BrowserSession;
use portcullis_core::{AuthError, FieldError, PersonalTokensOnNewPassword, Principal};
use uuid::Uuid;

use crate::browser::{ACCOUNT_PATH, Cookies, our_form, see_other};
use crate::error::ApiError;
use crate::extract::Client;
use crate::pages::{
    AccountErrors, AccountView, ApplicationRow, Page, SessionRow, TokenRow, View, sort_field_errors,
};
use crate::responses::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use crate::routes::authorize::browser_session;
use crate::routes::pages::failure;
use crate::state::AppState;
use crate::wire::{AccountForm, rfc3339};

const TITLE: &str = "Your account";

/// The account page
///
/// The signed-in user's profile, a form to change the password, their
/// sessions (each can be signed out), personal access tokens (each can be
/// deleted) and the applications they allowed (each can be revoked).
/// Without a browser session, to the sign-in page.
#[utoipa::path(
    get,
    path = "/account",
    operation_id = "account_page",
    tag = "pages",
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 303, description = "To the sign-in page first.", headers(("Location" = String))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn account_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (session, principal) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return to_sign_in(),
        Err(error) => return state.pages.render(failure(TITLE, &error)),
    };
    let (csrf, set_cookie) = Cookies::of(&state).csrf_for_page(&headers);
    let page = match view(&state, &session, &principal, &csrf, None).await {
        Ok(page) => page,
        Err(error) => failure(TITLE, &error),
    };
    crate::browser::page_with_cookies(&state, page, &set_cookie.into_iter().collect::<Vec<_>>())
}

/// Change the account from its page
///
/// `action` is `profile` (`name`), `password` (`current_password`,
/// `new_password`), `revoke_session`, `delete_token` or `revoke_consent`
/// (`id`). Back to the account page, or the page again with the error.
#[utoipa::path(
    post,
    path = "/account",
    operation_id = "account_form",
    tag = "pages",
    request_body(content((AccountForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 303, description = "Done: back to the account page (or to sign in).", headers(("Location" = String))),
        (status = 400, response = BadRequest),
        (status = 403, description = "The form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 404, description = "No such session, token or application (the page again).", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "A field is invalid (the page again, with why), or refused at the edge (problem details).",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn account_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: AccountForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused.into_response()),
    };
    let (session, principal) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(to_sign_in()),
        Err(error) => return Ok(state.pages.render(failure(TITLE, &error))),
    };
    let id = || {
        posted
            .id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or(AuthError::NotFound)
    };
    let services = &state.services;
    let done = match posted.action.as_str() {
        "profile" => {
            let name = posted.name.as_deref().map(str::trim);
            let change = AccountChange {
                name: Some(name.filter(|name| !name.is_empty())),
                ..AccountChange::default()
            };
            services
                .accounts
                .update(&principal, change, &client)
                .await
                .map(drop)
        }
        "password" => match (&posted.current_password, &posted.new_password) {
            (Some(current), Some(new)) => {
                services
                    .accounts
                    .change_password(&principal, current, new, PersonalTokensOnNewPassword::Keep)
                    .await
            }
            _ => Err(AuthError::Invalid(vec![FieldError::new(
                "new_password",
                "give the current password and the new one",
            )])),
        },
        "revoke_session" => match id() {
            Ok(id) => services.sessions.revoke_own(&principal, id).await,
            Err(error) => Err(error),
        },
        "delete_token" => match id() {
            Ok(id) => services.personal_tokens.delete(&principal, id).await,
            Err(error) => Err(error),
        },
        "revoke_consent" => match id() {
            Ok(id) => {
                services
                    .authorizations
                    .revoke_consent(principal.user_id, id)
                    .await
            }
            Err(error) => Err(error),
        },
        _ => Err(AuthError::Invalid(vec![FieldError::new(
            "action",
            "is not one this page sends",
        )])),
    };
    let error = match done {
        Ok(()) => return Ok(see_other(ACCOUNT_PATH, &[])),
        Err(error) => error,
    };
    let page = match refusal(&error) {
        Some((status, refused)) => {
            match view(&state, &session, &principal, &posted.csrf, Some(refused)).await {
                Ok(page) => page.with_status(status),
                Err(error) => failure(TITLE, &error),
            }
        }
        None => failure(TITLE, &error),
    };
    Ok(state.pages.render(page))
}

/// What went wrong with a change, to show where it was made.
#[derive(Default)]
struct Refused {
    form_error: Option<String>,
    errors: AccountErrors,
}

/// The status and errors of a change the user can correct; `None` for a
/// failure on our side.
fn refusal(error: &AuthError) -> Option<(StatusCode, Refused)> {
    match error {
        AuthError::NotFound => Some((
            StatusCode::NOT_FOUND,
            Refused {
                form_error: Some(
                    "That session, token or application is not yours or no longer exists."
                        .to_owned(),
                ),
                ..Refused::default()
            },
        )),
        AuthError::IncorrectPassword => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            Refused {
                errors: AccountErrors {
                    current_password: Some("The current password is incorrect.".to_owned()),
                    ..AccountErrors::default()
                },
                ..Refused::default()
            },
        )),
        AuthError::Invalid(fields) => {
            let ([name, current_password, new_password], others) =
                sort_field_errors(fields, ["name", "current_password", "new_password"]);
            Some((
                StatusCode::UNPROCESSABLE_ENTITY,
                Refused {
                    form_error: others,
                    errors: AccountErrors {
                        name,
                        current_password,
                        new_password,
                    },
                },
            ))
        }
        _ => None,
    }
}

/// The browser session and its caller, when the request is signed in.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(BrowserSession, Principal)>, AuthError> {
    let Some(session) = browser_session(state, headers).await? else {
        return Ok(None);
    };
    let principal = state.services.browser_sessions.principal(&session).await?;
    Ok(Some((session, principal)))
}

fn to_sign_in() -> Response {
    see_other("/login?return_to=%2Faccount", &[])
}

async fn view(
    state: &AppState,
    session: &BrowserSession,
    principal: &Principal,
    csrf: &str,
    refused: Option<Refused>,
) -> Result<Page, AuthError> {
    let services = &state.services;
    let (user, _) = services.accounts.me(principal).await?;
    let sessions = services.sessions.list(principal).await?;
    let tokens = services.personal_tokens.list(principal).await?;
    let consents = services.authorizations.consents(session.user_id).await?;
    let mut applications = Vec::with_capacity(consents.len());
    for consent in &consents {
        let id = consent.client_id.to_string();
        let name = match services.clients.find(&id).await? {
            Some(client) => client.name,
            None => id.clone(),
        };
        applications.push(ApplicationRow {
            id,
            name,
            scope: consent.scope.join(" "),
        });
    }
    let Refused { form_error, errors } = refused.unwrap_or_default();
    Ok(Page::new(
        TITLE,
        View::Account(AccountView {
            csrf: csrf.to_owned(),
            email: user.email.as_str().to_owned(),
            name: user.name.unwrap_or_default(),
            form_error,
            errors,
            sessions: sessions
                .iter()
                .map(|listed| SessionRow {
                    id: listed.id.to_string(),
                    device: listed
                        .user_agent
                        .clone()
                        .unwrap_or_else(|| "unknown device".to_owned()),
                    current: listed.current,
                    since: rfc3339(listed.created_at),
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|token| TokenRow {
                    id: token.id.to_string(),
                    name: token.name.clone(),
                    created: rfc3339(token.created_at),
                    last_used: token.last_used_at.map(rfc3339),
                })
                .collect(),
            applications,
        }),
    ))
}
