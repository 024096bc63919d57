//! What a database text column can hold, checked once where text enters the
//! server, the same way on SQLite and PostgreSQL.
//!
//! PostgreSQL's `text` refuses the NUL character (U+0000): a string holding
//! one that reaches a query makes the driver fail, which would be a `500`.
//! SQLite stores it, but its string functions stop at it. So every string a
//! client sends is checked before a handler sees it: JSON bodies (every key
//! and value, at any depth), query parameters, path parameters and bearer
//! tokens by the extractors (`crate::extract`), and on the OAuth endpoints,
//! which ignore parameters they do not recognise (RFC 6749 §3.2), each
//! recognised field of a JSON or form body (`crate::wire::RecognisedText`)
//! and `Authorization: Basic` credentials. The document says it too: every
//! string schema of a request carries [`STORABLE_TEXT_PATTERN`]
//! (`crate::openapi::exclude_unstorable_text`). NUL is the only such character in UTF-8 text: lone surrogates
//! (`"\ud800"`) cannot arrive, since `serde_json` refuses them as malformed
//! JSON and percent-decoding turns bytes that are not UTF-8 into U+FFFD.
//!
//! This module only answers questions; it never builds a response.

use serde_json::Value;

/// Why a field is refused, as the `422` problem and OAuth errors say it.
pub(crate) const UNSTORABLE_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// The JSON Schema `pattern` of such text: no NUL.
pub(crate) const STORABLE_TEXT_PATTERN: &str = "^[^\\x00]*$";

/// Whether `text` can be stored in a text column.
pub(crate) fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// The path of the first key or string in `value` that cannot be stored
/// (`name`, `roles[1]`, `a.b`), as `serde_path_to_error` names fields; `.`
/// for a top-level string.
pub(crate) fn first_unstorable_in_json(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => (!is_storable(text)).then(|| ".".to_owned()),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            first_unstorable_in_json(item).map(|inner| join(&format!("[{index}]"), &inner))
        }),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            if !is_storable(key) {
                return Some(key.clone());
            }
            first_unstorable_in_json(member).map(|inner| join(key, &inner))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// `outer` followed by the path `inner` below it.
fn join(outer: &str, inner: &str) -> String {
    match inner {
        "." => outer.to_owned(),
        index if index.starts_with('[') => format!("{outer}{index}"),
        field => format!("{outer}.{field}"),
    }
}

/// The name of the first pair of a form or query string whose name or
/// value cannot be stored.
pub(crate) fn first_unstorable_pair(pairs: &[(String, String)]) -> Option<String> {
    pairs
        .iter()
        .find(|(name, value)| !is_storable(name) || !is_storable(value))
        .map(|(name, _)| name.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(value: &Value, expected: Option<&str>) {
        assert_eq!(
            first_unstorable_in_json(value).as_deref(),
            expected,
            "{value}"
        );
    }

    #[test]
    fn the_first_unstorable_string_is_named_by_its_path() {
        check(&json!({"email": "a@b.io", "name": "Ada"}), None);
        check(&json!({"email": "a\u{0}b"}), Some("email"));
        check(&json!({"roles": ["fine", "n\u{0}"]}), Some("roles[1]"));
        check(&json!({"a": {"b": [{"c": "\u{0}"}]}}), Some("a.b[0].c"));
        check(&json!({"a\u{0}": 1}), Some("a\u{0}"));
        check(&json!([["\u{0}"]]), Some("[0][0]"));
        check(&json!("\u{0}"), Some("."));
        check(&json!({"n": null, "t": true, "x": 1.5}), None);
        // Lone surrogates never become a `Value`: serde_json refuses them.
        assert!(serde_json::from_str::<Value>(r#"{"a": "\ud800"}"#).is_err());
        assert!(serde_json::from_str::<Value>(r#"{"a": "\udc00x"}"#).is_err());
    }

    #[test]
    fn pairs_are_checked_by_name_and_value() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            first_unstorable_pair(&pairs(&[("a", "1"), ("b", "2")])),
            None
        );
        assert_eq!(
            first_unstorable_pair(&pairs(&[("a", "1"), ("email", "a\u{0}b")])).as_deref(),
            Some("email")
        );
        assert_eq!(
            first_unstorable_pair(&pairs(&[("x\u{0}", "1")])).as_deref(),
            Some("x\u{0}")
        );
    }
}
