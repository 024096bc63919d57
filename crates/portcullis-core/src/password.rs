//! The password policy, applied in one place to sign-up, password change and
//! the command line.
//!
//! A password is normalised to Unicode NFKC (so the same characters typed on
//! two keyboards are the same password), then must be at least the configured
//! length (12 by default, never below 8) and at most 1024 characters, counted
//! as Unicode scalar values. It is never truncated, never the account's email
//! or its local part, and never on the common-password list compiled into the
//! binary (`data/common-passwords.txt`). The normalised form is what gets
//! hashed, so login applies the same normalisation before verifying.

use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::email::Email;

/// The floor below which no configuration may go.
pub const ABSOLUTE_MIN_LENGTH: usize = 8;
/// The default minimum length.
pub const DEFAULT_MIN_LENGTH: usize = 12;
/// The longest password accepted, in characters.
pub const MAX_LENGTH: usize = 1024;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect()
});

/// How strict the policy is; built once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
}

/// A configuration asked for a minimum below [`ABSOLUTE_MIN_LENGTH`] or above [`MAX_LENGTH`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the password minimum length must be between {ABSOLUTE_MIN_LENGTH} and {MAX_LENGTH}, not {0}"
)]
pub struct InvalidPolicy(pub usize);

/// Each rule a candidate password broke, as messages safe to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct PolicyViolations(pub Vec<String>);

/// A password in normalised form, and, for a login, the form it was typed
/// in when that differs. Its `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct Password {
    normalised: SecretString,
    /// Systems that hashed without normalising saw this form.
    typed: Option<SecretString>,
}

impl PasswordPolicy {
    /// # Errors
    /// [`InvalidPolicy`] when `min_length` is out of range.
    pub fn new(min_length: usize) -> Result<Self, InvalidPolicy> {
        if (ABSOLUTE_MIN_LENGTH..=MAX_LENGTH).contains(&min_length) {
            Ok(Self { min_length })
        } else {
            Err(InvalidPolicy(min_length))
        }
    }

    #[must_use]
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Judges a new password for the account `email` (when the email is known to be valid).
    ///
    /// # Errors
    /// [`PolicyViolations`] listing every rule broken.
    pub fn check(
        &self,
        candidate: &str,
        email: Option<&Email>,
    ) -> Result<Password, PolicyViolations> {
        let password = Password::normalise(candidate);
        let normalised = password.expose();
        let length = normalised.chars().count();
        let mut violations = Vec::new();
        if length < self.min_length {
            violations.push(format!("must be at least {} characters", self.min_length));
        }
        if length > MAX_LENGTH {
            violations.push(format!("must be at most {MAX_LENGTH} characters"));
        }
        let lowered = normalised.to_lowercase();
        if email.is_some_and(|email| lowered == email.as_str() || lowered == email.local_part()) {
            violations.push("must not be your email address".to_owned());
        }
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            violations.push("is too common: it appears in lists of leaked passwords".to_owned());
        }
        if violations.is_empty() {
            Ok(password)
        } else {
            Err(PolicyViolations(violations))
        }
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
        }
    }
}

impl Password {
    /// Normalises a presented password without judging it (for login, where
    /// the policy of the day must not lock out a password set under an older one).
    #[must_use]
    pub fn normalise(input: &str) -> Self {
        Self {
            normalised: SecretString::from(input.nfkc().collect::<String>()),
            typed: None,
        }
    }

    /// A password presented at login: normalised, keeping the form it was
    /// typed in when that differs, for hashes made by systems that did not
    /// normalise (see [`crate::hashing::PasswordHasher::verify`]).
    #[must_use]
    pub fn presented(input: &str) -> Self {
        let normalised: String = input.nfkc().collect();
        let typed = (normalised != input).then(|| SecretString::from(input));
        Self {
            normalised: SecretString::from(normalised),
            typed,
        }
    }

    pub(crate) fn expose(&self) -> &str {
        self.normalised.expose_secret()
    }

    /// The form typed, when it differs from the normalised one.
    pub(crate) fn typed(&self) -> Option<&str> {
        self.typed.as_ref().map(ExposeSecret::expose_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("alice.smith@example.com").unwrap()
    }

    #[track_caller]
    fn check(policy: PasswordPolicy, candidate: &str, expected_violations: usize) {
        match policy.check(candidate, Some(&email())) {
            Ok(_) => assert_eq!(expected_violations, 0, "{candidate:?} was accepted"),
            Err(PolicyViolations(v)) => {
                assert_eq!(v.len(), expected_violations, "{candidate:?}: {v:?}")
            }
        }
    }

    #[test]
    fn lengths_are_counted_in_characters_after_nfkc() {
        let policy = PasswordPolicy::default();
        check(policy, "correct horse battery", 0);
        check(policy, "short pass", 1);
        // Twelve emoji are twelve characters, though many more bytes.
        check(policy, &"🦀".repeat(12), 0);
        check(policy, &"🦀".repeat(11), 1);
        // The ligature "ﬃ" is three characters under NFKC.
        check(policy, "ﬃﬃﬃﬃ", 0);
        check(policy, &"x".repeat(MAX_LENGTH), 0);
        check(policy, &"x".repeat(MAX_LENGTH + 1), 1);
    }

    #[test]
    fn email_and_common_passwords_are_refused() {
        let policy = PasswordPolicy::new(8).unwrap();
        check(policy, "Alice.Smith@example.com", 1);
        check(policy, "alice.smith", 1);
        check(policy, "password", 1);
        check(policy, "PassWord1", 1);
        check(policy, "iloveyou", 1);
        check(policy, "not in any list 7f3a", 0);
    }

    #[test]
    fn policy_bounds() {
        assert!(PasswordPolicy::new(7).is_err());
        assert!(PasswordPolicy::new(8).is_ok());
        assert!(PasswordPolicy::new(MAX_LENGTH + 1).is_err());
    }

    #[test]
    fn same_text_in_two_unicode_forms_is_one_password() {
        let composed = Password::normalise("caf\u{e9} au lait!");
        let decomposed = Password::normalise("cafe\u{301} au lait!");
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let shown = format!("{:?}", Password::normalise("hunter2hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", Password::presented("ﬁnd hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_presented_password_keeps_its_typed_form_only_when_it_differs() {
        let ligature = Password::presented("ﬁve boxing wizards");
        assert_eq!(ligature.expose(), "five boxing wizards");
        assert_eq!(ligature.typed(), Some("ﬁve boxing wizards"));
        assert_eq!(Password::presented("five boxing wizards").typed(), None);
        assert_eq!(Password::normalise("ﬁve boxing wizards").typed(), None);
    }
}
