//! The mailer: renders a message, hands it to the transport, and, for the
//! sender loop, turns the result and the retry policy into what the store
//! records, counting it in the metrics on the way.
//!
//! It knows nothing of the outbox: the loop claims a row, passes its
//! message and history in, and persists the [`AttemptOutcome`].

use std::fmt;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use time::OffsetDateTime;

use crate::message::OutgoingMessage;
use crate::retry::{AfterFailure, DeliveryHistory, GiveUpReason, RetryPolicy};
use crate::settings::{MailError, MailSettings};
use crate::telemetry;
use crate::templates::{Rendered, Templates, one_line};
use crate::transport::Transport;

/// Renders and delivers messages. Built once from the settings; every
/// template has been rendered once by then.
pub struct Mailer {
    transport: Transport,
    templates: Templates,
    from: Mailbox,
    retry: RetryPolicy,
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server accepted the message; `answer` is its reply, e.g.
    /// `250 2.0.0 Ok: queued as 4BHJ2`.
    Sent { answer: String },
    /// Worth trying again: a 4xx reply, no connection, a timeout, a TLS
    /// failure, refused credentials.
    Transient { reason: String },
    /// Trying again cannot help: a 5xx reply (other than refused
    /// credentials), an address that is not one, a template that fails.
    Permanent { reason: String },
}

/// What the sender loop records after [`Mailer::attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Sent {
        answer: String,
    },
    /// Failed transiently; try again at `at`.
    RetryAt {
        at: OffsetDateTime,
        reason: String,
    },
    /// Failed for good; `detail` is the last failure.
    GaveUp {
        reason: GiveUpReason,
        detail: String,
    },
}

/// A display name longer than this is cut in the `To` header.
const DISPLAY_NAME_MAX_CHARS: usize = 100;

impl Mailer {
    /// Checks the settings, loads and renders every template, and sets up
    /// the transport (no connection is made until the first delivery).
    ///
    /// # Errors
    /// [`MailError`] naming the setting or template at fault.
    pub fn new(settings: MailSettings) -> Result<Self, MailError> {
        let templates = Templates::load(&settings.product_name, settings.templates_dir.as_deref())?;
        let transport = Transport::new(&settings)?;
        Ok(Self {
            transport,
            templates,
            from: settings.from.0,
            retry: settings.retry,
        })
    }

    /// Renders and sends one message, once. Never panics, never retries.
    pub async fn deliver(&self, message: &OutgoingMessage) -> Delivery {
        let rendered = match self.templates.render(message) {
            Ok(rendered) => rendered,
            Err(error) => {
                return Delivery::Permanent {
                    reason: format!("the {} templates failed: {error}", message.kind()),
                };
            }
        };
        let subject = rendered.subject.clone();
        match self.compose(message, rendered) {
            Ok(email) => self.transport.send(message, &subject, email).await,
            Err(reason) => Delivery::Permanent { reason },
        }
    }

    /// One attempt of the sender loop: delivers, then decides with the
    /// retry policy what to record, and counts it. `history` is what the
    /// store remembers of earlier attempts (`first_attempt_at` is taken as
    /// now when it is `None`).
    pub async fn attempt(
        &self,
        message: &OutgoingMessage,
        history: DeliveryHistory,
    ) -> AttemptOutcome {
        let started = OffsetDateTime::now_utc();
        let delivery = self.deliver(message).await;
        let kind = message.kind();
        let outcome = match delivery {
            Delivery::Sent { answer } => {
                telemetry::sent(kind);
                return AttemptOutcome::Sent { answer };
            }
            Delivery::Permanent { reason } => AttemptOutcome::GaveUp {
                reason: GiveUpReason::Permanent,
                detail: reason,
            },
            Delivery::Transient { reason } => {
                let failures = history.failed_attempts.saturating_add(1);
                let first_attempt_at = history.first_attempt_at.unwrap_or(started);
                let now = OffsetDateTime::now_utc();
                match self.retry.after_transient_failure(
                    failures,
                    first_attempt_at,
                    message.expires_at(),
                    now,
                ) {
                    AfterFailure::RetryAt(at) => AttemptOutcome::RetryAt { at, reason },
                    AfterFailure::GiveUp(why) => AttemptOutcome::GaveUp {
                        reason: why,
                        detail: reason,
                    },
                }
            }
        };
        match &outcome {
            AttemptOutcome::RetryAt { at, reason } => {
                telemetry::retried(kind);
                tracing::warn!(%kind, %at, reason, "mail delivery failed; it will be tried again");
            }
            AttemptOutcome::GaveUp { reason, detail } => {
                telemetry::failed(kind, *reason);
                tracing::error!(%kind, reason = reason.as_str(), detail, "mail delivery given up");
            }
            AttemptOutcome::Sent { .. } => {}
        }
        outcome
    }

    /// The lettre message: `From`, `To` (with the display name on one
    /// line), the subject, `Auto-Submitted: auto-generated` (RFC 3834: no
    /// vacation replies) and the text and HTML alternatives.
    fn compose(
        &self,
        message: &OutgoingMessage,
        rendered: Rendered,
    ) -> Result<lettre::Message, String> {
        let address = message
            .to
            .email
            .parse::<lettre::Address>()
            .map_err(|error| format!("the recipient address is not valid: {error}"))?;
        let name = message
            .to
            .name
            .as_deref()
            .map(|name| one_line(name, DISPLAY_NAME_MAX_CHARS));
        lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name.filter(|name| !name.is_empty()), address))
            .subject(rendered.subject)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|error| format!("the message cannot be built: {error}"))
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.transport.describe())
            .field("from", &self.from.to_string())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent { answer } => write!(f, "sent; the server answered: {answer}"),
            Self::Transient { reason } => write!(f, "not sent, worth trying again: {reason}"),
            Self::Permanent { reason } => write!(f, "not sent, refused for good: {reason}"),
        }
    }
}
