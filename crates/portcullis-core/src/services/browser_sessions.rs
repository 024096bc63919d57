//! The browser session behind the hosted pages: signing in with a password
//! (or right after sign-up), recognising the cookie, and signing out.
//!
//! A browser session is a session row like any other (`/me/sessions` lists
//! it, and every revocation ends it) whose origin is
//! [`SessionOrigin::Browser`]. Its cookie is the session's first refresh
//! token: it names the session and carries a 256-bit secret of which only
//! the hash is stored. It is never rotated and the token endpoint never
//! accepts it. Every sign-in opens a new session, so a cookie planted
//! before it is worth nothing after (no session fixation). The session's
//! idle and absolute ends are those of every session; using it (at most
//! once a minute) moves the idle end.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::core::Core;
use crate::error::AuthError;
use crate::password_sign_in;
use crate::principal::{Credential, Principal};
use crate::refresh::{Lineage, RefreshToken};
use crate::services::grants::ClientInfo;
use crate::settings::EmailVerification;
use crate::store::SessionOrigin;
use crate::tokens::IdTokenHint;
use crate::user::User;

/// How stale a browser session's last use may get before a use records it.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// A signed-in browser, as the pages see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// When the user proved who they are (the id token's `auth_time`).
    pub authenticated_at: OffsetDateTime,
}

/// A browser session just opened, and the cookie that carries it.
#[derive(Debug)]
pub struct SignedIn {
    pub session: BrowserSession,
    pub cookie: SecretString,
}

/// See the module documentation.
pub struct BrowserSessions {
    core: Arc<Core>,
}

impl BrowserSessions {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Checks the email and password as the password grant does and opens
    /// a browser session.
    ///
    /// # Errors
    /// As the password grant: [`AuthError::Throttled`],
    /// [`AuthError::InvalidGrant`], [`AuthError::EmailNotVerified`].
    pub async fn sign_in(
        &self,
        identifier: &str,
        password: &SecretString,
        client: ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let user = password_sign_in::check(&self.core, identifier, password, &client).await?;
        self.open(user.id, client).await
    }

    /// Opens a browser session for the account `user` that sign-up has just
    /// made (the caller holds it only because the use case answered it).
    ///
    /// # Errors
    /// [`AuthError::EmailNotVerified`] under `--email-verification
    /// required`; [`AuthError::Unavailable`] and other store failures.
    pub async fn sign_in_new_account(
        &self,
        user: &User,
        client: ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        // As at the password grant: no session before the address is proved.
        if self.core.settings.email.verification == EmailVerification::Required
            && !user.email_verified
        {
            return Err(AuthError::EmailNotVerified);
        }
        self.open(user.id, client).await
    }

    async fn open(&self, user_id: Uuid, client: ClientInfo) -> Result<SignedIn, AuthError> {
        let (session, first) = self
            .core
            .new_session(user_id, SessionOrigin::Browser, None, client);
        self.core.store.insert_session(&session).await?;
        Ok(SignedIn {
            session: BrowserSession {
                id: session.id,
                user_id,
                authenticated_at: session.created_at,
            },
            cookie: first.encode().into(),
        })
    }

    /// The live browser session that `cookie` carries, if any: a browser
    /// session, not revoked, not past its ends, its account enabled.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`] and other store failures.
    pub async fn current(&self, cookie: &str) -> Result<Option<BrowserSession>, AuthError> {
        let core = &self.core;
        let Some(token) = RefreshToken::parse(cookie.trim()) else {
            return Ok(None);
        };
        let Some((session, Some(user))) = core.store.session_with_user(token.session_id).await?
        else {
            return Ok(None);
        };
        let live = session.origin == SessionOrigin::Browser
            && session.revoked_at.is_none()
            && core.session_end(&session) > core.clock.now_seconds()
            && !user.disabled
            && core.revocations.check(session.id).is_ok()
            && matches!(
                token.lineage(
                    &session.refresh_key,
                    session.refresh_generation,
                    &session.refresh_hash
                ),
                Lineage::Current
            );
        if !live {
            return Ok(None);
        }
        // The idle end moves with use; once a minute is precise enough.
        let now = core.clock.now_seconds();
        if now - session.last_used_at >= TOUCH_EVERY {
            core.store.touch_session(session.id, now).await?;
        }
        Ok(Some(BrowserSession {
            id: session.id,
            user_id: user.id,
            authenticated_at: session.created_at,
        }))
    }

    /// The browser session as the caller of the account's own use cases
    /// (the account page): a session credential holding the account's
    /// current permissions.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] when the account is gone or disabled.
    pub async fn principal(&self, session: &BrowserSession) -> Result<Principal, AuthError> {
        let core = &self.core;
        let user = core.accounts.active_account(session.user_id).await?;
        let scope = core.accounts.current_permissions(&user.roles).await?;
        Ok(Principal {
            user_id: user.id,
            credential: Credential::Session(session.id),
            roles: user.roles.clone(),
            scope: scope.into_iter().collect(),
        })
    }

    /// The client and user an id token this server signed names, when it
    /// is one (it may have expired): what RP-initiated logout trusts.
    pub async fn id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        self.core.verify_id_token_hint(token).await.ok()
    }

    /// Ends the browser session that `cookie` carries; nothing when it is
    /// not a live one.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`] and other store failures.
    pub async fn sign_out(&self, cookie: &SecretString) -> Result<(), AuthError> {
        if let Some(session) = self.current(cookie.expose_secret()).await? {
            self.core.revocations.revoke_session(session.id).await?;
        }
        Ok(())
    }
}
