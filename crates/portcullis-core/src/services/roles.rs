//! Administration of roles: listing them (the built-in `admin` first, with
//! every permission it holds), creating or replacing one, deleting one.
//!
//! An administrator defines only roles whose permissions it holds itself.
//! The built-in `admin` role cannot be defined or deleted. Every change goes
//! through the account directory, which forgets the cached roles before the
//! request answers; other instances learn of it through the account-change
//! feed.

use std::sync::Arc;

use crate::core::Core;
use crate::error::{AuthError, InvalidFields, invalid};
use crate::names::{Permission, RoleName, parse_all};
use crate::principal::{Authorized, ManageRoles};
use crate::roles::{self, ADMIN_ROLE, Role};
use crate::store::StoreError;

/// Roles, for administrators.
pub struct Roles {
    core: Arc<Core>,
}

impl Roles {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Every role, the built-in `admin` first with the permissions it holds.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list(
        &self,
        _authorized: &Authorized<ManageRoles>,
    ) -> Result<Vec<Role>, AuthError> {
        let stored = self.core.accounts.stored_roles().await?;
        let admin = Role {
            name: ADMIN_ROLE.to_owned(),
            permissions: roles::permissions_of(&[ADMIN_ROLE.to_owned()], &stored),
        };
        Ok(std::iter::once(admin).chain(stored).collect())
    }

    /// Creates or replaces a role.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for a bad name or permission, or for `admin`.
    pub async fn put(
        &self,
        authorized: &Authorized<ManageRoles>,
        name: &str,
        permissions: &[String],
    ) -> Result<Role, AuthError> {
        let mut invalid = InvalidFields::default();
        let name = invalid.check("name", RoleName::parse(name));
        if name
            .as_ref()
            .is_some_and(|name| name.as_str() == ADMIN_ROLE)
        {
            invalid.add(
                "name",
                "the admin role is built in and holds every permission",
            );
        }
        let permissions = invalid.check("permissions", parse_all(permissions, Permission::parse));
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(invalid.into_error());
        };
        invalid.finish()?;
        let role = Role {
            name: name.into_string(),
            permissions: permissions
                .into_iter()
                .map(Permission::into_string)
                .collect(),
        };
        authorized.administrator().require_all(&role.permissions)?;
        self.core
            .accounts
            .writing_roles(self.core.store.put_role(&role))
            .await?;
        Ok(role)
    }

    /// Deletes a role; users keep the name but it grants nothing.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Invalid`] for `admin`.
    pub async fn delete(
        &self,
        _authorized: &Authorized<ManageRoles>,
        name: &str,
    ) -> Result<(), AuthError> {
        if name == ADMIN_ROLE {
            return Err(invalid("name", "the admin role is built in"));
        }
        match self
            .core
            .accounts
            .writing_roles(self.core.store.delete_role(name))
            .await
        {
            Err(StoreError::NotFound) => Err(AuthError::NotFound),
            other => Ok(other?),
        }
    }
}
