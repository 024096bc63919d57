//! The served OpenAPI document: written where outside validators read it,
//! and checked for what a reader of it relies on.
//!
//! `tests/validate_openapi.py` checks the written file against the OpenAPI
//! 3.1 schema after `cargo test`. That every route is documented and every
//! documented path routed holds by construction (the route table builds both,
//! `src/routes/mod.rs`); that every response a handler sends is documented is
//! checked by `conformance.rs`, which drives the real router.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

#[test]
fn openapi_document_is_written_for_outside_validators() {
    let json = portcullis_server::openapi_json();
    let document: serde_json::Value = serde_json::from_str(json).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(&path, json)
        .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(portcullis_server::openapi_json()).expect("the document is JSON")
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
            responses
                .keys()
                .any(|status| status.starts_with('2') || status.starts_with('3')),
            "{at}: no success or redirect response"
        );

        for segment in path.split('/').filter_map(|s| s.strip_prefix('{')) {
            let name = segment.trim_end_matches('}');
            let declared = operation["parameters"]
                .as_array()
                .is_some_and(|parameters| {
                    parameters
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
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
            let media_types: Vec<&String> = content.keys().collect();
            let schema_of =
                |media_type: &str| content.get(media_type).map(|m| &m["schema"]["$ref"]);
            if path.starts_with("/token") {
                assert_eq!(media_types, ["application/json"], "{at} {status}");
                assert_eq!(
                    schema_of("application/json"),
                    Some(&Value::from("#/components/schemas/OAuthErrorBody")),
                    "{at} {status}: not an OAuth error"
                );
            } else if (at.as_str(), status.as_str()) == ("get /readyz", "503") {
                // The probe's own answer, `{"status": "unavailable"}`, not an error of a request.
                assert_eq!(media_types, ["application/json"], "{at} {status}");
            } else if (operation["tags"] == serde_json::json!(["pages"])
                || operation["tags"] == serde_json::json!(["browser-sign-in"]))
                && media_types.contains(&&"text/html".to_owned())
            {
                // A page's own outcome is a page (the authorization endpoint's
                // too); what the edge refuses stays problem details.
                for media_type in &media_types {
                    assert!(
                        ["text/html", "application/problem+json"].contains(&media_type.as_str()),
                        "{at} {status}: {media_type}"
                    );
                }
            } else {
                assert_eq!(media_types, ["application/problem+json"], "{at} {status}");
                assert_eq!(
                    schema_of("application/problem+json"),
                    Some(&Value::from("#/components/schemas/Problem")),
                    "{at} {status}: not problem details"
                );
            }
        }
    }
}
