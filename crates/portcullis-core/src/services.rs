//! The use cases of Portcullis, one small service each over one shared
//! [`Core`](crate::core::Core): [`Grants`] (password and refresh),
//! [`Accounts`] (the caller's own account), [`Sessions`], [`PersonalTokens`],
//! [`EmailFlows`] (proving an address, recovering an account by mail),
//! [`Outbox`] (the mail waiting to be sent), [`BrowserSessions`] and
//! [`Authorizations`] (browser sign-in: the hosted pages' session, the
//! authorization endpoint, consent, `/userinfo`),
//! [`Verification`] (credentials, introspection, forward-auth), [`Users`]
//! and [`Roles`] (administration), [`Clients`] (the OAuth client registry),
//! [`Imports`] and [`Exports`] (moving
//! users in and out), [`SigningKeys`] and [`Feeds`] (what other processes
//! changed, and upkeep).
//!
//! [`Services::start`] builds them all; the server and the command line
//! call them and never the store. No use case calls another: what two share
//! lives in the core.

pub mod accounts;
pub mod authorizations;
pub mod browser_sessions;
pub mod clients;
pub mod email_flows;
pub mod export;
pub mod feeds;
pub mod grants;
pub mod import;
pub mod outbox;
pub mod personal_tokens;
pub mod roles;
pub mod sessions;
pub mod signing_keys;
pub mod users;
pub mod verification;

use std::sync::Arc;

pub use accounts::Accounts;
pub use authorizations::Authorizations;
pub use browser_sessions::BrowserSessions;
pub use clients::Clients;
pub use email_flows::EmailFlows;
pub use export::Exports;
pub use feeds::Feeds;
pub use grants::Grants;
pub use import::Imports;
pub use outbox::Outbox;
pub use personal_tokens::PersonalTokens;
pub use roles::Roles;
pub use sessions::Sessions;
pub use signing_keys::SigningKeys;
pub use users::Users;
pub use verification::Verification;

use crate::clock::Clock;
use crate::core::Core;
use crate::error::AuthError;
use crate::settings::AuthSettings;
use crate::store::{PoolStatus, Store};

/// Why an instance cannot serve every request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("the database does not answer")]
    DatabaseUnreachable,
    /// Read-only, or its write lock held for longer than a moment: sign-ups,
    /// logins and logouts would fail.
    #[error("the database cannot take a write")]
    DatabaseNotWritable,
    #[error("the revocations of other instances could not be read lately")]
    RevocationsUnread,
}

/// How many entries each structure this process keeps in memory holds now,
/// for monitoring. Each is bounded or pruned, so one that keeps growing
/// under a steady load is a leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InMemoryEntries {
    /// Access tokens whose signature was checked (at most 50,000).
    pub verified_access_tokens: usize,
    /// Accounts in the account cache (at most 50,000).
    pub cached_accounts: usize,
    /// Personal access tokens in the account cache (at most 50,000).
    pub cached_personal_tokens: usize,
    /// Revoked sessions denied until their last access token expires.
    pub denied_sessions: usize,
    /// Client addresses whose failed refreshes are counted (at most 10,000).
    pub refresh_failure_addresses: usize,
    /// Accounts with a password check under way or waiting.
    pub accounts_being_checked: usize,
    /// Personal access tokens whose last use is not yet written.
    pub unwritten_personal_token_uses: usize,
}

impl InMemoryEntries {
    /// Each count with a name for it (a metric's label value).
    #[must_use]
    pub fn named(&self) -> [(&'static str, usize); 7] {
        [
            ("verified_access_tokens", self.verified_access_tokens),
            ("cached_accounts", self.cached_accounts),
            ("cached_personal_tokens", self.cached_personal_tokens),
            ("denied_sessions", self.denied_sessions),
            ("refresh_failure_addresses", self.refresh_failure_addresses),
            ("accounts_being_checked", self.accounts_being_checked),
            (
                "unwritten_personal_token_uses",
                self.unwritten_personal_token_uses,
            ),
        ]
    }
}

/// Every use case, wired to one store.
pub struct Services {
    pub grants: Grants,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub personal_tokens: PersonalTokens,
    pub verification: Verification,
    pub users: Users,
    pub roles: Roles,
    pub clients: Clients,
    pub signing_keys: SigningKeys,
    pub feeds: Feeds,
    pub imports: Imports,
    pub exports: Exports,
    pub outbox: Outbox,
    pub email_flows: EmailFlows,
    pub browser_sessions: BrowserSessions,
    pub authorizations: Authorizations,
    core: Arc<Core>,
}

impl Services {
    /// Loads (or on first start creates) the signing keys, starts the
    /// password hasher and reads every revocation kept into the deny list.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails or the Argon2 settings are invalid.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: AuthSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        let core = Core::start(store, settings, clock).await?;
        let services = Self {
            grants: Grants::new(Arc::clone(&core)),
            accounts: Accounts::new(Arc::clone(&core)),
            sessions: Sessions::new(Arc::clone(&core)),
            personal_tokens: PersonalTokens::new(Arc::clone(&core)),
            verification: Verification::new(Arc::clone(&core)),
            users: Users::new(Arc::clone(&core)),
            roles: Roles::new(Arc::clone(&core)),
            clients: Clients::new(Arc::clone(&core)),
            signing_keys: SigningKeys::new(Arc::clone(&core)),
            feeds: Feeds::new(Arc::clone(&core)),
            imports: Imports::new(Arc::clone(&core)),
            exports: Exports::new(Arc::clone(&core)),
            outbox: Outbox::new(Arc::clone(&core)),
            email_flows: EmailFlows::new(Arc::clone(&core)),
            browser_sessions: BrowserSessions::new(Arc::clone(&core)),
            authorizations: Authorizations::new(Arc::clone(&core)),
            core,
        };
        services.feeds.follow_revocations().await?;
        Ok(services)
    }

    #[must_use]
    pub fn settings(&self) -> &AuthSettings {
        &self.core.settings
    }

    /// Passwords waiting for a hashing thread right now, for monitoring.
    #[must_use]
    pub fn password_hash_queue_depth(&self) -> usize {
        self.core.hasher.queue_depth()
    }

    /// The database connections in use, for monitoring.
    #[must_use]
    pub fn pool_status(&self) -> PoolStatus {
        self.core.store.pool_status()
    }

    /// How many entries this process keeps in memory, per structure, for
    /// monitoring.
    #[must_use]
    pub fn in_memory_entries(&self) -> InMemoryEntries {
        let core = &self.core;
        InMemoryEntries {
            verified_access_tokens: core.tokens.remembered(),
            cached_accounts: core.accounts.cache().accounts_kept(),
            cached_personal_tokens: core.accounts.cache().personal_tokens_kept(),
            denied_sessions: core.revocations.denied_sessions(),
            refresh_failure_addresses: core.refresh_failures.addresses(),
            accounts_being_checked: core.attempts.accounts_in_progress(),
            unwritten_personal_token_uses: core.personal_token_uses.unwritten(),
        }
    }

    /// Whether this instance can serve every request now: the database
    /// answers and can take a write, and the revocations made by other
    /// processes have been read recently (else access tokens are refused
    /// as undecidable).
    ///
    /// # Errors
    /// [`NotReady`] saying what is missing.
    pub async fn check_ready(&self) -> Result<(), NotReady> {
        self.core
            .store
            .ping()
            .await
            .map_err(|_| NotReady::DatabaseUnreachable)?;
        self.core
            .store
            .check_writable()
            .await
            .map_err(|_| NotReady::DatabaseNotWritable)?;
        if !self.core.revocations.is_current() {
            return Err(NotReady::RevocationsUnread);
        }
        Ok(())
    }
}
