//! Email addresses as account identifiers.
//!
//! The rule, stated once: an address is trimmed, lower-cased as a whole
//! (Unicode lower case), then put in Unicode NFC, and that canonical form
//! is what is stored, compared and made unique. Internationalised addresses
//! (RFC 6531) are accepted; control characters, spaces and anything that
//! cannot be a mailbox (`@` missing or doubled, empty parts, a domain without
//! a dot, dots at the edges) are refused. Lower-casing the local part breaks
//! the letter of RFC 5321 but matches what every mail provider does and what
//! users expect ("Alice@x.org" is the same person as "alice@x.org").

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// A syntactically valid email address in canonical form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an address was refused; the message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(pub &'static str);

impl Email {
    /// Parses and canonicalises user input.
    ///
    /// # Errors
    /// [`InvalidEmail`] with a human-readable reason.
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        // Lower case first, then NFC: lower-casing can undo NFC (U+0130
        // lower-cases to `i` and a combining dot), and the stored form must
        // parse back to itself (found by fuzzing).
        let canonical: String = input.trim().to_lowercase().nfc().collect();
        if canonical.is_empty() {
            return Err(InvalidEmail("email is required"));
        }
        if canonical.len() > MAX_EMAIL_LENGTH {
            return Err(InvalidEmail("email is longer than 254 bytes"));
        }
        if canonical.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '\\' | '"')
        }) {
            return Err(InvalidEmail(
                "email contains a character that is not allowed",
            ));
        }
        let Some((local, domain)) = canonical.split_once('@') else {
            return Err(InvalidEmail("email must contain @"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(InvalidEmail("the part before @ must have 1 to 64 bytes"));
        }
        if domain.contains('@') {
            return Err(InvalidEmail("email must contain exactly one @"));
        }
        let labels_ok = domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidEmail("the domain after @ is not valid"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(InvalidEmail("the part before @ is not valid"));
        }
        Ok(Self(canonical))
    }

    /// Wraps a value that came out of storage, where it was stored canonical.
    #[must_use]
    pub fn from_trusted(canonical: String) -> Self {
        Self(canonical)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, used by the password policy.
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.0
            .split_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<&str, ()>) {
        let got = Email::parse(input);
        match expected {
            Ok(canonical) => {
                assert_eq!(got.expect("should parse").as_str(), canonical, "{input:?}")
            }
            Err(()) => assert!(got.is_err(), "{input:?} should be refused, got {got:?}"),
        }
    }

    #[test]
    fn canonical_forms() {
        check("  Alice@Example.COM ", Ok("alice@example.com"));
        check("ÉLODIE@exemple.fr", Ok("élodie@exemple.fr"));
        // "e" + combining acute accent is the same address as the precomposed form.
        check("e\u{301}lodie@exemple.fr", Ok("élodie@exemple.fr"));
        check("用户@例子.广告", Ok("用户@例子.广告"));
        // Lower-casing U+0130 gives `i` and a combining dot, which NFC then
        // orders before the overlay: the canonical form parses to itself.
        let canonical = Email::parse("\u{130}\u{338}@x.io").unwrap();
        assert_eq!(Email::parse(canonical.as_str()).unwrap(), canonical);
        check("a+tag@x.io", Ok("a+tag@x.io"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "   ",
            "plain",
            "@x.io",
            "a@",
            "a@b",
            "a@@b.io",
            "a@b@c.io",
            "a b@x.io",
            "a@x..io",
            ".a@x.io",
            "a.@x.io",
            "a..b@x.io",
            "a@-x.io",
            "a\u{0}@x.io",
            "a\n@x.io",
            "<a@x.io>",
        ] {
            check(bad, Err(()));
        }
        check(&format!("{}@x.io", "a".repeat(65)), Err(()));
        check(&format!("a@{}.io", "b".repeat(260)), Err(()));
    }
}
