//! `PersonalToken::parse` on any string, and on well-formed tokens built
//! from the input.
//!
//! Properties:
//! - never panics;
//! - `parse(s)` succeeds exactly when `s` is `pat_` and 70 characters of
//!   canonical base64url (decoded here by hand) whose last four bytes are
//!   the checksum of the rest (computed here from the format's description);
//!   then `encode()` gives `s` back, the id is the first 16 bytes and
//!   `secret_hash()` is SHA-256 of the next 32;
//! - `is_personal_token(s)` is exactly "starts with `pat_`";
//! - a token built from any 48 bytes parses to its id and secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::personal_tokens::{PersonalToken, PersonalTokenSecretHash};
use portcullis_fuzz::{decode_base64url, encode_personal_token, personal_token_checksum};
use sha2::{Digest as _, Sha256};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    assert_eq!(
        PersonalToken::is_personal_token(&input),
        input.starts_with("pat_")
    );
    check(&input);

    let mut material = [0u8; 48];
    for (slot, byte) in material.iter_mut().zip(data) {
        *slot = *byte;
    }
    let id: [u8; 16] = material[..16].try_into().expect("16 bytes");
    let secret: [u8; 32] = material[16..].try_into().expect("32 bytes");
    let built = encode_personal_token(&id, &secret);
    assert!(
        PersonalToken::parse(&built).is_some(),
        "a well-formed token is refused"
    );
    check(&built);
});

/// Compares `parse` with an independent reading of the format.
fn check(input: &str) {
    let parsed = PersonalToken::parse(input);
    let oracle = input
        .strip_prefix("pat_")
        .filter(|payload| payload.len() == 70)
        .and_then(decode_base64url)
        .filter(|bytes| bytes.len() == 52)
        .filter(|bytes| bytes[48..] == personal_token_checksum(&bytes[..16], &bytes[16..48]));
    assert_eq!(
        parsed.is_some(),
        oracle.is_some(),
        "parse and the format disagree"
    );
    let (Some(token), Some(bytes)) = (parsed, oracle) else {
        return;
    };
    assert_eq!(
        token.encode(),
        input,
        "a token parsed from a non-canonical form"
    );
    assert_eq!(token.id.as_bytes(), &bytes[..16]);
    let expected_hash = PersonalTokenSecretHash(Sha256::digest(&bytes[16..48]).into());
    assert!(
        token.secret_hash().matches(&expected_hash),
        "the secret is not bytes 16..48"
    );
}
