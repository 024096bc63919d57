//! What the store refuses before any SQL runs, the same on every database.
//!
//! Each rule is here because the schema cannot state it alike on SQLite and
//! PostgreSQL, and a rule checked by only one of them is how the two
//! drifted (only SQLite refused a session scope entry with whitespace).
//! NUL in text, which PostgreSQL refuses and SQLite would store, is refused
//! for every statement in `crate::statement`. This module must never touch
//! a database, and a refusal is [`StoreError::Other`]: the domain validates
//! input first, so reaching one is a bug upstream, not a client's mistake.

use portcullis_core::store::StoreError;

/// Permissions as stored in one column (a session's scope, a personal
/// token's scopes, a client's allowed scopes): joined by single spaces, so
/// each must be non-empty and free of whitespace to come back as it went in.
pub(crate) fn joined_permissions(permissions: &[String]) -> Result<String, StoreError> {
    joined("a permission in a scope", permissions)
}

/// A client's redirect URIs as stored in one column, by the rule of
/// [`joined_permissions`].
pub(crate) fn joined_uris(uris: &[String]) -> Result<String, StoreError> {
    joined("a redirect URI", uris)
}

fn joined(what: &str, entries: &[String]) -> Result<String, StoreError> {
    if entries
        .iter()
        .any(|entry| entry.is_empty() || entry.contains(char::is_whitespace))
    {
        return Err(StoreError::Other(format!(
            "refused: {what} is empty or contains whitespace"
        )));
    }
    Ok(entries.join(" "))
}

/// A session's refresh generation as stored (a signed 64-bit integer).
pub(crate) fn refresh_generation(generation: u64) -> Result<i64, StoreError> {
    i64::try_from(generation).map_err(|_| {
        StoreError::Other(format!(
            "refused: refresh generation {generation} out of range"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_join_only_when_they_split_back_the_same() {
        #[track_caller]
        fn check(permissions: &[&str], expected: Option<&str>) {
            let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
            let joined = joined_permissions(&permissions);
            match expected {
                Some(expected) => assert_eq!(joined.unwrap(), expected),
                None => assert!(matches!(joined, Err(StoreError::Other(_))), "{joined:?}"),
            }
        }
        check(&[], Some(""));
        check(&["records:read"], Some("records:read"));
        check(
            &["records:read", "books:download"],
            Some("records:read books:download"),
        );
        check(&[""], None);
        check(&["records:read", "a b"], None);
        check(&["tab\there"], None);
        check(&["no-break\u{a0}space"], None);
        check(&["newline\n"], None);
        assert_eq!(
            joined_uris(&["https://a.example/cb".into(), "com.example.app:/cb".into()]).unwrap(),
            "https://a.example/cb com.example.app:/cb"
        );
        assert!(joined_uris(&["https://a.example/a b".into()]).is_err());
    }

    #[test]
    fn generations_beyond_a_signed_integer_are_refused() {
        assert_eq!(refresh_generation(0).unwrap(), 0);
        assert_eq!(refresh_generation(i64::MAX as u64).unwrap(), i64::MAX);
        assert!(matches!(
            refresh_generation(u64::MAX),
            Err(StoreError::Other(_))
        ));
    }
}
