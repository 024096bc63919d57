//! The storage boundary: what the domain needs persisted, as one trait.
//!
//! Implementations live in `portcullis-store` (SQLite and PostgreSQL). They
//! must make every method atomic on its own, return [`StoreError`] and never
//! a driver error, and serialise [`Store::rotate_refresh_token`] in the
//! database itself, since several server processes may share it. A method
//! that writes must be safe to drop at any await (a client that hangs up):
//! the write then happens whole or not at all, never leaves a transaction
//! open, and an `Ok` means it is committed. Times are stored with
//! one-second precision.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::email::Email;
use crate::hashing::PasswordHashString;
use crate::keys::SigningKey;
use crate::personal_tokens::PersonalTokenSecretHash;
use crate::refresh::{RefreshSecretHash, SessionRefreshKey};
use crate::roles::Role;

/// What can go wrong in storage, as the domain sees it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (an email already taken).
    #[error("conflict")]
    Conflict,
    /// The database cannot be reached or timed out; worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

/// A user account as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub password_hash: PasswordHashString,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub email: Option<Email>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
}

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
}

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

/// Which users to list and from where.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only users whose id sorts after this one (the page cursor).
    pub after: Option<Uuid>,
    /// Only users whose canonical email contains this text.
    pub email_contains: Option<String>,
    pub limit: u32,
}

/// The database connections of a store's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open.
    pub open: u32,
    /// Of those, waiting for work.
    pub idle: u32,
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

/// What the account-change feed says changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountChanged {
    /// This user's email, name, disabled flag or roles, or the user is gone.
    User(Uuid),
    /// A role was created, changed or deleted: any account's permissions may differ.
    Roles,
    /// Too much changed to name (a truncated table, a bulk update): forget
    /// every account and role.
    Everything,
}

/// Where a reader of the account-change feed or the revocations is up to,
/// as the store counts (an entry number, a transaction id). Positions only
/// grow on one database; a position past the database's own means the
/// database went back (a failover, a restore), and the store then answers
/// as if read from the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition(pub i64);

impl FeedPosition {
    /// Before every entry: reading from here reads all that is kept.
    pub const BEGINNING: Self = Self(0);
}

/// One read of the account-change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChanges {
    /// Each change committed after the position read from, once; at most
    /// [`MAX_ACCOUNT_CHANGES_PER_READ`], or else just
    /// [`AccountChanged::Everything`].
    pub changes: Vec<AccountChanged>,
    /// Where the next read continues.
    pub position: FeedPosition,
}

/// One read of the revocations made since a [`FeedPosition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationsRead {
    /// Each session revoked, with when.
    pub sessions: Vec<(Uuid, OffsetDateTime)>,
    /// Where the next read continues.
    pub position: FeedPosition,
}

/// The most changes one read of the feed names; more are read as
/// [`AccountChanged::Everything`].
pub const MAX_ACCOUNT_CHANGES_PER_READ: usize = 10_000;

/// Failed login attempts counted against one throttling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub last_at: OffsetDateTime,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Answers `Ok` only when the database can take a write right now:
    /// within about a second, it took the write lock (or did a write that
    /// changes nothing) and let it go. An error when it is read-only,
    /// locked by another writer, or unreachable; for readiness checks.
    async fn check_writable(&self) -> Result<(), StoreError>;
    /// Connections of the pool right now, for monitoring.
    fn pool_status(&self) -> PoolStatus;

    /// [`StoreError::Conflict`] when the email is taken.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// One page of users in id order (ids are UUIDv7, so oldest first).
    async fn query_users(&self, query: &UserQuery) -> Result<Vec<UserRecord>, StoreError>;
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// [`StoreError::Conflict`] when the new email is taken; [`StoreError::NotFound`].
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> Result<(), StoreError>;
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &PasswordHashString,
    ) -> Result<(), StoreError>;
    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError>;
    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError>;
    /// Deletes the user and, with it, every session. [`StoreError::NotFound`].
    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError>;

    /// Every stored role, by name.
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Creates or replaces a role.
    async fn put_role(&self, role: &Role) -> Result<(), StoreError>;
    /// [`StoreError::NotFound`] when there is no such role.
    async fn delete_role(&self, name: &str) -> Result<(), StoreError>;

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError>;
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
    /// Sessions revoked, by whichever process, since the read that returned
    /// `after`, with when, including sessions deleted since with their user:
    /// every revocation committed since then is in this read or a later one,
    /// whatever the clocks of the processes and however long its transaction
    /// ran (it may also repeat in a later read). From
    /// [`FeedPosition::BEGINNING`], or from a position the database has gone
    /// back behind, every revocation kept (about one token lifetime's, see
    /// [`Store::prune_sessions`]); `None` returns only the current position.
    async fn sessions_revoked_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<RevocationsRead, StoreError>;
    /// The accounts and roles changed, however and by whichever process,
    /// since the read that returned `after`: every change committed since
    /// then is in this read or a later one, however long its transaction
    /// ran (it may also repeat in a later read). From a position the
    /// database has gone back behind, [`AccountChanged::Everything`]. `None`
    /// returns only the current position, for a reader that keeps nothing yet.
    async fn account_changes_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<AccountChanges, StoreError>;
    /// Deletes at most `limit` feed entries older than `age` by the
    /// database's clock; returns how many.
    async fn prune_account_changes(
        &self,
        age: time::Duration,
        limit: u32,
    ) -> Result<u64, StoreError>;
    /// Deletes at most `limit` sessions that can serve no token any more:
    /// revoked before `cutoff.revoked_before`, past their absolute end
    /// (`expires_at` before `cutoff.now`), or unused since `cutoff.idle_before`;
    /// and at most `limit` records of revocations made before
    /// `cutoff.revoked_before`. Returns how many rows went.
    async fn prune_sessions(&self, cutoff: &SessionCutoff, limit: u32) -> Result<u64, StoreError>;

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;
    /// Stores `key` as the active key only when there is no key at all;
    /// returns whether it did (two instances starting at once create one key).
    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError>;
    /// Marks every active key retiring since `now` and stores `key` as the
    /// active one, in one transaction.
    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

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
    /// Deletes retiring keys that stopped signing before `retired_before`; returns how many.
    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Deletes at most `limit` failure counts whose last failure is before `before`.
    async fn prune_login_failures(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;

    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError>;
    /// Adds one failure at `now`; a count whose last failure is before
    /// `forget_before` starts again from one. Atomic.
    async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
}
