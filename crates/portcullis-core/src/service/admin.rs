//! Administration: users and roles, for callers holding `admin:users`.
//!
//! Every method here takes the caller and checks the permission itself, so a
//! handler cannot forget to. Disabling a user ends their sessions and
//! deletes their personal access tokens in the same call.

use uuid::Uuid;

use super::{AuthError, AuthService, Principal, User, field, normalise_name};
use crate::roles::{self, PERMISSION_ADMIN_USERS, Role};
use crate::store::{ProfileChange, StoreError, UserQuery};

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
    pub name: Option<Option<&'a str>>,
}

impl AuthService {
    /// Checks that the caller holds `permission`.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] naming the permission.
    pub fn authorize(&self, principal: &Principal, permission: &str) -> Result<(), AuthError> {
        if principal.has_permission(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                needed: permission.to_owned(),
            })
        }
    }

    /// A page of users, optionally only those whose email contains `email`.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::Invalid`] for a bad limit.
    pub async fn admin_list_users(
        &self,
        principal: &Principal,
        limit: Option<u32>,
        cursor: Option<Uuid>,
        email: Option<&str>,
    ) -> Result<UserPage, AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(AuthError::Invalid(vec![field(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            )]));
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
    /// [`AuthError::Forbidden`], [`AuthError::NotFound`].
    pub async fn admin_user(&self, principal: &Principal, id: Uuid) -> Result<User, AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        self.store
            .user_by_id(id)
            .await?
            .map(User::from)
            .ok_or(AuthError::NotFound)
    }

    /// Changes roles, the disabled flag and/or the name of a user.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::NotFound`], [`AuthError::Invalid`].
    pub async fn admin_update_user(
        &self,
        principal: &Principal,
        id: Uuid,
        change: UserChange<'_>,
    ) -> Result<User, AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        let mut errors = Vec::new();
        for role in change.roles.iter().flatten() {
            if let Err(e) = roles::validate_name("role", role) {
                errors.push(field("roles", e.0));
            }
        }
        let name = match change.name {
            Some(Some(name)) => match normalise_name(name) {
                Ok(name) => Some(name),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            Some(None) => Some(None),
            None => None,
        };
        if !errors.is_empty() {
            return Err(AuthError::Invalid(errors));
        }
        let user = self
            .store
            .user_by_id(id)
            .await?
            .ok_or(AuthError::NotFound)?;
        let changes = async {
            if let Some(roles) = change.roles {
                self.store
                    .set_roles(id, &super::sorted_unique(roles))
                    .await?;
            }
            if name.is_some() {
                self.store
                    .update_profile(id, &ProfileChange { email: None, name })
                    .await?;
            }
            match change.disabled {
                Some(true) if !user.disabled => self.disable_account(id).await?,
                Some(false) if user.disabled => self.store.set_disabled(id, false).await?,
                _ => {}
            }
            Ok::<(), AuthError>(())
        };
        self.writing_account(id, changes).await?;
        self.admin_user(principal, id).await
    }

    /// Deletes a user with their sessions and tokens.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::NotFound`].
    pub async fn admin_delete_user(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        self.store
            .user_by_id(id)
            .await?
            .ok_or(AuthError::NotFound)?;
        self.delete_user(id).await
    }

    /// Every role, the built-in `admin` first with the permissions it holds.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`].
    pub async fn admin_roles(&self, principal: &Principal) -> Result<Vec<Role>, AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        self.roles_with_admin().await
    }

    /// Every role, the built-in `admin` first with the permissions it holds.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn roles_with_admin(&self) -> Result<Vec<Role>, AuthError> {
        let stored = self.store.roles().await?;
        let admin = Role {
            name: roles::ADMIN_ROLE.to_owned(),
            permissions: roles::permissions_of(&[roles::ADMIN_ROLE.to_owned()], &stored),
        };
        Ok(std::iter::once(admin).chain(stored).collect())
    }

    /// Creates or replaces a role.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::Invalid`].
    pub async fn admin_put_role(
        &self,
        principal: &Principal,
        name: &str,
        permissions: &[String],
    ) -> Result<Role, AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        self.put_role(name, permissions).await
    }

    /// Deletes a role; users keep the name but it grants nothing.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::NotFound`], [`AuthError::Invalid`] for `admin`.
    pub async fn admin_delete_role(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<(), AuthError> {
        self.authorize(principal, PERMISSION_ADMIN_USERS)?;
        if name == roles::ADMIN_ROLE {
            return Err(AuthError::Invalid(vec![field(
                "name",
                "the admin role is built in",
            )]));
        }
        match self.writing_roles(self.store.delete_role(name)).await {
            Err(StoreError::NotFound) => Err(AuthError::NotFound),
            other => Ok(other?),
        }
    }
}
