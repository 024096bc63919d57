//! The mail outbox: messages waiting to be sent, claimed by one sender at
//! a time, and what became of them.
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
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

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
