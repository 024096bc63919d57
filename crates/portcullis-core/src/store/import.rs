//! Users moved in and out: which of an import batch's emails exist, the
//! batch written whole in one transaction, the costs of the hashes imported
//! (for the verification floor), and every user page by page for an export.
//!
//! Part of the storage boundary described in [`crate::store`]. A batch is
//! about a thousand users: one read to find the existing ones, one
//! transaction to write them with their roles, so a million users take a
//! thousand round trips, not millions. Nothing here decides what to write:
//! the import use case does, and the store writes exactly that.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::email::Email;
use crate::hashing::PasswordHashString;
use crate::store::{StoreError, UserRecord};

/// An account that exists, as an import needs to know it.
#[derive(Debug, Clone)]
pub struct ExistingAccount {
    pub id: Uuid,
    pub email: Email,
    pub password_hash: PasswordHashString,
    pub disabled: bool,
}

/// A new account of an import batch.
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    pub id: Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub password: StoredPassword,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub roles: Vec<String>,
}

/// A password hash as an import stores it, with the stand-in of its cost
/// when it was made elsewhere ([`crate::hashing::StoredHash::cost_stand_in`]).
#[derive(Debug, Clone)]
pub struct StoredPassword {
    pub hash: PasswordHashString,
    pub cost_stand_in: Option<PasswordHashString>,
}

/// What an import changes on an existing account; `None` keeps a field.
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    pub id: Uuid,
    pub name: Option<String>,
    pub password: Option<StoredPassword>,
    pub email_verified: Option<bool>,
    pub disabled: Option<bool>,
    /// Replaces every role the account holds.
    pub roles: Option<Vec<String>>,
}

/// Everything one import batch writes, in one transaction.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    /// Roles to create with no permission, unless they exist by then.
    pub roles_to_create: Vec<String>,
    pub new_accounts: Vec<ImportedAccount>,
    pub updates: Vec<AccountUpdate>,
    /// Accounts whose live sessions end (a new hash, or disabled).
    pub end_sessions_of: Vec<Uuid>,
    /// Accounts whose personal access tokens are deleted (disabled).
    pub delete_personal_tokens_of: Vec<Uuid>,
    /// When the sessions end.
    pub now: OffsetDateTime,
}

#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// The accounts, among `emails`, that exist (in any order).
    async fn existing_accounts(&self, emails: &[Email])
    -> Result<Vec<ExistingAccount>, StoreError>;
    /// Writes the whole batch in one transaction, or nothing:
    /// [`StoreError::Conflict`] when an email of a new account is taken,
    /// [`StoreError::LastAdministrator`] when its updates would leave no
    /// active administrator where there was one.
    async fn write_import_batch(&self, batch: &ImportBatch) -> Result<(), StoreError>;
    /// Each distinct cost stand-in of the hashes stored, once, cheaply
    /// (not by reading every account).
    async fn imported_hash_costs(&self) -> Result<Vec<PasswordHashString>, StoreError>;
    /// At most `limit` users whose id sorts after `after` (from the first
    /// when `None`), in id order, with their roles and hashes.
    async fn users_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError>;
}
