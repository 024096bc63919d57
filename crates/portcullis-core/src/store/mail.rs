//! The mail outbox: messages waiting to be sent, claimed by one sender at
//! a time, and what became of them; and the one-time tokens those messages
//! carry, kept as hashes.
//!
//! A message is queued in the same transaction as whatever it tells of
//! (the token it carries, the change it reports), so a committed change
//! always has its message, and a message never exists for a change that
//! was rolled back. Senders on any number of instances claim due messages
//! with a lease: a claim is a compare-and-set in the database, so two
//! senders never hold one message at once, and a sender that died holding
//! one lets it be claimed again when the lease ends. Only the holder of a
//! claim records how the attempt went.
//!
//! A token is issued with its message in one transaction that also deletes
//! the unused tokens of the same account and purpose (a new request cancels
//! the older ones), and spent with its effect (the address verified, the
//! password replaced) and any notice in another, as a compare-and-set on
//! its being unused, unexpired and its code alive: spent once, everywhere.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::email::Email;
use crate::email_tokens::{CodeHash, EmailTokenPurpose, LinkTokenHash};
use crate::hashing::PasswordHashString;
use crate::store::StoreError;

/// A message to queue: its kind (for metrics and operators) and its JSON
/// form, as `portcullis_mail::OutgoingMessage::to_json` writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: Uuid,
    pub kind: &'static str,
    /// Holds the link and code in clear: never logged.
    pub payload: String,
    pub queued_at: OffsetDateTime,
}

/// A message a sender holds until `claimed_until`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: Uuid,
    /// The claim's own id: recording the outcome needs it, so a sender
    /// whose lease ran out and was overtaken records nothing.
    pub claim: Uuid,
    pub payload: String,
    pub failed_attempts: u32,
    pub first_attempt_at: Option<OffsetDateTime>,
}

/// How one delivery attempt went, as the sender records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailAttempt {
    /// Delivered; the SMTP server's answer.
    Sent { answer: String },
    /// Failed for now; try again at `at`.
    RetryAt { at: OffsetDateTime, reason: String },
    /// Failed for good.
    GaveUp { reason: String },
}

/// A one-time token sent by mail, as stored: hashes only.
#[derive(Debug, Clone)]
pub struct EmailTokenRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: EmailTokenPurpose,
    /// The address the token proves; it must still be the account's when
    /// the token is spent.
    pub email: Email,
    pub link_hash: LinkTokenHash,
    pub code_hash: CodeHash,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Wrong codes tried against it.
    pub failed_tries: u32,
    pub used_at: Option<OffsetDateTime>,
}

/// What spending a token changes, with the token's account and address.
#[derive(Debug, Clone, Copy)]
pub enum TokenEffect<'a> {
    /// The address is marked verified.
    VerifyEmail,
    /// The password hash is replaced and the address marked verified.
    ResetPassword { hash: &'a PasswordHashString },
    /// The account's address becomes the token's, verified;
    /// [`StoreError::Conflict`] when another account has it by now.
    ChangeEmail,
}

#[async_trait]
pub trait EmailTokenStore: Send + Sync + 'static {
    /// In one transaction: deletes the unused tokens of `token`'s account
    /// and purpose, stores `token` and queues `mail`, the message carrying it.
    async fn issue_email_token(
        &self,
        token: &EmailTokenRecord,
        mail: &QueuedMail,
    ) -> Result<(), StoreError>;
    /// The token whose link hashes to `hash`, used or not.
    async fn email_token_by_link(
        &self,
        hash: &LinkTokenHash,
    ) -> Result<Option<EmailTokenRecord>, StoreError>;
    /// The tokens of `user_id` and `purpose` still usable at `now`: unused,
    /// unexpired, and with fewer than `max_tries` wrong codes.
    async fn live_email_tokens(
        &self,
        user_id: Uuid,
        purpose: EmailTokenPurpose,
        now: OffsetDateTime,
        max_tries: u32,
    ) -> Result<Vec<EmailTokenRecord>, StoreError>;
    /// Counts one wrong code against the token `id`. Atomic.
    async fn count_wrong_code(&self, id: Uuid) -> Result<(), StoreError>;
    /// In one transaction: marks `token` used at `now` if it is still
    /// unused, unexpired and has fewer than `max_tries` wrong codes, applies
    /// `effect` to its account (for a verification or a reset, only if the
    /// account still has the token's address), and queues `notice`. Returns whether all of it happened;
    /// when not, nothing changed.
    async fn spend_email_token(
        &self,
        token: &EmailTokenRecord,
        now: OffsetDateTime,
        max_tries: u32,
        effect: TokenEffect<'_>,
        notice: Option<&QueuedMail>,
    ) -> Result<bool, StoreError>;
    /// Deletes at most `limit` tokens that expired before `before`.
    async fn prune_email_tokens(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait MailStore: Send + Sync + 'static {
    /// Queues one message on its own (a notice that carries no token).
    async fn queue_mail(&self, mail: &QueuedMail) -> Result<(), StoreError>;
    /// Claims at most `limit` waiting messages due at `now` that no live
    /// claim holds, until `claimed_until`, under the claim `claim`; the
    /// oldest due first. Atomic: concurrent claimers on every instance get
    /// disjoint sets.
    async fn claim_mail(
        &self,
        claim: Uuid,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError>;
    /// Records how an attempt on message `id` went, if `claim` still holds
    /// it; returns whether it did. A sent or given-up message loses its
    /// payload.
    async fn record_mail_attempt(
        &self,
        id: Uuid,
        claim: Uuid,
        now: OffsetDateTime,
        attempt: &MailAttempt,
    ) -> Result<bool, StoreError>;
    /// How many messages wait to be sent (due or not, claimed or not).
    async fn count_waiting_mail(&self) -> Result<u64, StoreError>;
    /// Deletes at most `limit` messages sent or given up before `before`.
    async fn prune_finished_mail(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;
}

impl std::fmt::Debug for QueuedMail {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("QueuedMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("payload", &"[redacted]")
            .field("queued_at", &self.queued_at)
            .finish()
    }
}

impl std::fmt::Debug for ClaimedMail {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClaimedMail")
            .field("id", &self.id)
            .field("claim", &self.claim)
            .field("payload", &"[redacted]")
            .field("failed_attempts", &self.failed_attempts)
            .field("first_attempt_at", &self.first_attempt_at)
            .finish()
    }
}
