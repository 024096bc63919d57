//! Checks that responses are the ones the OpenAPI document describes: an
//! operation for the method and route, a documented status, and the media
//! type really sent among the documented ones. For test suites, this crate's
//! and others' (feature `test-support`); it never runs in a server.
//!
//! Three ways in, from the most general:
//!
//! - [`undocumented`]: one response against a document; `Some(why)` when
//!   the document does not describe it.
//! - [`Conformance::record`]: the same, remembered, for a client that talks
//!   to a running server (pass the concrete path; [`route_of`] finds its
//!   route); [`Conformance::assert_all_documented`] panics with every
//!   violation at the end of a test.
//! - [`Conformance::layer`]: a tower layer that records every response of
//!   the service it wraps, such as `portcullis_server::router(state)` driven
//!   in process with `tower::ServiceExt::oneshot`.
//!
//! ```ignore
//! // In process, this crate's `tests/it/app.rs`:
//! let conformance = Conformance::of_this_server();
//! let app = portcullis_server::router(state).layer(conformance.layer());
//! // ... drive `app` with `tower::ServiceExt::oneshot` ...
//! conformance.assert_all_documented();
//!
//! // Over HTTP (a dev-dependency on `portcullis-server` with `test-support`):
//! let response = client.get(url).send().await?;
//! conformance.record(
//!     "GET",
//!     response.url().path(),
//!     response.status().as_u16(),
//!     response.headers().get("content-type").and_then(|v| v.to_str().ok()),
//! );
//! ```
//!
//! The rules, besides the document itself:
//!
//! - A path that no route of the document matches may only be answered by
//!   the router's fallback, `404` as problem details.
//! - A method that the path does not have may only be answered `405` as
//!   problem details. `HEAD` is checked as the path's `GET` (axum answers one
//!   with the other), and an `OPTIONS` answered `2xx` without a body is a
//!   CORS preflight, which the CORS layer answers for every route.
//! - A status is documented exactly, as a range (`4XX`) or by `default`.
//! - The media type is compared without parameters (`text/plain;
//!   charset=utf-8` is `text/plain`) and honours `type/*` and `*/*`. A
//!   response without `Content-Type` must be documented without content, and
//!   one with it, with that media type.
//!
//! Bodies are not validated against their schemas: that is what outside
//! tools such as schemathesis do from the same document.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use axum::http::{Request, Response, header};
use serde_json::Value;
use tower::{Layer, Service};

/// The media type of the router's own answers (the `404` fallback and `405`).
pub const ROUTER_ERROR_MEDIA_TYPE: &str = "application/problem+json";

/// Why the response `status` with `content_type`, to `method` on `route`, is
/// not described by `document` (an OpenAPI 3.x document as JSON); `None` when
/// it is.
///
/// `route` is a path template of the document (`/users/{id}`), as axum's
/// `MatchedPath` gives it; for a concrete path use [`route_of`] first, or
/// [`Conformance::record`], which does. `None` as `content_type` means the
/// response had no `Content-Type`.
#[must_use]
pub fn undocumented(
    document: &Value,
    method: &str,
    route: &str,
    status: u16,
    content_type: Option<&str>,
) -> Option<String> {
    let method = method.to_ascii_lowercase();
    let seen = format!(
        "{} {route} answered {status} {}",
        method.to_ascii_uppercase(),
        content_type.unwrap_or("without Content-Type")
    );
    let sent = media_type(content_type);
    let router_error =
        |expected: u16| status == expected && sent.as_deref() == Some(ROUTER_ERROR_MEDIA_TYPE);
    let Some(item) = document["paths"].get(route) else {
        return (!router_error(404)).then(|| {
            format!("{seen}: no route of the document matches, so only 404 problem details fit")
        });
    };
    let operation = item
        .get(method.as_str())
        .or_else(|| (method == "head").then(|| item.get("get")).flatten());
    let Some(operation) = operation else {
        let preflight = method == "options" && (200..300).contains(&status) && sent.is_none();
        return (!(preflight || router_error(405))).then(|| {
            format!("{seen}: the route has no such operation, so only 405 problem details fit")
        });
    };
    let responses = &operation["responses"];
    let documented = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .or_else(|| responses.get("default"));
    let Some(documented) = documented else {
        return Some(format!("{seen}: status {status} is not documented"));
    };
    let documented = resolve(document, documented);
    let media_types: Vec<&str> = documented["content"]
        .as_object()
        .map(|content| content.keys().map(String::as_str).collect())
        .unwrap_or_default();
    match sent.as_deref() {
        None if media_types.is_empty() => None,
        None => Some(format!("{seen}: documented with content {media_types:?}")),
        Some(sent)
            if media_types
                .iter()
                .any(|documented| matches(documented, sent)) =>
        {
            None
        }
        Some(_) if media_types.is_empty() => Some(format!("{seen}: documented without content")),
        Some(_) => Some(format!(
            "{seen}: documented media types are {media_types:?}"
        )),
    }
}

/// The path template of `document` that the concrete `path` matches
/// (`/users/0190…` → `/users/{id}`), preferring literal segments to
/// parameters; a query string is ignored. `None` when no template matches.
#[must_use]
pub fn route_of<'document>(document: &'document Value, path: &str) -> Option<&'document str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document["paths"].as_object()?;
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = Vec::with_capacity(parts.len());
            for (part, segment) in parts.iter().zip(&segments) {
                let is_parameter = part.starts_with('{') && part.ends_with('}');
                if is_parameter && !segment.is_empty() {
                    literal.push(false);
                } else if part == segment {
                    literal.push(true);
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str()))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, template)| template)
}

/// Remembers every response that the document does not describe.
///
/// Clones share what they record, so one can go into a layer while the test
/// keeps another to assert on.
#[derive(Clone)]
pub struct Conformance {
    document: Arc<Value>,
    record: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    checked: usize,
    violations: Vec<String>,
}

impl Conformance {
    /// Checks against `document`, e.g. `GET /openapi.json` of a running server.
    #[must_use]
    pub fn new(document: Value) -> Self {
        Self {
            document: Arc::new(document),
            record: Arc::default(),
        }
    }

    /// Checks against this build's document, [`crate::openapi_json`].
    ///
    /// # Panics
    /// Never in practice: the document is JSON by construction.
    #[must_use]
    pub fn of_this_server() -> Self {
        Self::new(serde_json::from_str(crate::openapi_json()).expect("the document is JSON"))
    }

    /// Checks one response to `method` on `path`, which is a concrete path
    /// (`/users/0190…?limit=5`) or a route of the document (`/users/{id}`).
    ///
    /// # Panics
    /// When another thread panicked while recording.
    pub fn record(&self, method: &str, path: &str, status: u16, content_type: Option<&str>) {
        let route = if self.document["paths"].get(path).is_some() {
            Some(path)
        } else {
            route_of(&self.document, path)
        };
        let violation = undocumented(
            &self.document,
            method,
            route.unwrap_or(path),
            status,
            content_type,
        );
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.checked += 1;
        record.violations.extend(violation);
    }

    /// How many responses were checked.
    #[must_use]
    pub fn checked(&self) -> usize {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .checked
    }

    /// Every response checked so far that the document does not describe.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .violations
            .clone()
    }

    /// Panics, listing them, when any response was not documented.
    ///
    /// # Panics
    /// As said.
    #[track_caller]
    pub fn assert_all_documented(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "{} of {} responses are not described by the OpenAPI document:\n  {}",
            violations.len(),
            self.checked(),
            violations.join("\n  ")
        );
    }

    /// A layer that records every response of the service it wraps.
    #[must_use]
    pub fn layer(&self) -> ConformanceLayer {
        ConformanceLayer {
            conformance: self.clone(),
        }
    }
}

/// See [`Conformance::layer`]. Inside a `Router` (`Router::layer`) it reads
/// the route from `MatchedPath`; around one, it finds it with [`route_of`].
#[derive(Clone)]
pub struct ConformanceLayer {
    conformance: Conformance,
}

impl<S> Layer<S> for ConformanceLayer {
    type Service = ConformanceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConformanceService {
            inner,
            conformance: self.conformance.clone(),
        }
    }
}

/// The service of [`ConformanceLayer`].
#[derive(Clone)]
pub struct ConformanceService<S> {
    inner: S,
    conformance: Conformance,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for ConformanceService<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let method = request.method().as_str().to_owned();
        let path = request.extensions().get::<MatchedPath>().map_or_else(
            || request.uri().path().to_owned(),
            |route| route.as_str().to_owned(),
        );
        let conformance = self.conformance.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|value| value.to_str().unwrap_or("(not text)"));
            conformance.record(&method, &path, response.status().as_u16(), content_type);
            Ok(response)
        })
    }
}

/// The media type without parameters, lower-cased.
fn media_type(content_type: Option<&str>) -> Option<String> {
    content_type.map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// Whether a documented media range (`application/json`, `text/*`, `*/*`) admits `sent`.
fn matches(documented: &str, sent: &str) -> bool {
    let documented = documented.to_ascii_lowercase();
    match documented.split_once('/') {
        Some(("*", "*")) => true,
        Some((kind, "*")) => sent
            .split_once('/')
            .is_some_and(|(sent_kind, _)| sent_kind == kind),
        _ => documented == sent,
    }
}

/// Follows a local `$ref` (`#/components/responses/NotFound`).
fn resolve<'document>(document: &'document Value, value: &'document Value) -> &'document Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        let problem = json!({"schema": {"$ref": "#/components/schemas/Problem"}});
        json!({
            "openapi": "3.1.0",
            "paths": {
                "/me/sessions": {
                    "get": {"responses": {
                        "200": {"description": "", "content": {"application/json": {}}},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                    }},
                    "delete": {"responses": {"204": {"description": ""}}},
                },
                "/me/{thing}": {
                    "get": {"responses": {"4XX": {"description": "", "content": {"application/problem+json": problem}}}},
                },
                "/metrics": {
                    "get": {"responses": {"200": {"description": "", "content": {"text/*": {}}}}},
                },
                "/token": {
                    "post": {"responses": {"default": {"description": "", "content": {"application/json": {}}}}},
                },
            },
            "components": {"responses": {"Unauthorized": {
                "description": "",
                "content": {"application/problem+json": problem},
            }}},
        })
    }

    #[track_caller]
    fn check(method: &str, route: &str, status: u16, content_type: Option<&str>, fits: bool) {
        let why = undocumented(&document(), method, route, status, content_type);
        assert_eq!(
            why.is_none(),
            fits,
            "{method} {route} {status} {content_type:?}: {why:?}"
        );
    }

    #[test]
    fn statuses_and_media_types() {
        check("GET", "/me/sessions", 200, Some("application/json"), true);
        check(
            "get",
            "/me/sessions",
            200,
            Some("Application/JSON; charset=utf-8"),
            true,
        );
        check(
            "GET",
            "/me/sessions",
            401,
            Some("application/problem+json"),
            true,
        );
        check("GET", "/me/sessions", 401, Some("text/plain"), false);
        check(
            "GET",
            "/me/sessions",
            403,
            Some("application/problem+json"),
            false,
        );
        check("GET", "/me/sessions", 200, None, false);
        check("DELETE", "/me/sessions", 204, None, true);
        check(
            "DELETE",
            "/me/sessions",
            204,
            Some("application/json"),
            false,
        );
        check(
            "GET",
            "/me/{thing}",
            404,
            Some("application/problem+json"),
            true,
        );
        check(
            "GET",
            "/me/{thing}",
            500,
            Some("application/problem+json"),
            false,
        );
        check(
            "GET",
            "/metrics",
            200,
            Some("text/plain; version=0.0.4"),
            true,
        );
        check("GET", "/metrics", 200, Some("application/json"), false);
        check("POST", "/token", 429, Some("application/json"), true);
    }

    #[test]
    fn what_the_router_answers_by_itself() {
        check("HEAD", "/me/sessions", 200, Some("application/json"), true);
        check(
            "HEAD",
            "/token",
            405,
            Some("application/problem+json"),
            true,
        );
        check(
            "PUT",
            "/me/sessions",
            405,
            Some("application/problem+json"),
            true,
        );
        check("PUT", "/me/sessions", 405, Some("text/plain"), false);
        check("PUT", "/me/sessions", 200, Some("application/json"), false);
        check("OPTIONS", "/me/sessions", 200, None, true);
        check(
            "GET",
            "/nowhere",
            404,
            Some("application/problem+json"),
            true,
        );
        check("GET", "/nowhere", 404, Some("text/plain"), false);
        check("GET", "/nowhere", 200, Some("application/json"), false);
    }

    #[test]
    fn concrete_paths_find_their_route() {
        let document = document();
        assert_eq!(route_of(&document, "/me/sessions"), Some("/me/sessions"));
        assert_eq!(route_of(&document, "/me/tokens?x=1"), Some("/me/{thing}"));
        assert_eq!(route_of(&document, "/me/"), None);
        assert_eq!(route_of(&document, "/me/a/b"), None);
        assert_eq!(route_of(&document, "/token"), Some("/token"));
    }

    #[test]
    fn a_recorder_keeps_violations_and_counts() {
        let conformance = Conformance::new(document());
        conformance
            .clone()
            .record("GET", "/me/tokens", 404, Some("application/problem+json"));
        conformance.record("GET", "/me/sessions?all", 418, None);
        assert_eq!(conformance.checked(), 2);
        let violations = conformance.violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("GET /me/sessions answered 418"),
            "{violations:?}"
        );
    }
}
