//! Accounts and roles: who may sign in, with which roles, and what each role grants.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::email::Email;
use crate::hashing::PasswordHashString;
use crate::roles::Role;
use crate::store::StoreError;

/// A user account as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub password_hash: PasswordHashString,
    pub disabled: bool,
    /// Whether the address was proved to be the owner's (or said so by an
    /// operator or an import).
    pub email_verified: bool,
    pub created_at: OffsetDateTime,
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub email: Option<Email>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
}

/// An administrator's change to a user, made whole or not at all; `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// The user's whole set of roles.
    pub roles: Option<Vec<String>>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    pub disabled: Option<bool>,
    /// Whether the address counts as proved (an operator vouches for it).
    pub email_verified: Option<bool>,
}

/// Which users to list and from where.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only users whose id sorts after this one (the page cursor).
    pub after: Option<Uuid>,
    /// Only users whose canonical email contains this text.
    pub email_contains: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// [`StoreError::Conflict`] when the email is taken.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// One page of users in id order (ids are UUIDv7, so oldest first).
    async fn query_users(&self, query: &UserQuery) -> Result<Vec<UserRecord>, StoreError>;
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// [`StoreError::Conflict`] when the new email is taken; [`StoreError::NotFound`].
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> Result<(), StoreError>;
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &PasswordHashString,
    ) -> Result<(), StoreError>;
    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError>;
    /// Applies every part of `update` in one transaction.
    /// [`StoreError::LastAdministrator`] (and nothing changed) when it would
    /// leave no active administrator; [`StoreError::NotFound`].
    async fn update_user(&self, id: Uuid, update: &UserUpdate) -> Result<(), StoreError>;
    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError>;
    /// Deletes the user and, with it, every session. [`StoreError::NotFound`].
    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError>;
    /// Every stored role, by name.
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Creates or replaces a role.
    async fn put_role(&self, role: &Role) -> Result<(), StoreError>;
    /// [`StoreError::NotFound`] when there is no such role.
    async fn delete_role(&self, name: &str) -> Result<(), StoreError>;
}
