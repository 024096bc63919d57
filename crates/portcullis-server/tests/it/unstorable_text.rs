//! Text that a database column cannot hold never reaches a query: the NUL
//! character (U+0000), which PostgreSQL's `text` refuses (once a `500`), is
//! refused at the edge in every string input of every operation: path
//! parameters, query parameters, each string field of each JSON and form
//! body, and `Authorization: Basic` on `POST /token`. The answer is `400
//! invalid_request` on `/token*`, a `400` naming the parameter for a query
//! string and a `422` naming the field elsewhere, never a `5xx`, on SQLite
//! and on PostgreSQL alike. A lone surrogate
//! (`"\ud800"`) in JSON is malformed JSON, `400`.
//!
//! The inputs are read from the OpenAPI document, so a new endpoint, field
//! or parameter is tried without being listed here.

use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::app::{Call, TestApp, call};

/// A value holding NUL, as JSON text and percent-encoded.
const NUL: &str = "a\u{0}b";
const NUL_IN_URL: &str = "a%00b";
/// A CSRF token a page could have set, sent as its cookie and in the form.
const CSRF: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// What the server must answer to a case.
#[derive(Debug)]
enum Refusal {
    /// `400 invalid_request`, OAuth style (`/token*`).
    OAuthInvalidRequest,
    /// `422` problem details naming this field.
    Field(String),
    /// `400` problem details naming this query parameter.
    Query(String),
    /// `400` malformed (problem details, or OAuth on `/token*`).
    Malformed,
    /// `403`: a page's form whose CSRF token does not match.
    Forged,
}

struct Case {
    description: String,
    request: Call,
    refusal: Refusal,
}

#[tokio::test]
async fn nul_in_any_string_input_is_refused_at_the_edge_on_sqlite() {
    let app = TestApp::start().await;
    every_string_input_refuses_nul(&app).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL at PORTCULLIS_TEST_POSTGRES; CI runs it with --include-ignored"]
async fn nul_in_any_string_input_is_refused_at_the_edge_on_postgres() {
    let app = TestApp::start_on_postgres().await;
    every_string_input_refuses_nul(&app).await;
}

async fn every_string_input_refuses_nul(app: &TestApp) {
    let admin = app.account("admin@example.com", &["admin"]).await;
    let document: Value =
        serde_json::from_str(portcullis_server::openapi_json()).expect("the document is JSON");
    let cases = cases(&document);
    assert!(
        cases.len() >= 40,
        "the document's string inputs are found: {}",
        cases.len()
    );
    let mut wrong = Vec::new();
    for case in cases {
        let mut request = case.request;
        if !has_authorization(&request) {
            request = request.bearer(&admin.access_token);
        }
        let reply = app.send(request).await;
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        let as_expected = match &case.refusal {
            Refusal::OAuthInvalidRequest => {
                reply.status == StatusCode::BAD_REQUEST && reply.oauth_error() == "invalid_request"
            }
            Refusal::Field(field) => {
                reply.status == StatusCode::UNPROCESSABLE_ENTITY
                    && reply.invalid_fields().iter().any(|named| named == field)
            }
            Refusal::Query(name) => {
                reply.status == StatusCode::BAD_REQUEST
                    && reply.problem() == "invalid-query"
                    && body.contains(name.as_str())
            }
            Refusal::Malformed => reply.status == StatusCode::BAD_REQUEST,
            Refusal::Forged => reply.status == StatusCode::FORBIDDEN,
        };
        if !as_expected {
            wrong.push(format!(
                "{}: expected {:?}, got {} {body}",
                case.description, case.refusal, reply.status
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn has_authorization(request: &Call) -> bool {
    request.has_header(&AUTHORIZATION)
}

/// One case per string input of every operation of `document`.
fn cases(document: &Value) -> Vec<Case> {
    let mut cases = Vec::new();
    for (route, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let method = method.to_ascii_uppercase();
            let oauth = route.starts_with("/token");
            let refused = |field: &str| {
                if oauth {
                    Refusal::OAuthInvalidRequest
                } else {
                    Refusal::Field(field.to_owned())
                }
            };
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for parameter in &parameters {
                let name = parameter["name"].as_str().expect("a parameter's name");
                let (path, query, refusal) = match parameter["in"].as_str() {
                    Some("path") => (fill(route, Some(name)), String::new(), refused(name)),
                    Some("query") => (
                        fill(route, None),
                        format!("?{name}={NUL_IN_URL}"),
                        Refusal::Query(name.to_owned()),
                    ),
                    _ => continue,
                };
                cases.push(Case {
                    description: format!("{method} {route}: {name} in the {}", parameter["in"]),
                    request: with_body_if_needed(
                        call(&method, &format!("{path}{query}")),
                        operation,
                    ),
                    refusal,
                });
            }
            let path = fill(route, None);
            let page_form = is_page_form(operation);
            // A page's form passes its CSRF check, so that its fields are read.
            let post = |media_type: &str, body: String| {
                let request = call(&method, &path);
                if page_form {
                    request
                        .header(COOKIE, &format!("portcullis_csrf={CSRF}"))
                        .body(media_type, body)
                } else {
                    request.body(media_type, body)
                }
            };
            let refused_field = |field: &str| {
                if page_form && field == "csrf" {
                    Refusal::Forged
                } else {
                    refused(field)
                }
            };
            for (media_type, content) in operation["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let schema = resolve(document, &content["schema"]);
                for (field, property) in schema["properties"].as_object().into_iter().flatten() {
                    let property = resolve(document, property);
                    let description = format!("{method} {route}: {field} in {media_type}");
                    let json_body = if admits_string(document, property) {
                        Some((json!({ field: NUL }), field.clone()))
                    } else if property["items"].is_object()
                        && admits_string(document, resolve(document, &property["items"]))
                    {
                        Some((json!({ field: [NUL] }), format!("{field}[0]")))
                    } else {
                        None
                    };
                    let Some((body, named)) = json_body else {
                        continue;
                    };
                    if media_type == "application/json" {
                        let mut body = body;
                        if page_form && field != "csrf" {
                            body["csrf"] = json!(CSRF);
                        }
                        cases.push(Case {
                            description: description.clone(),
                            request: post("application/json", body.to_string()),
                            refusal: refused_field(&named),
                        });
                        cases.push(Case {
                            description: format!("{description}, a lone surrogate"),
                            request: call(&method, &path)
                                .body("application/json", format!(r#"{{"{field}": "\ud800"}}"#)),
                            refusal: Refusal::Malformed,
                        });
                    } else if named == *field {
                        let token = if page_form && field != "csrf" {
                            format!("&csrf={CSRF}")
                        } else {
                            String::new()
                        };
                        cases.push(Case {
                            description,
                            request: post(media_type, format!("{field}={NUL_IN_URL}{token}")),
                            refusal: refused_field(field),
                        });
                    }
                }
            }
            let takes_basic = operation["security"]
                .as_array()
                .is_some_and(|all| all.iter().any(|scheme| scheme.get("basic").is_some()));
            if takes_basic {
                for credentials in [format!("{NUL}:password"), format!("user@example.com:{NUL}")] {
                    cases.push(Case {
                        description: format!("{method} {route}: Basic {credentials:?}"),
                        request: call(&method, &path).header(
                            AUTHORIZATION,
                            &format!("Basic {}", STANDARD.encode(&credentials)),
                        ),
                        refusal: Refusal::OAuthInvalidRequest,
                    });
                }
            }
        }
    }
    cases
}

/// Whether `operation` is a hosted page's form, refused with `403` unless
/// its CSRF token matches (the document says so of its `403`).
pub(crate) fn is_page_form(operation: &Value) -> bool {
    operation["responses"]["403"]["description"]
        .as_str()
        .is_some_and(|description| description.contains("not sent from this site's page"))
}

/// `route` with its parameters filled with ordinary values, except
/// `with_nul`, which holds NUL.
fn fill(route: &str, with_nul: Option<&str>) -> String {
    route
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if Some(name) == with_nul => NUL_IN_URL.to_owned(),
                Some("id") => "0190c0de-0000-7000-8000-000000000000".to_owned(),
                Some(_) => "librarian".to_owned(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// An operation that requires a body gets an empty JSON object, so that
/// the parameter under test is what is refused.
fn with_body_if_needed(request: Call, operation: &Value) -> Call {
    if operation["requestBody"]["content"]
        .get("application/json")
        .is_some()
    {
        request.json(json!({}))
    } else {
        request
    }
}

/// Follows a local `$ref`.
fn resolve<'document>(document: &'document Value, schema: &'document Value) -> &'document Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
        .unwrap_or(schema)
}

/// Whether `schema` admits a string.
fn admits_string(document: &Value, schema: &Value) -> bool {
    let typed = match &schema["type"] {
        Value::String(kind) => kind == "string",
        Value::Array(kinds) => kinds.iter().any(|kind| kind == "string"),
        _ => false,
    };
    typed
        || ["oneOf", "anyOf", "allOf"].iter().any(|keyword| {
            schema[keyword].as_array().is_some_and(|all| {
                all.iter()
                    .any(|s| admits_string(document, resolve(document, s)))
            })
        })
}
