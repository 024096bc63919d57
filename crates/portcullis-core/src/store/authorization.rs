//! Authorization codes and remembered consents: what browser sign-in
//! (OAuth 2.1 authorization code with PKCE) keeps between the front channel
//! and the token endpoint.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{SessionRecord, StoreError};

/// An authorization code as stored: its SHA-256 and what it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    pub code_hash: [u8; 32],
    pub client_id: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    /// The PKCE S256 challenge (RFC 7636), base64url.
    pub code_challenge: String,
    /// The application permissions granted.
    pub scope: Vec<String>,
    /// The OpenID scopes granted, space-separated.
    pub openid_scope: String,
    pub nonce: Option<String>,
    /// The browser session that signed in (the id token's `sid`).
    pub browser_session_id: Uuid,
    /// When the user last proved who they are (the id token's `auth_time`).
    pub authenticated_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Set by the one redemption that won.
    pub redeemed_at: Option<OffsetDateTime>,
    /// The session that redemption opened.
    pub session_id: Option<Uuid>,
}

/// What a user allowed a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub user_id: Uuid,
    pub client_id: Uuid,
    /// Every scope allowed (OpenID scopes and permissions).
    pub scope: Vec<String>,
    pub granted_at: OffsetDateTime,
}

#[async_trait]
pub trait AuthorizationStore: Send + Sync + 'static {
    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
    ) -> Result<(), StoreError>;
    async fn authorization_code(
        &self,
        code_hash: &[u8; 32],
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    /// In one transaction: marks the code redeemed at `now` by `session`,
    /// unless it was redeemed already, and inserts that session. `false`,
    /// writing nothing, when another redemption won.
    async fn redeem_authorization_code(
        &self,
        code_hash: &[u8; 32],
        session: &SessionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Deletes at most `limit` codes made before `before`; how many went.
    async fn prune_authorization_codes(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;

    async fn consent(
        &self,
        user_id: Uuid,
        client_id: Uuid,
    ) -> Result<Option<ConsentRecord>, StoreError>;
    /// Stores `consent`, replacing the one of the same user and client.
    async fn grant_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;
    /// The user's consents, oldest first.
    async fn consents_of_user(&self, user_id: Uuid) -> Result<Vec<ConsentRecord>, StoreError>;
    /// `false` when there was none.
    async fn revoke_consent(&self, user_id: Uuid, client_id: Uuid) -> Result<bool, StoreError>;
    /// Revokes every live session opened for `client_id` (a client removed),
    /// or only `user_id`'s (a consent taken back); the ids revoked.
    async fn revoke_sessions_of_client(
        &self,
        client_id: Uuid,
        user_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError>;
}
