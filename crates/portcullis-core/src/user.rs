//! A user as the outside may see it: the account without its password hash.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::email::Email;
use crate::store::UserRecord;

/// A user account, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub email_verified: bool,
    pub created_at: OffsetDateTime,
}

impl From<UserRecord> for User {
    fn from(record: UserRecord) -> Self {
        Self {
            id: record.id,
            email: record.email,
            name: record.name,
            roles: record.roles,
            disabled: record.disabled,
            email_verified: record.email_verified,
            created_at: record.created_at,
        }
    }
}
