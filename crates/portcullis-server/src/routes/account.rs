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

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::services::accounts::AccountChange;
use portcullis_core::services::browser_sessions::BrowserSession;
use portcullis_core::{AuthError, FieldError, PersonalTokensOnNewPassword, Principal};
use uuid::Uuid;

use crate::browser::{ACCOUNT_PATH, Cookies, our_form, see_other};
use crate::error::ApiError;
use crate::extract::Client;
use crate::pages::{Field, Page, escape, form};
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
        Err(error) => return failure(TITLE.to_owned(), &error).into_response(),
    };
    let (csrf, set_cookie) = Cookies::of(&state).csrf_for_page(&headers);
    let page = match view(&state, &session, &principal, &csrf, None).await {
        Ok(page) => page,
        Err(error) => failure(TITLE.to_owned(), &error),
    };
    crate::browser::page_with_cookies(page, &set_cookie.into_iter().collect::<Vec<_>>())
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
        Err(error) => return Ok(failure(TITLE.to_owned(), &error).into_response()),
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
    Ok(match done {
        Ok(()) => see_other(ACCOUNT_PATH, &[]),
        Err(error) => match refusal(&error) {
            Some((status, message)) => {
                match view(&state, &session, &principal, &posted.csrf, Some(&message)).await {
                    Ok(mut page) => {
                        page.status = status;
                        page.into_response()
                    }
                    Err(error) => failure(TITLE.to_owned(), &error).into_response(),
                }
            }
            None => failure(TITLE.to_owned(), &error).into_response(),
        },
    })
}

/// The status and message of a change the user can correct; `None` for a
/// failure on our side.
fn refusal(error: &AuthError) -> Option<(StatusCode, String)> {
    match error {
        AuthError::NotFound => Some((
            StatusCode::NOT_FOUND,
            "That session, token or application is not yours or no longer exists.".to_owned(),
        )),
        AuthError::IncorrectPassword => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            "The current password is incorrect.".to_owned(),
        )),
        AuthError::Invalid(fields) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            fields
                .iter()
                .map(|field| format!("{}: {}", field.field, field.message))
                .collect::<Vec<_>>()
                .join("; "),
        )),
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
    error: Option<&str>,
) -> Result<Page, AuthError> {
    let services = &state.services;
    let (user, _) = services.accounts.me(principal).await?;
    let sessions = services.sessions.list(principal).await?;
    let tokens = services.personal_tokens.list(principal).await?;
    let consents = services.authorizations.consents(session.user_id).await?;
    let action = |action: &str, id: Option<&str>, button: &str| {
        let mut fields = vec![
            Field::Hidden {
                name: "csrf",
                value: csrf,
            },
            Field::Hidden {
                name: "action",
                value: action,
            },
        ];
        if let Some(id) = id {
            fields.push(Field::Hidden {
                name: "id",
                value: id,
            });
        }
        form(ACCOUNT_PATH, &fields, button).replace(" id=\"submit\"", "")
    };
    let mut body = error
        .map(|message| {
            format!(
                "<p class=\"error\" id=\"form-error\" role=\"alert\">{}</p>",
                escape(message)
            )
        })
        .unwrap_or_default();
    let _ = write!(
        body,
        "<p id=\"signed-in-as\">Signed in as <strong>{}</strong></p>",
        escape(user.email.as_str())
    );
    body.push_str("<h2>Profile</h2>");
    body.push_str(
        &form(
            ACCOUNT_PATH,
            &[
                Field::Input {
                    name: "name",
                    label: "Name",
                    kind: "text",
                    autocomplete: "name",
                    value: user.name.as_deref().unwrap_or_default(),
                    required: false,
                    error: None,
                },
                Field::Hidden {
                    name: "csrf",
                    value: csrf,
                },
                Field::Hidden {
                    name: "action",
                    value: "profile",
                },
            ],
            "Save",
        )
        .replace(" id=\"submit\"", " id=\"save-profile\""),
    );
    body.push_str("<h2>Password</h2>");
    body.push_str(
        &form(
            ACCOUNT_PATH,
            &[
                Field::Input {
                    name: "current_password",
                    label: "Current password",
                    kind: "password",
                    autocomplete: "current-password",
                    value: "",
                    required: true,
                    error: None,
                },
                Field::Input {
                    name: "new_password",
                    label: "New password",
                    kind: "password",
                    autocomplete: "new-password",
                    value: "",
                    required: true,
                    error: None,
                },
                Field::Hidden {
                    name: "csrf",
                    value: csrf,
                },
                Field::Hidden {
                    name: "action",
                    value: "password",
                },
            ],
            "Change the password",
        )
        .replace(" id=\"submit\"", " id=\"change-password\""),
    );
    body.push_str("<h2>Sessions</h2><ul id=\"sessions\">");
    for listed in &sessions {
        let id = listed.id.to_string();
        let _ = write!(
            body,
            "<li>{}{} — since {}{}</li>",
            escape(listed.user_agent.as_deref().unwrap_or("unknown device")),
            if listed.current {
                " (this browser)"
            } else {
                ""
            },
            escape(&rfc3339(listed.created_at)),
            if listed.current {
                String::new()
            } else {
                action("revoke_session", Some(&id), "Sign out")
            },
        );
    }
    body.push_str("</ul><h2>Personal access tokens</h2><ul id=\"tokens\">");
    for token in &tokens {
        let id = token.id.to_string();
        let _ = write!(
            body,
            "<li>{} — created {}, last used {}{}</li>",
            escape(&token.name),
            escape(&rfc3339(token.created_at)),
            escape(
                &token
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), rfc3339)
            ),
            action("delete_token", Some(&id), "Delete"),
        );
    }
    if tokens.is_empty() {
        body.push_str("<li>None.</li>");
    }
    body.push_str("</ul><h2>Applications you allowed</h2><ul id=\"applications\">");
    for consent in &consents {
        let id = consent.client_id.to_string();
        let name = match services.clients.find(&id).await? {
            Some(client) => client.name,
            None => id.clone(),
        };
        let _ = write!(
            body,
            "<li>{} — {}{}</li>",
            escape(&name),
            escape(&consent.scope.join(" ")),
            action("revoke_consent", Some(&id), "Revoke"),
        );
    }
    if consents.is_empty() {
        body.push_str("<li>None.</li>");
    }
    body.push_str("</ul>");
    body.push_str(
        &form(
            "/logout/confirm",
            &[Field::Hidden {
                name: "csrf",
                value: csrf,
            }],
            "Sign out",
        )
        .replace(" id=\"submit\"", " id=\"logout\""),
    );
    Ok(Page {
        status: StatusCode::OK,
        title: TITLE.to_owned(),
        body,
        retry_after_seconds: None,
    })
}
