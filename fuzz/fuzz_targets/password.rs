//! Password normalisation (`Password::normalise`, NFKC) and the policy
//! (`PasswordPolicy::check`) on any text up to the body limit. Input: the
//! password; or, when it holds a newline, the account's email on the first
//! line and the password after it.
//!
//! Properties:
//! - never panics;
//! - normalising is idempotent: the form hashed at sign-up normalises to
//!   itself at login;
//! - the policy judges the normalised form only: a password and its
//!   normalised form get the same verdict;
//! - an accepted password is the normalised input, between the minimum and
//!   1,024 characters after NFKC, and not the email nor its local part (case
//!   aside); a refusal names each rule broken, and only rules really broken
//!   (length, email) are named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::fuzzing::{exposed_password, normalised_password};
use portcullis_core::password::{MAX_LENGTH, PolicyViolations};
use portcullis_core::{Email, PasswordPolicy};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (email, candidate) = match input.split_once('\n') {
        Some((email, password)) => (Email::parse(email).ok(), password),
        None => (None, &*input),
    };
    let normalised = normalised_password(candidate);
    assert_eq!(
        normalised_password(&normalised),
        normalised,
        "normalising twice changed the password"
    );
    let length = normalised.chars().count();
    let lowered = normalised.to_lowercase();
    let is_email = email
        .as_ref()
        .is_some_and(|email| lowered == email.as_str() || lowered == email.local_part());
    for min_length in [8, 12, 64] {
        let policy = PasswordPolicy::new(min_length).expect("a valid minimum");
        let verdict = policy.check(candidate, email.as_ref());
        let again = policy.check(&normalised, email.as_ref());
        match (&verdict, &again) {
            (Ok(first), Ok(second)) => {
                assert_eq!(exposed_password(first), normalised);
                assert_eq!(exposed_password(second), normalised);
                assert!(
                    (min_length..=MAX_LENGTH).contains(&length),
                    "{length} characters"
                );
                assert!(!is_email, "accepted the email as a password");
            }
            (Err(PolicyViolations(first)), Err(PolicyViolations(second))) => {
                assert_eq!(first, second, "the normalised form was judged differently");
                assert!(!first.is_empty(), "refused without a reason");
                let named = |words: &str| first.iter().any(|v| v.contains(words));
                assert_eq!(named("at least"), length < min_length, "{first:?}");
                assert_eq!(named("at most"), length > MAX_LENGTH, "{first:?}");
                assert_eq!(named("email"), is_email, "{first:?}");
            }
            _ => panic!("the normalised form was judged differently"),
        }
    }
});
