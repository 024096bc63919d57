//! What every reader of an import file produces, and the field rules the
//! file formats share: where an entry is, what it holds, and how a
//! boolean or a time is written.
//!
//! Readers run on a thread of their own and send entries in chunks; they
//! never hold more than a chunk, and never put a password hash in a
//! reason (a reason names the field and the rule, not the value).

use std::fmt;

use portcullis_core::services::import::ImportedUser;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Entries sent to the importer at once.
pub(crate) const CHUNK: usize = 256;

/// Where an entry is in its file, as a person finds it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A line (JSON Lines), or the line where a CSV record starts.
    Line(u64),
    /// The position in a Keycloak export's `users`, and the username.
    KeycloakUser {
        index: u64,
        username: Option<String>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::KeycloakUser {
                index,
                username: Some(username),
            } => write!(f, "users[{index}] (username {username:?})"),
            Self::KeycloakUser {
                index,
                username: None,
            } => write!(f, "users[{index}]"),
        }
    }
}

/// One entry of a file.
#[derive(Debug)]
pub(crate) enum Entry {
    /// A user to check and import.
    User(Location, ImportedUser),
    /// Something that cannot be read as a user, and why.
    Unreadable(Location, String),
    /// Left out on purpose (a Keycloak service account).
    LeftOut,
}

/// Sends entries in chunks to the importer; a reader stops when the
/// importer is gone.
pub(crate) struct Sender {
    channel: tokio::sync::mpsc::Sender<Vec<Entry>>,
    chunk: Vec<Entry>,
}

/// Why a reader stopped before the end of its file.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// The file cannot be read on (a CSV header without `email`, a Keycloak
    /// export cut short); what came before was read.
    Malformed(String),
    /// The importer went away (it failed).
    ImporterGone,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "reading the file: {error}"),
            Self::Malformed(reason) => f.write_str(reason),
            Self::ImporterGone => f.write_str("the import stopped"),
        }
    }
}

impl Sender {
    pub(crate) fn new(channel: tokio::sync::mpsc::Sender<Vec<Entry>>) -> Self {
        Self {
            channel,
            chunk: Vec::with_capacity(CHUNK),
        }
    }

    pub(crate) fn send(&mut self, entry: Entry) -> Result<(), ReadError> {
        self.chunk.push(entry);
        if self.chunk.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), ReadError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.channel
            .blocking_send(chunk)
            .map_err(|_| ReadError::ImporterGone)
    }
}

/// `true`/`false` in any case, `t`/`f` (PostgreSQL's CSV), `1`/`0`, `yes`/`no`.
pub(crate) fn boolean(field: &str, text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(format!("{field}: not true or false")),
    }
}

/// RFC 3339 (`2024-05-01T09:30:00Z`), PostgreSQL's text form
/// (`2024-05-01 09:30:00.123456+00`), or unix seconds.
pub(crate) fn time(field: &str, text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
            .ok_or_else(|| format!("{field}: not a time"));
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    postgres_time(text).ok_or_else(|| {
        format!("{field}: not an RFC 3339 time like 2024-05-01T09:30:00Z, nor unix seconds")
    })
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM]`, as PostgreSQL writes `timestamptz`.
fn postgres_time(text: &str) -> Option<OffsetDateTime> {
    let (date, rest) = text.split_once(' ')?;
    let split = rest.rfind(['+', '-'])?;
    let (clock, offset) = rest.split_at(split);
    let offset = if offset.len() == 3 {
        format!("{offset}:00")
    } else {
        offset.to_owned()
    };
    OffsetDateTime::parse(&format!("{date}T{clock}{offset}"), &Rfc3339).ok()
}

/// A JSON error as a reason: serde's message without its position (the
/// caller says where) and without the value it quotes, which could be a
/// hash in the wrong field (`invalid type: string "…", expected a boolean`
/// becomes `invalid type: string, expected a boolean`).
pub(crate) fn json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(message, _)| message);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let kind = found.split([' ', '`', '"']).next().unwrap_or_default();
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_owned()
}

/// Role names separated by spaces (no role name holds one).
pub(crate) fn roles(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_owned).collect()
}

/// `text`, or `None` when it is empty or only spaces.
pub(crate) fn given(text: &str) -> Option<&str> {
    Some(text).filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_forms_exports_write() {
        let at = OffsetDateTime::from_unix_timestamp(1_714_555_800).unwrap();
        for text in [
            "2024-05-01T09:30:00Z",
            "2024-05-01T11:30:00+02:00",
            "2024-05-01 09:30:00+00",
            "2024-05-01 09:30:00.123456+00",
            "1714555800",
        ] {
            let parsed = time("created_at", text).unwrap();
            assert_eq!(parsed.unix_timestamp(), at.unix_timestamp(), "{text}");
        }
        for bad in ["", "yesterday", "2024-05-01", "-5"] {
            assert!(time("created_at", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_errors_name_no_value() {
        let error = serde_json::from_str::<bool>(r#""$2b$10$secret""#).unwrap_err();
        assert_eq!(
            json_error(&error),
            "invalid type: string, expected a boolean"
        );
        let error = serde_json::from_str::<Vec<String>>("[1]").unwrap_err();
        assert_eq!(
            json_error(&error),
            "invalid type: integer, expected a string"
        );
    }

    #[test]
    fn booleans_and_roles() {
        assert_eq!(boolean("disabled", "T"), Ok(true));
        assert_eq!(boolean("disabled", "no"), Ok(false));
        assert!(boolean("disabled", "maybe").is_err());
        assert_eq!(roles(" reader  editor "), ["reader", "editor"]);
        assert_eq!(given("  "), None);
    }

    #[test]
    fn locations_as_a_person_reads_them() {
        assert_eq!(Location::Line(7).to_string(), "line 7");
        let user = Location::KeycloakUser {
            index: 3,
            username: Some("ada".into()),
        };
        assert_eq!(user.to_string(), "users[3] (username \"ada\")");
    }
}
