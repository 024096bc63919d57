//! Taking every user out, hashes included, in the shape an import reads
//! back: so an instance can be moved, or its users kept elsewhere.
//!
//! Users come a page at a time in id order (ids are UUIDv7, so oldest
//! first), so an export of a million users holds one page in memory. A
//! hash leaves as stored (a PHC string, or the format it was imported in);
//! an account without a password leaves without a hash, and imports back
//! without one. The hashes are secrets: [`ExportedUser`]'s `Debug` hides
//! them, and this module must never log one.

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::Core;
use crate::email::Email;
use crate::error::AuthError;
use crate::hashing::PasswordHashString;
use crate::principal::{Authorized, ManageUsers};
use crate::store::UserRecord;

/// Users read per page.
pub const EXPORT_PAGE_SIZE: u32 = 1_000;

/// A user as an export writes it.
#[derive(Debug, Clone)]
pub struct ExportedUser {
    pub email: Email,
    pub name: Option<String>,
    /// `None` for an account without a password.
    pub password_hash: Option<PasswordHashString>,
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
}

/// One page of users, and where the next starts (`None` after the last).
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub users: Vec<ExportedUser>,
    pub next: Option<Uuid>,
}

/// Exports, for administrators.
pub struct Exports {
    core: Arc<Core>,
}

impl Exports {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The page of users after `after` (from the first when `None`).
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn page(
        &self,
        _authorized: &Authorized<ManageUsers>,
        after: Option<Uuid>,
    ) -> Result<ExportPage, AuthError> {
        let records = self.core.store.users_after(after, EXPORT_PAGE_SIZE).await?;
        let full = records.len() >= EXPORT_PAGE_SIZE as usize;
        let next = records.last().map(|user| user.id).filter(|_| full);
        Ok(ExportPage {
            users: records.into_iter().map(exported).collect(),
            next,
        })
    }
}

fn exported(record: UserRecord) -> ExportedUser {
    ExportedUser {
        password_hash: (!record.password_hash.is_no_password()).then_some(record.password_hash),
        email: record.email,
        name: record.name,
        email_verified: record.email_verified,
        roles: record.roles,
        disabled: record.disabled,
        created_at: record.created_at,
    }
}
