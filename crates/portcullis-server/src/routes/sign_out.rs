//! Signing out of the browser session (OpenID Connect RP-initiated
//! logout): at once with an `id_token_hint` this server signed, else after
//! the user confirms on a page, so that another site cannot sign them out.
//! Then to the client's registered post-logout redirect URI, or a page
//! that says so.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};

use crate::browser::{Cookies, our_form, page_with_cookies, see_other};
use crate::error::ApiError;
use crate::extract::QueryParameters;
use crate::pages::{Hidden, Page, View};
use crate::responses::{BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed};
use crate::routes::authorize::browser_session;
use crate::routes::pages::failure;
use crate::routes::sign_in::with_csrf;
use crate::state::AppState;
use crate::wire::{LogoutQuery, SignOutForm};

const SIGN_OUT_TITLE: &str = "Sign out";

/// Sign out (OpenID Connect RP-initiated logout)
///
/// With an `id_token_hint` this server signed: ends the browser session and
/// goes to `post_logout_redirect_uri` (one the hint's client registered),
/// with `state`. Without one: a page asking to confirm, so that another
/// site cannot sign the user out.
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
        Err(error) => return state.pages.render(failure(SIGN_OUT_TITLE, &error)),
    };
    let hint_is_theirs = hint.as_ref().is_some_and(|hint| {
        current.as_ref().is_none_or(|session| {
            hint.sub == session.user_id && hint.sid.is_none_or(|sid| sid == session.id)
        })
    });
    if hint_is_theirs && clients_agree && target_is_good {
        return sign_out(&state, &headers, target.as_deref()).await;
    }
    // Where to go after is carried only when the client registered it.
    let carried = [
        ("post_logout_redirect_uri", &query.post_logout_redirect_uri),
        ("state", &query.state),
        ("client_id", &client_id),
    ];
    let request: Vec<Hidden> = carried
        .into_iter()
        .filter(|_| target.is_some())
        .filter_map(|(name, value)| {
            value.as_ref().map(|value| Hidden {
                name: name.to_owned(),
                value: value.clone(),
            })
        })
        .collect();
    with_csrf(&state, &headers, |csrf| {
        Page::new(
            SIGN_OUT_TITLE,
            View::SignOut {
                csrf: csrf.to_owned(),
                request,
            },
        )
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
        return state.pages.render(failure(SIGN_OUT_TITLE, &error));
    }
    let clear = [cookies.clear_session()];
    match target {
        Some(target) => see_other(target, &clear),
        None => page_with_cookies(
            state,
            Page::new("You are signed out", View::SignedOut {}),
            &clear,
        ),
    }
}
