//! The hosted pages of browser sign-in: sign in, sign up and consent
//! (signing out is [`crate::routes::sign_out`]).
//!
//! Each page is a form that POSTs back to the same path; every POST is
//! checked against forgery ([`Cookies::form_is_ours`]) before anything
//! else. Signing in or up opens a new browser session and sets its cookie
//! (a cookie from before is worth nothing after: no session fixation), then
//! goes back to `return_to`, a path on this server. The messages are those
//! of the API: the same throttling, policy and wording.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use portcullis_core::services::authorizations::ConsentAnswer;
use portcullis_core::{AuthError, FieldError};

use crate::browser::{Cookies, our_form, page_with_cookies, safe_return_to, see_other};
use crate::error::ApiError;
use crate::extract::{Client, QueryParameters};
use crate::pages::{Hidden, Page, SignUpErrors, View, sort_field_errors};
use crate::responses::{BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed};
use crate::routes::authorize::{browser_session, decide, trusted_client};
use crate::routes::pages::failure;
use crate::state::AppState;
use crate::wire::{AuthorizeQuery, ConsentForm, ReturnToQuery, SignInForm, SignUpForm};

/// What the API says of a wrong email or password.
const WRONG_CREDENTIALS: &str = "The email or password is incorrect.";
const SIGN_UP_TITLE: &str = "Create an account";
const CONSENT_TITLE: &str = "Allow access";

/// The sign-in page
///
/// A form for the email and the password, which signs in and goes back to
/// `return_to`.
#[utoipa::path(
    get,
    path = "/login",
    operation_id = "sign_in_page",
    tag = "pages",
    params(ReturnToQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
    )
)]
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<ReturnToQuery>,
) -> Response {
    let return_to = safe_return_to(query.return_to.as_deref());
    let email = query.login_hint.as_deref().unwrap_or_default();
    with_csrf(&state, &headers, |csrf| {
        sign_in_page_of(csrf, &return_to, email, None)
    })
}

/// Sign in from the page
///
/// The form of `GET /login`: checks the email and password as the password
/// grant does, opens a browser session and goes back to `return_to`.
#[utoipa::path(
    post,
    path = "/login",
    operation_id = "sign_in_form",
    tag = "pages",
    request_body(content((SignInForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 303, description = "Signed in: back to `return_to`, with the session cookie.",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 400, description = "A wrong email or password (the page again); a malformed form (problem details).",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 403, description = "The form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, description = "Too many attempts.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn sign_in_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: SignInForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused.into_response()),
    };
    let cookies = Cookies::of(&state);
    let return_to = safe_return_to(posted.return_to.as_deref());
    let signed_in = state
        .services
        .browser_sessions
        .sign_in(&posted.email, &posted.password, client)
        .await;
    let error = match signed_in {
        Ok(signed_in) => {
            end_previous_session(&state, &headers).await;
            return Ok(see_other(
                &return_to,
                &[cookies.set_session(&signed_in.cookie)],
            ));
        }
        Err(error) => error,
    };
    let (status, message, retry_after_seconds) = match error {
        AuthError::InvalidGrant => (StatusCode::BAD_REQUEST, WRONG_CREDENTIALS.to_owned(), None),
        AuthError::EmailNotVerified => (
            StatusCode::BAD_REQUEST,
            "This email address is not confirmed yet: follow the link in the message we sent to it.".to_owned(),
            None,
        ),
        AuthError::Throttled {
            retry_after_seconds,
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts. Try again in {retry_after_seconds} seconds."),
            Some(retry_after_seconds),
        ),
        other => return Ok(state.pages.render(failure("Sign in", &other))),
    };
    let page = sign_in_page_of(&posted.csrf, &return_to, &posted.email, Some(message));
    Ok(state.pages.render(Page {
        retry_after_seconds,
        ..page.with_status(status)
    }))
}

/// The sign-up page
///
/// A form for the email, the password and an optional name, which makes
/// the account, signs in and goes back to `return_to`.
#[utoipa::path(
    get,
    path = "/signup",
    operation_id = "sign_up_page",
    tag = "pages",
    params(ReturnToQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
    )
)]
pub(crate) async fn sign_up_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<ReturnToQuery>,
) -> Response {
    let return_to = safe_return_to(query.return_to.as_deref());
    let entered = Entered {
        email: query.login_hint.as_deref().unwrap_or_default(),
        ..Entered::default()
    };
    with_csrf(&state, &headers, |csrf| {
        sign_up_page_of(&state, csrf, &return_to, entered)
    })
}

/// Sign up from the page
///
/// The form of `GET /signup`: makes the account as `POST /users` does,
/// signs in and goes back to `return_to`.
#[utoipa::path(
    post,
    path = "/signup",
    operation_id = "sign_up_form",
    tag = "pages",
    request_body(content((SignUpForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 303, description = "Signed up and in: back to `return_to`, with the session cookie.",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 400, response = BadRequest),
        (status = 403, description = "Sign-up is closed, or the form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 409, description = "The email is taken (the page again).", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "An invalid field (the page again, the reason next to it), or a field refused at the edge (problem details).",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 429, description = "Too many sign-ups from this address.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn sign_up_form_posted(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: SignUpForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused.into_response()),
    };
    let cookies = Cookies::of(&state);
    let return_to = safe_return_to(posted.return_to.as_deref());
    let name = posted
        .name
        .as_deref()
        .filter(|name| !name.trim().is_empty());
    let user = state
        .services
        .accounts
        .sign_up(&posted.email, &posted.password, name, &client)
        .await;
    let entered = Entered {
        email: &posted.email,
        name: name.unwrap_or_default(),
        ..Entered::default()
    };
    let again = |status: StatusCode, entered: Entered<'_>| {
        sign_up_page_of(&state, &posted.csrf, &return_to, entered).with_status(status)
    };
    let page = match user {
        Ok(user) => {
            match state
                .services
                .browser_sessions
                .sign_in_new_account(&user, client)
                .await
            {
                Ok(signed_in) => {
                    end_previous_session(&state, &headers).await;
                    return Ok(see_other(
                        &return_to,
                        &[cookies.set_session(&signed_in.cookie)],
                    ));
                }
                Err(AuthError::EmailNotVerified) => {
                    Page::new("Check your mail", View::ConfirmYourAddress {})
                }
                Err(error) => failure(SIGN_UP_TITLE, &error),
            }
        }
        Err(AuthError::Invalid(fields)) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Entered {
                fields: &fields,
                ..entered
            },
        ),
        Err(AuthError::EmailTaken) => again(
            StatusCode::CONFLICT,
            Entered {
                form_error: Some("An account with this email already exists. Sign in instead."),
                ..entered
            },
        ),
        Err(AuthError::SignupClosed) => again(
            StatusCode::FORBIDDEN,
            Entered {
                form_error: Some("Sign-up is closed on this server."),
                ..entered
            },
        ),
        Err(AuthError::Throttled {
            retry_after_seconds,
        }) => {
            let message = format!(
                "Too many sign-ups from this address. Try again in {retry_after_seconds} seconds."
            );
            Page {
                retry_after_seconds: Some(retry_after_seconds),
                ..again(
                    StatusCode::TOO_MANY_REQUESTS,
                    Entered {
                        form_error: Some(&message),
                        ..entered
                    },
                )
            }
        }
        Err(other) => failure(SIGN_UP_TITLE, &other),
    };
    Ok(state.pages.render(page))
}

/// The consent page
///
/// For a third-party client: which application asks, for what, with a
/// button to allow and one to deny. Without a browser session, to the
/// sign-in page first.
#[utoipa::path(
    get,
    path = "/consent",
    operation_id = "consent_page",
    tag = "pages",
    params(AuthorizeQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 303, description = "To the sign-in page first.", headers(("Location" = String))),
        (status = 400, description = "An unknown client or redirect URI. A malformed query or form: problem details.",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<AuthorizeQuery>,
) -> Response {
    let (client, _) = match trusted_client(&state, &query).await {
        Ok(found) => found,
        Err(page) => return state.pages.render(page),
    };
    match browser_session(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return decide(&state, &headers, &query, None).await,
        Err(error) => return state.pages.render(failure(CONSENT_TITLE, &error)),
    }
    with_csrf(&state, &headers, |csrf| {
        consent_page_of(&client.name, &query, csrf)
    })
}

/// Answer the consent page
///
/// Allows (remembered for this user and client) or denies, then goes on to
/// the client with a code or `access_denied`.
#[utoipa::path(
    post,
    path = "/consent",
    operation_id = "consent_form",
    tag = "pages",
    request_body(content((ConsentForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 303, description = "To the client, with `code` or `error=access_denied`, `state` and `iss`.", headers(("Location" = String))),
        (status = 400, description = "An unknown client or redirect URI, A malformed form: problem details.",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 403, description = "The form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn consent_form_posted(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: ConsentForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused.into_response()),
    };
    let answer = match posted.decision.as_str() {
        "allow" => ConsentAnswer::Allow,
        "deny" => ConsentAnswer::Deny,
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "decision",
                "must be allow or deny",
            )]));
        }
    };
    Ok(decide(&state, &headers, &posted.request, Some(answer)).await)
}

/// Ends the browser session a sign-in replaces, so that only the new one lives.
async fn end_previous_session(state: &AppState, headers: &HeaderMap) {
    if let Some(cookie) = Cookies::of(state).session(headers)
        && let Err(error) = state.services.browser_sessions.sign_out(&cookie).await
    {
        tracing::warn!(%error, "the browser session replaced by a sign-in could not be ended");
    }
}

/// The page `view` makes with the request's CSRF token (a new one set
/// when it has none).
pub(crate) fn with_csrf(
    state: &AppState,
    headers: &HeaderMap,
    view: impl FnOnce(&str) -> Page,
) -> Response {
    let (csrf, set_cookie) = Cookies::of(state).csrf_for_page(headers);
    let set: Vec<HeaderValue> = set_cookie.into_iter().collect();
    page_with_cookies(state, view(&csrf), &set)
}

/// What the user typed, and what was wrong with it, to show the form again.
#[derive(Clone, Copy, Default)]
struct Entered<'a> {
    email: &'a str,
    name: &'a str,
    form_error: Option<&'a str>,
    fields: &'a [FieldError],
}

/// The sign-in form, with the email already known.
fn sign_in_page_of(csrf: &str, return_to: &str, email: &str, form_error: Option<String>) -> Page {
    Page::new(
        "Sign in",
        View::SignIn {
            csrf: csrf.to_owned(),
            return_to: return_to.to_owned(),
            return_to_query: return_to_query(return_to),
            email: email.to_owned(),
            form_error,
        },
    )
}

/// The sign-up form, with what was typed and what was wrong with it.
fn sign_up_page_of(state: &AppState, csrf: &str, return_to: &str, entered: Entered<'_>) -> Page {
    let ([email, password, name], others) =
        sort_field_errors(entered.fields, ["email", "password", "name"]);
    Page::new(
        SIGN_UP_TITLE,
        View::SignUp {
            csrf: csrf.to_owned(),
            return_to: return_to.to_owned(),
            return_to_query: return_to_query(return_to),
            email: entered.email.to_owned(),
            name: entered.name.to_owned(),
            password_min_length: state.services.settings().password_policy.min_length(),
            form_error: entered.form_error.map(str::to_owned).or(others),
            errors: SignUpErrors {
                email,
                password,
                name,
            },
        },
    )
}

/// Which application asks for what, the request carried to the answer.
fn consent_page_of(client_name: &str, query: &AuthorizeQuery, csrf: &str) -> Page {
    let scopes = query
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(describe_scope)
        .collect();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(&crate::routes::authorize::encode_query(query))
            .unwrap_or_default();
    Page::new(
        CONSENT_TITLE,
        View::Consent {
            csrf: csrf.to_owned(),
            client: client_name.to_owned(),
            scopes,
            request: pairs
                .into_iter()
                .map(|(name, value)| Hidden { name, value })
                .collect(),
        },
    )
}

/// What a scope lets the application do, in a person's words.
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "know who you are on this site".to_owned(),
        "profile" => "see your name".to_owned(),
        "email" => "see your email address".to_owned(),
        "offline_access" => "stay signed in while you are away".to_owned(),
        permission => format!("use your permission {permission}"),
    }
}

/// `return_to=…` for a link to another sign-in page.
fn return_to_query(return_to: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish()
}
