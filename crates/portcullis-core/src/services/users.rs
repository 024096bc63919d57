//! Administration of every user: listing, reading, changing roles, name
//! and the disabled flag, setting a password, deleting. Each method takes
//! the proof that the caller may manage users ([`Authorized`]), which only
//! the permission check or the command line's operator can make.
//!
//! An administrator grants only roles whose permissions it holds itself, so
//! nobody, itself included, can be raised above the rights of whoever
//! raised them. Disabling a user ends their sessions and deletes their
//! personal access tokens in the same call; setting a password ends their
//! sessions.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use crate::core::{Core, PersonalTokensOnNewPassword};
use crate::email::Email;
use crate::error::{AuthError, InvalidFields, invalid, password_refused};
use crate::names::{DisplayName, RoleName, parse_all};
use crate::principal::{Authorized, ManageUsers};
use crate::roles;
use crate::services::accounts::{NewAccount, create_account};
use crate::store::{UserQuery, UserRecord, UserUpdate};
use crate::user::User;

/// The default and largest page of `GET /users`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// One page of users and the cursor of the next, if any.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub items: Vec<User>,
    pub next_cursor: Option<Uuid>,
}

/// What an administrator may change on a user.
#[derive(Debug, Clone, Default)]
pub struct UserChange<'a> {
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<&'a str>>,
    /// Marks the address proved (or not), as an operator vouches.
    pub email_verified: Option<bool>,
}

/// Every user, for administrators.
pub struct Users {
    core: Arc<Core>,
}

impl Users {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Creates an account with the given roles, whatever the sign-up mode.
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::EmailTaken`].
    pub async fn create(
        &self,
        authorized: &Authorized<ManageUsers>,
        account: NewAccount<'_>,
    ) -> Result<User, AuthError> {
        self.may_grant(authorized, &account.roles, &[]).await?;
        create_account(&self.core, account).await
    }

    /// How many accounts exist.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn count(&self, _authorized: &Authorized<ManageUsers>) -> Result<u64, AuthError> {
        Ok(self.core.store.count_users().await?)
    }

    /// Every user, oldest first.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn all(&self, _authorized: &Authorized<ManageUsers>) -> Result<Vec<User>, AuthError> {
        Ok(self
            .core
            .store
            .list_users()
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// A page of users, optionally only those whose email contains `email`.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for a bad limit.
    pub async fn page(
        &self,
        _authorized: &Authorized<ManageUsers>,
        limit: Option<u32>,
        cursor: Option<Uuid>,
        email: Option<&str>,
    ) -> Result<UserPage, AuthError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let query = UserQuery {
            after: cursor,
            email_contains: email
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            limit: limit + 1,
        };
        let mut items: Vec<User> = self
            .core
            .store
            .query_users(&query)
            .await?
            .into_iter()
            .map(User::from)
            .collect();
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|user| user.id)
        } else {
            None
        };
        Ok(UserPage { items, next_cursor })
    }

    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn get(
        &self,
        _authorized: &Authorized<ManageUsers>,
        id: Uuid,
    ) -> Result<User, AuthError> {
        Ok(self.stored(id).await?.into())
    }

    /// Changes roles, the disabled flag, whether the address counts as
    /// verified and/or the name of a user, all in one transaction: a
    /// refused part changes nothing.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Invalid`],
    /// [`AuthError::LastAdministrator`] when no active administrator would
    /// be left.
    pub async fn update(
        &self,
        authorized: &Authorized<ManageUsers>,
        id: Uuid,
        change: UserChange<'_>,
    ) -> Result<User, AuthError> {
        let core = &self.core;
        let mut invalid = InvalidFields::default();
        let roles = change
            .roles
            .and_then(|roles| invalid.check("roles", parse_all(&roles, RoleName::parse)));
        let name = change.name.and_then(|name| match name {
            Some(name) => invalid
                .check("name", DisplayName::parse(name))
                .map(|name| name.map(DisplayName::into_string)),
            None => Some(None),
        });
        invalid.finish()?;
        let user = self.stored(id).await?;
        let roles: Option<Vec<String>> =
            roles.map(|roles| roles.into_iter().map(RoleName::into_string).collect());
        if let Some(roles) = &roles {
            self.may_grant(authorized, roles, &user.roles).await?;
        }
        let update = UserUpdate {
            roles,
            name,
            disabled: change
                .disabled
                .filter(|&disabled| disabled != user.disabled),
            email_verified: change.email_verified,
        };
        let changes = async {
            core.store.update_user(id, &update).await?;
            if update.disabled == Some(true) {
                self.end_credentials(id).await?;
            }
            Ok::<(), AuthError>(())
        };
        core.accounts.writing_account(id, changes).await?;
        self.get(authorized, id).await
    }

    /// Deletes a user with their sessions and tokens.
    ///
    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn delete(
        &self,
        _authorized: &Authorized<ManageUsers>,
        id: Uuid,
    ) -> Result<(), AuthError> {
        self.stored(id).await?;
        self.core.delete_account(id).await
    }

    /// Disables the account with this email and ends all its sessions and
    /// personal access tokens at once.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Invalid`] for a malformed email.
    pub async fn disable_by_email(
        &self,
        _authorized: &Authorized<ManageUsers>,
        email: &str,
    ) -> Result<User, AuthError> {
        let user = self.stored_by_email(email).await?;
        self.core
            .accounts
            .writing_account(user.id, self.disable(user.id))
            .await?;
        Ok(User {
            disabled: true,
            ..user.into()
        })
    }

    /// Sets the password of the account with this email; every session of
    /// the user ends, and the personal access tokens too if asked.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Invalid`].
    pub async fn set_password_by_email(
        &self,
        _authorized: &Authorized<ManageUsers>,
        email: &str,
        password: &SecretString,
        tokens: PersonalTokensOnNewPassword,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let user = self.stored_by_email(email).await?;
        let password = core
            .settings
            .password_policy
            .check(password.expose_secret(), Some(&user.email))
            .map_err(|violations| password_refused("password", violations))?;
        let hash = core.hasher.hash(&password).await?;
        core.replace_password(user.id, &hash, None, tokens).await
    }

    /// Succeeds when the administrator holds every permission of the roles
    /// in `roles` that the user does not have yet (`current`).
    async fn may_grant(
        &self,
        authorized: &Authorized<ManageUsers>,
        roles: &[String],
        current: &[String],
    ) -> Result<(), AuthError> {
        let added: Vec<String> = roles
            .iter()
            .filter(|role| !current.contains(role))
            .cloned()
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        let stored = self.core.accounts.stored_roles().await?;
        authorized
            .administrator()
            .require_all(&roles::permissions_of(&added, &stored))
    }

    /// Marks the account disabled, then ends its sessions and tokens.
    async fn disable(&self, user_id: Uuid) -> Result<(), AuthError> {
        self.core.store.set_disabled(user_id, true).await?;
        self.end_credentials(user_id).await
    }

    /// Ends every session and personal access token of a user just disabled.
    async fn end_credentials(&self, user_id: Uuid) -> Result<(), AuthError> {
        let core = &self.core;
        // Sessions first: their access tokens are the credentials that live
        // on in memory if the second step fails.
        core.revocations.revoke_user_sessions(user_id, None).await?;
        core.accounts
            .writing_account(user_id, core.store.delete_personal_tokens_of_user(user_id))
            .await?;
        Ok(())
    }

    async fn stored(&self, id: Uuid) -> Result<UserRecord, AuthError> {
        self.core
            .store
            .user_by_id(id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    async fn stored_by_email(&self, email: &str) -> Result<UserRecord, AuthError> {
        let email = Email::parse(email).map_err(|e| invalid("email", e.0))?;
        self.core
            .store
            .user_by_email(&email)
            .await?
            .ok_or(AuthError::NotFound)
    }
}
