//! The `Authorization` header as the server reads it: `presented_credential`
//! (Bearer, any case, or a bare token) for every protected route, and
//! `basic_credentials` for `POST /token`. Input: the header value's bytes.
//!
//! Properties:
//! - never panics;
//! - a presented token is never empty, never has spaces at its ends, and is
//!   what follows `Bearer ` (trimmed), or the whole trimmed value when the
//!   value has no space at all;
//! - Basic and Bearer exclude each other: a value that yields Basic
//!   credentials (or a Basic refusal) is never taken as a bearer token;
//! - Basic credentials round-trip: the user has no `:`, and
//!   `base64(user ":" password)` is exactly what was sent (so only the
//!   canonical encoding is accepted); a refusal is the OAuth
//!   `invalid_request` 400;
//! - what a client builds from the input is read back exactly:
//!   `Bearer <t>` gives `t` trimmed, and `Basic base64(<s>)` gives `s` split
//!   at its first `:` (or a 400 when there is none; `Basic ` alone counts
//!   as no Basic credential).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use portcullis_server::fuzzing::{
    BasicCredentials, Credential, HeaderMap, HeaderValue, basic_credentials, header,
    presented_credential,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = HeaderValue::from_bytes(data) {
        check(&value);
    }
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            // Bytes past ASCII may be sent, but are no text: never a token.
            let expected = match token.trim() {
                _ if !token.is_ascii() => Credential::OtherScheme,
                "" => Credential::Missing,
                trimmed => Credential::Token(trimmed.to_owned()),
            };
            assert_eq!(
                presented_credential(&headers(&value)),
                expected,
                "{value:?}"
            );
            check(&value);
        }
        let value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(token)))
            .expect("base64 is a valid header value");
        match (basic_credentials(&headers(&value)), token.split_once(':')) {
            (Ok(Some((user, password))), Some((sent_user, sent_password))) => {
                assert_eq!(
                    (user.as_str(), password.as_str()),
                    (sent_user, sent_password)
                );
            }
            (Err(refusal), None) => assert_eq!(refusal.status, 400),
            // Text that no database column holds is refused where it enters.
            (Err(refusal), Some((sent_user, sent_password)))
                if sent_user.contains('\0') || sent_password.contains('\0') =>
            {
                assert_eq!(refusal.status, 400);
            }
            // `Basic ` with nothing after it is no Basic credential at all.
            (Ok(None), None) if token.is_empty() => {}
            (other, sent) => panic!("sent {sent:?}, read {other:?}"),
        }
        check(&value);
    }
});

fn headers(value: &HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    headers
}

fn check(value: &HeaderValue) {
    let headers = headers(value);
    let credential = presented_credential(&headers);
    let basic: BasicCredentials = basic_credentials(&headers);
    let text = value.to_str().ok().map(str::trim);

    if let Credential::Token(token) = &credential {
        let text = text.expect("a token comes from a textual header");
        assert!(!token.is_empty(), "an empty token");
        assert_eq!(token.trim(), token, "a token with spaces at its ends");
        match text.split_once(' ') {
            Some((scheme, rest)) => {
                assert!(
                    scheme.eq_ignore_ascii_case("bearer"),
                    "{scheme} taken as Bearer"
                );
                assert_eq!(token, rest.trim());
            }
            None => assert_eq!(token, text),
        }
    }
    if text.is_none_or(str::is_empty) {
        assert!(
            matches!(credential, Credential::Missing | Credential::OtherScheme),
            "{credential:?}"
        );
    }

    match &basic {
        Ok(None) => {}
        Ok(Some((user, password))) => {
            assert_eq!(
                credential,
                Credential::OtherScheme,
                "Basic read as {credential:?}"
            );
            assert!(!user.contains(':'), "a user with a colon");
            let (_, encoded) = text
                .and_then(|text| text.split_once(' '))
                .expect("Basic credentials come from `Basic <encoded>`");
            assert_eq!(
                STANDARD.encode(format!("{user}:{password}")),
                encoded.trim(),
                "accepted a non-canonical encoding"
            );
        }
        Err(refusal) => {
            assert_eq!(
                credential,
                Credential::OtherScheme,
                "Basic read as {credential:?}"
            );
            assert_eq!(refusal.status, 400);
            let error: serde_json::Value =
                serde_json::from_slice(&refusal.body).expect("an OAuth error body is JSON");
            assert_eq!(error["error"], "invalid_request");
        }
    }
}
