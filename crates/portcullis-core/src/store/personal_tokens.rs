//! Personal access tokens, stored as hashes.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::personal_tokens::PersonalTokenSecretHash;
use crate::store::StoreError;

/// A personal access token as stored: never the token itself.
#[derive(Debug, Clone)]
pub struct PersonalTokenRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub secret_hash: PersonalTokenSecretHash,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait PersonalTokenStore: Send + Sync + 'static {
    async fn insert_personal_token(&self, token: &PersonalTokenRecord) -> Result<(), StoreError>;
    async fn personal_token(&self, id: Uuid) -> Result<Option<PersonalTokenRecord>, StoreError>;
    /// The user's tokens, newest first.
    async fn personal_tokens_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<PersonalTokenRecord>, StoreError>;
    /// Deletes one token; `false` when there was none.
    async fn delete_personal_token(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Deletes every token of a user; returns how many.
    async fn delete_personal_tokens_of_user(&self, user_id: Uuid) -> Result<u64, StoreError>;
    /// Records when tokens were last used, many at once (uses are batched in memory).
    async fn record_personal_token_uses(
        &self,
        uses: &[(Uuid, OffsetDateTime)],
    ) -> Result<(), StoreError>;
}
