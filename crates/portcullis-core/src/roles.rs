//! Roles and permissions: a role is a named set of permission strings, and a
//! user's permissions are the union over their roles.
//!
//! The built-in role `admin` holds every permission: the ones Portcullis
//! itself checks plus every permission named by any stored role.

use std::collections::BTreeSet;

/// The built-in role that holds every permission.
pub const ADMIN_ROLE: &str = "admin";
/// Guards the user administration endpoints.
pub const PERMISSION_ADMIN_USERS: &str = "admin:users";
/// Guards the role administration endpoints.
pub const PERMISSION_ADMIN_ROLES: &str = "admin:roles";
/// Guards the OAuth client administration endpoints.
pub const PERMISSION_ADMIN_CLIENTS: &str = "admin:clients";
/// Lets an API introspect tokens (RFC 7662).
pub const PERMISSION_INTROSPECT: &str = "tokens:introspect";
/// The permissions Portcullis defines itself.
pub const BUILT_IN_PERMISSIONS: [&str; 4] = [
    PERMISSION_ADMIN_CLIENTS,
    PERMISSION_ADMIN_ROLES,
    PERMISSION_ADMIN_USERS,
    PERMISSION_INTROSPECT,
];

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub permissions: BTreeSet<String>,
}

/// The permissions held by a user with `user_roles`, given every stored role.
#[must_use]
pub fn permissions_of(user_roles: &[String], all_roles: &[Role]) -> BTreeSet<String> {
    if user_roles.iter().any(|role| role == ADMIN_ROLE) {
        return BUILT_IN_PERMISSIONS
            .iter()
            .map(|p| (*p).to_owned())
            .chain(
                all_roles
                    .iter()
                    .flat_map(|role| role.permissions.iter().cloned()),
            )
            .collect();
    }
    all_roles
        .iter()
        .filter(|role| user_roles.contains(&role.name))
        .flat_map(|role| role.permissions.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, permissions: &[&str]) -> Role {
        Role {
            name: name.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn union_over_roles_and_admin_holds_all() {
        let roles = [
            role("customer", &["books:download"]),
            role("doctor", &["records:read", "books:download"]),
        ];
        let user = permissions_of(
            &["customer".into(), "doctor".into(), "ghost".into()],
            &roles,
        );
        assert_eq!(
            user.into_iter().collect::<Vec<_>>(),
            ["books:download", "records:read"]
        );
        let admin = permissions_of(&["admin".into()], &roles);
        assert_eq!(
            admin.into_iter().collect::<Vec<_>>(),
            [
                "admin:clients",
                "admin:roles",
                "admin:users",
                "books:download",
                "records:read",
                "tokens:introspect"
            ]
        );
        assert!(permissions_of(&[], &roles).is_empty());
    }
}
