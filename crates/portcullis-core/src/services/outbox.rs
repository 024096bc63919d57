//! The mail outbox, as the sender loop of a server sees it: claim the
//! messages that are due, record how each attempt went, count what waits.
//!
//! The use cases that send mail queue their messages in the same store
//! write as the change they carry; this service only moves them on. It
//! reads the time from the core's clock, so tests move leases and retries
//! without sleeping. It never opens a message: payloads are handed to the
//! sender as they were stored.

use std::sync::Arc;

use time::Duration;
use uuid::Uuid;

use crate::core::Core;
use crate::error::AuthError;
use crate::store::{ClaimedMail, MailAttempt};

/// How long a claim holds a message: longer than any one delivery can take
/// (connecting and each SMTP command are bounded by the mail timeout, 30 s
/// by default), so that a live sender is never overtaken, and short enough
/// that a message claimed by a server that was killed goes out soon after.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

/// See the module documentation.
pub struct Outbox {
    core: Arc<Core>,
}

impl Outbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Claims at most `limit` due messages for [`CLAIM_LEASE`], the oldest
    /// first; no other sender gets them while the claim lasts.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn claim_due(&self, limit: u32) -> Result<Vec<ClaimedMail>, AuthError> {
        let now = self.core.clock.now();
        Ok(self
            .core
            .store
            .claim_mail(Uuid::now_v7(), now, now + CLAIM_LEASE, limit)
            .await?)
    }

    /// Records how the attempt on `message` went; `false` when its claim
    /// had run out and another sender took it meanwhile.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn record(
        &self,
        message: &ClaimedMail,
        attempt: &MailAttempt,
    ) -> Result<bool, AuthError> {
        let now = self.core.clock.now();
        Ok(self
            .core
            .store
            .record_mail_attempt(message.id, message.claim, now, attempt)
            .await?)
    }

    /// How many messages wait to be sent, for `/metrics`.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn count_waiting(&self) -> Result<u64, AuthError> {
        Ok(self.core.store.count_waiting_mail().await?)
    }
}
