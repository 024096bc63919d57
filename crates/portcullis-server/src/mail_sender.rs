//! The mail sender: a loop that moves the outbox on.
//!
//! Every second (at once again while it finds a full batch), it claims the
//! due messages (`Outbox::claim_due`: a lease in the database, so no two
//! instances hold one message), hands each to `Mailer::attempt`, which
//! delivers it and applies the retry policy, and records the answer: sent,
//! try again at a later time, or given up. Then it sets the gauge of
//! waiting messages. A server killed between claim and record leaves the
//! claim to run out; another pass, here or on another instance, sends the
//! message then.
//!
//! Failures are logged and tried again on the next pass; they never stop
//! the server, and readiness does not depend on mail.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::Services;
use portcullis_core::store::{ClaimedMail, MailAttempt};
use portcullis_mail::{AttemptOutcome, DeliveryHistory, Mailer, OutgoingMessage};
use tokio::task::JoinHandle;

/// How often the outbox is looked at when the last pass found little.
const PASS_INTERVAL: Duration = Duration::from_secs(1);
/// Messages claimed at once, then delivered one after another.
const BATCH: u32 = 10;

/// Starts the sender loop; abort the handle to stop it.
pub fn spawn_mail_sender(services: Arc<Services>, mailer: Arc<Mailer>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PASS_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            while let Ok(BatchOutcome::Full) = pass(&services, &mailer).await {}
            match services.outbox.count_waiting().await {
                Ok(waiting) => portcullis_mail::record_waiting_messages(waiting),
                Err(error) => tracing::warn!(%error, "could not count the waiting messages"),
            }
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchOutcome {
    /// Fewer than a batch were due: wait for the next tick.
    Short,
    /// A whole batch was due: more may be.
    Full,
}

/// Claims one batch and attempts each message.
async fn pass(services: &Services, mailer: &Mailer) -> Result<BatchOutcome, ()> {
    let claimed = services
        .outbox
        .claim_due(BATCH)
        .await
        .map_err(|error| tracing::warn!(%error, "could not claim due messages"))?;
    let full = claimed.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
    for message in &claimed {
        let attempt = attempt(mailer, message).await;
        match services.outbox.record(message, &attempt).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                message = %message.id,
                "a message's claim ran out before its attempt was recorded; another sender took it"
            ),
            Err(error) => {
                tracing::warn!(%error, message = %message.id, "could not record a mail attempt; it will be tried again when its claim runs out");
            }
        }
    }
    Ok(if full {
        BatchOutcome::Full
    } else {
        BatchOutcome::Short
    })
}

/// Delivers one claimed message and says what to record.
async fn attempt(mailer: &Mailer, message: &ClaimedMail) -> MailAttempt {
    let outgoing = match OutgoingMessage::from_json(&message.payload) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            tracing::error!(%error, message = %message.id, "an outbox message cannot be read; given up");
            return MailAttempt::GaveUp {
                reason: error.to_string(),
            };
        }
    };
    let history = DeliveryHistory {
        failed_attempts: message.failed_attempts,
        first_attempt_at: message.first_attempt_at,
    };
    match mailer.attempt(&outgoing, history).await {
        AttemptOutcome::Sent { answer } => MailAttempt::Sent { answer },
        AttemptOutcome::RetryAt { at, reason } => MailAttempt::RetryAt { at, reason },
        AttemptOutcome::GaveUp { reason, detail } => MailAttempt::GaveUp {
            reason: format!("{}: {detail}", reason.as_str()),
        },
    }
}
