//! The messages Portcullis sends, as data.
//!
//! The domain writes an [`OutgoingMessage`] into the outbox in the same
//! transaction as the token it carries; the sender renders and delivers it
//! later, perhaps on another instance or after a restart. So a message is
//! plain data with a stable JSON form ([`OutgoingMessage::to_json`],
//! [`OutgoingMessage::from_json`]) holding every variable its templates need
//! except the sender's settings (product name, templates). It never holds
//! markup: escaping is the templates' job, at rendering time.
//!
//! The link and the code are secrets until used: their `Debug` prints
//! `[redacted]`. The JSON form holds them in clear because the message has to
//! be sent; the outbox row should lose its payload once the message is sent
//! or given up. This module needs no `delivery` feature, so the domain can
//! name these types without SMTP or TLS in its dependencies.

mod link_and_code;
mod remaining_tokens;

pub use link_and_code::{Link, OneTimeCode};
pub use remaining_tokens::{RemainingToken, RemainingTokens};

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::message::link_and_code::{CODE_MAX_LENGTH, LINK_MAX_LENGTH};

/// One message to one recipient: who, and what to tell them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub to: Recipient,
    pub content: MessageContent,
}

/// The address a message goes to, and the account's display name if it has
/// one (used in the greeting and the `To` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What a message says, by kind, with that kind's variables.
///
/// Lifetimes (`valid_for`) are whole seconds; the expiry shown to the reader
/// is `requested.at + valid_for`, so a message delivered late still tells the
/// truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    /// Confirm the account's address: a link and a code (24 h).
    EmailVerification {
        link: Link,
        code: OneTimeCode,
        #[serde(rename = "valid_for_seconds", with = "whole_seconds")]
        valid_for: Duration,
        requested: RequestOrigin,
    },
    /// Choose a new password: a link and a code (1 h).
    PasswordReset {
        link: Link,
        code: OneTimeCode,
        #[serde(rename = "valid_for_seconds", with = "whole_seconds")]
        valid_for: Duration,
        requested: RequestOrigin,
    },
    /// Sign in with a code (10 min).
    SignInCode {
        code: OneTimeCode,
        #[serde(rename = "valid_for_seconds", with = "whole_seconds")]
        valid_for: Duration,
        requested: RequestOrigin,
    },
    /// Sent to the new address of an email change: a link and a code (24 h).
    /// `current_email` is the address the account has until it is confirmed.
    EmailChangeConfirmation {
        link: Link,
        code: OneTimeCode,
        #[serde(rename = "valid_for_seconds", with = "whole_seconds")]
        valid_for: Duration,
        requested: RequestOrigin,
        current_email: String,
    },
    /// Sent to the old address once an email change has applied.
    EmailChangedNotice {
        new_email: String,
        requested: RequestOrigin,
    },
    /// Sent after a password change or reset, naming the personal access
    /// tokens that still work (`None` in rows queued by versions that did
    /// not list them: the notice then says nothing about tokens).
    PasswordChangedNotice {
        how: PasswordChange,
        requested: RequestOrigin,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        personal_tokens: Option<RemainingTokens>,
    },
    /// `portcullis mail test`: proves the settings work.
    Test { requested: RequestOrigin },
}

/// Which kind a message is, without its data: the name of its templates and
/// the label of its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    EmailVerification,
    PasswordReset,
    SignInCode,
    EmailChangeConfirmation,
    EmailChangedNotice,
    PasswordChangedNotice,
    Test,
}

/// When and from where the request that caused a message was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOrigin {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<IpAddr>,
}

/// How a password came to change: the account's owner changed it while
/// signed in, or it was reset with a link or code sent by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordChange {
    Changed,
    Reset,
}

/// Why a message or one of its parts was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    #[error(
        "a link must be an http:// or https:// URL of at most {LINK_MAX_LENGTH} characters, without spaces or control characters"
    )]
    InvalidLink,
    #[error("a one-time code must be 1 to {CODE_MAX_LENGTH} ASCII digits")]
    InvalidCode,
    #[error(
        "a password notice names at most {} personal access tokens",
        RemainingTokens::LISTED_MAX
    )]
    TooManyTokensListed,
    /// The JSON is not a message this version knows: a row written by a
    /// newer version, or damaged. The text is serde's, without the message.
    #[error("not a mail message this version can read: {0}")]
    UnreadableJson(String),
}

impl OutgoingMessage {
    /// The message's stable JSON form, for the outbox row.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a message always serialises: strings, numbers, times")
    }

    /// Reads what [`OutgoingMessage::to_json`] wrote, with the same checks
    /// as the constructors (a link that is not `http(s)`, a code that is not
    /// digits are refused).
    ///
    /// # Errors
    /// [`MessageError::UnreadableJson`] for anything else.
    pub fn from_json(json: &str) -> Result<Self, MessageError> {
        serde_json::from_str(json).map_err(|error| {
            // serde_json's message for an invalid value can quote the value;
            // keep only the category and position.
            let what = match error.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not a message of a known shape",
                serde_json::error::Category::Eof => "cut short",
            };
            MessageError::UnreadableJson(format!(
                "{what} (line {}, column {})",
                error.line(),
                error.column()
            ))
        })
    }

    #[must_use]
    pub fn kind(&self) -> MessageKind {
        self.content.kind()
    }

    /// When the link or code in this message stops working, if it carries
    /// one: delivering it later is pointless.
    #[must_use]
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.content.expires_at()
    }
}

impl MessageContent {
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::EmailVerification { .. } => MessageKind::EmailVerification,
            Self::PasswordReset { .. } => MessageKind::PasswordReset,
            Self::SignInCode { .. } => MessageKind::SignInCode,
            Self::EmailChangeConfirmation { .. } => MessageKind::EmailChangeConfirmation,
            Self::EmailChangedNotice { .. } => MessageKind::EmailChangedNotice,
            Self::PasswordChangedNotice { .. } => MessageKind::PasswordChangedNotice,
            Self::Test { .. } => MessageKind::Test,
        }
    }

    /// The request that caused the message.
    #[must_use]
    pub fn requested(&self) -> &RequestOrigin {
        match self {
            Self::EmailVerification { requested, .. }
            | Self::PasswordReset { requested, .. }
            | Self::SignInCode { requested, .. }
            | Self::EmailChangeConfirmation { requested, .. }
            | Self::EmailChangedNotice { requested, .. }
            | Self::PasswordChangedNotice { requested, .. }
            | Self::Test { requested } => requested,
        }
    }

    /// The link, for the kinds that carry one.
    #[must_use]
    pub fn link(&self) -> Option<&Link> {
        match self {
            Self::EmailVerification { link, .. }
            | Self::PasswordReset { link, .. }
            | Self::EmailChangeConfirmation { link, .. } => Some(link),
            Self::SignInCode { .. }
            | Self::EmailChangedNotice { .. }
            | Self::PasswordChangedNotice { .. }
            | Self::Test { .. } => None,
        }
    }

    /// The one-time code, for the kinds that carry one.
    #[must_use]
    pub fn code(&self) -> Option<&OneTimeCode> {
        match self {
            Self::EmailVerification { code, .. }
            | Self::PasswordReset { code, .. }
            | Self::SignInCode { code, .. }
            | Self::EmailChangeConfirmation { code, .. } => Some(code),
            Self::EmailChangedNotice { .. }
            | Self::PasswordChangedNotice { .. }
            | Self::Test { .. } => None,
        }
    }

    /// How long the link or code is valid, for the kinds that carry one.
    #[must_use]
    pub fn valid_for(&self) -> Option<Duration> {
        match self {
            Self::EmailVerification { valid_for, .. }
            | Self::PasswordReset { valid_for, .. }
            | Self::SignInCode { valid_for, .. }
            | Self::EmailChangeConfirmation { valid_for, .. } => Some(*valid_for),
            Self::EmailChangedNotice { .. }
            | Self::PasswordChangedNotice { .. }
            | Self::Test { .. } => None,
        }
    }

    /// `requested.at + valid_for`, for the kinds that carry a link or code.
    #[must_use]
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        let valid_for = time::Duration::try_from(self.valid_for()?).ok()?;
        self.requested().at.checked_add(valid_for)
    }
}

impl MessageKind {
    pub const ALL: [MessageKind; 7] = [
        Self::EmailVerification,
        Self::PasswordReset,
        Self::SignInCode,
        Self::EmailChangeConfirmation,
        Self::EmailChangedNotice,
        Self::PasswordChangedNotice,
        Self::Test,
    ];

    /// The kind's name: its templates are `NAME.subject.txt`, `NAME.txt` and
    /// `NAME.html`, and its metrics carry `kind="NAME"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::SignInCode => "sign_in_code",
            Self::EmailChangeConfirmation => "email_change_confirmation",
            Self::EmailChangedNotice => "email_changed_notice",
            Self::PasswordChangedNotice => "password_changed_notice",
            Self::Test => "test",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Durations as whole seconds in JSON.
mod whole_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset() -> OutgoingMessage {
        OutgoingMessage {
            to: Recipient {
                email: "ada@example.com".into(),
                name: Some("Ada".into()),
            },
            content: MessageContent::PasswordReset {
                link: Link::parse("https://auth.example.com/password/reset?token=s3cret").unwrap(),
                code: OneTimeCode::parse("12345678").unwrap(),
                valid_for: Duration::from_secs(3600),
                requested: RequestOrigin {
                    at: time::macros::datetime!(2026-12-07 10:00 UTC),
                    client_address: Some("203.0.113.9".parse().unwrap()),
                },
            },
        }
    }

    /// Rows written by this version must stay readable by the next ones:
    /// this is the format, field by field.
    #[test]
    fn the_json_form_is_stable() {
        let json = reset().to_json();
        assert_eq!(
            json,
            r#"{"to":{"email":"ada@example.com","name":"Ada"},"content":{"kind":"password_reset","link":"https://auth.example.com/password/reset?token=s3cret","code":"12345678","valid_for_seconds":3600,"requested":{"at":"2026-12-07T10:00:00Z","client_address":"203.0.113.9"}}}"#
        );
        assert_eq!(OutgoingMessage::from_json(&json).unwrap(), reset());
    }

    #[test]
    fn every_kind_survives_the_round_trip() {
        let requested = RequestOrigin {
            at: time::macros::datetime!(2026-12-07 10:00 UTC),
            client_address: None,
        };
        let link = Link::parse("http://localhost:8080/email/verify?token=t").unwrap();
        let code = OneTimeCode::parse("00000001").unwrap();
        let valid_for = Duration::from_secs(600);
        let contents = [
            MessageContent::EmailVerification {
                link: link.clone(),
                code: code.clone(),
                valid_for,
                requested,
            },
            MessageContent::SignInCode {
                code: code.clone(),
                valid_for,
                requested,
            },
            MessageContent::EmailChangeConfirmation {
                link,
                code,
                valid_for,
                requested,
                current_email: "old@example.com".into(),
            },
            MessageContent::EmailChangedNotice {
                new_email: "new@example.com".into(),
                requested,
            },
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Reset,
                requested,
                personal_tokens: None,
            },
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Changed,
                requested,
                personal_tokens: Some(RemainingTokens::new([RemainingToken {
                    id: uuid::Uuid::from_u128(7),
                    name: "<ci>".into(),
                    created_at: requested.at,
                    last_used_at: Some(requested.at),
                    expires_at: None,
                }])),
            },
            MessageContent::Test { requested },
        ];
        for content in contents {
            let message = OutgoingMessage {
                to: Recipient {
                    email: "a@example.com".into(),
                    name: None,
                },
                content,
            };
            assert_eq!(
                OutgoingMessage::from_json(&message.to_json()).unwrap(),
                message
            );
        }
    }

    /// A notice queued before notices listed tokens reads as one that says
    /// nothing about them, not as one saying that none remain.
    #[test]
    fn a_password_notice_without_its_token_list_still_reads() {
        let json = r#"{"to":{"email":"a@example.com"},"content":{"kind":"password_changed_notice","how":"reset","requested":{"at":"2026-12-07T10:00:00Z"}}}"#;
        let message = OutgoingMessage::from_json(json).unwrap();
        assert!(
            matches!(
                message.content,
                MessageContent::PasswordChangedNotice {
                    how: PasswordChange::Reset,
                    personal_tokens: None,
                    ..
                }
            ),
            "{message:?}"
        );
        assert_eq!(message.to_json(), json);
    }

    #[test]
    fn json_that_breaks_the_rules_is_refused_without_quoting_it() {
        let hostile = reset()
            .to_json()
            .replace("https://auth.example.com", "javascript:alert(1)//");
        let error = OutgoingMessage::from_json(&hostile).unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        let unknown_kind = reset()
            .to_json()
            .replace("password_reset", "carrier_pigeon");
        assert!(OutgoingMessage::from_json(&unknown_kind).is_err());
        assert!(OutgoingMessage::from_json("{").is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let debug = format!("{:?}", reset());
        assert!(
            !debug.contains("s3cret") && !debug.contains("12345678"),
            "{debug}"
        );
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn expiry_is_counted_from_the_request() {
        assert_eq!(
            reset().expires_at(),
            Some(time::macros::datetime!(2026-12-07 11:00 UTC))
        );
        let notice = OutgoingMessage {
            to: Recipient {
                email: "a@example.com".into(),
                name: None,
            },
            content: MessageContent::Test {
                requested: *reset().content.requested(),
            },
        };
        assert_eq!(notice.expires_at(), None);
    }
}
