//! The mail sender's measurements, named in one place: messages sent,
//! given up, retried, and the number waiting in the outbox.
//!
//! Recorded through the `metrics` facade like the domain's, so this crate
//! does not know how they are exported; with no recorder installed (tests,
//! the command line) they cost next to nothing. Labels are the message kind
//! and the reason for giving up, never an address.

use crate::message::MessageKind;
use crate::retry::GiveUpReason;

pub(crate) fn sent(kind: MessageKind) {
    metrics::counter!("portcullis_mail_sent_total", "kind" => kind.as_str()).increment(1);
}

/// A message given up: refused for good, expired, or retried for too long.
pub(crate) fn failed(kind: MessageKind, reason: GiveUpReason) {
    metrics::counter!("portcullis_mail_failed_total", "kind" => kind.as_str(), "reason" => reason.as_str())
        .increment(1);
}

/// A transient failure after which the message will be tried again.
pub(crate) fn retried(kind: MessageKind) {
    metrics::counter!("portcullis_mail_retried_total", "kind" => kind.as_str()).increment(1);
}

/// Sets `portcullis_mail_waiting`: the messages in the outbox not yet sent
/// nor given up. The sender loop calls it after each pass over the outbox.
pub fn record_waiting_messages(count: u64) {
    #[allow(clippy::cast_precision_loss, reason = "a queue length fits a gauge")]
    metrics::gauge!("portcullis_mail_waiting").set(count as f64);
}
