//! `read_body` of `/token`, `/token/revoke` and `/token/introspect`, for
//! both wire types, on any bytes under any content type. Input: the first
//! line is the `Content-Type` value, the rest the body; each body is also
//! tried as JSON, as a form and with no content type.
//!
//! Properties:
//! - never panics, and every refusal is the OAuth `invalid_request` error:
//!   400, `application/json`, `no-store`, `{"error": "invalid_request",
//!   "error_description": <text>}`;
//! - with a JSON content type, a body is accepted only if it is a JSON
//!   object; with the form content type, only if no parameter the type reads
//!   is repeated; with any other content type, only an empty body with no
//!   content type is accepted (as empty input).
//!
//! Found here and fixed: a JSON array was accepted, read by position
//! (`corpus/token_body/json-array`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{content_type_essence, form_keys, is_json_content_type, split_first_line};
use portcullis_server::fuzzing::{HeaderMap, HeaderValue, header, token_bodies};

/// The parameters each wire type reads.
const FIELDS: [(&str, &[&str]); 2] = [
    (
        "TokenRequest",
        &[
            "grant_type",
            "username",
            "email",
            "password",
            "refresh_token",
            "scope",
        ],
    ),
    ("SingleTokenRequest", &["token"]),
];

fuzz_target!(|data: &[u8]| {
    let (first_line, rest) = split_first_line(data);
    let (given, body) = match rest {
        Some(body) => (Some(first_line), body),
        None => (None, data),
    };
    let content_types = [
        given,
        Some(&b"application/json"[..]),
        Some(&b"application/x-www-form-urlencoded"[..]),
        None,
    ];
    for content_type in content_types {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            let Ok(value) = HeaderValue::from_bytes(value) else {
                continue;
            };
            headers.insert(header::CONTENT_TYPE, value);
        }
        check(&headers, body);
    }
});

fn check(headers: &HeaderMap, body: &[u8]) {
    let json = is_json_content_type(headers);
    let essence = content_type_essence(headers);
    let form = !json && essence == "application/x-www-form-urlencoded";
    let keys = form_keys(body);
    for (body_type, outcome) in token_bodies(headers, body) {
        match outcome {
            Ok(()) if json => {
                assert!(
                    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok(),
                    "{body_type}: accepted a body that is not JSON"
                );
                let first = body.iter().find(|b| !b.is_ascii_whitespace());
                assert!(
                    first == Some(&b'{'),
                    "{body_type}: accepted JSON that is not an object"
                );
            }
            Ok(()) if form => {
                let fields = FIELDS
                    .iter()
                    .find(|(name, _)| *name == body_type)
                    .map(|(_, fields)| *fields)
                    .expect("every wire type has its fields listed");
                for field in fields {
                    assert!(
                        keys.iter().filter(|key| key == field).count() <= 1,
                        "{body_type}: accepted a form repeating {field}"
                    );
                }
            }
            Ok(()) => assert!(
                essence.is_empty() && body.is_empty(),
                "{body_type}: accepted a body under {essence:?}"
            ),
            Err(refusal) => {
                assert_eq!(refusal.status, 400, "{body_type}");
                assert_eq!(refusal.content_type.as_deref(), Some("application/json"));
                assert_eq!(refusal.cache_control.as_deref(), Some("no-store"));
                let error: serde_json::Value =
                    serde_json::from_slice(&refusal.body).expect("an OAuth error body is JSON");
                assert_eq!(error["error"], "invalid_request", "{error}");
                assert!(error["error_description"].is_string(), "{error}");
                if !json && !form {
                    assert!(!(essence.is_empty() && body.is_empty()), "{body_type}");
                }
            }
        }
    }
}
