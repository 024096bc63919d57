//! Why a use case failed, in the terms the contract distinguishes, and the
//! collector that gathers every invalid field of one request.
//!
//! [`AuthError`] is the domain's one error type: the server maps it to HTTP
//! in one place and the command line to one line of text. Storage and
//! hashing failures arrive here already classified (unavailable or
//! internal); no driver error and no secret ever travels inside it.

use std::fmt::Display;

use crate::hashing::HashingError;
use crate::password::PolicyViolations;
use crate::store::StoreError;
use crate::tokens::TokenError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong credentials, unknown or disabled user, or an unusable refresh token.
    #[error("the credentials or refresh token are invalid")]
    InvalidGrant,
    /// The password matched, but `--email-verification required` and the
    /// address is not proved yet.
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    /// An OAuth client that is unknown, or that presented a wrong secret, a
    /// secret it does not have, or none when it has one (RFC 6749 §5.2).
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("too many failed attempts; retry in {retry_after_seconds} s")]
    Throttled { retry_after_seconds: u64 },
    #[error("the input is invalid")]
    Invalid(Vec<FieldError>),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot be removed, disabled or demoted")]
    LastAdministrator,
    #[error("sign-up is closed")]
    SignupClosed,
    #[error("sign-in by emailed code is off on this server")]
    EmailCodeLoginOff,
    #[error("{0}")]
    InvalidToken(TokenError),
    #[error("the current password is incorrect")]
    IncorrectPassword,
    #[error("not found")]
    NotFound,
    /// The caller lacks the permission named.
    #[error("this needs the permission {needed}")]
    Forbidden { needed: String },
    /// A personal access token cannot do this (manage tokens, change the password, …).
    #[error("a personal access token cannot do this; use a session's access token")]
    NotWithPersonalToken,
    /// An application's token (browser sign-in) reaches its permissions and
    /// `/userinfo`, not the account itself.
    #[error("an application's token cannot do this; sign in to the account itself")]
    NotWithClientToken,
    #[error("the database is unavailable")]
    Unavailable,
    /// A setting does not fit what is stored (a key-encryption key that is
    /// missing or wrong); the message says which, and never holds a secret.
    #[error("{0}")]
    Misconfigured(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// One invalid input field and why; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    #[must_use]
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::LastAdministrator => Self::LastAdministrator,
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Conflict | StoreError::Other(_) => Self::Internal(error.to_string()),
        }
    }
}

impl From<HashingError> for AuthError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Gathers every invalid field of one request, so the answer names them all
/// at once instead of the first only.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct InvalidFields(Vec<FieldError>);

impl InvalidFields {
    /// The value of `parsed`, or `None` after noting why `field` is invalid.
    pub(crate) fn check<T, E: Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        parsed
            .map_err(|error| self.add(field, error.to_string()))
            .ok()
    }

    pub(crate) fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub(crate) fn add_all(&mut self, field: &str, messages: impl IntoIterator<Item = String>) {
        for message in messages {
            self.add(field, message);
        }
    }

    /// [`AuthError::Invalid`] naming every field noted, for a caller that
    /// knows one was.
    pub(crate) fn into_error(self) -> AuthError {
        AuthError::Invalid(self.0)
    }

    /// [`AuthError::Invalid`] naming every field noted, if any.
    pub(crate) fn finish(self) -> Result<(), AuthError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AuthError::Invalid(self.0))
        }
    }
}

/// [`AuthError::Invalid`] for a password the policy refused, one entry per rule broken.
pub(crate) fn password_refused(field: &str, violations: PolicyViolations) -> AuthError {
    AuthError::Invalid(
        violations
            .0
            .into_iter()
            .map(|message| FieldError::new(field, message))
            .collect(),
    )
}

/// [`AuthError::Invalid`] for one field.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::Invalid(vec![FieldError::new(field, message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_hashing_queue_is_unavailable_not_an_internal_error() {
        assert!(matches!(
            AuthError::from(HashingError::Busy),
            AuthError::Unavailable
        ));
        assert!(matches!(
            AuthError::from(HashingError::PoolClosed),
            AuthError::Internal(_)
        ));
    }

    #[test]
    fn every_invalid_field_is_named() {
        let mut fields = InvalidFields::default();
        assert_eq!(fields.check::<u8, &str>("a", Ok(1)), Some(1));
        assert_eq!(fields.check::<u8, &str>("b", Err("is wrong")), None);
        fields.add("c", "is wrong too");
        let Err(AuthError::Invalid(named)) = fields.finish() else {
            panic!("expected invalid fields");
        };
        assert_eq!(
            named,
            [
                FieldError::new("b", "is wrong"),
                FieldError::new("c", "is wrong too")
            ]
        );
        assert!(InvalidFields::default().finish().is_ok());
    }
}
