//! The domain's measurements, named in one place: logins by outcome,
//! throttled attempts, refresh-token reuse, the password-hashing queue, and
//! transactions holding the feeds back.
//!
//! Recorded through the `metrics` facade, so the domain does not know how
//! they are exported (the server serves them at `/metrics`); with no
//! recorder installed (tests, the command line) they cost next to nothing.

use std::time::Duration;

/// How a password grant ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    InvalidGrant,
    Throttled,
}

pub(crate) fn login(outcome: LoginOutcome) {
    let outcome = match outcome {
        LoginOutcome::Success => "success",
        LoginOutcome::InvalidGrant => "invalid_grant",
        LoginOutcome::Throttled => "throttled",
    };
    metrics::counter!("portcullis_logins_total", "outcome" => outcome).increment(1);
}

/// An attempt refused by throttling (a login or a current-password check).
pub(crate) fn throttled_attempt() {
    metrics::counter!("portcullis_throttled_attempts_total").increment(1);
}

pub(crate) fn refresh_token_reuse() {
    metrics::counter!("portcullis_refresh_reuse_detected_total").increment(1);
}

pub(crate) fn hash_queue_depth(waiting: usize) {
    #[allow(clippy::cast_precision_loss, reason = "a queue length fits a gauge")]
    metrics::gauge!("portcullis_password_hash_queue_depth").set(waiting as f64);
}

/// How long the oldest running transaction that wrote has held the feeds
/// back: every read of them returns again all written since it began.
pub(crate) fn feeds_held_back(running: Duration) {
    metrics::gauge!("portcullis_feeds_held_back_seconds").set(running.as_secs_f64());
}

pub(crate) fn hash_wait(waited: Duration) {
    metrics::histogram!("portcullis_password_hash_wait_seconds").record(waited.as_secs_f64());
}
