//! The personal access tokens a password notice names: those the new
//! password left valid, so that an owner who fears someone else got in can
//! see which credentials still work, and end the ones they do not know.
//!
//! A notice lists at most [`RemainingTokens::LISTED_MAX`] of them and counts
//! the rest, so a message stays short however many tokens an account holds;
//! a row read back is held to the same bound. Names are the owners' own
//! words, kept as data: escaping them is the templates' job.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::message::MessageError;

/// One personal access token still valid: what its owner needs to
/// recognise it and to end it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemainingToken {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// The tokens a new password left valid: the first
/// [`RemainingTokens::LISTED_MAX`], in the order given, and how many more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RemainingTokensJson")]
pub struct RemainingTokens {
    listed: Vec<RemainingToken>,
    unlisted: u64,
}

/// What the JSON form holds, checked into [`RemainingTokens`].
#[derive(Deserialize)]
struct RemainingTokensJson {
    listed: Vec<RemainingToken>,
    unlisted: u64,
}

impl RemainingTokens {
    /// The most tokens a notice names.
    pub const LISTED_MAX: usize = 20;

    /// Lists the first [`Self::LISTED_MAX`] of `tokens` and counts the rest.
    #[must_use]
    pub fn new(tokens: impl IntoIterator<Item = RemainingToken>) -> Self {
        let mut tokens = tokens.into_iter();
        let listed = tokens.by_ref().take(Self::LISTED_MAX).collect();
        let unlisted = u64::try_from(tokens.count()).unwrap_or(u64::MAX);
        Self { listed, unlisted }
    }

    /// The tokens named, at most [`Self::LISTED_MAX`].
    #[must_use]
    pub fn listed(&self) -> &[RemainingToken] {
        &self.listed
    }

    /// How many more tokens remain beyond those named.
    #[must_use]
    pub fn unlisted(&self) -> u64 {
        self.unlisted
    }
}

impl TryFrom<RemainingTokensJson> for RemainingTokens {
    type Error = MessageError;
    fn try_from(json: RemainingTokensJson) -> Result<Self, Self::Error> {
        if json.listed.len() > Self::LISTED_MAX {
            return Err(MessageError::TooManyTokensListed);
        }
        Ok(Self {
            listed: json.listed,
            unlisted: json.unlisted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u128) -> RemainingToken {
        RemainingToken {
            id: Uuid::from_u128(n),
            name: format!("token {n}"),
            created_at: time::macros::datetime!(2026-12-01 09:00 UTC),
            last_used_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn at_most_twenty_are_named_and_the_rest_counted() {
        #[track_caller]
        fn check(count: u128, listed: usize, unlisted: u64) {
            let remaining = RemainingTokens::new((0..count).map(token));
            assert_eq!(remaining.listed().len(), listed, "{count}");
            assert_eq!(remaining.unlisted(), unlisted, "{count}");
            assert_eq!(
                remaining.listed().first().map(|t| t.id.as_u128()),
                (count > 0).then_some(0)
            );
        }
        check(0, 0, 0);
        check(1, 1, 0);
        check(20, 20, 0);
        check(21, 20, 1);
        check(57, 20, 37);
    }

    #[test]
    fn a_row_naming_more_than_twenty_is_refused() {
        let json = serde_json::to_string(&RemainingTokens::new((0..20).map(token))).unwrap();
        assert!(serde_json::from_str::<RemainingTokens>(&json).is_ok());
        let one_more = serde_json::to_string(&token(20)).unwrap();
        let too_many = json.replacen("[", &format!("[{one_more},"), 1);
        assert!(serde_json::from_str::<RemainingTokens>(&too_many).is_err());
    }
}
