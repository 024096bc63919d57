//! The handlers, one module per area of the contract, and the one route
//! table that both routes them and documents them.
//!
//! Each handler parses, calls one use case of [`portcullis_core::Services`]
//! and shapes the answer; its `#[utoipa::path]` says its method, path and every
//! response it can send. [`table`] registers each handler with
//! `utoipa_axum::routes!`, which reads method and path from that annotation
//! and adds the operation to the document as it adds the route to the
//! router, so a route cannot be served undocumented nor documented unserved.
//! Register a handler only through `routes!`: a plain `.route(...)` here would
//! be served without documentation.

pub(crate) mod account;
pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod authorize;
pub(crate) mod clients;
pub(crate) mod discovery;
pub(crate) mod email;
pub(crate) mod health;
pub(crate) mod pages;
pub(crate) mod personal_tokens;
pub(crate) mod protected_apis;
pub(crate) mod sessions;
pub(crate) mod sign_in;
pub(crate) mod sign_out;
pub(crate) mod token;

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::metrics;
use crate::openapi::{exclude_unstorable_text, frame, with_edge_responses, with_optional_body};
use crate::state::AppState;

/// Every endpoint of the contract: the router and its OpenAPI document.
///
/// One handler per row: `routes!` routes every handler it is given on the
/// path of the first, and axum merges rows on one path. A `GET` also answers
/// `HEAD` (`routes!` routes with axum's method filters, as
/// `axum::routing::get` does).
pub(crate) fn table() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(frame())
        .routes(routes!(accounts::sign_up))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::get_user))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::delete_user))
        .routes(routes!(admin::list_roles))
        .routes(routes!(admin::put_role))
        .routes(routes!(admin::delete_role))
        .routes(routes!(clients::create))
        .routes(routes!(clients::list))
        .routes(routes!(clients::get))
        .routes(routes!(clients::update))
        .routes(routes!(clients::delete))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::update_me))
        .routes(routes!(accounts::delete_me))
        .routes(routes!(accounts::change_password))
        .routes(routes!(email::request_verification))
        .routes(routes!(email::verify))
        .routes(routes!(email::request_sign_in_code))
        .routes(routes!(email::forgot_password))
        .routes(routes!(email::reset_password))
        .routes(routes!(pages::verify_page))
        .routes(routes!(pages::verify_form_posted))
        .routes(routes!(pages::reset_page))
        .routes(routes!(pages::reset_form_posted))
        .routes(routes!(pages::forgot_page))
        .routes(routes!(pages::forgot_form_posted))
        .routes(routes!(authorize::authorize))
        .routes(routes!(authorize::userinfo))
        .routes(routes!(authorize::userinfo_post))
        .routes(routes!(sign_in::sign_in_page))
        .routes(routes!(sign_in::sign_in_form_posted))
        .routes(routes!(sign_in::sign_up_page))
        .routes(routes!(sign_in::sign_up_form_posted))
        .routes(routes!(sign_in::consent_page))
        .routes(routes!(sign_in::consent_form_posted))
        .routes(routes!(sign_out::sign_out_page))
        .routes(routes!(sign_out::sign_out_form_posted))
        .routes(routes!(account::account_page))
        .routes(routes!(account::account_form_posted))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke_all))
        .routes(routes!(sessions::revoke_one))
        .routes(routes!(sessions::logout))
        .routes(routes!(personal_tokens::create))
        .routes(routes!(personal_tokens::list))
        .routes(routes!(personal_tokens::delete))
        .routes(with_optional_body(routes!(token::token)))
        .routes(routes!(token::revoke))
        .routes(routes!(protected_apis::introspect))
        .routes(routes!(protected_apis::verify))
        .routes(routes!(discovery::jwks))
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::serve_metrics))
        .routes(routes!(openapi_document))
}

/// The document that [`table`] makes, with the edge's own answers
/// ([`with_edge_responses`]) and text inputs without NUL
/// ([`exclude_unstorable_text`]), serialised once on first use.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut document = table().into_openapi();
    with_edge_responses(&mut document);
    let mut document = serde_json::to_value(document).expect("the OpenAPI document serialises");
    exclude_unstorable_text(&mut document);
    document.to_string()
});

/// The OpenAPI 3.1 document that `GET /openapi.json` serves, as JSON.
pub fn openapi_json() -> &'static str {
    &DOCUMENT
}

/// This OpenAPI 3.1 document
///
/// Made from the same route table as the router, once, on first use.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of the whole contract.",
            content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_document() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        openapi_json(),
    )
}
