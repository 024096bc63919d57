//! The hosted pages of browser sign-in: sign in, sign up, consent and sign
//! out (RP-initiated logout).
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
use axum::response::{IntoResponse, Response};
use portcullis_core::services::authorizations::ConsentAnswer;
use portcullis_core::{AuthError, FieldError};

use crate::browser::{Cookies, our_form, page_with_cookies, safe_return_to, see_other};
use crate::error::ApiError;
use crate::extract::{Client, QueryParameters};
use crate::pages::{Field, Page, escape, form, paragraph};
use crate::responses::{BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed};
use crate::routes::authorize::{browser_session, decide, trusted_client};
use crate::routes::pages::failure;
use crate::state::AppState;
use crate::wire::{
    AuthorizeQuery, ConsentForm, LogoutQuery, ReturnToQuery, SignInForm, SignOutForm, SignUpForm,
};

/// What the API says of a wrong email or password.
const WRONG_CREDENTIALS: &str = "The email or password is incorrect.";

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
    let entered = Entered {
        email: query.login_hint.as_deref().unwrap_or_default(),
        ..Entered::default()
    };
    with_csrf(&state, &headers, |csrf| {
        sign_in_view(StatusCode::OK, csrf, &return_to, &entered)
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
    let entered = Entered {
        email: &posted.email,
        ..Entered::default()
    };
    Ok(match signed_in {
        Ok(signed_in) => {
            end_previous_session(&state, &headers).await;
            see_other(&return_to, &[cookies.set_session(&signed_in.cookie)])
        }
        Err(error) => {
            let (status, message) = match &error {
                AuthError::InvalidGrant => (StatusCode::BAD_REQUEST, WRONG_CREDENTIALS.to_owned()),
                AuthError::EmailNotVerified => (
                    StatusCode::BAD_REQUEST,
                    "This email address is not confirmed yet: follow the link in the message we sent to it.".to_owned(),
                ),
                AuthError::Throttled {
                    retry_after_seconds,
                } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many attempts. Try again in {retry_after_seconds} seconds."),
                ),
                _ => return Ok(failure("Sign in".to_owned(), &error).into_response()),
            };
            let mut view = sign_in_view(
                status,
                &posted.csrf,
                &return_to,
                &Entered {
                    form_error: Some(&message),
                    ..entered
                },
            );
            if let AuthError::Throttled {
                retry_after_seconds,
            } = error
            {
                view.retry_after_seconds = Some(retry_after_seconds);
            }
            view.into_response()
        }
    })
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
        sign_up_view(StatusCode::OK, csrf, &return_to, &entered)
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
    let again = |status: StatusCode, entered: &Entered<'_>| {
        sign_up_view(status, &posted.csrf, &return_to, entered).into_response()
    };
    Ok(match user {
        Ok(user) => {
            match state
                .services
                .browser_sessions
                .sign_in_new_account(&user, client)
                .await
            {
                Ok(signed_in) => {
                    end_previous_session(&state, &headers).await;
                    see_other(&return_to, &[cookies.set_session(&signed_in.cookie)])
                }
                Err(AuthError::EmailNotVerified) => Page {
                    status: StatusCode::OK,
                    title: "Check your mail".to_owned(),
                    body: paragraph(
                        "The account is made. Follow the link in the message we sent to confirm the address, then sign in.",
                        Some("done"),
                    ),
                    retry_after_seconds: None,
                }
                .into_response(),
                Err(error) => failure("Create an account".to_owned(), &error).into_response(),
            }
        }
        Err(AuthError::Invalid(fields)) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Entered {
                fields: &fields,
                ..entered
            },
        ),
        Err(AuthError::EmailTaken) => again(
            StatusCode::CONFLICT,
            &Entered {
                form_error: Some("An account with this email already exists. Sign in instead."),
                ..entered
            },
        ),
        Err(AuthError::SignupClosed) => again(
            StatusCode::FORBIDDEN,
            &Entered {
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
            let mut view = sign_up_view(
                StatusCode::TOO_MANY_REQUESTS,
                &posted.csrf,
                &return_to,
                &Entered {
                    form_error: Some(&message),
                    ..entered
                },
            );
            view.retry_after_seconds = Some(retry_after_seconds);
            view.into_response()
        }
        Err(other) => failure("Create an account".to_owned(), &other).into_response(),
    })
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
        Err(page) => return page.into_response(),
    };
    match browser_session(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return decide(&state, &headers, &query, None).await,
        Err(error) => return failure("Allow access".to_owned(), &error).into_response(),
    }
    with_csrf(&state, &headers, |csrf| {
        consent_view(&client.name, &query, csrf)
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

/// Sign out (OpenID Connect RP-initiated logout)
///
/// With an `id_token_hint` this server signed for the user signed in here:
/// ends the browser session and goes to `post_logout_redirect_uri` (one the
/// hint's client registered), with `state`. Otherwise a page asking to
/// confirm, so that another site cannot sign the user out.
#[utoipa::path(
    get,
    path = "/logout",
    operation_id = "sign_out_page",
    tag = "browser-sign-in",
    params(LogoutQuery),
    responses(
        (status = 200, description = "Signed out, or a page asking to confirm.", content_type = "text/html", body = String),
        (status = 303, description = "Signed out: to the client's post-logout redirect URI.", headers(("Location" = String))),
        (status = 400, response = BadRequest),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn sign_out_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<LogoutQuery>,
) -> Response {
    let hint = match query.id_token_hint.as_deref() {
        Some(token) => state.services.browser_sessions.id_token_hint(token).await,
        None => None,
    };
    let client_id = query
        .client_id
        .clone()
        .or_else(|| hint.as_ref().map(|hint| hint.aud.clone()));
    let clients_agree = match (&hint, &query.client_id) {
        (Some(hint), Some(client_id)) => hint.aud == *client_id,
        _ => true,
    };
    let target = if clients_agree {
        after_sign_out(
            &state,
            client_id.as_deref(),
            query.post_logout_redirect_uri.as_deref(),
            query.state.as_deref(),
        )
        .await
    } else {
        None
    };
    // A hint vouches for the request; a redirect asked for must also be
    // one the client registered, or the user confirms on the page.
    let target_is_good = query.post_logout_redirect_uri.is_none() || target.is_some();
    // The hint must name the user signed in here (and this very session
    // when it says which), or anyone's id token would sign anyone out.
    let current = match browser_session(&state, &headers).await {
        Ok(current) => current,
        Err(error) => return failure("Sign out".to_owned(), &error).into_response(),
    };
    let hint_is_theirs = hint.as_ref().is_some_and(|hint| {
        current.as_ref().is_none_or(|session| {
            hint.sub == session.user_id && hint.sid.is_none_or(|sid| sid == session.id)
        })
    });
    if hint_is_theirs && clients_agree && target_is_good {
        return sign_out(&state, &headers, target.as_deref()).await;
    }
    with_csrf(&state, &headers, |csrf| {
        let mut fields = vec![Field::Hidden {
            name: "csrf",
            value: csrf,
        }];
        if target.is_some() {
            for (name, value) in [
                ("post_logout_redirect_uri", &query.post_logout_redirect_uri),
                ("state", &query.state),
                ("client_id", &client_id),
            ] {
                if let Some(value) = value {
                    fields.push(Field::Hidden { name, value });
                }
            }
        }
        Page {
            status: StatusCode::OK,
            title: "Sign out".to_owned(),
            body: format!(
                "{}{}",
                paragraph("Do you want to sign out of this site?", None),
                form("/logout/confirm", &fields, "Sign out")
                    .replace("id=\"submit\"", "id=\"logout\""),
            ),
            retry_after_seconds: None,
        }
    })
}

/// Confirm signing out
///
/// The form of `GET /logout`: ends the browser session.
#[utoipa::path(
    post,
    path = "/logout/confirm",
    operation_id = "sign_out_form",
    tag = "pages",
    request_body(content((SignOutForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Signed out.", content_type = "text/html", body = String),
        (status = 303, description = "Signed out: to the client's post-logout redirect URI.", headers(("Location" = String))),
        (status = 400, response = BadRequest),
        (status = 403, description = "The form was not sent from this site's page.", content_type = "text/html", body = String),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn sign_out_form_posted(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let posted: SignOutForm = match our_form(&state, &headers, body) {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused.into_response()),
    };
    let target = after_sign_out(
        &state,
        posted.client_id.as_deref(),
        posted.post_logout_redirect_uri.as_deref(),
        posted.state.as_deref(),
    )
    .await;
    Ok(sign_out(&state, &headers, target.as_deref()).await)
}

/// Where to go after signing out: `uri` with `state`, when the client
/// registered it as a post-logout redirect URI.
async fn after_sign_out(
    state: &AppState,
    client_id: Option<&str>,
    uri: Option<&str>,
    state_parameter: Option<&str>,
) -> Option<String> {
    let (client_id, uri) = (client_id?, uri?);
    let client = state.services.clients.find(client_id).await.ok()??;
    if !client.post_logout_redirect_uri_matches(uri) {
        return None;
    }
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(value) = state_parameter {
        url.query_pairs_mut().append_pair("state", value);
    }
    Some(url.into())
}

/// Ends the browser session, clears its cookie, and goes to `target` or
/// says so.
async fn sign_out(state: &AppState, headers: &HeaderMap, target: Option<&str>) -> Response {
    let cookies = Cookies::of(state);
    if let Some(cookie) = cookies.session(headers)
        && let Err(error) = state.services.browser_sessions.sign_out(&cookie).await
    {
        return failure("Sign out".to_owned(), &error).into_response();
    }
    let clear = [cookies.clear_session()];
    match target {
        Some(target) => see_other(target, &clear),
        None => page_with_cookies(
            Page {
                status: StatusCode::OK,
                title: "You are signed out".to_owned(),
                body: paragraph("You are signed out. You can close this page.", Some("done")),
                retry_after_seconds: None,
            },
            &clear,
        ),
    }
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
    page_with_cookies(view(&csrf), &set)
}

/// What the user typed, and what was wrong with it, to show the form again.
#[derive(Clone, Copy, Default)]
struct Entered<'a> {
    email: &'a str,
    name: &'a str,
    form_error: Option<&'a str>,
    fields: &'a [FieldError],
}

impl Entered<'_> {
    fn error_of(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .fields
            .iter()
            .filter(|error| error.field == field)
            .map(|error| error.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }

    fn form_error_markup(&self) -> String {
        self.form_error
            .map(|message| {
                format!(
                    "<p class=\"error\" id=\"form-error\" role=\"alert\">{}</p>",
                    escape(message)
                )
            })
            .unwrap_or_default()
    }
}

fn sign_in_view(status: StatusCode, csrf: &str, return_to: &str, entered: &Entered<'_>) -> Page {
    let links = format!(
        "<p><a id=\"signup-link\" href=\"/signup?{query}\">Create an account</a> · <a id=\"forgot-link\" href=\"/password/forgot\">Forgot your password?</a></p>",
        query = escape(&return_to_query(return_to)),
    );
    Page {
        status,
        title: "Sign in".to_owned(),
        body: format!(
            "{}{}{links}",
            entered.form_error_markup(),
            form(
                "/login",
                &[
                    Field::Input {
                        name: "email",
                        label: "Email address",
                        kind: "email",
                        autocomplete: "username",
                        value: entered.email,
                        required: true,
                        error: None,
                    },
                    Field::Input {
                        name: "password",
                        label: "Password",
                        kind: "password",
                        autocomplete: "current-password",
                        value: "",
                        required: true,
                        error: None,
                    },
                    Field::Hidden {
                        name: "csrf",
                        value: csrf,
                    },
                    Field::Hidden {
                        name: "return_to",
                        value: return_to,
                    },
                ],
                "Sign in",
            ),
        ),
        retry_after_seconds: None,
    }
}

fn sign_up_view(status: StatusCode, csrf: &str, return_to: &str, entered: &Entered<'_>) -> Page {
    let (email_error, password_error, name_error) = (
        entered.error_of("email"),
        entered.error_of("password"),
        entered.error_of("name"),
    );
    let links = format!(
        "<p><a id=\"login-link\" href=\"/login?{}\">Already have an account? Sign in</a></p>",
        escape(&return_to_query(return_to)),
    );
    Page {
        status,
        title: "Create an account".to_owned(),
        body: format!(
            "{}{}{links}",
            entered.form_error_markup(),
            form(
                "/signup",
                &[
                    Field::Input {
                        name: "email",
                        label: "Email address",
                        kind: "email",
                        autocomplete: "username",
                        value: entered.email,
                        required: true,
                        error: email_error.as_deref(),
                    },
                    Field::Input {
                        name: "password",
                        label: "Password (at least 12 characters)",
                        kind: "password",
                        autocomplete: "new-password",
                        value: "",
                        required: true,
                        error: password_error.as_deref(),
                    },
                    Field::Input {
                        name: "name",
                        label: "Name (optional)",
                        kind: "text",
                        autocomplete: "name",
                        value: entered.name,
                        required: false,
                        error: name_error.as_deref(),
                    },
                    Field::Hidden {
                        name: "csrf",
                        value: csrf,
                    },
                    Field::Hidden {
                        name: "return_to",
                        value: return_to,
                    },
                ],
                "Create the account",
            ),
        ),
        retry_after_seconds: None,
    }
}

fn consent_view(client_name: &str, query: &AuthorizeQuery, csrf: &str) -> Page {
    let scopes: Vec<String> = query
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(|scope| format!("<li>{}</li>", escape(&describe_scope(scope))))
        .collect();
    let mut hidden = String::new();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(&crate::routes::authorize::encode_query(query))
            .unwrap_or_default();
    for (name, value) in pairs {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(&name),
            escape(&value)
        ));
    }
    Page {
        status: StatusCode::OK,
        title: "Allow access".to_owned(),
        body: format!(
            "<p><strong>{client}</strong> asks to:</p><ul id=\"scopes\">{scopes}</ul>\
             <form method=\"post\" action=\"/consent\">{hidden}\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form>\
             <p>You can take this back at any time on your account page.</p>",
            client = escape(client_name),
            scopes = scopes.concat(),
            csrf = escape(csrf),
        ),
        retry_after_seconds: None,
    }
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
