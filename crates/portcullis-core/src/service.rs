//! The use cases of Portcullis, each one method of [`AuthService`]: sign up,
//! the password and refresh grants, checking an access token, the account and
//! session operations, and the administration the command line performs.
//!
//! This is where the rules of the contract are enforced in order: throttling
//! before hashing, one byte-identical failure for every bad login, rotation
//! through the store's compare-and-set, reuse detection revoking the session,
//! and every revocation recorded both in the store and in the in-memory deny
//! list. It never sees HTTP; the server maps [`AuthError`] to responses.

mod account_cache;
pub mod admin;
pub mod personal_tokens;
pub mod protected_apis;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::email::Email;
use crate::hashing::{HashingError, PasswordHasher, Verification};
use crate::keys::{KeyRing, PublicJwk, SigningKey};
use crate::password::Password;
use crate::personal_tokens::PersonalToken;
use crate::refresh::{Lineage, RefreshToken, SessionRefreshKey};
use crate::revocation::RevokedSessions;
use crate::roles::{self, Role};
use crate::settings::{AuthSettings, SignupMode};
use crate::store::{
    FeedPosition, ProfileChange, SessionCutoff, SessionRecord, Store, StoreError, UserRecord,
};
use crate::telemetry::{self, LoginOutcome};
use crate::throttle::{self, AccountAttempts, ThrottleSubject};
use crate::tokens::{AccessGrant, AccessTokenClaims, AccessTokens, TokenError};
use account_cache::{AccountCache, Lookup};

/// How long the account-change feed keeps an entry: far longer than any
/// process goes between two reads while it trusts its cache.
const ACCOUNT_CHANGES_RETENTION: Duration = Duration::minutes(10);

/// How soon after an account or role changes, in any process sharing the
/// database, every running server shows the change: each server's account
/// cache answers only this long after its last read of the change feed,
/// which it reads every half second.
pub const ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN: std::time::Duration =
    account_cache::TRUST_PER_READ;

/// The least time between two key reloads caused by tokens with unknown keys
/// (a flood of forged `kid`s must not become a flood of queries).
const KEY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Rows deleted per statement by [`AuthService::housekeeping`], and how many
/// statements one run may take: a run never holds the database for long.
const HOUSEKEEPING_BATCH: u32 = 1_000;
const HOUSEKEEPING_MAX_BATCHES: u32 = 50;

/// Longest display name accepted, in characters.
pub const MAX_NAME_LENGTH: usize = 200;

/// Why a use case failed, in the terms the contract distinguishes.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong credentials, unknown or disabled user, or an unusable refresh token.
    #[error("the credentials or refresh token are invalid")]
    InvalidGrant,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("too many failed attempts; retry in {retry_after_seconds} s")]
    Throttled { retry_after_seconds: u64 },
    #[error("the input is invalid")]
    Invalid(Vec<FieldError>),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("sign-up is closed")]
    SignupClosed,
    #[error("{0}")]
    InvalidToken(TokenError),
    #[error("the current password is incorrect")]
    IncorrectPassword,
    #[error("not found")]
    NotFound,
    /// The caller lacks the permission named.
    #[error("this needs the permission {needed}")]
    Forbidden { needed: String },
    /// A personal access token cannot do this (manage tokens, change the password, …).
    #[error("a personal access token cannot do this; use a session's access token")]
    NotWithPersonalToken,
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

/// One invalid input field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Conflict | StoreError::Other(_) => Self::Internal(error.to_string()),
        }
    }
}

impl From<HashingError> for AuthError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A user as the outside may see it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub disabled: bool,
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
            created_at: record.created_at,
        }
    }
}

/// Input for a new account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: Option<&'a str>,
    pub roles: Vec<String>,
}

/// Where a login or refresh came from, kept with the session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the token endpoint returns on success.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
}

/// What the caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this session.
    Session(Uuid),
    /// This personal access token.
    PersonalToken(Uuid),
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
    /// The session, when the caller used a session's access token.
    #[must_use]
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::PersonalToken(_) => None,
        }
    }

    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.scope.iter().any(|granted| granted == permission)
    }

    /// The session, or [`AuthError::NotWithPersonalToken`].
    fn require_session(&self) -> Result<Uuid, AuthError> {
        self.session_id().ok_or(AuthError::NotWithPersonalToken)
    }
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current: bool,
}

/// Changes asked for through `PATCH /me`.
#[derive(Debug, Clone, Default)]
pub struct AccountChange<'a> {
    pub email: Option<&'a str>,
    pub name: Option<Option<&'a str>>,
    pub current_password: Option<&'a str>,
}

/// The domain, wired to a store.
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    tokens: AccessTokens,
    revoked: RevokedSessions,
    /// When each personal access token was last used, not yet written.
    personal_token_uses: Mutex<HashMap<Uuid, OffsetDateTime>>,
    /// Makes password checks of one account wait for each other.
    account_attempts: AccountAttempts,
    /// Where [`AuthService::refresh_revocations`] has read the revocations up to.
    revocation_feed_position: Mutex<Option<FeedPosition>>,
    /// Accounts and roles, so that checking a credential needs no database read.
    accounts: AccountCache,
    /// Where [`AuthService::refresh_account_changes`] has read the feed up to.
    account_feed_position: Mutex<Option<FeedPosition>>,
    /// When a token with an unknown key last made this process reload its keys.
    last_unknown_key_reload: Mutex<Option<std::time::Instant>>,
    settings: AuthSettings,
}

impl AuthService {
    /// Loads (or on first start creates) the signing keys and rebuilds the
    /// deny list from recent revocations.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails or the Argon2 settings are invalid.
    pub async fn start(store: Arc<dyn Store>, settings: AuthSettings) -> Result<Self, AuthError> {
        let now = OffsetDateTime::now_utc();
        if store.signing_keys().await?.is_empty()
            && store
                .insert_first_signing_key(&SigningKey::generate(now))
                .await?
        {
            tracing::info!("generated the first signing key");
        }
        let ring = load_ring(store.as_ref(), settings.access_token_horizon()).await?;
        let tokens = AccessTokens::new(
            settings.issuer.clone(),
            settings.audience.clone(),
            settings.access_token_ttl,
            settings.leeway,
            ring,
        );
        let hasher = PasswordHasher::new(settings.argon2, settings.hashing_workers)?;
        let service = Self {
            store,
            hasher,
            tokens,
            revoked: RevokedSessions::default(),
            personal_token_uses: Mutex::default(),
            revocation_feed_position: Mutex::default(),
            accounts: AccountCache::default(),
            account_feed_position: Mutex::default(),
            account_attempts: AccountAttempts::default(),
            last_unknown_key_reload: Mutex::default(),
            settings,
        };
        service.refresh_revocations().await?;
        Ok(service)
    }

    #[must_use]
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    #[must_use]
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The public keys whose tokens may still be live.
    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.tokens.jwks()
    }

    /// The database connections in use, for monitoring.
    #[must_use]
    pub fn pool_status(&self) -> crate::store::PoolStatus {
        self.store.pool_status()
    }

    /// # Errors
    /// [`AuthError::Unavailable`] when the database does not answer.
    pub async fn ping(&self) -> Result<(), AuthError> {
        Ok(self.store.ping().await?)
    }

    /// Re-reads the signing keys (another process may have rotated them).
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn reload_keys(&self) -> Result<(), AuthError> {
        self.tokens.replace_ring(
            load_ring(self.store.as_ref(), self.settings.access_token_horizon()).await?,
        );
        Ok(())
    }

    /// Adds sessions revoked since the last call (by any process sharing the
    /// database) to the deny list, and forgets entries whose tokens have all
    /// expired. The first call reads every revocation the store keeps (and
    /// so does the store itself once the database went back in time).
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn refresh_revocations(&self) -> Result<(), AuthError> {
        let previous = *self
            .revocation_feed_position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let read = self
            .store
            .sessions_revoked_after(Some(previous.unwrap_or(FeedPosition::BEGINNING)))
            .await?;
        let now = OffsetDateTime::now_utc();
        let horizon = self.settings.access_token_horizon();
        for (session_id, revoked_at) in read.sessions {
            // A token lifetime from the revocation, or from now if that is
            // later: the revoking process's clock may run behind this one's.
            // The store keeps whole seconds: one more covers the fraction lost.
            self.revoked
                .deny(session_id, revoked_at.max(now) + horizon + Duration::SECOND);
        }
        *self
            .revocation_feed_position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(read.position);
        self.revoked.prune(now);
        Ok(())
    }

    /// Reads which accounts and roles changed since the last call (in any
    /// process sharing the database) and forgets them from the account
    /// cache. The cache answers only for a moment after each successful
    /// call, so the server calls this every half second; a process that
    /// never calls it (the command line) always reads the database.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn refresh_account_changes(&self) -> Result<(), AuthError> {
        let started = Instant::now();
        let position = *self
            .account_feed_position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let feed = self.store.account_changes_after(position).await?;
        self.accounts.apply_feed(&feed.changes, started);
        *self
            .account_feed_position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(feed.position);
        Ok(())
    }

    /// Deletes, in bounded batches, what can serve no request any more:
    /// sessions revoked more than a token lifetime ago or past their end,
    /// keys retired more than a token lifetime ago, forgotten login
    /// failures, and old entries of the account-change feed. Returns how
    /// many rows went.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn housekeeping(&self) -> Result<u64, AuthError> {
        let now = OffsetDateTime::now_utc();
        let horizon = self.settings.access_token_horizon();
        let cutoff = SessionCutoff {
            now,
            revoked_before: now - horizon,
            idle_before: now - self.settings.refresh_idle_ttl,
        };
        let forget_failures_before = now - self.settings.throttle.forget_after;
        let mut deleted =
            prune_in_batches(|limit| self.store.prune_sessions(&cutoff, limit)).await?;
        deleted += self.store.prune_signing_keys(now - horizon).await?;
        deleted += prune_in_batches(|limit| {
            self.store
                .prune_login_failures(forget_failures_before, limit)
        })
        .await?;
        deleted += prune_in_batches(|limit| {
            self.store
                .prune_account_changes(ACCOUNT_CHANGES_RETENTION, limit)
        })
        .await?;
        Ok(deleted)
    }

    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn user_count(&self) -> Result<u64, AuthError> {
        Ok(self.store.count_users().await?)
    }

    /// Self-service sign-up through the API.
    ///
    /// # Errors
    /// [`AuthError::SignupClosed`], [`AuthError::Invalid`], [`AuthError::EmailTaken`].
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<User, AuthError> {
        if self.settings.signup == SignupMode::Closed {
            return Err(AuthError::SignupClosed);
        }
        self.create_user(NewAccount {
            email,
            password,
            name,
            roles: Vec::new(),
        })
        .await
    }

    /// Creates an account with the given roles, whatever the sign-up mode.
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::EmailTaken`].
    pub async fn create_user(&self, account: NewAccount<'_>) -> Result<User, AuthError> {
        let mut errors = Vec::new();
        let email = Email::parse(account.email)
            .map_err(|e| errors.push(field("email", e.0)))
            .ok();
        let password = self
            .settings
            .password_policy
            .check(account.password, email.as_ref())
            .map_err(|violations| {
                errors.extend(violations.0.into_iter().map(|m| field("password", m)))
            })
            .ok();
        let name = match account.name.map(normalise_name) {
            Some(Ok(name)) => name,
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        for role in &account.roles {
            if let Err(e) = roles::validate_name("role", role) {
                errors.push(field("roles", e.0));
            }
        }
        let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
            return Err(AuthError::Invalid(errors));
        };
        let record = UserRecord {
            id: Uuid::now_v7(),
            email,
            name,
            roles: sorted_unique(account.roles),
            password_hash: self.hasher.hash(&password).await?,
            disabled: false,
            created_at: now_seconds(),
        };
        match self.store.insert_user(&record).await {
            Ok(()) => Ok(record.into()),
            Err(StoreError::Conflict) => Err(AuthError::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// The OAuth 2.0 password grant: checks the credentials and opens a session.
    ///
    /// # Errors
    /// [`AuthError::Throttled`], [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`].
    pub async fn password_grant(
        &self,
        identifier: &str,
        password: &str,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let email = Email::parse(identifier).ok();
        let account_key = throttle::account_key(
            &email
                .as_ref()
                .map_or_else(|| identifier.trim().to_lowercase(), ToString::to_string),
        );
        let address_key = client.ip.as_deref().map(throttle::address_key);
        let _turn = self.account_attempts.turn(&account_key).await;
        let account_has_failures = match self
            .ensure_not_throttled(&account_key, address_key.as_deref())
            .await
        {
            Ok(account_has_failures) => account_has_failures,
            Err(error) => {
                if matches!(error, AuthError::Throttled { .. }) {
                    telemetry::login(LoginOutcome::Throttled);
                }
                return Err(error);
            }
        };

        let user = match &email {
            Some(email) => self.store.user_by_email(email).await?,
            None => None,
        };
        let verification = self
            .hasher
            .verify(
                &Password::normalise(password),
                user.as_ref().map(|u| &u.password_hash),
            )
            .await?;
        let user = match (user, verification) {
            (Some(user), outcome @ (Verification::Match | Verification::NeedsRehash(_)))
                if !user.disabled =>
            {
                if let Verification::NeedsRehash(new_hash) = outcome {
                    self.store.set_password_hash(user.id, &new_hash).await?;
                }
                if account_has_failures {
                    self.store.clear_login_failures(&account_key).await?;
                }
                telemetry::login(LoginOutcome::Success);
                user
            }
            _ => {
                telemetry::login(LoginOutcome::InvalidGrant);
                self.record_failure(&account_key, address_key.as_deref())
                    .await?;
                return Err(AuthError::InvalidGrant);
            }
        };

        let permissions = self.stored_permissions(&user.roles).await?;
        let narrowed = requested_scope
            .map(|requested| narrow_scope(requested, &permissions))
            .transpose()?;
        let now = now_seconds();
        let session_id = Uuid::now_v7();
        let first = RefreshToken::first(session_id);
        let session = SessionRecord {
            id: session_id,
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.session_max_age,
            revoked_at: None,
            refresh_key: SessionRefreshKey::generate(),
            refresh_generation: 0,
            refresh_hash: first.secret.hash(),
            scope: narrowed.clone(),
            user_agent: client.user_agent.map(|ua| truncate(&ua, 512)),
            ip: client.ip,
        };
        self.store.insert_session(&session).await?;
        let scope = narrowed.unwrap_or_else(|| permissions.into_iter().collect());
        Ok(self.token_pair(&user, session_id, scope, &first, now))
    }

    /// The OAuth 2.0 refresh grant, with rotation, a grace interval for the
    /// token just rotated, and reuse detection.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`].
    pub async fn refresh_grant(
        &self,
        presented: &str,
        requested_scope: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let token = RefreshToken::parse(presented.trim()).ok_or(AuthError::InvalidGrant)?;
        // The second pass runs only when a concurrent refresh won the compare-and-set.
        for _ in 0..2 {
            let now = now_seconds();
            let session = self
                .live_session(token.session_id, now)
                .await?
                .ok_or(AuthError::InvalidGrant)?;
            let (rotate, next) = match token.lineage(
                &session.refresh_key,
                session.refresh_generation,
                &session.refresh_hash,
            ) {
                Lineage::Current => (true, token.successor(&session.refresh_key)),
                Lineage::JustRotated(current)
                    if now - session.last_used_at <= self.settings.refresh_reuse_grace =>
                {
                    (false, current)
                }
                Lineage::JustRotated(_) | Lineage::Older => {
                    tracing::warn!(session_id = %session.id, user_id = %session.user_id, "refresh token reuse detected; session revoked");
                    telemetry::refresh_token_reuse();
                    self.revoke_session_everywhere(session.id).await?;
                    return Err(AuthError::InvalidGrant);
                }
                Lineage::Foreign => return Err(AuthError::InvalidGrant),
            };
            // Everything that can refuse the grant is checked before the
            // rotation, so a refused refresh never uses the token up.
            let user = match self.store.user_by_id(session.user_id).await? {
                Some(user) if !user.disabled => user,
                _ => return Err(AuthError::InvalidGrant),
            };
            let permissions = self.stored_permissions(&user.roles).await?;
            let allowed: BTreeSet<String> = match &session.scope {
                Some(narrowed) => narrowed
                    .iter()
                    .filter(|p| permissions.contains(*p))
                    .cloned()
                    .collect(),
                None => permissions,
            };
            let scope = match requested_scope {
                Some(requested) => narrow_scope(requested, &allowed)?,
                None => allowed.into_iter().collect(),
            };
            if rotate
                && !self
                    .store
                    .rotate_refresh_token(
                        session.id,
                        session.refresh_generation,
                        &next.secret.hash(),
                        now,
                    )
                    .await?
            {
                continue;
            }
            return Ok(self.token_pair(&user, session.id, scope, &next, now));
        }
        Err(AuthError::InvalidGrant)
    }

    /// Checks a credential: a personal access token (`pat_…`, one database
    /// read) or an access token (signature, claims and the deny list; no
    /// database read).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] saying why.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if PersonalToken::is_personal_token(token) {
            return Ok(self.authenticate_personal_token(token).await?.principal);
        }
        let claims = self.verify_access_token(token).await?;
        Ok(Principal {
            user_id: claims.sub,
            credential: Credential::Session(claims.sid),
            roles: claims.roles,
            scope: claims
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }

    /// An access token's claims, when its signature, claims and session are
    /// all valid. A key this process does not know yet (rotated by another
    /// process) makes it reload the keys, at most once per
    /// [`KEY_RELOAD_INTERVAL`], and try again.
    async fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, AuthError> {
        let claims = match self.tokens.verify(token) {
            Err(TokenError::UnknownKey) if self.may_reload_keys() => {
                self.reload_keys().await?;
                self.tokens.verify(token)
            }
            verified => verified,
        }
        .map_err(AuthError::InvalidToken)?;
        if self.revoked.is_denied(claims.sid) {
            return Err(AuthError::InvalidToken(TokenError::Revoked));
        }
        Ok(claims)
    }

    /// Whether an unknown key may trigger a reload now; claims the slot if so.
    fn may_reload_keys(&self) -> bool {
        let mut last = self
            .last_unknown_key_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < KEY_RELOAD_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The caller's account and current permissions.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] when the account is gone or disabled.
    pub async fn me(&self, principal: &Principal) -> Result<(User, BTreeSet<String>), AuthError> {
        let user = self.active_account(principal.user_id).await?;
        let permissions = self.current_permissions(&user.roles).await?;
        Ok((User::clone(&user), permissions))
    }

    /// Changes the caller's name and/or email; an email change needs the current password.
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::IncorrectPassword`], [`AuthError::EmailTaken`].
    pub async fn update_me(
        &self,
        principal: &Principal,
        change: AccountChange<'_>,
    ) -> Result<User, AuthError> {
        let user = self.current_user(principal).await?;
        let mut errors = Vec::new();
        let email = match change.email.map(Email::parse) {
            Some(Ok(email)) if email != user.email => Some(email),
            Some(Err(e)) => {
                errors.push(field("email", e.0));
                None
            }
            _ => None,
        };
        let name = match change.name {
            Some(Some(name)) => match normalise_name(name) {
                Ok(name) => Some(name),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            Some(None) => Some(None),
            None => None,
        };
        if email.is_some() && change.current_password.is_none() {
            errors.push(field(
                "current_password",
                "is required to change the email".to_owned(),
            ));
        }
        if !errors.is_empty() {
            return Err(AuthError::Invalid(errors));
        }
        if email.is_some() {
            self.check_current_password(&user, change.current_password.unwrap_or_default())
                .await?;
        }
        let updated = self
            .writing_account(
                user.id,
                self.store
                    .update_profile(user.id, &ProfileChange { email, name }),
            )
            .await;
        match updated {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::EmailTaken),
            Err(other) => return Err(other.into()),
        }
        Ok(self.current_user(principal).await?.into())
    }

    /// Sets a new password after checking the current one; every other session ends.
    ///
    /// # Errors
    /// [`AuthError::IncorrectPassword`], [`AuthError::Invalid`], [`AuthError::Throttled`].
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AuthError> {
        let session_id = principal.require_session()?;
        let user = self.current_user(principal).await?;
        let new_password = self
            .settings
            .password_policy
            .check(new, Some(&user.email))
            .map_err(|v| {
                AuthError::Invalid(v.0.into_iter().map(|m| field("new_password", m)).collect())
            })?;
        self.check_current_password(&user, current).await?;
        self.store
            .set_password_hash(user.id, &self.hasher.hash(&new_password).await?)
            .await?;
        self.revoke_user_sessions(user.id, Some(session_id)).await
    }

    /// Deletes the caller's account after checking the password.
    ///
    /// # Errors
    /// [`AuthError::IncorrectPassword`], [`AuthError::Throttled`].
    pub async fn delete_me(
        &self,
        principal: &Principal,
        current_password: &str,
    ) -> Result<(), AuthError> {
        principal.require_session()?;
        let user = self.current_user(principal).await?;
        self.check_current_password(&user, current_password).await?;
        self.delete_user(user.id).await
    }

    /// The caller's live sessions, newest first.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, AuthError> {
        let now = now_seconds();
        Ok(self
            .store
            .sessions_of_user(principal.user_id)
            .await?
            .into_iter()
            .filter(|session| self.session_end(session) > now)
            .map(|session| SessionView {
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: self.session_end(&session),
                current: Some(session.id) == principal.session_id(),
                user_agent: session.user_agent,
                ip: session.ip,
            })
            .collect())
    }

    /// Ends one of the caller's sessions; another user's id is [`AuthError::NotFound`].
    ///
    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn revoke_own_session(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<(), AuthError> {
        match self.store.session(session_id).await? {
            Some(session)
                if session.user_id == principal.user_id && session.revoked_at.is_none() =>
            {
                self.revoke_session_everywhere(session_id).await
            }
            _ => Err(AuthError::NotFound),
        }
    }

    /// Ends every session of the caller ("log out everywhere").
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn revoke_all_own_sessions(&self, principal: &Principal) -> Result<(), AuthError> {
        self.revoke_user_sessions(principal.user_id, None).await
    }

    /// Ends the caller's current session.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        self.revoke_session_everywhere(principal.require_session()?)
            .await
    }

    /// RFC 7009: revokes the session of a refresh or access token, or deletes
    /// a personal access token; anything else is silently ignored, as the RFC asks.
    ///
    /// # Errors
    /// [`AuthError`] only when the store fails.
    pub async fn revoke_token(&self, token: &str) -> Result<(), AuthError> {
        let token = token.trim();
        if let Some(personal) = PersonalToken::parse(token) {
            if let Some(record) = self.store.personal_token(personal.id).await?
                && record.secret_hash.matches(&personal.secret_hash())
            {
                self.store.delete_personal_token(record.id).await?;
            }
        } else if let Some(refresh) = RefreshToken::parse(token) {
            if let Some(session) = self.store.session(refresh.session_id).await? {
                let lineage = refresh.lineage(
                    &session.refresh_key,
                    session.refresh_generation,
                    &session.refresh_hash,
                );
                if lineage != Lineage::Foreign && session.revoked_at.is_none() {
                    self.revoke_session_everywhere(session.id).await?;
                }
            }
        } else if let Ok(claims) = self.tokens.verify(token) {
            self.revoke_session_everywhere(claims.sid).await?;
        }
        Ok(())
    }

    /// Verifies a token as a protected endpoint would, but reads revocation
    /// from the database (for a process that keeps no deny list, the CLI).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] saying why.
    pub async fn inspect_access_token(&self, token: &str) -> Result<AccessTokenClaims, AuthError> {
        let claims = self
            .tokens
            .verify(token.trim())
            .map_err(AuthError::InvalidToken)?;
        match self.store.session(claims.sid).await? {
            Some(session) if session.revoked_at.is_none() => Ok(claims),
            _ => Err(AuthError::InvalidToken(TokenError::Revoked)),
        }
    }

    /// Every user, oldest first.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list_users(&self) -> Result<Vec<User>, AuthError> {
        Ok(self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Disables an account and ends all its sessions and personal access tokens at once.
    ///
    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn disable_user(&self, email: &str) -> Result<User, AuthError> {
        let user = self.user_by_email_input(email).await?;
        self.disable_account(user.id).await?;
        Ok(User {
            disabled: true,
            ..user.into()
        })
    }

    async fn disable_account(&self, user_id: Uuid) -> Result<(), AuthError> {
        self.writing_account(user_id, self.store.set_disabled(user_id, true))
            .await?;
        // Sessions first: their access tokens are the credentials that live
        // on in memory if the second step fails.
        self.revoke_user_sessions(user_id, None).await?;
        self.store.delete_personal_tokens_of_user(user_id).await?;
        Ok(())
    }

    /// Sets a password by administrative action; every session of the user ends.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Invalid`].
    pub async fn set_password(&self, email: &str, password: &str) -> Result<(), AuthError> {
        let user = self.user_by_email_input(email).await?;
        let password = self
            .settings
            .password_policy
            .check(password, Some(&user.email))
            .map_err(|v| {
                AuthError::Invalid(v.0.into_iter().map(|m| field("password", m)).collect())
            })?;
        self.store
            .set_password_hash(user.id, &self.hasher.hash(&password).await?)
            .await?;
        self.revoke_user_sessions(user.id, None).await
    }

    /// Every role, by name.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn roles(&self) -> Result<Vec<Role>, AuthError> {
        Ok(self.store.roles().await?)
    }

    /// Creates or replaces a role.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for a bad name or permission.
    pub async fn put_role(&self, name: &str, permissions: &[String]) -> Result<Role, AuthError> {
        let mut errors = Vec::new();
        if let Err(e) = roles::validate_name("role", name) {
            errors.push(field("name", e.0));
        }
        if name == roles::ADMIN_ROLE {
            errors.push(field(
                "name",
                "the admin role is built in and holds every permission".to_owned(),
            ));
        }
        for permission in permissions {
            if let Err(e) = roles::validate_name("permission", permission) {
                errors.push(field("permissions", e.0));
            }
        }
        if !errors.is_empty() {
            return Err(AuthError::Invalid(errors));
        }
        let role = Role {
            name: name.to_owned(),
            permissions: permissions.iter().cloned().collect(),
        };
        self.writing_roles(self.store.put_role(&role)).await?;
        Ok(role)
    }

    /// Makes a new signing key active; the old one keeps verifying until its
    /// tokens have expired. Returns the new `kid`.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn rotate_signing_key(&self) -> Result<String, AuthError> {
        let now = OffsetDateTime::now_utc();
        let key = SigningKey::generate(now);
        self.store.rotate_signing_key(&key, now).await?;
        self.reload_keys().await?;
        Ok(key.kid)
    }

    /// Every stored signing key.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>, AuthError> {
        Ok(self.store.signing_keys().await?)
    }

    async fn delete_user(&self, user_id: Uuid) -> Result<(), AuthError> {
        self.revoke_user_sessions(user_id, None).await?;
        Ok(self
            .writing_account(user_id, self.store.delete_user(user_id))
            .await?)
    }

    /// Runs `write`, a change to one account, then forgets that account
    /// from the cache whatever the outcome: a write may commit and still
    /// report an error.
    async fn writing_account<T, E>(
        &self,
        user_id: Uuid,
        write: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let written = write.await;
        self.accounts.forget_user(user_id);
        written
    }

    /// Runs `write`, a change to the roles, then forgets them from the
    /// cache whatever the outcome.
    async fn writing_roles<T, E>(&self, write: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let written = write.await;
        self.accounts.forget_roles();
        written
    }

    /// The caller's account as stored now, password hash included, for
    /// changing it; [`AuthService::active_account`] serves reads.
    async fn current_user(&self, principal: &Principal) -> Result<UserRecord, AuthError> {
        match self.store.user_by_id(principal.user_id).await? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(AuthError::InvalidToken(TokenError::Revoked)),
        }
    }

    async fn user_by_email_input(&self, email: &str) -> Result<UserRecord, AuthError> {
        let email =
            Email::parse(email).map_err(|e| AuthError::Invalid(vec![field("email", e.0)]))?;
        self.store
            .user_by_email(&email)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// An account that exists and is not disabled, through the account
    /// cache; anything else means the credential no longer counts.
    async fn active_account(&self, user_id: Uuid) -> Result<Arc<User>, AuthError> {
        let ticket = match self.accounts.user(user_id) {
            Lookup::Hit(user) => return Self::require_active(Some(user)),
            Lookup::Miss(ticket) => ticket,
        };
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .map(|record| self.accounts.remember_user(ticket, record.into()));
        Self::require_active(user)
    }

    fn require_active(user: Option<Arc<User>>) -> Result<Arc<User>, AuthError> {
        user.filter(|user| !user.disabled)
            .ok_or(AuthError::InvalidToken(TokenError::Revoked))
    }

    /// The permissions `user_roles` grant, through the account cache: for
    /// answering what a credential may do now.
    async fn current_permissions(
        &self,
        user_roles: &[String],
    ) -> Result<BTreeSet<String>, AuthError> {
        if user_roles.is_empty() {
            return Ok(BTreeSet::new());
        }
        let stored = match self.accounts.roles() {
            Lookup::Hit(roles) => roles,
            Lookup::Miss(ticket) => self
                .accounts
                .remember_roles(ticket, self.store.roles().await?),
        };
        Ok(roles::permissions_of(user_roles, &stored))
    }

    /// The permissions `user_roles` grant, read from the database: for a
    /// new token, which carries them for its whole life, so a change made
    /// by another process a moment ago must already count.
    async fn stored_permissions(
        &self,
        user_roles: &[String],
    ) -> Result<BTreeSet<String>, AuthError> {
        if user_roles.is_empty() {
            return Ok(BTreeSet::new());
        }
        Ok(roles::permissions_of(
            user_roles,
            &self.store.roles().await?,
        ))
    }

    /// A session that is neither revoked nor past its idle or absolute end.
    async fn live_session(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, AuthError> {
        Ok(self
            .store
            .session(id)
            .await?
            .filter(|session| session.revoked_at.is_none() && self.session_end(session) > now))
    }

    fn session_end(&self, session: &SessionRecord) -> OffsetDateTime {
        (session.last_used_at + self.settings.refresh_idle_ttl).min(session.expires_at)
    }

    fn token_pair(
        &self,
        user: &UserRecord,
        session_id: Uuid,
        scope: Vec<String>,
        refresh: &RefreshToken,
        now: OffsetDateTime,
    ) -> TokenPair {
        let grant = AccessGrant {
            user_id: user.id,
            session_id,
            roles: user.roles.clone(),
            scope,
        };
        let (access_token, claims) = self.tokens.issue(&grant, now);
        TokenPair {
            access_token,
            expires_in: self.tokens.lifetime().whole_seconds(),
            refresh_token: refresh.encode(),
            scope: claims.scope,
        }
    }

    async fn revoke_session_everywhere(&self, session_id: Uuid) -> Result<(), AuthError> {
        let now = OffsetDateTime::now_utc();
        self.store.revoke_session(session_id, now).await?;
        self.revoked
            .deny(session_id, now + self.settings.access_token_horizon());
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<(), AuthError> {
        let now = OffsetDateTime::now_utc();
        for session_id in self
            .store
            .revoke_sessions_of_user(user_id, except, now)
            .await?
        {
            self.revoked
                .deny(session_id, now + self.settings.access_token_horizon());
        }
        Ok(())
    }

    /// Refuses an attempt while the account or the address is locked out;
    /// otherwise returns whether failures are on record for the account (a
    /// success then clears them, and only then needs a write).
    async fn ensure_not_throttled(
        &self,
        account_key: &str,
        address_key: Option<&str>,
    ) -> Result<bool, AuthError> {
        let now = OffsetDateTime::now_utc();
        let throttle = &self.settings.throttle;
        if !throttle.enabled {
            return Ok(false);
        }
        let mut locked_until = None;
        let mut account_has_failures = false;
        for (key, subject) in [
            (Some(account_key), ThrottleSubject::Account),
            (address_key, ThrottleSubject::Address),
        ] {
            let Some(key) = key else { continue };
            if let Some(failures) = self.store.login_failures(key).await? {
                account_has_failures |= subject == ThrottleSubject::Account;
                locked_until = locked_until.max(throttle.locked_until(subject, &failures, now));
            }
        }
        match locked_until {
            Some(until) => {
                telemetry::throttled_attempt();
                Err(AuthError::Throttled {
                    retry_after_seconds: ceil_seconds(until - now),
                })
            }
            None => Ok(account_has_failures),
        }
    }

    async fn record_failure(
        &self,
        account_key: &str,
        address_key: Option<&str>,
    ) -> Result<(), AuthError> {
        if !self.settings.throttle.enabled {
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        let forget_before = now - self.settings.throttle.forget_after;
        self.store
            .record_login_failure(account_key, now, forget_before)
            .await?;
        if let Some(address_key) = address_key {
            self.store
                .record_login_failure(address_key, now, forget_before)
                .await?;
        }
        Ok(())
    }

    /// Checks the password of a signed-in user, throttled like a login.
    async fn check_current_password(
        &self,
        user: &UserRecord,
        password: &str,
    ) -> Result<(), AuthError> {
        let account_key = throttle::account_key(user.email.as_str());
        let _turn = self.account_attempts.turn(&account_key).await;
        self.ensure_not_throttled(&account_key, None).await?;
        match self
            .hasher
            .verify(&Password::normalise(password), Some(&user.password_hash))
            .await?
        {
            Verification::Match | Verification::NeedsRehash(_) => Ok(()),
            Verification::Mismatch => {
                self.record_failure(&account_key, None).await?;
                Err(AuthError::IncorrectPassword)
            }
        }
    }
}

/// Runs `prune` with a limit of [`HOUSEKEEPING_BATCH`] rows until a batch
/// comes back short, at most [`HOUSEKEEPING_MAX_BATCHES`] times; returns how
/// many rows went.
async fn prune_in_batches<F, Batch>(mut prune: F) -> Result<u64, AuthError>
where
    F: FnMut(u32) -> Batch,
    Batch: Future<Output = Result<u64, StoreError>>,
{
    let mut deleted = 0;
    for _ in 0..HOUSEKEEPING_MAX_BATCHES {
        let batch = prune(HOUSEKEEPING_BATCH).await?;
        deleted += batch;
        if batch < u64::from(HOUSEKEEPING_BATCH) {
            break;
        }
    }
    Ok(deleted)
}

async fn load_ring(store: &dyn Store, token_horizon: Duration) -> Result<KeyRing, AuthError> {
    let keys = store.signing_keys().await?;
    KeyRing::new(&keys, OffsetDateTime::now_utc(), token_horizon)
        .map_err(|e| AuthError::Internal(e.to_string()))
}

/// Checks that every permission in the space-separated `requested` is in `allowed`.
fn narrow_scope(requested: &str, allowed: &BTreeSet<String>) -> Result<Vec<String>, AuthError> {
    let requested: BTreeSet<&str> = requested.split_ascii_whitespace().collect();
    let missing: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|p| !allowed.contains(*p))
        .collect();
    if missing.is_empty() {
        Ok(requested.into_iter().map(str::to_owned).collect())
    } else {
        Err(AuthError::InvalidScope(format!(
            "not granted to this user: {}",
            missing.join(" ")
        )))
    }
}

fn normalise_name(name: &str) -> Result<Option<String>, FieldError> {
    let trimmed = name.trim();
    if trimmed.chars().count() > MAX_NAME_LENGTH {
        return Err(field(
            "name",
            format!("must be at most {MAX_NAME_LENGTH} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(field(
            "name",
            "must not contain control characters".to_owned(),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn sorted_unique(values: Vec<String>) -> Vec<String> {
    values
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn truncate(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

/// Now, to the second the store keeps, so that what is issued and what is stored agree.
fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn ceil_seconds(duration: Duration) -> u64 {
    let seconds = duration.whole_seconds() + i64::from(duration.subsec_nanoseconds() > 0);
    u64::try_from(seconds.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_narrowing() {
        let allowed: BTreeSet<String> = ["a:read", "b:write"].map(String::from).into();
        assert_eq!(
            narrow_scope("b:write  a:read", &allowed).unwrap(),
            ["a:read", "b:write"]
        );
        assert_eq!(narrow_scope("", &allowed).unwrap(), Vec::<String>::new());
        assert!(
            matches!(narrow_scope("a:read c:x", &allowed), Err(AuthError::InvalidScope(m)) if m.contains("c:x"))
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            normalise_name("  Ada Lovelace ").unwrap().as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(normalise_name("   ").unwrap(), None);
        assert!(normalise_name("a\u{7}b").is_err());
        assert!(normalise_name(&"n".repeat(MAX_NAME_LENGTH + 1)).is_err());
    }

    #[test]
    fn a_full_hashing_queue_is_unavailable_not_an_internal_error() {
        assert!(matches!(
            AuthError::from(HashingError::Busy),
            AuthError::Unavailable
        ));
        assert!(matches!(
            AuthError::from(HashingError::PoolClosed),
            AuthError::Internal(_)
        ));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_seconds(Duration::milliseconds(1500)), 2);
        assert_eq!(ceil_seconds(Duration::seconds(3)), 3);
        assert_eq!(ceil_seconds(Duration::ZERO), 1);
    }
}
