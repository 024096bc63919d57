//! The OpenAPI 3.1 document of the whole contract, served at `GET /openapi.json`.
//!
//! It exists so that clients, proxies and outside test suites read the
//! contract from the code that implements it instead of from prose that can
//! drift: every handler carries a `#[utoipa::path]`, every body is a type of
//! [`crate::wire`] or [`crate::error`] deriving `ToSchema`, and the tests
//! below check the document against the router's endpoint table
//! ([`crate::endpoints`]) in both directions. This module must never describe
//! a response that the handlers cannot send, nor hold a hand-written copy of
//! a body's fields.
//!
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use utoipa::openapi::Required;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{OAuthErrorBody, Problem};
use crate::openapi::responses::{
    BadRequest, EmailTaken, InsufficientScope, InternalError, NotFound, OAuthBadRequest,
    OAuthInsufficientScope, OAuthPayloadTooLarge, OAuthServerError, OAuthTooManyAttempts,
    OAuthUnauthorized, OAuthUnavailable, PayloadTooLarge, PersonalTokenNotAllowed, SignupClosed,
    TooManyAttempts, Unauthorized, Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::routes;

/// The name of the bearer security scheme that protected operations require.
pub(crate) const BEARER: &str = "bearer";

/// The document, serialised once on first use.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    PortcullisApi::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI 3.1 document that `GET /openapi.json` serves, as JSON.
pub fn openapi_json() -> &'static str {
    &DOCUMENT
}

/// This OpenAPI 3.1 document
///
/// Generated from the handlers' annotations once, on first use.
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
pub(crate) async fn serve_document() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        openapi_json(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        version = env!("CARGO_PKG_VERSION"),
        description = "A self-hosted authentication server: accounts, OAuth 2.0 password and \
            refresh grants with Ed25519-signed JWT access tokens, sessions, personal access \
            tokens, roles, and what the APIs it protects need (JWKS, discovery, \
            introspection, forward-auth).\n\n\
            Errors outside `/token*` are problem details (RFC 9457, \
            `application/problem+json`); errors of `/token`, `/token/revoke` and \
            `/token/introspect` are OAuth 2.0 errors (RFC 6749 §5.2).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::accounts::sign_up,
        routes::accounts::me,
        routes::accounts::update_me,
        routes::accounts::change_password,
        routes::accounts::delete_me,
        routes::admin::list_users,
        routes::admin::get_user,
        routes::admin::update_user,
        routes::admin::delete_user,
        routes::admin::list_roles,
        routes::admin::put_role,
        routes::admin::delete_role,
        routes::personal_tokens::create,
        routes::personal_tokens::list,
        routes::personal_tokens::delete,
        routes::sessions::list,
        routes::sessions::revoke_one,
        routes::sessions::revoke_all,
        routes::sessions::logout,
        routes::token::token,
        routes::token::revoke,
        routes::protected_apis::introspect,
        routes::protected_apis::verify,
        routes::discovery::jwks,
        routes::discovery::openid_configuration,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::serve_metrics,
        serve_document,
    ),
    components(
        schemas(Problem, OAuthErrorBody),
        responses(
        BadRequest,
        Unauthorized,
        InsufficientScope,
        PersonalTokenNotAllowed,
        SignupClosed,
        NotFound,
        EmailTaken,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        TooManyAttempts,
        InternalError,
        Unavailable,
        OAuthBadRequest,
        OAuthUnauthorized,
        OAuthInsufficientScope,
        OAuthPayloadTooLarge,
        OAuthTooManyAttempts,
        OAuthServerError,
        OAuthUnavailable,
    )),
    modifiers(&SecuritySchemes, &TokenBodyIsOptional),
    tags(
        (name = "accounts", description = "Sign-up and the caller's own account."),
        (name = "tokens", description = "The OAuth 2.0 token endpoint and revocation."),
        (name = "sessions", description = "The caller's sessions and logout."),
        (name = "personal-access-tokens", description = "API keys: long-lived tokens with chosen scopes."),
        (name = "admin", description = "Users and roles; every operation needs `admin:users`."),
        (name = "protected-apis", description = "What the APIs behind Portcullis use: keys, discovery, introspection, forward-auth."),
        (name = "operations", description = "Probes and this document."),
    )
)]
struct PortcullisApi;

/// Declares how a caller authenticates: `bearer` (an access token or a
/// personal access token) and `basic` (user credentials, on `POST /token` only).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <token>`, where the token is an access token \
                         (a JWT from `POST /token`) or a personal access token (`pat_...`). \
                         The scheme name is case-insensitive, and a bare \
                         `Authorization: <token>` is accepted too.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The password grant's email and password as `Authorization: Basic`, \
                         instead of `username` and `password` in the body.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `POST /token` needs no body when `Authorization: Basic` carries the
/// credentials. `utoipa` can say a body is optional only by also making its
/// schema nullable, and a `null` body is refused, so this says it directly.
struct TokenBodyIsOptional;

impl Modify for TokenBodyIsOptional {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/token")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut())
            .expect("POST /token is documented with a body");
        body.required = Some(Required::False);
    }
}

/// The reusable error responses, `#/components/responses/...`.
///
/// They are types only so that `utoipa` can name them in `responses(...)`;
/// the real responses are built by [`ApiError`](crate::error::ApiError) and
/// [`OAuthError`](crate::error::OAuthError).
pub(crate) mod responses {
    #![expect(dead_code, reason = "never constructed: they only name responses")]

    use utoipa::ToResponse;

    use crate::error::{OAuthErrorBody, Problem};

    /// The body is not valid JSON, or the query string does not parse.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct BadRequest(Problem<'static>);

    /// No credential, or one that is malformed, expired or revoked, or belongs to
    /// a disabled or deleted user.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 §3: \
            `Bearer realm=\"portcullis\"` when no credential was sent; \
            `Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"...\"` \
            when one was refused."))
    )]
    pub(crate) struct Unauthorized(Problem<'static>);

    /// The credential lacks a permission this operation needs.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 §3.1: \
            `Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"<needed permission>\"`."))
    )]
    pub(crate) struct InsufficientScope(Problem<'static>);

    /// A personal access token cannot do this; use a session's access token.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct PersonalTokenNotAllowed(Problem<'static>);

    /// Sign-up through the API is closed on this server.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct SignupClosed(Problem<'static>);

    /// No such resource (an id that is not a UUID is as unknown as any other).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct NotFound(Problem<'static>);

    /// An account with this email already exists.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct EmailTaken(Problem<'static>);

    /// The body is larger than 64 KiB.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct PayloadTooLarge(Problem<'static>);

    /// The body is not sent as `application/json`.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct UnsupportedMediaType(Problem<'static>);

    /// The input is invalid; `errors` names each field and why.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct ValidationFailed(Problem<'static>);

    /// Too many failed password attempts.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds until another attempt is allowed."))
    )]
    pub(crate) struct TooManyAttempts(Problem<'static>);

    /// An internal error; it is logged and no detail is sent.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct InternalError(Problem<'static>);

    /// The database is unavailable.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
    )]
    pub(crate) struct Unavailable(Problem<'static>);

    /// `invalid_request` (a missing field, a malformed body or Basic credentials,
    /// a content type other than JSON or a form); on `POST /token` also
    /// `invalid_grant` (wrong credentials, unknown or disabled user, an unusable
    /// refresh token: one byte-identical body per grant type),
    /// `unsupported_grant_type` and `invalid_scope`.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/json",
        headers(("Cache-Control" = String, description = "`no-store`"))
    )]
    pub(crate) struct OAuthBadRequest(OAuthErrorBody<'static>);

    /// `invalid_token`: the caller presented no usable credential.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 §3: \
            `Bearer realm=\"portcullis\"` when no credential was sent; \
            `Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"...\"` \
            when one was refused."))
    )]
    pub(crate) struct OAuthUnauthorized(OAuthErrorBody<'static>);

    /// `insufficient_scope`: the caller's credential lacks `tokens:introspect`.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 §3.1: \
            `Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"tokens:introspect\"`."))
    )]
    pub(crate) struct OAuthInsufficientScope(OAuthErrorBody<'static>);

    /// `invalid_request`: the body is larger than 64 KiB.
    #[derive(ToResponse)]
    #[response(content_type = "application/json")]
    pub(crate) struct OAuthPayloadTooLarge(OAuthErrorBody<'static>);

    /// `temporarily_unavailable`: too many failed attempts for this account or address.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/json",
        headers(("Retry-After" = u64, description = "Seconds until another attempt is allowed."))
    )]
    pub(crate) struct OAuthTooManyAttempts(OAuthErrorBody<'static>);

    /// `server_error`: an internal error; it is logged and no detail is sent.
    #[derive(ToResponse)]
    #[response(content_type = "application/json")]
    pub(crate) struct OAuthServerError(OAuthErrorBody<'static>);

    /// `temporarily_unavailable`: the database is unavailable.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
    )]
    pub(crate) struct OAuthUnavailable(OAuthErrorBody<'static>);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::endpoints;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(openapi_json()).expect("the document is JSON")
    }

    /// `(method, path, operation)` for every operation of the document.
    fn operations(document: &Value) -> Vec<(String, String, &Value)> {
        let paths = document["paths"].as_object().expect("paths is an object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS.iter().filter_map(move |method| {
                    item.get(*method)
                        .map(|operation| ((*method).to_owned(), path.clone(), operation))
                })
            })
            .collect()
    }

    /// Follows a `$ref` within the document.
    fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{reference} is not local"));
                document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} does not resolve"))
            }
            None => value,
        }
    }

    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    found.push(reference);
                }
                map.values().for_each(|child| references(child, found));
            }
            Value::Array(items) => items.iter().for_each(|child| references(child, found)),
            _ => {}
        }
    }

    #[test]
    fn is_openapi_3_1_for_portcullis() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["info"]["title"], "Portcullis");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        let bearer = &document["components"]["securitySchemes"][BEARER];
        assert_eq!(bearer["scheme"], "bearer");
        assert_eq!(bearer["bearerFormat"], "JWT");
    }

    #[test]
    fn describes_exactly_the_endpoints_the_router_serves() {
        let endpoints = endpoints();
        let served: BTreeSet<(String, String)> = endpoints
            .iter()
            .map(|endpoint| {
                (
                    endpoint.method.as_str().to_ascii_lowercase(),
                    endpoint.path.to_owned(),
                )
            })
            .collect();
        assert_eq!(served.len(), endpoints.len(), "an endpoint is listed twice");
        let document = document();
        let documented: BTreeSet<(String, String)> = operations(&document)
            .into_iter()
            .map(|(method, path, _)| (method, path))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let not_served: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && not_served.is_empty(),
            "served but not documented: {undocumented:?}; documented but not served: {not_served:?}"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(found.contains(&"#/components/schemas/Problem"));
        for reference in found {
            resolve(&document, &serde_json::json!({ "$ref": reference }));
        }
    }

    #[test]
    fn every_operation_is_complete() {
        let document = document();
        let tags: BTreeSet<&str> = document["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|tag| tag["name"].as_str().expect("a tag name"))
            .collect();
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .expect("security schemes");
        let mut operation_ids = BTreeSet::new();
        for (method, path, operation) in operations(&document) {
            let at = format!("{method} {path}");
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id), "{at}: operationId {id} is taken");
            assert!(operation["summary"].is_string(), "{at}: no summary");
            let operation_tags = operation["tags"].as_array().expect("tags");
            assert_eq!(operation_tags.len(), 1, "{at}: one tag");
            assert!(
                tags.contains(operation_tags[0].as_str().unwrap_or_default()),
                "{at}: undeclared tag"
            );

            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{at}: no 2xx response"
            );

            for segment in path.split('/').filter_map(|s| s.strip_prefix('{')) {
                let name = segment.trim_end_matches('}');
                let declared = operation["parameters"]
                    .as_array()
                    .is_some_and(|parameters| {
                        parameters.iter().any(|p| {
                            p["name"] == name && p["in"] == "path" && p["required"] == true
                        })
                    });
                assert!(declared, "{at}: path parameter {name} is not declared");
            }

            let requirements = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for requirement in &requirements {
                for scheme in requirement.as_object().expect("a requirement").keys() {
                    assert!(
                        schemes.contains_key(scheme),
                        "{at}: unknown scheme {scheme}"
                    );
                }
            }
            let needs_bearer = requirements.iter().any(|r| r.get(BEARER).is_some());
            if needs_bearer {
                assert!(responses.contains_key("401"), "{at}: protected but no 401");
            }

            for (status, response) in responses {
                let response = resolve(&document, response);
                assert!(
                    response["description"].is_string(),
                    "{at} {status}: no description"
                );
                let header = |name: &str| response["headers"].get(name).is_some();
                match status.as_str() {
                    "401" => assert!(header("WWW-Authenticate"), "{at} 401: no WWW-Authenticate"),
                    "429" | "503" => {
                        assert!(header("Retry-After"), "{at} {status}: no Retry-After")
                    }
                    _ => {}
                }
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let content = response["content"]
                    .as_object()
                    .expect("an error has a body");
                let schema_of =
                    |media_type: &str| content.get(media_type).map(|m| &m["schema"]["$ref"]);
                if path.starts_with("/token") {
                    assert_eq!(
                        schema_of("application/json"),
                        Some(&Value::from("#/components/schemas/OAuthErrorBody")),
                        "{at} {status}: not an OAuth error"
                    );
                } else if let Some(schema) = schema_of("application/problem+json") {
                    assert_eq!(schema, "#/components/schemas/Problem", "{at} {status}");
                }
            }
        }
    }
}
