//! Administration on the wire: the user list, changes to a user, roles.

use portcullis_core::roles::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::wire::{DisplayName, PermissionName, RoleName, UserBody, present};

/// `GET /users` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserListQuery {
    /// Page size; 50 when absent.
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(nullable = false, format = Uuid)]
    pub(crate) cursor: Option<String>,
    /// Only users whose email contains this text.
    #[param(nullable = false)]
    pub(crate) email: Option<String>,
}

/// `GET /users` answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserListBody {
    pub(crate) items: Vec<UserBody>,
    /// The `cursor` of the next page; `null` on the last page.
    #[schema(required)]
    pub(crate) next_cursor: Option<Uuid>,
}

/// `PATCH /users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminUserChangeRequest {
    /// Replaces the user's roles.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RoleName>>)]
    pub(crate) roles: Option<Vec<String>>,
    /// `true` also revokes every session and personal access token of the user.
    #[serde(default)]
    pub(crate) disabled: Option<bool>,
    /// Marks the user's address as verified (or not), as the administrator vouches.
    #[serde(default)]
    pub(crate) email_verified: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = DisplayName, inline)]
    pub(crate) name: Option<Option<String>>,
}

/// A role: `GET /roles` items and the answer of `PUT /roles/{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleBody {
    pub(crate) name: String,
    pub(crate) permissions: Vec<String>,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        Self {
            name: role.name,
            permissions: role.permissions.into_iter().collect(),
        }
    }
}

/// `PUT /roles/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRoleRequest {
    /// The role's whole set of permissions, such as `books:download`.
    #[schema(value_type = Vec<PermissionName>)]
    pub(crate) permissions: Vec<String>,
}
