//! Proving who you are with an email and a password: the one check behind
//! the token endpoint's password grant and the hosted login page, so that
//! both throttle, hash and fail alike.
//!
//! In this order: throttling (before any hashing), one verification whose
//! time does not depend on whether the email exists, and one failure for
//! every bad credential. A hash in an older scheme is replaced at the first
//! match.

use secrecy::{ExposeSecret as _, SecretString};

use crate::core::Core;
use crate::email::Email;
use crate::error::AuthError;
use crate::hashing::Verification;
use crate::login_attempts::AttemptKeys;
use crate::password::Password;
use crate::services::grants::ClientInfo;
use crate::settings::EmailVerification;
use crate::store::UserRecord;
use crate::telemetry::{self, LoginOutcome};
use crate::throttle;

/// The account whose email (`identifier`) and password these are.
///
/// # Errors
/// [`AuthError::Throttled`], [`AuthError::InvalidGrant`] for any bad
/// credential or a disabled account, [`AuthError::EmailNotVerified`] (only
/// once the password matched).
pub(crate) async fn check(
    core: &Core,
    identifier: &str,
    password: &SecretString,
    client: &ClientInfo,
) -> Result<UserRecord, AuthError> {
    let email = Email::parse(identifier).ok();
    let account_key = throttle::account_key(
        &email
            .as_ref()
            .map_or_else(|| identifier.trim().to_lowercase(), ToString::to_string),
    );
    let address_key = client.ip.as_deref().map(throttle::address_key);
    let keys = AttemptKeys {
        account: Some(&account_key),
        address: address_key.as_deref(),
    };
    let attempt = core.attempts.begin(keys).await.inspect_err(|error| {
        if matches!(error, AuthError::Throttled { .. }) {
            telemetry::login(LoginOutcome::Throttled);
        }
    })?;

    let user = match &email {
        Some(email) => core.store.user_by_email(email).await?,
        None => None,
    };
    let verification = core
        .hasher
        .verify(
            &Password::presented(password.expose_secret()),
            user.as_ref().map(|u| &u.password_hash),
        )
        .await?;
    let user = match (user, verification) {
        (Some(user), outcome @ (Verification::Match | Verification::NeedsRehash(_)))
            if !user.disabled =>
        {
            if let Verification::NeedsRehash(new_hash) = outcome {
                core.store.set_password_hash(user.id, &new_hash).await?;
            }
            attempt.succeeded().await?;
            // Said only to whoever knows the password.
            if core.settings.email.verification == EmailVerification::Required
                && !user.email_verified
            {
                return Err(AuthError::EmailNotVerified);
            }
            telemetry::login(LoginOutcome::Success);
            user
        }
        _ => {
            telemetry::login(LoginOutcome::InvalidGrant);
            attempt.failed().await?;
            return Err(AuthError::InvalidGrant);
        }
    };
    Ok(user)
}
