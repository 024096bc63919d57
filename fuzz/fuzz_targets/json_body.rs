//! The server's `JsonBody` extractor, for every wire type a route reads with
//! it, on any bytes under any content type. Input: the first line is the
//! `Content-Type` value, the rest the body; each body is also tried as
//! `application/json`, as a form and with no content type.
//!
//! Properties:
//! - never panics, and every refusal is a 4xx problem-details response
//!   (400, 413, 415 or 422, `application/problem+json`, `no-store`, a JSON
//!   body whose `status` is the status sent and whose `type` is a
//!   `urn:portcullis:problem:` URN; a 422 names at least one field);
//! - without a JSON content type (`application/json` or `+json`): 415, for
//!   every type;
//! - with one: a body that is not JSON is 400 for every type, JSON that is
//!   not an object is 422 for every type, and a body is accepted only if it
//!   is a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{is_json_content_type, split_first_line};
use portcullis_server::fuzzing::{HeaderMap, HeaderValue, Refusal, header, json_bodies};

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
            // Bytes no client can send as a header value never reach the server.
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
    // JSON is UTF-8 (RFC 8259 §8.1); `IgnoredAny` skips a string's bytes
    // without checking them.
    let syntax_ok = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
        && !nests_too_deep(body)
        && std::str::from_utf8(body).is_ok();
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    for (body_type, outcome) in json_bodies(headers, body) {
        let expected_status = if !json {
            Some(415)
        } else if !syntax_ok {
            Some(400)
        } else if !object {
            Some(422)
        } else {
            None
        };
        match outcome {
            Ok(()) => {
                assert!(
                    json && syntax_ok && object,
                    "{body_type}: accepted a body that is not a JSON object"
                );
            }
            Err(refusal) => {
                assert_problem(body_type, &refusal);
                if let Some(status) = expected_status {
                    assert_eq!(refusal.status, status, "{body_type}");
                }
            }
        }
    }
}

/// Whether arrays and objects nest 128 deep or more, which serde_json
/// refuses as malformed when it builds values (its recursion limit) but
/// not when it skips them (`IgnoredAny`).
fn nests_too_deep(body: &[u8]) -> bool {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest >= 128
}

/// A refusal is a well-formed problem-details 4xx.
fn assert_problem(body_type: &str, refusal: &Refusal) {
    assert!(
        [400, 413, 415, 422].contains(&refusal.status),
        "{body_type}: refused with {}",
        refusal.status
    );
    assert_eq!(
        refusal.content_type.as_deref(),
        Some("application/problem+json"),
        "{body_type}"
    );
    assert_eq!(
        refusal.cache_control.as_deref(),
        Some("no-store"),
        "{body_type}"
    );
    let problem: serde_json::Value =
        serde_json::from_slice(&refusal.body).expect("a problem body is JSON");
    assert_eq!(problem["status"], refusal.status, "{body_type}: {problem}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:portcullis:problem:")),
        "{body_type}: {problem}"
    );
    assert!(problem["detail"].is_string(), "{body_type}: {problem}");
    if refusal.status == 422 {
        let fields = problem["errors"]
            .as_array()
            .expect("a 422 lists its fields");
        assert!(!fields.is_empty(), "{body_type}: {problem}");
        for field in fields {
            assert!(field["field"].is_string() && field["message"].is_string());
        }
    }
}
