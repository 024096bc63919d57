//! Personal access tokens: creating, listing and deleting them, and
//! authenticating with one.
//!
//! A token's scopes are checked against its owner's permissions twice: when
//! it is made (it can never exceed the session that made it) and at every use
//! (so a permission removed from a role stops working in every token at
//! once). Use times are gathered in memory and written in batches by
//! [`AuthService::flush_personal_token_uses`], never once per request.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{AuthError, AuthService, Credential, Principal, User, field, now_seconds};
use crate::personal_tokens::PersonalToken;
use crate::store::PersonalTokenRecord;
use crate::tokens::TokenError;

/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_LENGTH: usize = 100;
/// Longest lifetime that can be asked for.
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// What `POST /me/tokens` asks for.
#[derive(Debug, Clone)]
pub struct NewPersonalToken<'a> {
    pub name: &'a str,
    pub scopes: Vec<String>,
    pub expires_in_days: Option<u32>,
}

/// A personal access token as its owner sees it; the secret only at creation.
#[derive(Debug, Clone)]
pub struct PersonalTokenView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
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
pub(super) struct PersonalTokenUse {
    pub(super) principal: Principal,
    pub(super) user: Arc<User>,
    pub(super) token: PersonalTokenRecord,
}

impl AuthService {
    /// Makes a personal access token; returns it with the secret token, shown this once.
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`], [`AuthError::Invalid`].
    pub async fn create_personal_token(
        &self,
        principal: &Principal,
        request: NewPersonalToken<'_>,
    ) -> Result<(PersonalTokenView, String), AuthError> {
        principal.require_session()?;
        let mut errors = Vec::new();
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_LENGTH {
            errors.push(field(
                "name",
                format!("must have 1 to {MAX_TOKEN_NAME_LENGTH} characters"),
            ));
        } else if name.chars().any(char::is_control) {
            errors.push(field("name", "must not contain control characters"));
        }
        let not_granted: Vec<&str> = request
            .scopes
            .iter()
            .filter(|scope| !principal.has_permission(scope))
            .map(String::as_str)
            .collect();
        if !not_granted.is_empty() {
            errors.push(field(
                "scopes",
                format!("not granted to you: {}", not_granted.join(" ")),
            ));
        }
        if request
            .expires_in_days
            .is_some_and(|days| !(1..=MAX_EXPIRES_IN_DAYS).contains(&days))
        {
            errors.push(field(
                "expires_in_days",
                format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
            ));
        }
        if !errors.is_empty() {
            return Err(AuthError::Invalid(errors));
        }
        let now = now_seconds();
        let token = PersonalToken::generate();
        let record = PersonalTokenRecord {
            id: token.id,
            user_id: principal.user_id,
            name: name.to_owned(),
            scopes: super::sorted_unique(request.scopes),
            secret_hash: token.secret_hash(),
            created_at: now,
            expires_at: request
                .expires_in_days
                .map(|days| now + Duration::days(i64::from(days))),
            last_used_at: None,
        };
        self.store.insert_personal_token(&record).await?;
        Ok((record.into(), token.encode()))
    }

    /// The caller's personal access tokens, newest first, without secrets.
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`].
    pub async fn personal_tokens(
        &self,
        principal: &Principal,
    ) -> Result<Vec<PersonalTokenView>, AuthError> {
        principal.require_session()?;
        let mut tokens = self
            .store
            .personal_tokens_of_user(principal.user_id)
            .await?;
        let pending = self.pending_uses();
        for token in &mut tokens {
            if let Some(used) = pending
                .iter()
                .find(|(id, _)| *id == token.id)
                .map(|(_, at)| *at)
            {
                token.last_used_at = token.last_used_at.max(Some(used));
            }
        }
        Ok(tokens.into_iter().map(PersonalTokenView::from).collect())
    }

    /// Deletes one of the caller's tokens; another user's id is [`AuthError::NotFound`].
    ///
    /// # Errors
    /// [`AuthError::NotWithPersonalToken`], [`AuthError::NotFound`].
    pub async fn delete_personal_token(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AuthError> {
        principal.require_session()?;
        match self.store.personal_token(id).await? {
            Some(token) if token.user_id == principal.user_id => {
                self.store.delete_personal_token(id).await?;
                Ok(())
            }
            _ => Err(AuthError::NotFound),
        }
    }

    /// Writes the use times gathered since the last call.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails (the uses are kept for the next try).
    pub async fn flush_personal_token_uses(&self) -> Result<(), AuthError> {
        let uses = self.pending_uses();
        if uses.is_empty() {
            return Ok(());
        }
        self.store.record_personal_token_uses(&uses).await?;
        let mut pending = self
            .personal_token_uses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, at) in uses {
            if pending.get(&id) == Some(&at) {
                pending.remove(&id);
            }
        }
        Ok(())
    }

    fn pending_uses(&self) -> Vec<(Uuid, OffsetDateTime)> {
        let pending = self
            .personal_token_uses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.iter().map(|(id, at)| (*id, *at)).collect()
    }

    /// Checks a personal access token; returns the caller with the account
    /// and token as read, so callers need not read them again.
    pub(super) async fn authenticate_personal_token(
        &self,
        token: &str,
    ) -> Result<PersonalTokenUse, AuthError> {
        let unknown = || AuthError::InvalidToken(TokenError::UnknownPersonalToken);
        let presented =
            PersonalToken::parse(token).ok_or(AuthError::InvalidToken(TokenError::Malformed))?;
        let record = self
            .store
            .personal_token(presented.id)
            .await?
            .filter(|record| record.secret_hash.matches(&presented.secret_hash()))
            .ok_or_else(unknown)?;
        let now = OffsetDateTime::now_utc();
        if record
            .expires_at
            .is_some_and(|expires_at| expires_at <= now)
        {
            return Err(AuthError::InvalidToken(TokenError::Expired));
        }
        let user = match self.active_account(record.user_id).await {
            Err(AuthError::InvalidToken(_)) => return Err(unknown()),
            account => account?,
        };
        let permissions = self.current_permissions(&user.roles).await?;
        let scope = record
            .scopes
            .iter()
            .filter(|scope| permissions.contains(*scope))
            .cloned()
            .collect();
        self.personal_token_uses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(record.id, now_seconds());
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
}
