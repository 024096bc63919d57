//! `Email::parse`, the one rule for account identifiers, on any text.
//!
//! Properties:
//! - never panics, and a refusal gives a reason;
//! - idempotent: an accepted address parses again to itself, so the stored
//!   canonical form is what a user who types it back logs in as;
//! - an accepted address is canonical: NFC, lower case, at most 254 bytes,
//!   one `@` with 1 to 64 bytes before it, a dotted domain with no empty
//!   label and no label starting or ending with `-`, no dot at the edges of
//!   the local part nor two in a row, no whitespace, control character or
//!   `<>(),;\"`;
//! - surrounding whitespace changes nothing.
//!
//! Found here and fixed: lower-casing after NFC could leave a canonical
//! form that was not NFC (`corpus/email/dotted-capital-i-overlay`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::email::{Email, MAX_EMAIL_LENGTH};
use unicode_normalization::is_nfc;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let parsed = Email::parse(&input);
    assert_eq!(
        Email::parse(&format!(" \t{input}\r\n ")),
        parsed,
        "surrounding whitespace changed the verdict"
    );
    let email = match parsed {
        Ok(email) => email,
        Err(reason) => {
            assert!(!reason.0.is_empty());
            return;
        }
    };
    let canonical = email.as_str();
    assert_eq!(
        Email::parse(canonical).as_ref(),
        Ok(&email),
        "the canonical form does not parse to itself"
    );
    assert!(is_nfc(canonical), "not NFC: {canonical:?}");
    assert_eq!(canonical.to_lowercase(), canonical, "not lower case");
    assert!(canonical.len() <= MAX_EMAIL_LENGTH);
    let (local, domain) = canonical.split_once('@').expect("an @");
    assert!(!domain.contains('@'), "two @");
    assert_eq!(email.local_part(), local);
    assert!((1..=64).contains(&local.len()));
    assert!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
    assert!(domain.contains('.'));
    for label in domain.split('.') {
        assert!(!label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    }
    assert!(!canonical.chars().any(|c| c.is_control()
        || c.is_whitespace()
        || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '\\' | '"')));
});
