//! The authorization endpoint (OAuth 2.1 authorization code with PKCE,
//! OpenID Connect) and `/userinfo`.
//!
//! `GET /authorize` first finds the client and matches the redirect URI;
//! until both are known good it answers an error page and never redirects
//! (an open redirector otherwise). Then the use case decides: sign in
//! first (the login page, which comes back here), ask for consent (the
//! consent page, which posts back through [`respond`]), or redirect to the
//! client with a code or an error, always with `state` and `iss` (RFC 9207).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use portcullis_core::clients::Client;
use portcullis_core::services::authorizations::{AuthorizationParameters, ConsentAnswer, Decision};
use portcullis_core::services::browser_sessions::BrowserSession;
use portcullis_core::{AuthError, ExposeSecret as _};

use crate::browser::{Cookies, see_other};
use crate::error::{ApiError, no_store_headers};
use crate::extract::{PresentedCredential, QueryParameters, presented_credential};
use crate::pages::Page;
use crate::responses::{BadRequest, InsufficientScope, InternalError, Unauthorized, Unavailable};
use crate::routes::pages::failure;
use crate::state::AppState;
use crate::wire::{AuthorizeQuery, UserInfoBody};

const TITLE: &str = "Sign-in request refused";

/// Authorization endpoint
///
/// Starts browser sign-in (OAuth 2.1 §4.1.1, OpenID Connect Core §3.1.2).
/// An unknown client or an unregistered redirect URI gets an error page
/// and is never redirected to. Otherwise: a redirect to `/login` (no
/// browser session, `prompt=login`, or `max_age` passed), to `/consent`
/// (a third-party client the user has not allowed these scopes), or to
/// the client's redirect URI with `code` or `error`, and `state` and `iss`.
#[utoipa::path(
    get,
    path = "/authorize",
    operation_id = "authorize",
    tag = "browser-sign-in",
    params(AuthorizeQuery),
    responses(
        (status = 303, description = "To the sign-in or consent page, or to the client with `code` (or `error`), `state` and `iss`.",
            headers(("Location" = String, description = "Where to go next."))),
        (status = 400, description = "An unknown client or redirect URI: an error page, no redirect. A malformed query or form: problem details.",
            content((String = "text/html"), (crate::error::Problem = "application/problem+json"))),
        (status = 500, description = "Something failed on our side.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParameters(query): QueryParameters<AuthorizeQuery>,
) -> Response {
    decide(&state, &headers, &query, None).await
}

/// Runs an authorization request (from `/authorize`, or from the consent
/// form with the user's `answer`) and answers what the decision says.
pub(crate) async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    query: &AuthorizeQuery,
    answer: Option<ConsentAnswer>,
) -> Response {
    let (client, redirect_uri) = match trusted_client(state, query).await {
        Ok(found) => found,
        Err(page) => return state.pages.render(page),
    };
    let browser = match browser_session(state, headers).await {
        Ok(browser) => browser,
        Err(error) => return state.pages.render(failure(TITLE, &error)),
    };
    let parameters = AuthorizationParameters {
        response_type: query.response_type.as_deref(),
        scope: query.scope.as_deref(),
        code_challenge: query.code_challenge.as_deref(),
        code_challenge_method: query.code_challenge_method.as_deref(),
        nonce: query.nonce.as_deref(),
        prompt: query.prompt.as_deref(),
        max_age: query.max_age.as_deref(),
        // A parameter sent without a value is omitted (RFC 6749 §3.1).
        request: query.request.as_deref().filter(|value| !value.is_empty()),
        request_uri: query
            .request_uri
            .as_deref()
            .filter(|value| !value.is_empty()),
    };
    let decision = state
        .services
        .authorizations
        .authorize(
            &client,
            &redirect_uri,
            &parameters,
            browser.as_ref(),
            answer,
        )
        .await;
    match decision {
        Ok(decision) => respond(state, query, &redirect_uri, decision),
        Err(error) => state.pages.render(failure(TITLE, &error)),
    }
}

/// The client of `query` and its redirect URI, when both are known good;
/// else the error page that says which is not.
pub(crate) async fn trusted_client(
    state: &AppState,
    query: &AuthorizeQuery,
) -> Result<(Client, String), Page> {
    let refused = |reason: &str| {
        Page::error(
            StatusCode::BAD_REQUEST,
            TITLE,
            &format!(
                "{reason} Go back to the application and try again; if this keeps happening, tell its developers."
            ),
        )
    };
    let Some(client_id) = query.client_id.as_deref() else {
        return Err(refused("The request names no application (client_id)."));
    };
    let client = match state.services.clients.find(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(refused(
                "The application (client_id) is not registered here.",
            ));
        }
        Err(error) => return Err(failure(TITLE, &error)),
    };
    match query.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uri_matches(uri) => Ok((client, uri.to_owned())),
        Some(_) => Err(refused(
            "The address to return to (redirect_uri) is not registered for this application.",
        )),
        None => Err(refused(
            "The request names no address to return to (redirect_uri).",
        )),
    }
}

/// The live browser session the request's cookie carries.
pub(crate) async fn browser_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<BrowserSession>, AuthError> {
    match Cookies::of(state).session(headers) {
        Some(cookie) => {
            state
                .services
                .browser_sessions
                .current(cookie.expose_secret())
                .await
        }
        None => Ok(None),
    }
}

/// The redirect a decision asks for.
fn respond(
    state: &AppState,
    query: &AuthorizeQuery,
    redirect_uri: &str,
    decision: Decision,
) -> Response {
    let issuer = state.services.settings().issuer.as_str();
    let state_parameter = query.state.as_deref();
    match decision {
        Decision::SignIn => {
            let back = format!("/authorize?{}", encode_query(&after_sign_in(query)));
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("return_to", &back);
            if let Some(hint) = &query.login_hint {
                login.append_pair("login_hint", hint);
            }
            see_other(&format!("/login?{}", login.finish()), &[])
        }
        Decision::AskConsent(_) => see_other(
            &format!("/consent?{}", encode_query(&after_sign_in(query))),
            &[],
        ),
        Decision::Code(code) => see_other(
            &client_redirect(
                redirect_uri,
                &[
                    ("code", Some(code.expose_secret())),
                    ("state", state_parameter),
                    ("iss", Some(issuer)),
                ],
            ),
            &[],
        ),
        Decision::Refuse(error) => see_other(
            &client_redirect(
                redirect_uri,
                &[
                    ("error", Some(error.error)),
                    ("error_description", Some(&error.description)),
                    ("state", state_parameter),
                    ("iss", Some(issuer)),
                ],
            ),
            &[],
        ),
    }
}

/// The request with `login` taken out of `prompt` and without `max_age`:
/// once the user has signed in (as fresh as the request asked), coming
/// back must not ask again, however long sign-in or consent took.
fn after_sign_in(query: &AuthorizeQuery) -> AuthorizeQuery {
    let prompt = query.prompt.as_deref().map(|prompt| {
        prompt
            .split_ascii_whitespace()
            .filter(|value| *value != "login")
            .collect::<Vec<_>>()
            .join(" ")
    });
    AuthorizeQuery {
        prompt: prompt.filter(|prompt| !prompt.is_empty()),
        max_age: None,
        ..query.clone()
    }
}

/// `query` as a URL query string.
pub(crate) fn encode_query(query: &AuthorizeQuery) -> String {
    serde_urlencoded::to_string(query).unwrap_or_default()
}

/// `redirect_uri` with `parameters` added to its query (those given).
fn client_redirect(redirect_uri: &str, parameters: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in parameters {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
    }
    url.into()
}

/// User info (OpenID Connect)
///
/// The claims of the access token's user that its scopes allow: `sub`;
/// `email` and `email_verified` with `email`; `name` with `profile`. The
/// token must hold `openid`.
#[utoipa::path(
    get,
    path = "/userinfo",
    operation_id = "userinfo",
    tag = "browser-sign-in",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The claims.", body = UserInfoBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(HeaderMap, Json<UserInfoBody>), ApiError> {
    user_info(&state, &headers).await
}

/// User info (OpenID Connect), by POST
///
/// As `GET /userinfo`.
#[utoipa::path(
    post,
    path = "/userinfo",
    operation_id = "userinfo_post",
    tag = "browser-sign-in",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The claims.", body = UserInfoBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(HeaderMap, Json<UserInfoBody>), ApiError> {
    user_info(&state, &headers).await
}

async fn user_info(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(HeaderMap, Json<UserInfoBody>), ApiError> {
    let token = match presented_credential(headers) {
        PresentedCredential::Token(token) => token,
        PresentedCredential::Missing => return Err(ApiError::MissingCredential),
        PresentedCredential::OtherScheme => {
            return Err(ApiError::InvalidCredential(
                "use the Bearer scheme with an access token".to_owned(),
            ));
        }
    };
    let info = state.services.authorizations.userinfo(token).await?;
    let (email, email_verified) = info.email.unzip();
    Ok((
        no_store_headers(),
        Json(UserInfoBody {
            sub: info.sub,
            email,
            email_verified,
            name: info.name,
        }),
    ))
}
