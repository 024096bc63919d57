//! JSON Lines: one user per line, `{email, name?, password_hash?,
//! email_verified?, roles?, disabled?, created_at?}`, the shape `portcullis
//! export` writes.
//!
//! Read a line at a time into one reused buffer, so memory stays flat
//! whatever the file's size. A line that is not UTF-8, not JSON, or has a
//! field we do not know (a misspelt `pasword_hash` must not import users
//! without passwords) is reported with its number, and reading goes on; a
//! last line cut short is reported as truncated. This module must never
//! keep more than one line.

use std::io::BufRead;

use portcullis_core::services::import::{ImportedPassword, ImportedUser};
use serde::Deserialize;

use crate::import::entries::{self, Entry, Location, ReadError, Sender};

/// A line as written: every field but `email` may be missing or `null`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    email: String,
    name: Option<String>,
    password_hash: Option<String>,
    email_verified: Option<bool>,
    roles: Option<Vec<String>>,
    disabled: Option<bool>,
    created_at: Option<Time>,
}

/// A time as RFC 3339 text or unix seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum Time {
    Seconds(i64),
    Text(String),
}

/// Sends every line of `input` as an entry.
pub(crate) fn read(mut input: impl BufRead, sender: &mut Sender) -> Result<(), ReadError> {
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        if input
            .read_until(b'\n', &mut buffer)
            .map_err(ReadError::Io)?
            == 0
        {
            return Ok(());
        }
        number += 1;
        let complete = buffer.ends_with(b"\n");
        let at = Location::Line(number);
        let entry = match entry(&buffer, number == 1, complete) {
            Ok(Some(user)) => Entry::User(at, user),
            Ok(None) => continue,
            Err(reason) => Entry::Unreadable(at, reason),
        };
        sender.send(entry)?;
    }
}

/// The user on one line; `None` for a blank line.
fn entry(bytes: &[u8], first: bool, complete: bool) -> Result<Option<ImportedUser>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        format!(
            "not UTF-8 (byte {} of the line); the file must be UTF-8",
            error.valid_up_to() + 1
        )
    })?;
    let text = if first {
        text.trim_start_matches('\u{feff}')
    } else {
        text
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let line: Line = serde_json::from_str(text).map_err(|error| {
        if !complete && error.is_eof() {
            "truncated: the file ends before this line's JSON does".to_owned()
        } else {
            format!(
                "not a user as JSON: {} (column {})",
                entries::json_error(&error),
                error.column()
            )
        }
    })?;
    let created_at = match line.created_at {
        None => None,
        Some(Time::Seconds(seconds)) => Some(entries::time("created_at", &seconds.to_string())?),
        Some(Time::Text(text)) => Some(entries::time("created_at", &text)?),
    };
    Ok(Some(ImportedUser {
        email: line.email,
        name: line.name,
        password: line
            .password_hash
            .map_or(ImportedPassword::None, ImportedPassword::Hash),
        email_verified: line.email_verified,
        roles: line.roles,
        disabled: line.disabled,
        created_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn refused(line: &str, complete: bool, reason: &str) {
        match entry(line.as_bytes(), false, complete) {
            Err(got) => assert!(got.contains(reason), "{line}: {got}"),
            Ok(user) => panic!("{line} was read as {user:?}"),
        }
    }

    #[test]
    fn a_line_is_read_or_refused_with_a_reason() {
        let user = entry(
            br#"{"email": "a@x.io", "password_hash": "$2b$10$x", "roles": ["r"], "created_at": 1714555800}"#,
            false,
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(user.email, "a@x.io");
        assert!(matches!(user.password, ImportedPassword::Hash(_)));
        assert_eq!(user.created_at.unwrap().unix_timestamp(), 1_714_555_800);
        assert!(entry(b"  \n", false, true).unwrap().is_none());
        assert!(entry("\u{feff}{\"email\":\"a@x.io\"}".as_bytes(), true, true).is_ok());
        refused(
            r#"{"email": "a@x.io", "pasword_hash": "x"}"#,
            true,
            "unknown field `pasword_hash`",
        );
        refused(r#"{"name": "Ada"}"#, true, "missing field `email`");
        refused(
            r#"{"email": "a@x.io", "disabled": "$2b$10$x"}"#,
            true,
            "not a user as JSON: invalid type: string, expected a boolean (column 42)",
        );
        refused(r#"{"email": "a@x.io", "na"#, false, "truncated");
        refused(
            r#"{"email": "a@x.io", "created_at": "soon"}"#,
            true,
            "created_at",
        );
        match entry(b"{\"email\": \"\xff\"}", false, true) {
            Err(reason) => assert!(reason.contains("not UTF-8 (byte 12"), "{reason}"),
            Ok(_) => panic!("read"),
        }
    }
}
