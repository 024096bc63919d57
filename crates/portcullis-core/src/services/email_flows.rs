//! Proving an address and recovering an account by mail: asking for a
//! verification or reset message, and spending the link token or code it
//! carries.
//!
//! A request answers the same whether or not the address has an account:
//! it counts the request against the email and the client address (both
//! refused past their limit, known address or not), then hands the rest
//! (finding the account, making the token, queueing the message) to a task
//! of its own, so neither the answer nor its time says whether there was
//! anything to do. A token or code is spent once, by a compare-and-set in
//! the store that applies its effect in the same transaction; a wrong code
//! counts against the account's live token, which dies at the fifth.

use std::sync::Arc;

use portcullis_mail::PasswordChange;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::task::JoinHandle;

use crate::core::Core;
use crate::email::Email;
use crate::email_tokens::{EmailTokenPurpose, LinkTokenHash, MAX_CODE_TRIES, is_link_token_shaped};
use crate::error::{AuthError, invalid, password_refused};
use crate::mail_requests::{self, origin, queued};
use crate::services::grants::ClientInfo;
use crate::store::{EmailTokenRecord, StoreError, TokenEffect};
use crate::throttle;
use crate::user::User;

/// How a client proves it read a message: the link's token, or the
/// address and the code.
#[derive(Debug, Clone, Copy)]
pub enum EmailProof<'a> {
    Link {
        token: &'a SecretString,
    },
    Code {
        email: &'a str,
        code: &'a SecretString,
    },
}

/// The work a mail request started, which goes on whether or not its
/// caller waits (the server answers `202` at once; tests wait).
#[derive(Debug)]
#[must_use = "dropping it lets the work go on unwatched; call `finished` to wait for it"]
pub struct MailRequest(JoinHandle<()>);

impl MailRequest {
    /// Waits until the message (if any) is queued.
    ///
    /// # Panics
    /// When the work panicked.
    pub async fn finished(self) {
        if let Err(error) = self.0.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// See the module documentation.
pub struct EmailFlows {
    core: Arc<Core>,
}

impl EmailFlows {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// `POST /email/verify-request`: a verification message to `email` if
    /// an active account has it and has not proved it yet.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] (not an address), [`AuthError::Throttled`].
    pub async fn request_verification(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<MailRequest, AuthError> {
        self.request(email, client, EmailTokenPurpose::VerifyEmail)
            .await
    }

    /// `POST /login/email-code`: a sign-in code to `email` if an active
    /// account has it.
    ///
    /// # Errors
    /// [`AuthError::EmailCodeLoginOff`], [`AuthError::Invalid`] (not an
    /// address), [`AuthError::Throttled`].
    pub async fn request_sign_in_code(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<MailRequest, AuthError> {
        if !self.core.settings.email.code_login {
            return Err(AuthError::EmailCodeLoginOff);
        }
        self.request(email, client, EmailTokenPurpose::SignIn).await
    }

    /// `POST /password/forgot`: a reset message to `email` if an active
    /// account has it; nothing otherwise.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] (not an address), [`AuthError::Throttled`].
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<MailRequest, AuthError> {
        self.request(email, client, EmailTokenPurpose::ResetPassword)
            .await
    }

    /// `POST /email/verify`: marks the address proved, or, for the link of
    /// an email change, moves the account to its new address (verified) and
    /// tells the old one.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] naming `token` or `code` when the proof is
    /// wrong, used, cancelled or expired; [`AuthError::EmailTaken`] when
    /// another account took the new address meanwhile.
    pub async fn verify_email(
        &self,
        proof: EmailProof<'_>,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        let core = &self.core;
        let token = self
            .live_token(
                &[
                    EmailTokenPurpose::VerifyEmail,
                    EmailTokenPurpose::ChangeEmail,
                ],
                proof,
            )
            .await?;
        let user = core
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or_else(|| refused(proof))?;
        let now = core.clock.now_seconds();
        // An email change tells the address it leaves.
        let (effect, notice) = if token.purpose == EmailTokenPurpose::ChangeEmail {
            let notice =
                mail_requests::email_changed_notice(&user, &token.email, origin(client, now));
            (TokenEffect::ChangeEmail, Some(queued(&notice, now)))
        } else {
            (TokenEffect::VerifyEmail, None)
        };
        let spent = core
            .accounts
            .writing_account(
                token.user_id,
                core.store.spend_email_token(
                    &token,
                    core.clock.now(),
                    MAX_CODE_TRIES,
                    effect,
                    notice.as_ref(),
                ),
            )
            .await;
        match spent {
            Ok(true) => {}
            Ok(false) => return Err(refused(proof)),
            Err(StoreError::Conflict) => return Err(AuthError::EmailTaken),
            Err(other) => return Err(other.into()),
        }
        let user = core
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        Ok(user.into())
    }

    /// `POST /password/reset`: sets a new password, marks the address
    /// proved, ends every session of the account and tells its address,
    /// naming the personal access tokens, which stay.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] naming `token` or `code` when the proof is
    /// wrong, used, cancelled or expired, or `new_password` when the policy
    /// refuses it.
    pub async fn reset_password(
        &self,
        proof: EmailProof<'_>,
        new_password: &SecretString,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let token = self
            .live_token(&[EmailTokenPurpose::ResetPassword], proof)
            .await?;
        let user = core
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or_else(|| refused(proof))?;
        let password = core
            .settings
            .password_policy
            .check(new_password.expose_secret(), Some(&user.email))
            .map_err(|violations| password_refused("new_password", violations))?;
        let hash = core.hasher.hash(&password).await?;
        let now = core.clock.now_seconds();
        // A reset keeps the personal access tokens: the notice names them.
        let personal_tokens = core.personal_tokens_of_user(user.id).await?;
        let notice = mail_requests::password_notice(
            &user,
            PasswordChange::Reset,
            origin(client, now),
            &personal_tokens,
        );
        let spent = core
            .accounts
            .writing_account(
                user.id,
                core.store.spend_email_token(
                    &token,
                    core.clock.now(),
                    MAX_CODE_TRIES,
                    TokenEffect::ResetPassword { hash: &hash },
                    Some(&queued(&notice, now)),
                ),
            )
            .await?;
        if !spent {
            return Err(refused(proof));
        }
        core.revocations.revoke_user_sessions(user.id, None).await
    }

    /// Counts the request, then starts the rest in a task of its own.
    async fn request(
        &self,
        email: &str,
        client: &ClientInfo,
        purpose: EmailTokenPurpose,
    ) -> Result<MailRequest, AuthError> {
        let core = &self.core;
        let email = Email::parse(email).map_err(|error| invalid("email", error.to_string()))?;
        let limits = &core.settings.email;
        if let Some(ip) = &client.ip {
            let key = format!("mail:{}", throttle::address_key(ip));
            limits
                .per_address
                .count(core.store.as_ref(), core.clock.as_ref(), &key)
                .await?;
        }
        let key = format!("mail:email:{}", email.as_str());
        limits
            .per_email
            .count(core.store.as_ref(), core.clock.as_ref(), &key)
            .await?;
        let requested = origin(client, core.clock.now_seconds());
        let core = Arc::clone(&self.core);
        Ok(MailRequest(tokio::spawn(async move {
            let sent = async {
                let Some(user) = core.store.user_by_email(&email).await? else {
                    return Ok(());
                };
                let already_verified =
                    purpose == EmailTokenPurpose::VerifyEmail && user.email_verified;
                if !user.disabled && !already_verified {
                    mail_requests::issue_token(&core, &user, &user.email, purpose, requested)
                        .await?;
                }
                Ok::<(), AuthError>(())
            };
            if let Err(error) = sent.await {
                tracing::warn!(%error, purpose = purpose.as_str(), "a mail request could not be queued");
            }
        })))
    }

    /// The live token `proof` names for one of `purposes`, of an active
    /// account. A wrong code counts against the account's live tokens.
    async fn live_token(
        &self,
        purposes: &[EmailTokenPurpose],
        proof: EmailProof<'_>,
    ) -> Result<EmailTokenRecord, AuthError> {
        let core = &self.core;
        let now = core.clock.now();
        let token = match proof {
            EmailProof::Link { token } => {
                let token = token.expose_secret();
                if !is_link_token_shaped(token) {
                    return Err(refused(proof));
                }
                core.store
                    .email_token_by_link(&LinkTokenHash::of(token))
                    .await?
                    .filter(|found| {
                        purposes.contains(&found.purpose)
                            && found.used_at.is_none()
                            && found.expires_at > now
                            && found.failed_tries < MAX_CODE_TRIES
                    })
            }
            EmailProof::Code { email, code } => {
                let email =
                    Email::parse(email).map_err(|error| invalid("email", error.to_string()))?;
                // A code names the account by its current address, so an
                // email change is confirmed by its link only.
                let by_code: Vec<EmailTokenPurpose> = purposes
                    .iter()
                    .copied()
                    .filter(|purpose| *purpose != EmailTokenPurpose::ChangeEmail)
                    .collect();
                mail_requests::token_for_code(core, &email, code, &by_code).await?
            }
        };
        let token = token.ok_or_else(|| refused(proof))?;
        let active = core
            .store
            .user_by_id(token.user_id)
            .await?
            .is_some_and(|user| !user.disabled);
        if active {
            Ok(token)
        } else {
            Err(refused(proof))
        }
    }
}

/// The one answer to a proof that does not work, whatever the reason.
fn refused(proof: EmailProof<'_>) -> AuthError {
    match proof {
        EmailProof::Link { .. } => invalid("token", "is invalid, expired, or already used"),
        EmailProof::Code { .. } => invalid("code", "is invalid, expired, or already used"),
    }
}
