//! The frame of the OpenAPI 3.1 document served at `GET /openapi.json`:
//! what it says of the whole API (title, version, conventions, tags,
//! security schemes) and the components every operation shares (the two
//! error bodies and the error responses of [`crate::responses`]).
//!
//! It exists so that clients, proxies and outside test suites read the
//! contract from the code that implements it instead of from prose that can
//! drift. The operations are not listed here: the route table
//! ([`crate::routes::table`]) starts from this frame and adds each handler's
//! `#[utoipa::path]` as it routes it, so the router and the document come
//! from one list; then [`with_edge_responses`] adds the answers that the
//! edge of the server gives for every operation of a kind (a body that
//! arrives too slowly, text that cannot be stored), and
//! [`exclude_unstorable_text`] says in every input schema that text holds
//! no NUL, so that no handler has to remember either. This module therefore never names a handler (the handlers
//! and this frame both use [`crate::responses`], never each other), never
//! describes a response that the handlers cannot send, and never holds a
//! hand-written copy of a body's fields.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::UtoipaMethodRouter;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{OAuthErrorBody, Problem};
use crate::responses::{
    BadRequest, EmailCodeLoginOff, EmailTaken, InsufficientScope, InternalError, LastAdministrator,
    NotFound, OAuthBadRequest, OAuthInsufficientScope, OAuthInvalidClient, OAuthPayloadTooLarge,
    OAuthRequestTimeout, OAuthServerError, OAuthTooManyAttempts, OAuthUnauthorized,
    OAuthUnavailable, PayloadTooLarge, RequestTimeout, SessionTokenRequired, SignupClosed,
    TooManyAttempts, Unauthorized, Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::text_input::STORABLE_TEXT_PATTERN;
use crate::wire::EditableRoleName;

/// The name of the bearer security scheme that protected operations require.
pub(crate) const BEARER: &str = "bearer";

/// The document without operations; [`crate::routes::table`] adds them.
pub(crate) fn frame() -> utoipa::openapi::OpenApi {
    Frame::openapi()
}

/// Marks the request body of the operations in `routes` as optional.
///
/// `POST /token` needs no body when `Authorization: Basic` carries the
/// credentials. `utoipa` can say a body is optional only by also making its
/// schema nullable, and a `null` body is refused, so the route table says it
/// with this, on the row that routes the handler.
pub(crate) fn with_optional_body<S>(routes: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    let (schemas, mut paths, method_router) = routes;
    for item in paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if let Some(body) = operation.request_body.as_mut() {
                body.required = Some(Required::False);
            }
        }
    }
    (schemas, paths, method_router)
}

/// Adds to every operation of `document` what the server's edge answers
/// before its handler decides anything: `408` to each that takes a body
/// (the body timeout, `crate::body_deadline`), and, outside `/token*`,
/// `422` to each that takes a path parameter or a body (text that no
/// database can store, [`crate::text_input`]; in a query string that is the
/// documented `400`, and on `/token*` the documented `400 invalid_request`).
pub(crate) fn with_edge_responses(document: &mut utoipa::openapi::OpenApi) {
    for (path, item) in &mut document.paths.paths {
        let oauth = path.starts_with("/token");
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let has_path_parameters = operation.parameters.iter().flatten().any(|parameter| {
                parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path
            });
            if has_body {
                let timeout = if oauth {
                    "OAuthRequestTimeout"
                } else {
                    "RequestTimeout"
                };
                add_response(operation, "408", timeout);
            }
            if !oauth && (has_body || has_path_parameters) {
                add_response(operation, "422", "ValidationFailed");
            }
        }
    }
}

/// Says, in every string schema a request can carry (parameters and
/// bodies, through their `$ref`s) that does not already constrain its
/// characters, that it holds no NUL: the edge refuses it
/// ([`crate::text_input`]), so a request with one is not well-formed.
pub(crate) fn exclude_unstorable_text(document: &mut Value) {
    // The paths' inline schemas, then each component they name, once.
    // (`get_mut`, not indexing, which would add the keys it does not find.)
    let mut components = BTreeSet::new();
    let operations = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
            if let Some(schema) = parameter.get_mut("schema") {
                exclude_nul(schema, &mut components);
            }
        }
        let bodies = operation
            .get_mut("requestBody")
            .and_then(|body| body.get_mut("content"))
            .and_then(Value::as_object_mut);
        for media_type in bodies.into_iter().flat_map(|content| content.values_mut()) {
            if let Some(schema) = media_type.get_mut("schema") {
                exclude_nul(schema, &mut components);
            }
        }
    }
    let mut done = BTreeSet::new();
    while let Some(name) = components
        .iter()
        .find(|name| !done.contains(*name))
        .cloned()
    {
        done.insert(name.clone());
        if let Some(schema) = document.pointer_mut(&format!("/components/schemas/{name}")) {
            exclude_nul(schema, &mut components);
        }
    }
}

/// Adds [`STORABLE_TEXT_PATTERN`] to the string schemas in `schema`;
/// gathers the components it names into `named`.
fn exclude_nul(schema: &mut Value, named: &mut BTreeSet<String>) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(name) = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
    {
        named.insert(name.to_owned());
    }
    let is_string = match object.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "string"),
        _ => false,
    };
    let constrained = ["pattern", "enum", "const"]
        .iter()
        .any(|keyword| object.contains_key(*keyword))
        || object.get("format").and_then(Value::as_str) == Some("uuid");
    if is_string && !constrained {
        object.insert("pattern".to_owned(), Value::from(STORABLE_TEXT_PATTERN));
    }
    for (keyword, child) in object.iter_mut() {
        match keyword.as_str() {
            "properties" => child
                .as_object_mut()
                .into_iter()
                .flatten()
                .for_each(|(_, property)| exclude_nul(property, named)),
            "items" | "additionalProperties" => exclude_nul(child, named),
            "allOf" | "oneOf" | "anyOf" => child
                .as_array_mut()
                .into_iter()
                .flatten()
                .for_each(|member| exclude_nul(member, named)),
            _ => {}
        }
    }
}

/// Documents `status` of `operation` as the shared response `name`, unless
/// the operation documents that status itself.
fn add_response(operation: &mut Operation, status: &str, name: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
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
            `/token/introspect` are OAuth 2.0 errors (RFC 6749 §5.2, `application/json`). \
            A path not listed here answers `404`, and a method a listed path does not have \
            answers `405` with `Allow`, both as problem details; every `GET` also answers \
            `HEAD`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(
        schemas(Problem, OAuthErrorBody, EditableRoleName),
        responses(
            BadRequest,
            Unauthorized,
            InsufficientScope,
            SessionTokenRequired,
            SignupClosed,
            EmailCodeLoginOff,
            NotFound,
            EmailTaken,
            LastAdministrator,
            PayloadTooLarge,
            RequestTimeout,
            UnsupportedMediaType,
            ValidationFailed,
            TooManyAttempts,
            InternalError,
            Unavailable,
            OAuthBadRequest,
            OAuthUnauthorized,
            OAuthInvalidClient,
            OAuthInsufficientScope,
            OAuthPayloadTooLarge,
            OAuthRequestTimeout,
            OAuthTooManyAttempts,
            OAuthServerError,
            OAuthUnavailable,
        )
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up and the caller's own account."),
        (name = "email", description = "Proving an address and recovering an account by mail."),
        (name = "pages", description = "HTML pages: those mailed links open, and the hosted sign-in, sign-up, consent and account pages; their forms post back here."),
        (name = "browser-sign-in", description = "OAuth 2.1 authorization code with PKCE and OpenID Connect: the authorization endpoint, userinfo and RP-initiated logout."),
        (name = "tokens", description = "The OAuth 2.0 token endpoint and revocation."),
        (name = "sessions", description = "The caller's sessions and logout."),
        (name = "personal-access-tokens", description = "API keys: long-lived tokens with chosen scopes."),
        (name = "admin", description = "Users, roles and OAuth clients, guarded by `admin:users`, `admin:roles` and `admin:clients`."),
        (name = "protected-apis", description = "What the APIs behind Portcullis use: keys, discovery, introspection, forward-auth."),
        (name = "operations", description = "Probes and this document."),
    )
)]
struct Frame;

/// Declares how a caller authenticates: `bearer` (an access token or a
/// personal access token) and `basic` (user credentials, on `POST /token` only).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::default);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn request_text_is_said_to_hold_no_nul_and_nothing_else_changes() {
        let mut document = json!({
            "paths": {
                "/a/{id}": {
                    "get": {
                        "parameters": [
                            {"name": "id", "in": "path", "schema": {"type": "string", "format": "uuid"}},
                            {"name": "q", "in": "query", "schema": {"type": "string"}},
                        ],
                        "responses": {"200": {"description": ""}},
                    },
                    "put": {
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
                        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}},
                    },
                },
                "/b": {"get": {"responses": {}}},
            },
            "components": {"schemas": {
                "In": {"type": "object", "properties": {
                    "name": {"type": ["string", "null"]},
                    "role": {"type": "string", "pattern": "^[a-z]+$"},
                    "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                    "days": {"type": "integer"},
                }},
                "Tag": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "Out": {"type": "object", "properties": {"name": {"type": "string"}}},
            }},
        });
        exclude_unstorable_text(&mut document);
        let pattern = json!(STORABLE_TEXT_PATTERN);
        assert_eq!(
            document.pointer("/paths/~1a~1{id}/get/parameters/1/schema/pattern"),
            Some(&pattern)
        );
        assert_eq!(
            document.pointer("/paths/~1a~1{id}/get/parameters/0/schema/pattern"),
            None
        );
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["In"]["properties"]["name"]["pattern"], pattern);
        assert_eq!(schemas["In"]["properties"]["role"]["pattern"], "^[a-z]+$");
        assert_eq!(schemas["In"]["properties"]["days"].get("pattern"), None);
        assert_eq!(schemas["Tag"]["oneOf"][0]["pattern"], pattern);
        assert_eq!(
            schemas["Out"]["properties"]["name"].get("pattern"),
            None,
            "responses are untouched"
        );
        assert_eq!(
            document["paths"]["/b"]["get"],
            json!({"responses": {}}),
            "no key is added"
        );
    }
}
