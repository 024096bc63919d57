//! Personal access tokens: creating, listing and deleting them, and
//! authenticating with one.
//!
//! A token's scopes are checked against its owner's permissions twice: when
//! it is made (it can never exceed the session that made it) and at every use
//! (so a permission removed from a role stops working in every token at
//! once). A use reads no database while the account cache holds the token
//! (it keeps tokens beside their owner's account, and forgets them with it:
//! a token deleted anywhere stops counting everywhere within a second, see
//! `crate::account_cache`). Use times are gathered in memory and written in
//! batches by [`PersonalTokens::flush_uses`], never once per request. A
//! personal access token cannot manage personal access tokens.

use std::sync::Arc;

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::core::Core;
use crate::error::{AuthError, InvalidFields};
use crate::names::TokenName;
use crate::personal_tokens::PersonalToken;
use crate::principal::{Credential, Principal};
use crate::store::PersonalTokenRecord;
use crate::tokens::TokenError;
use crate::user::User;

/// Longest lifetime that can be asked for.
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// What `POST /me/tokens` asks for.
#[derive(Debug, Clone)]
pub struct NewPersonalToken<'a> {
    pub name: &'a str,
    pub scopes: Vec<String>,
    pub expires_in_days: Option<u32>,
}

/// A personal access token as its owner sees it, without the secret.
#[derive(Debug, Clone)]
pub struct PersonalTokenView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A token just made: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct CreatedPersonalToken {
    pub view: PersonalTokenView,
    pub token: SecretString,
}

impl From<PersonalTokenRecord> for PersonalTokenView {
    fn from(record: PersonalTokenRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
            created_at: record.created_at,
            expires_at: record.expires_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A personal access token that was just checked, with what was read to check it.
pub(crate) struct PersonalTokenUse {
    pub(crate) principal: Principal,
    pub(crate) user: Arc<User>,
    pub(crate) token: Arc<PersonalTokenRecord>,
}

/// The caller's personal access tokens.
pub struct PersonalTokens {
    core: Arc<Core>,
}

impl PersonalTokens {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Makes a personal access token; returns it with the secret token, shown this once.
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`], [`AuthError::Invalid`].
    pub async fn create(
        &self,
        principal: &Principal,
        request: NewPersonalToken<'_>,
    ) -> Result<CreatedPersonalToken, AuthError> {
        principal.require_session()?;
        let mut invalid = InvalidFields::default();
        let name = invalid.check("name", TokenName::parse(request.name));
        let not_granted: Vec<&str> = request
            .scopes
            .iter()
            .filter(|scope| !principal.has_permission(scope))
            .map(String::as_str)
            .collect();
        if !not_granted.is_empty() {
            invalid.add(
                "scopes",
                format!("not granted to you: {}", not_granted.join(" ")),
            );
        }
        if request
            .expires_in_days
            .is_some_and(|days| !(1..=MAX_EXPIRES_IN_DAYS).contains(&days))
        {
            invalid.add(
                "expires_in_days",
                format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
            );
        }
        let Some(name) = name else {
            return Err(invalid.into_error());
        };
        invalid.finish()?;
        let now = self.core.clock.now_seconds();
        let token = PersonalToken::generate();
        let mut scopes = request.scopes;
        scopes.sort_unstable();
        scopes.dedup();
        let record = PersonalTokenRecord {
            id: token.id,
            user_id: principal.user_id,
            name: name.into_string(),
            scopes,
            secret_hash: token.secret_hash(),
            created_at: now,
            expires_at: request
                .expires_in_days
                .map(|days| now + Duration::days(i64::from(days))),
            last_used_at: None,
        };
        self.core.store.insert_personal_token(&record).await?;
        Ok(CreatedPersonalToken {
            view: record.into(),
            token: token.encode().into(),
        })
    }

    /// The caller's personal access tokens, newest first, without secrets.
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`].
    pub async fn list(&self, principal: &Principal) -> Result<Vec<PersonalTokenView>, AuthError> {
        principal.require_session()?;
        let tokens = self.core.personal_tokens_of_user(principal.user_id).await?;
        Ok(tokens.into_iter().map(PersonalTokenView::from).collect())
    }

    /// Deletes one of the caller's tokens; another user's id is [`AuthError::NotFound`].
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`], [`AuthError::NotFound`].
    pub async fn delete(&self, principal: &Principal, id: Uuid) -> Result<(), AuthError> {
        principal.require_session()?;
        match self.core.store.personal_token(id).await? {
            Some(token) if token.user_id == principal.user_id => {
                self.core
                    .accounts
                    .writing_account(token.user_id, self.core.store.delete_personal_token(id))
                    .await?;
                Ok(())
            }
            _ => Err(AuthError::NotFound),
        }
    }

    /// Writes the use times gathered since the last call.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails (the uses are kept for the next try).
    pub async fn flush_uses(&self) -> Result<(), AuthError> {
        let uses = self.core.personal_token_uses.pending();
        if uses.is_empty() {
            return Ok(());
        }
        self.core.store.record_personal_token_uses(&uses).await?;
        self.core.personal_token_uses.written(&uses);
        Ok(())
    }
}

/// Checks a personal access token; returns the caller with the account and
/// token as read, so callers need not read them again.
pub(crate) async fn authenticate(core: &Core, token: &str) -> Result<PersonalTokenUse, AuthError> {
    let unknown = || AuthError::InvalidToken(TokenError::UnknownPersonalToken);
    let presented =
        PersonalToken::parse(token).ok_or(AuthError::InvalidToken(TokenError::Malformed))?;
    let (record, user) = core
        .accounts
        .personal_token(presented.id)
        .await?
        .filter(|(record, _)| record.secret_hash.matches(&presented.secret_hash()))
        .ok_or_else(unknown)?;
    let now = core.clock.now();
    if record
        .expires_at
        .is_some_and(|expires_at| expires_at <= now)
    {
        return Err(AuthError::InvalidToken(TokenError::Expired));
    }
    let permissions = core.accounts.current_permissions(&user.roles).await?;
    let scope = record
        .scopes
        .iter()
        .filter(|scope| permissions.contains(*scope))
        .cloned()
        .collect();
    core.personal_token_uses
        .record(record.id, core.clock.now_seconds());
    let principal = Principal {
        user_id: user.id,
        credential: Credential::PersonalToken(record.id),
        roles: user.roles.clone(),
        scope,
    };
    Ok(PersonalTokenUse {
        principal,
        user,
        token: record,
    })
}
