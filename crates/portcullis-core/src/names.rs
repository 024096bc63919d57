//! The names a request may carry, each checked once, in the constructor of
//! its type: a user's display name, a personal access token's or an OAuth
//! client's name, a role name, a permission, and a scope (a set of
//! permissions).
//!
//! A value of these types is valid by construction, so the use cases never
//! check a name again and no rule is written twice. A role or permission
//! name is 1 to 128 printable ASCII characters without spaces, quotes or
//! backslashes: a permission travels inside the space-separated `scope` of
//! a token and inside HTTP headers (`X-Auth-Scope`), where anything else
//! would need escaping. Messages are safe to show to the user.

use std::collections::BTreeSet;
use std::fmt;

/// Longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME_LENGTH: usize = 200;
/// Longest personal access token name, in characters.
pub const MAX_TOKEN_NAME_LENGTH: usize = 100;
/// The pattern a display name matches, for documents that state it: white
/// space at either end (which is trimmed: Unicode's `White_Space`, as
/// [`str::trim`]), then at most [`MAX_DISPLAY_NAME_LENGTH`] characters that
/// start and end with neither white space nor a control character (Unicode's
/// `Cc`, as [`char::is_control`]) and hold no control character.
pub const DISPLAY_NAME_PATTERN: &str = concat!(
    r"^[\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
    r"(?:[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F]",
    r"(?:[^\u0000-\u001F\u007F-\u009F]{0,198}",
    r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F])?)?",
    r"[\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
);
/// The pattern a personal access token's name matches: as a display name's,
/// but not blank and at most [`MAX_TOKEN_NAME_LENGTH`] characters once trimmed.
pub const TOKEN_NAME_PATTERN: &str = concat!(
    r"^[\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
    r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F]",
    r"(?:[^\u0000-\u001F\u007F-\u009F]{0,98}",
    r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F])?",
    r"[\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
);
/// Longest role or permission name, in bytes (ASCII, so also characters).
pub const MAX_ROLE_OR_PERMISSION_LENGTH: usize = 128;
/// The pattern a role or permission name matches, for documents that state it.
pub const ROLE_OR_PERMISSION_PATTERN: &str = r#"^[!#-\[\]-~]{1,128}$"#;

/// Why a name was refused; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

/// A person's display name: trimmed, at most [`MAX_DISPLAY_NAME_LENGTH`]
/// characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims `input`; an empty result is no name at all (`None`).
    ///
    /// # Errors
    /// [`InvalidName`] when it is too long or holds control characters.
    pub fn parse(input: &str) -> Result<Option<Self>, InvalidName> {
        let trimmed = input.trim();
        if trimmed.chars().count() > MAX_DISPLAY_NAME_LENGTH {
            return Err(InvalidName(format!(
                "must be at most {MAX_DISPLAY_NAME_LENGTH} characters"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidName(
                "must not contain control characters".to_owned(),
            ));
        }
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A personal access token's name: trimmed, 1 to
/// [`MAX_TOKEN_NAME_LENGTH`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

/// An OAuth client's name, shown to users on the consent page: the rule of
/// a [`TokenName`] (trimmed, 1 to [`MAX_CLIENT_NAME_LENGTH`] characters, no
/// control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName(String);

/// Longest OAuth client name, in characters: a token name's.
pub const MAX_CLIENT_NAME_LENGTH: usize = MAX_TOKEN_NAME_LENGTH;
/// The pattern an OAuth client's name matches: a token name's.
pub const CLIENT_NAME_PATTERN: &str = TOKEN_NAME_PATTERN;

/// Trims `input`, which must be 1 to [`MAX_TOKEN_NAME_LENGTH`] characters
/// without control characters: the rule of the short names people give
/// tokens and clients.
fn short_name(input: &str) -> Result<String, InvalidName> {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_TOKEN_NAME_LENGTH {
        return Err(InvalidName(format!(
            "must have 1 to {MAX_TOKEN_NAME_LENGTH} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidName(
            "must not contain control characters".to_owned(),
        ));
    }
    Ok(trimmed.to_owned())
}

macro_rules! short_name {
    ($type:ident) => {
        impl $type {
            /// Trims `input`, which must not be blank.
            ///
            /// # Errors
            /// [`InvalidName`] when it is blank, too long or holds control characters.
            pub fn parse(input: &str) -> Result<Self, InvalidName> {
                short_name(input).map(Self)
            }

            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }
    };
}

short_name!(TokenName);
short_name!(ClientName);

/// A role's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

/// A permission, like `books:download`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(String);

/// Checks the shared rule of role and permission names.
fn check_role_or_permission(kind: &str, name: &str) -> Result<(), InvalidName> {
    if name.is_empty() || name.len() > MAX_ROLE_OR_PERMISSION_LENGTH {
        return Err(InvalidName(format!(
            "{kind} must have 1 to {MAX_ROLE_OR_PERMISSION_LENGTH} characters"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(InvalidName(format!(
            "{kind} may only contain printable ASCII without spaces, quotes or backslashes"
        )));
    }
    Ok(())
}

macro_rules! ascii_name {
    ($type:ident, $kind:literal) => {
        impl $type {
            #[doc = concat!("Checks a ", $kind, " name.")]
            ///
            /// # Errors
            /// [`InvalidName`] saying what is wrong.
            pub fn parse(input: &str) -> Result<Self, InvalidName> {
                check_role_or_permission($kind, input)?;
                Ok(Self(input.to_owned()))
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

ascii_name!(RoleName, "role");
ascii_name!(Permission, "permission");

/// Parses every entry of `inputs`, sorted and each once.
///
/// # Errors
/// The first entry refused.
pub fn parse_all<T: Ord>(
    inputs: &[String],
    parse: impl Fn(&str) -> Result<T, InvalidName>,
) -> Result<BTreeSet<T>, InvalidName> {
    inputs.iter().map(|input| parse(input)).collect()
}

/// A set of permissions asked for, as the space-separated `scope` of OAuth
/// 2.0 (RFC 6749 §3.3) carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<Permission>);

impl Scope {
    /// Splits on ASCII whitespace; each entry must be a valid permission.
    ///
    /// # Errors
    /// [`InvalidName`] for the first entry that is not.
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        input
            .split_ascii_whitespace()
            .map(Permission::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The entries not in `allowed`, in order.
    pub fn not_in<'a>(&'a self, allowed: &'a BTreeSet<String>) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .map(Permission::as_str)
            .filter(|permission| !allowed.contains(*permission))
    }

    /// The permissions, sorted.
    #[must_use]
    pub fn into_strings(self) -> Vec<String> {
        self.0.into_iter().map(Permission::into_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap(),
            Some(DisplayName("Ada Lovelace".into()))
        );
        assert_eq!(DisplayName::parse("   ").unwrap(), None);
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(DisplayName::parse(&"n".repeat(MAX_DISPLAY_NAME_LENGTH + 1)).is_err());
        assert!(DisplayName::parse(&"é".repeat(MAX_DISPLAY_NAME_LENGTH)).is_ok());
    }

    #[test]
    fn client_names_follow_the_token_name_rule() {
        let long = "n".repeat(MAX_CLIENT_NAME_LENGTH + 1);
        let longest = "é".repeat(MAX_CLIENT_NAME_LENGTH);
        for input in ["  Bookstore ", "", "  ", "a\u{7}b", &long, &longest] {
            assert_eq!(
                ClientName::parse(input).map(ClientName::into_string),
                TokenName::parse(input).map(TokenName::into_string),
                "{input:?}"
            );
        }
        assert_eq!(
            ClientName::parse(" Bookstore ").unwrap().into_string(),
            "Bookstore"
        );
    }

    #[test]
    fn role_and_permission_names() {
        assert!(Permission::parse("books:download").is_ok());
        assert!(RoleName::parse("customer").is_ok());
        for bad in ["", "with space", "quote\"", "back\\slash", "é", "a\u{0}"] {
            assert!(Permission::parse(bad).is_err(), "{bad:?}");
            assert!(RoleName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Permission::parse(&"x".repeat(MAX_ROLE_OR_PERMISSION_LENGTH)).is_ok());
        assert!(Permission::parse(&"x".repeat(MAX_ROLE_OR_PERMISSION_LENGTH + 1)).is_err());
    }

    #[test]
    fn scopes() {
        let scope = Scope::parse(" b:write\ta:read  b:write ").unwrap();
        assert_eq!(scope.clone().into_strings(), ["a:read", "b:write"]);
        let allowed = BTreeSet::from(["a:read".to_owned()]);
        assert_eq!(scope.not_in(&allowed).collect::<Vec<_>>(), ["b:write"]);
        assert_eq!(Scope::parse("").unwrap(), Scope::default());
        assert!(Scope::parse("a:read quote\"").is_err());
    }

    /// The pattern admits exactly what is accepted.
    fn documented_pattern_is_the_rule(
        pattern: &str,
        input: &str,
        accepted: bool,
    ) -> Result<(), TestCaseError> {
        let admitted = regex::Regex::new(pattern).unwrap().is_match(input);
        prop_assert_eq!(admitted, accepted, "{:?}", input);
        Ok(())
    }

    #[test]
    fn the_documented_name_patterns_bound_the_trimmed_length() {
        let display = regex::Regex::new(DISPLAY_NAME_PATTERN).unwrap();
        let token = regex::Regex::new(TOKEN_NAME_PATTERN).unwrap();
        for (pattern, longest, parse) in [
            (
                &display,
                MAX_DISPLAY_NAME_LENGTH,
                (|s: &str| DisplayName::parse(s).is_ok()) as fn(&str) -> bool,
            ),
            (&token, MAX_TOKEN_NAME_LENGTH, |s: &str| {
                TokenName::parse(s).is_ok()
            }),
        ] {
            for length in [1, 2, 3, longest - 1, longest, longest + 1] {
                let spaced: String = (0..length)
                    .map(|i| {
                        if i % 3 == 1 && i + 1 < length {
                            ' '
                        } else {
                            'é'
                        }
                    })
                    .collect();
                for input in ["é".repeat(length), format!(" \t{spaced}\u{3000}")] {
                    assert_eq!(pattern.is_match(&input), length <= longest, "{input:?}");
                    assert_eq!(parse(&input), length <= longest, "{input:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn a_display_name_is_trimmed_bounded_and_printable(input in "\\PC{0,250}") {
            if let Ok(Some(name)) = DisplayName::parse(&input) {
                let name = name.into_string();
                prop_assert_eq!(name.trim(), name.as_str());
                prop_assert!(!name.is_empty());
                prop_assert!(name.chars().count() <= MAX_DISPLAY_NAME_LENGTH);
                prop_assert!(!name.chars().any(char::is_control));
            }
        }

        #[test]
        fn a_display_name_is_accepted_as_the_documented_pattern_says(
            input in "[ a\\s\\pC\u{a0}-\u{3000}]{0,8}",
        ) {
            documented_pattern_is_the_rule(DISPLAY_NAME_PATTERN, &input, DisplayName::parse(&input).is_ok())?;
        }

        #[test]
        fn a_token_name_is_accepted_as_the_documented_pattern_says(
            input in "[ a\\s\\pC\u{a0}-\u{3000}]{0,8}",
        ) {
            documented_pattern_is_the_rule(TOKEN_NAME_PATTERN, &input, TokenName::parse(&input).is_ok())?;
        }

        #[test]
        fn a_permission_matches_the_documented_pattern(input in "\\PC{0,140}") {
            let pattern_accepts = !input.is_empty()
                && input.len() <= MAX_ROLE_OR_PERMISSION_LENGTH
                && input.bytes().all(|b| matches!(b, b'!' | b'#'..=b'[' | b']'..=b'~'));
            prop_assert_eq!(Permission::parse(&input).is_ok(), pattern_accepts);
        }

        #[test]
        fn a_scope_round_trips_through_its_text(entries in proptest::collection::vec("[!#-\\[\\]-~]{1,20}", 0..8)) {
            let scope = Scope::parse(&entries.join(" ")).unwrap();
            let text = scope.clone().into_strings().join(" ");
            prop_assert_eq!(Scope::parse(&text).unwrap(), scope);
        }
    }
}
