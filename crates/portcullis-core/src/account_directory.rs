//! Accounts and roles as the use cases read and write them: through the
//! account cache for answering what a credential may do now, from the
//! database for anything that is about to be changed or carried in a new
//! token.
//!
//! Every write to an account or to the roles goes through
//! [`AccountDirectory::writing_account`] or
//! [`AccountDirectory::writing_roles`], which forget what was written from
//! the cache whatever the write returns (a write may commit and still report
//! an error), before the request that made it answers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use crate::account_cache::{AccountCache, Lookup};
use crate::error::AuthError;
use crate::roles::{self, Role};
use crate::store::PersonalTokenRecord;
use crate::store::{AccountChanged, Store, UserRecord};
use crate::tokens::TokenError;
use crate::user::User;

/// See the module documentation.
pub(crate) struct AccountDirectory {
    store: Arc<dyn Store>,
    cache: AccountCache,
}

impl AccountDirectory {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: AccountCache::default(),
        }
    }

    /// The cache, for counting what it keeps.
    pub(crate) fn cache(&self) -> &AccountCache {
        &self.cache
    }

    /// An account that exists and is not disabled, through the cache;
    /// anything else means the credential no longer counts.
    pub(crate) async fn active_account(&self, user_id: Uuid) -> Result<Arc<User>, AuthError> {
        let ticket = match self.cache.user(user_id) {
            Lookup::Hit(user) => return require_active(Some(user)),
            Lookup::Miss(ticket) => ticket,
        };
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .map(|record| self.cache.remember_user(ticket, record.into()));
        require_active(user)
    }

    /// A personal access token by id and its owner's active account,
    /// through the cache (no database read while the cache answers); `None`
    /// when there is no such token or its owner is missing or disabled.
    pub(crate) async fn personal_token(
        &self,
        id: Uuid,
    ) -> Result<Option<(Arc<PersonalTokenRecord>, Arc<User>)>, AuthError> {
        let ticket = match self.cache.personal_token(id) {
            Lookup::Hit(found) => {
                return Ok(require_active(Some(Arc::clone(&found.owner)))
                    .ok()
                    .map(|owner| (Arc::clone(&found.token), owner)));
            }
            Lookup::Miss(ticket) => ticket,
        };
        let Some(token) = self.store.personal_token(id).await? else {
            return Ok(None);
        };
        let owner = match self.active_account(token.user_id).await {
            Ok(owner) => owner,
            Err(AuthError::InvalidToken(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        self.cache
            .remember_personal_token(ticket, token.clone(), &owner);
        Ok(Some((Arc::new(token), owner)))
    }

    /// The account as stored now, password hash included, for changing it;
    /// a missing or disabled account means the credential no longer counts.
    pub(crate) async fn stored_active_account(
        &self,
        user_id: Uuid,
    ) -> Result<UserRecord, AuthError> {
        match self.store.user_by_id(user_id).await? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(AuthError::InvalidToken(TokenError::Revoked)),
        }
    }

    /// The permissions `user_roles` grant, through the cache: for answering
    /// what a credential may do now.
    pub(crate) async fn current_permissions(
        &self,
        user_roles: &[String],
    ) -> Result<BTreeSet<String>, AuthError> {
        if user_roles.is_empty() {
            return Ok(BTreeSet::new());
        }
        let stored = match self.cache.roles() {
            Lookup::Hit(roles) => roles,
            Lookup::Miss(ticket) => self.cache.remember_roles(ticket, self.store.roles().await?),
        };
        Ok(roles::permissions_of(user_roles, &stored))
    }

    /// The permissions `user_roles` grant, read from the database: for a
    /// new token, which carries them for its whole life, so a change made
    /// by another process a moment ago must already count.
    pub(crate) async fn stored_permissions(
        &self,
        user_roles: &[String],
    ) -> Result<BTreeSet<String>, AuthError> {
        if user_roles.is_empty() {
            return Ok(BTreeSet::new());
        }
        Ok(roles::permissions_of(
            user_roles,
            &self.store.roles().await?,
        ))
    }

    /// Every stored role, from the database.
    pub(crate) async fn stored_roles(&self) -> Result<Vec<Role>, AuthError> {
        Ok(self.store.roles().await?)
    }

    /// Runs `write`, a change to one account, then forgets that account
    /// from the cache whatever the outcome.
    pub(crate) async fn writing_account<T, E>(
        &self,
        user_id: Uuid,
        write: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let written = write.await;
        self.cache.forget_user(user_id);
        written
    }

    /// Runs `write`, a change to the accounts `user_ids` (and perhaps to the
    /// roles), then forgets those accounts and the roles from the cache
    /// whatever the outcome.
    pub(crate) async fn writing_accounts_and_roles<T, E>(
        &self,
        user_ids: &[Uuid],
        write: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let written = write.await;
        for user_id in user_ids {
            self.cache.forget_user(*user_id);
        }
        self.cache.forget_roles();
        written
    }

    /// Runs `write`, a change to the roles, then forgets them from the
    /// cache whatever the outcome.
    pub(crate) async fn writing_roles<T, E>(
        &self,
        write: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let written = write.await;
        self.cache.forget_roles();
        written
    }

    /// Applies one successful read of the account-change feed that started
    /// at `read_started`.
    pub(crate) fn apply_feed(&self, changes: &[AccountChanged], read_started: Instant) {
        self.cache.apply_feed(changes, read_started);
    }
}

fn require_active(user: Option<Arc<User>>) -> Result<Arc<User>, AuthError> {
    user.filter(|user| !user.disabled)
        .ok_or(AuthError::InvalidToken(TokenError::Revoked))
}
