//! The secrets a message carries: the link with its token and the one-time
//! code.
//!
//! Each is checked once, when made and when read back from a row, so that a
//! template can put a link in an `href` without it becoming a
//! `javascript:` link or breaking a line, and a code is only digits. Both
//! are secrets until used: their `Debug` prints `[redacted]`, and only
//! rendering reads them (`expose`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::message::MessageError;

/// An `http(s)://` link carrying a secret token. Checked once, here, so a
/// template can put it in an `href` without turning into a `javascript:`
/// link or breaking a line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Link(String);

/// A one-time code (the contract's is 8 digits): digits only, a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OneTimeCode(String);

pub(super) const LINK_MAX_LENGTH: usize = 2048;
pub(super) const CODE_MAX_LENGTH: usize = 16;

impl Link {
    /// # Errors
    /// [`MessageError::InvalidLink`] unless `link` starts with `http://` or
    /// `https://` (any case), is at most 2048 characters and has no
    /// whitespace or control character.
    pub fn parse(link: impl Into<String>) -> Result<Self, MessageError> {
        let link = link.into();
        let (scheme, rest) = link.split_once("://").unwrap_or_default();
        let scheme_ok = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
        let rest_ok =
            !rest.is_empty() && !link.chars().any(|c| c.is_whitespace() || c.is_control());
        if scheme_ok && rest_ok && link.len() <= LINK_MAX_LENGTH {
            Ok(Self(link))
        } else {
            Err(MessageError::InvalidLink)
        }
    }

    /// The link itself, secret included: for rendering only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl OneTimeCode {
    /// # Errors
    /// [`MessageError::InvalidCode`] unless `code` is 1 to 16 ASCII digits.
    pub fn parse(code: impl Into<String>) -> Result<Self, MessageError> {
        let code = code.into();
        if !code.is_empty()
            && code.len() <= CODE_MAX_LENGTH
            && code.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Self(code))
        } else {
            Err(MessageError::InvalidCode)
        }
    }

    /// The code itself: for rendering only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Link([redacted])")
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode([redacted])")
    }
}

impl TryFrom<String> for Link {
    type Error = MessageError;
    fn try_from(link: String) -> Result<Self, Self::Error> {
        Self::parse(link)
    }
}

impl From<Link> for String {
    fn from(link: Link) -> Self {
        link.0
    }
}

impl TryFrom<String> for OneTimeCode {
    type Error = MessageError;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(code)
    }
}

impl From<OneTimeCode> for String {
    fn from(code: OneTimeCode) -> Self {
        code.0
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_http_or_https_on_one_line() {
        #[track_caller]
        fn check(link: &str, accepted: bool) {
            assert_eq!(Link::parse(link).is_ok(), accepted, "{link:?}");
        }
        check("https://example.com/verify?token=abc", true);
        check("HTTPS://EXAMPLE.COM/x", true);
        check("http://127.0.0.1:8080/x", true);
        check("javascript:alert(1)", false);
        check("data:text/html,<script>", false);
        check("https://", false);
        check("https://example.com/a b", false);
        check("https://example.com/\r\nBcc: x@example.com", false);
        check("", false);
        check(
            &format!("https://example.com/{}", "a".repeat(LINK_MAX_LENGTH)),
            false,
        );
    }

    #[test]
    fn codes_are_digits() {
        assert!(OneTimeCode::parse("01234567").is_ok());
        assert!(OneTimeCode::parse("").is_err());
        assert!(OneTimeCode::parse("1234 567").is_err());
        assert!(
            OneTimeCode::parse("１２３").is_err(),
            "full-width digits are not ASCII digits"
        );
        assert!(OneTimeCode::parse("12345678901234567").is_err());
    }
}
