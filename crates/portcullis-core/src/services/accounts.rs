//! A user's own account: sign-up, reading it, changing the name, email or
//! password, and deleting it.
//!
//! Changes that could lock the owner out or hand the account to someone
//! else (the email, the password, deletion) need the current password,
//! checked through the same throttling as a login. A new password ends
//! every other session and is told to the account's address; deletion
//! ends every session. With email verification on, sign-up sends a
//! verification message.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use portcullis_mail::PasswordChange;

use crate::core::{Core, PersonalTokensOnNewPassword};
use crate::email::Email;
use crate::email_tokens::EmailTokenPurpose;
use crate::error::{AuthError, InvalidFields, password_refused};
use crate::hashing::Verification;
use crate::login_attempts::AttemptKeys;
use crate::mail_requests;
use crate::names::{DisplayName, RoleName, parse_all};
use crate::password::Password;
use crate::principal::Principal;
use crate::services::grants::ClientInfo;
use crate::settings::{EmailVerification, SignupMode};
use crate::store::{ProfileChange, StoreError, UserRecord};
use crate::throttle;
use crate::user::User;

/// Input for a new account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a SecretString,
    pub name: Option<&'a str>,
    pub roles: Vec<String>,
}

/// Changes asked for through `PATCH /me`.
#[derive(Debug, Clone, Default)]
pub struct AccountChange<'a> {
    pub email: Option<&'a str>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<&'a str>>,
    pub current_password: Option<&'a SecretString>,
}

/// What `PATCH /me` did.
#[derive(Debug, Clone)]
pub enum ProfileUpdate {
    /// Every change applied.
    Applied(User),
    /// The other changes applied; the email changes when the new address
    /// confirms (email verification is on), and a message went there.
    EmailConfirmationSent(User),
}

/// The caller's own account.
pub struct Accounts {
    core: Arc<Core>,
}

impl Accounts {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Self-service sign-up through the API, counted against the client
    /// address (every attempt, so that neither hashing nor the `409` of a
    /// taken address can be had in bulk).
    ///
    /// # Errors
    /// [`AuthError::SignupClosed`], [`AuthError::Throttled`],
    /// [`AuthError::Invalid`], [`AuthError::EmailTaken`].
    pub async fn sign_up(
        &self,
        email: &str,
        password: &SecretString,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        let core = &self.core;
        if core.settings.signup == SignupMode::Closed {
            return Err(AuthError::SignupClosed);
        }
        if let Some(ip) = &client.ip {
            let key = format!("signup:{}", throttle::address_key(ip));
            core.settings
                .signup_per_address
                .count(core.store.as_ref(), core.clock.as_ref(), &key)
                .await?;
        }
        let user = create_account(
            &self.core,
            NewAccount {
                email,
                password,
                name,
                roles: Vec::new(),
            },
        )
        .await?;
        if core.settings.email.verification != EmailVerification::Off {
            self.send_verification(&user, client).await;
        }
        Ok(user)
    }

    /// The caller's account and current permissions.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] when the account is gone or disabled.
    pub async fn me(&self, principal: &Principal) -> Result<(User, BTreeSet<String>), AuthError> {
        principal.require_not_client()?;
        let user = self.core.accounts.active_account(principal.user_id).await?;
        let permissions = self.core.accounts.current_permissions(&user.roles).await?;
        Ok((User::clone(&user), permissions))
    }

    /// Changes the caller's name and/or email; an email change needs the
    /// current password and, with email verification on, applies only when
    /// the new address confirms.
    ///
    /// # Errors
    /// [`AuthError::Invalid`], [`AuthError::IncorrectPassword`], [`AuthError::EmailTaken`].
    pub async fn update(
        &self,
        principal: &Principal,
        change: AccountChange<'_>,
        client: &ClientInfo,
    ) -> Result<ProfileUpdate, AuthError> {
        principal.require_not_client()?;
        let core = &self.core;
        let user = core
            .accounts
            .stored_active_account(principal.user_id)
            .await?;
        let mut invalid = InvalidFields::default();
        let email = change
            .email
            .and_then(|email| invalid.check("email", Email::parse(email)))
            .filter(|email| *email != user.email);
        let name = change.name.and_then(|name| match name {
            Some(name) => invalid
                .check("name", DisplayName::parse(name))
                .map(|name| name.map(DisplayName::into_string)),
            None => Some(None),
        });
        if email.is_some() && change.current_password.is_none() {
            invalid.add("current_password", "is required to change the email");
        }
        invalid.finish()?;
        if email.is_some()
            && let Some(current) = change.current_password
        {
            self.check_current_password(&user, current).await?;
        }
        // With verification on, the new address must confirm first.
        let (confirm_first, email) = match email {
            Some(new_email) if core.settings.email.verification != EmailVerification::Off => {
                if core.store.user_by_email(&new_email).await?.is_some() {
                    return Err(AuthError::EmailTaken);
                }
                (Some(new_email), None)
            }
            email => (None, email),
        };
        let change = ProfileChange { email, name };
        let updated = core
            .accounts
            .writing_account(user.id, core.store.update_profile(user.id, &change))
            .await;
        match updated {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::EmailTaken),
            Err(other) => return Err(other.into()),
        }
        let current = core
            .accounts
            .stored_active_account(principal.user_id)
            .await?;
        let Some(new_email) = confirm_first else {
            return Ok(ProfileUpdate::Applied(current.into()));
        };
        let requested = mail_requests::origin(client, core.clock.now_seconds());
        mail_requests::issue_token(
            core,
            &current,
            &new_email,
            EmailTokenPurpose::ChangeEmail,
            requested,
        )
        .await?;
        Ok(ProfileUpdate::EmailConfirmationSent(current.into()))
    }

    /// Sets a new password after checking the current one; every other
    /// session ends, and the personal access tokens too if asked. The
    /// notice to the account's address names the tokens that remain.
    ///
    /// # Errors
    /// [`AuthError::IncorrectPassword`], [`AuthError::Invalid`], [`AuthError::Throttled`].
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
        tokens: PersonalTokensOnNewPassword,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let session_id = principal.require_session()?;
        let user = core
            .accounts
            .stored_active_account(principal.user_id)
            .await?;
        let new_password = core
            .settings
            .password_policy
            .check(new.expose_secret(), Some(&user.email))
            .map_err(|violations| password_refused("new_password", violations))?;
        self.check_current_password(&user, current).await?;
        let hash = core.hasher.hash(&new_password).await?;
        core.replace_password(user.id, &hash, Some(session_id), tokens)
            .await?;
        // The password is changed whatever happens to its notice.
        let queued = async {
            let now = core.clock.now_seconds();
            let personal_tokens = core.personal_tokens_of_user(user.id).await?;
            let notice = mail_requests::password_notice(
                &user,
                PasswordChange::Changed,
                mail_requests::origin(&ClientInfo::default(), now),
                &personal_tokens,
            );
            core.store
                .queue_mail(&mail_requests::queued(&notice, now))
                .await?;
            Ok::<(), AuthError>(())
        };
        if let Err(error) = queued.await {
            tracing::warn!(%error, "the notice of a password change could not be queued");
        }
        Ok(())
    }

    /// Deletes the caller's account after checking the password.
    ///
    /// # Errors
    /// [`AuthError::IncorrectPassword`], [`AuthError::Throttled`].
    pub async fn delete(
        &self,
        principal: &Principal,
        current_password: &SecretString,
    ) -> Result<(), AuthError> {
        principal.require_session()?;
        let user = self
            .core
            .accounts
            .stored_active_account(principal.user_id)
            .await?;
        self.check_current_password(&user, current_password).await?;
        self.core.delete_account(user.id).await
    }

    /// Queues the verification message of a new account. The account
    /// stands if this fails: the owner can ask again.
    async fn send_verification(&self, user: &User, client: &ClientInfo) {
        let core = &self.core;
        let queued = async {
            let record = core
                .store
                .user_by_id(user.id)
                .await?
                .ok_or(AuthError::NotFound)?;
            let requested = mail_requests::origin(client, core.clock.now_seconds());
            mail_requests::issue_token(
                core,
                &record,
                &record.email,
                EmailTokenPurpose::VerifyEmail,
                requested,
            )
            .await
        };
        if let Err(error) = queued.await {
            tracing::warn!(%error, "the verification message of a new account could not be queued");
        }
    }

    /// Checks the password of a signed-in user, throttled like a login.
    async fn check_current_password(
        &self,
        user: &UserRecord,
        password: &SecretString,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let account_key = throttle::account_key(user.email.as_str());
        let keys = AttemptKeys {
            account: Some(&account_key),
            address: None,
        };
        let attempt = core.attempts.begin(keys).await?;
        match core
            .hasher
            .verify(
                &Password::normalise(password.expose_secret()),
                Some(&user.password_hash),
            )
            .await?
        {
            Verification::Match | Verification::NeedsRehash(_) => attempt.succeeded().await,
            Verification::Mismatch => {
                attempt.failed().await?;
                Err(AuthError::IncorrectPassword)
            }
        }
    }
}

/// Checks every field of a new account, hashes the password and stores it;
/// for sign-up and for administrators.
pub(crate) async fn create_account(
    core: &Core,
    account: NewAccount<'_>,
) -> Result<User, AuthError> {
    let mut invalid = InvalidFields::default();
    let email = invalid.check("email", Email::parse(account.email));
    let password = core
        .settings
        .password_policy
        .check(account.password.expose_secret(), email.as_ref())
        .map_err(|violations| invalid.add_all("password", violations.0))
        .ok();
    let name = account
        .name
        .and_then(|name| invalid.check("name", DisplayName::parse(name)))
        .flatten();
    let roles = invalid.check("roles", parse_all(&account.roles, RoleName::parse));
    let (Some(email), Some(password), Some(roles)) = (email, password, roles) else {
        return Err(invalid.into_error());
    };
    invalid.finish()?;
    // A taken address costs no hash: sign-up already answers 409 for it,
    // so the check reveals nothing, and a flood of duplicates cannot turn
    // into a flood of Argon2 work.
    if core.store.user_by_email(&email).await?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let record = UserRecord {
        id: Uuid::now_v7(),
        email,
        name: name.map(DisplayName::into_string),
        roles: roles.into_iter().map(RoleName::into_string).collect(),
        password_hash: core.hasher.hash(&password).await?,
        disabled: false,
        email_verified: false,
        created_at: core.clock.now_seconds(),
    };
    match core.store.insert_user(&record).await {
        Ok(()) => Ok(record.into()),
        Err(StoreError::Conflict) => Err(AuthError::EmailTaken),
        Err(other) => Err(other.into()),
    }
}
