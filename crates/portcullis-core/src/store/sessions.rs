//! Sessions and their refresh-token chains.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::refresh::{RefreshSecretHash, SessionRefreshKey};
use crate::store::{StoreError, UserRecord};

/// A login session and the state of its refresh-token chain.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    /// Last time a token of this session was issued (login or refresh).
    pub last_used_at: OffsetDateTime,
    /// The absolute end of the session, whatever its use.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub refresh_key: SessionRefreshKey,
    pub refresh_generation: u64,
    pub refresh_hash: RefreshSecretHash,
    /// The permissions this session was narrowed to at login, if it was.
    pub scope: Option<Vec<String>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub origin: SessionOrigin,
}

/// Where a session came from, which decides what may continue it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOrigin {
    /// A grant of the token endpoint without a client (password, email
    /// code): its refresh token works without client authentication.
    Api,
    /// The browser session of the hosted pages. Its refresh token is the
    /// cookie, never rotated and never accepted by the token endpoint.
    Browser,
    /// An authorization code redeemed by a registered client: its refresh
    /// token works for that client only.
    Client {
        client_id: Uuid,
        /// When the user last proved who they are (the id token's `auth_time`).
        authenticated_at: OffsetDateTime,
        /// The OpenID scopes granted (`openid profile email offline_access`), space-separated.
        openid_scope: String,
    },
}

/// Which sessions are over for good, for [`Store::prune_sessions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCutoff {
    pub now: OffsetDateTime,
    /// Revoked before this: their access tokens have all expired.
    pub revoked_before: OffsetDateTime,
    /// Unused since before this: past the idle lifetime.
    pub idle_before: OffsetDateTime,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError>;
    /// A session and its user's account with the roles held (`None` when
    /// the account is gone), read together in one round trip: what the
    /// refresh grant needs before its compare-and-set.
    async fn session_with_user(
        &self,
        id: Uuid,
    ) -> Result<Option<(SessionRecord, Option<UserRecord>)>, StoreError>;
    /// Moves a live session from `from_generation` to the next one, whose
    /// secret hashes to `next_hash`, and marks it used at `now`. Returns
    /// `false`, changing nothing, when the session is revoked or no longer at
    /// `from_generation` (another refresh won). Must be a single atomic
    /// compare-and-set in the database.
    async fn rotate_refresh_token(
        &self,
        id: Uuid,
        from_generation: u64,
        next_hash: &RefreshSecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Marks a live session used at `now` (a browser session, whose cookie
    /// is never rotated); `false` when it is missing or revoked.
    async fn touch_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// The user's sessions that are not revoked, newest first (expired ones included).
    async fn sessions_of_user(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError>;
    /// Revokes one session; `false` when it was missing or already revoked.
    async fn revoke_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Revokes every live session of a user but `except`; returns the ids revoked.
    async fn revoke_sessions_of_user(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// Deletes at most `limit` sessions that can serve no token any more:
    /// revoked before `cutoff.revoked_before`, past their absolute end
    /// (`expires_at` before `cutoff.now`), or unused since `cutoff.idle_before`.
    /// Their records in the revocation feed stay (see
    /// [`Store::prune_revocations`]). Returns how many went.
    async fn prune_sessions(&self, cutoff: &SessionCutoff, limit: u32) -> Result<u64, StoreError>;
}
