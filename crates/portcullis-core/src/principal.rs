//! Who is calling: the authenticated [`Principal`] of a request, and the
//! proof, [`Authorized`], that a caller may do administrative work.
//!
//! An administrative use case takes an `&Authorized<R>` argument, and only
//! two things can make one: [`Verification::authorize`], which checks the
//! caller's permission, and an [`Operator`], the person at the command line
//! (who can open the database and so could do anything anyway). Forgetting
//! the check therefore does not compile.
//!
//! [`Verification::authorize`]: crate::services::Verification::authorize

use std::collections::BTreeSet;
use std::marker::PhantomData;

use uuid::Uuid;

use crate::error::AuthError;
use crate::roles::{PERMISSION_ADMIN_CLIENTS, PERMISSION_ADMIN_ROLES, PERMISSION_ADMIN_USERS};

/// What the caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this session.
    Session(Uuid),
    /// This personal access token.
    PersonalToken(Uuid),
    /// An access token a registered client got by browser sign-in, of
    /// this session: its permissions and `/userinfo`, not the account.
    ClientSession(Uuid),
}

/// The authenticated caller of a protected endpoint.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub credential: Credential,
    pub roles: Vec<String>,
    /// The permissions this credential grants right now.
    pub scope: Vec<String>,
}

impl Principal {
    /// The session, when the caller used a session's access token (its own,
    /// or a client's).
    #[must_use]
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session(id) | Credential::ClientSession(id) => Some(id),
            Credential::PersonalToken(_) => None,
        }
    }

    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.scope.iter().any(|granted| granted == permission)
    }

    /// The session of the account's own sign-in, or
    /// [`AuthError::NotWithPersonalToken`] / [`AuthError::NotWithClientToken`].
    pub(crate) fn require_session(&self) -> Result<Uuid, AuthError> {
        match self.credential {
            Credential::Session(id) => Ok(id),
            Credential::PersonalToken(_) => Err(AuthError::NotWithPersonalToken),
            Credential::ClientSession(_) => Err(AuthError::NotWithClientToken),
        }
    }

    /// Succeeds unless the caller is an application holding a token from
    /// browser sign-in: the account's own pages are not an application's.
    pub(crate) fn require_not_client(&self) -> Result<(), AuthError> {
        match self.credential {
            Credential::ClientSession(_) => Err(AuthError::NotWithClientToken),
            Credential::Session(_) | Credential::PersonalToken(_) => Ok(()),
        }
    }

    /// Succeeds when this credential holds `permission`.
    pub(crate) fn require_permission(&self, permission: &str) -> Result<(), AuthError> {
        if self.has_permission(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                needed: permission.to_owned(),
            })
        }
    }
}

/// A right to administer Portcullis, named by the permission that grants it.
pub trait AdminRight {
    const PERMISSION: &'static str;
}

/// Managing users: listing, changing, disabling, deleting them and
/// granting them roles (`admin:users`).
#[derive(Debug)]
pub enum ManageUsers {}

impl AdminRight for ManageUsers {
    const PERMISSION: &'static str = PERMISSION_ADMIN_USERS;
}

/// Defining and deleting roles (`admin:roles`).
#[derive(Debug)]
pub enum ManageRoles {}

impl AdminRight for ManageRoles {
    const PERMISSION: &'static str = PERMISSION_ADMIN_ROLES;
}

/// Registering, changing and removing OAuth clients (`admin:clients`).
#[derive(Debug)]
pub enum ManageClients {}

impl AdminRight for ManageClients {
    const PERMISSION: &'static str = PERMISSION_ADMIN_CLIENTS;
}

/// Who exercises an administrative right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Administrator {
    /// The operator at the command line.
    Operator,
    /// A user whose credential holds the right, with what it grants.
    User { id: Uuid, holds: Holdings },
}

/// What an administrator may hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holdings {
    /// Every permission, even one no role names yet: a session of a holder
    /// of the built-in `admin` role that was not narrowed at login.
    Everything,
    /// These permissions only.
    Only(BTreeSet<String>),
}

impl Administrator {
    /// Whether this administrator holds every permission there is (the
    /// operator, or an unnarrowed session of an `admin`).
    #[must_use]
    pub fn holds_everything(&self) -> bool {
        matches!(
            self,
            Self::Operator
                | Self::User {
                    holds: Holdings::Everything,
                    ..
                }
        )
    }

    /// Succeeds when this administrator holds every one of `permissions`:
    /// nobody may hand out more than they hold.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] naming the first permission missing.
    pub fn require_all<'a>(
        &self,
        permissions: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), AuthError> {
        let Self::User {
            holds: Holdings::Only(held),
            ..
        } = self
        else {
            return Ok(());
        };
        match permissions.into_iter().find(|p| !held.contains(*p)) {
            Some(missing) => Err(AuthError::Forbidden {
                needed: missing.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Proof that [`Administrator`] holds the right `R`. Only
/// [`Verification::authorize`](crate::services::Verification::authorize)
/// and [`Operator::authorize`] make one.
#[derive(Debug)]
pub struct Authorized<R: AdminRight> {
    administrator: Administrator,
    right: PhantomData<fn() -> R>,
}

impl<R: AdminRight> Authorized<R> {
    /// A user's right, once their credential was found to hold it;
    /// `holds_everything` when it is an unnarrowed session of an `admin`.
    pub(crate) fn user(principal: &Principal, holds_everything: bool) -> Result<Self, AuthError> {
        principal.require_permission(R::PERMISSION)?;
        let holds = if holds_everything {
            Holdings::Everything
        } else {
            Holdings::Only(principal.scope.iter().cloned().collect())
        };
        Ok(Self {
            administrator: Administrator::User {
                id: principal.user_id,
                holds,
            },
            right: PhantomData,
        })
    }

    #[must_use]
    pub fn administrator(&self) -> &Administrator {
        &self.administrator
    }
}

/// The person at the command line. Whoever can open the database can
/// already do anything with it, so the operator holds every right; the
/// value exists so that administrative use cases say who is acting.
#[derive(Debug)]
pub struct Operator(());

impl Operator {
    /// The operator of the command line, the only place that makes one.
    #[must_use]
    pub fn at_command_line() -> Self {
        Self(())
    }

    #[must_use]
    pub fn authorize<R: AdminRight>(&self) -> Authorized<R> {
        Authorized {
            administrator: Administrator::Operator,
            right: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scope: &[&str]) -> Principal {
        Principal {
            user_id: Uuid::now_v7(),
            credential: Credential::Session(Uuid::now_v7()),
            roles: vec![],
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn an_administrator_hands_out_only_what_it_holds() {
        let authorized =
            Authorized::<ManageUsers>::user(&principal(&["admin:users", "books:download"]), false)
                .unwrap();
        let wanted = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        assert!(
            authorized
                .administrator()
                .require_all(&wanted(&["books:download"]))
                .is_ok()
        );
        assert!(matches!(
            authorized.administrator().require_all(&wanted(&["books:download", "admin:roles"])),
            Err(AuthError::Forbidden { needed }) if needed == "admin:roles"
        ));
        for unbounded in [
            Administrator::Operator,
            Administrator::User {
                id: Uuid::now_v7(),
                holds: Holdings::Everything,
            },
        ] {
            assert!(unbounded.require_all(&wanted(&["anything:at-all"])).is_ok());
        }
    }

    #[test]
    fn only_a_holder_of_the_permission_is_authorized() {
        assert!(matches!(
            Authorized::<ManageUsers>::user(&principal(&["books:download"]), true),
            Err(AuthError::Forbidden { needed }) if needed == "admin:users"
        ));
        let authorized =
            Authorized::<ManageUsers>::user(&principal(&["admin:users"]), false).unwrap();
        assert!(matches!(
            authorized.administrator(),
            Administrator::User { holds: Holdings::Only(held), .. } if held.contains("admin:users")
        ));
        assert_eq!(
            Operator::at_command_line()
                .authorize::<ManageUsers>()
                .administrator(),
            &Administrator::Operator
        );
    }
}
