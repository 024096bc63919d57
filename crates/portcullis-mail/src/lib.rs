//! Portcullis mail: what turns an outbox row into a delivered message.
//!
//! The domain writes an [`OutgoingMessage`] (plain data, stable JSON) in the
//! same transaction as the token it carries; a sender loop in the server
//! claims it and calls `Mailer::attempt`, which renders it from templates
//! (text and HTML), sends it over SMTP (or to the log in development mode),
//! and answers what to record: sent, try again at a time the
//! [`RetryPolicy`] chose, or given up. `portcullis mail test` calls
//! `Mailer::deliver` and prints the server's answer.
//!
//! This crate knows no SQL and no HTTP. It never logs a secret: the SMTP
//! password and a message's link and code print `[redacted]` in `Debug`;
//! the only exception is the development transport, which exists only
//! without an SMTP URL and writes links and codes to the log on purpose.
//!
//! Without the default `delivery` feature only [`message`] and [`retry`]
//! compile (serde and time; no lettre, no TLS, no templates), for the
//! domain, which writes messages but never sends them.

pub mod message;
pub mod retry;

#[cfg(feature = "delivery")]
mod mailer;
#[cfg(feature = "delivery")]
mod settings;
#[cfg(feature = "delivery")]
mod telemetry;
#[cfg(feature = "delivery")]
mod templates;
#[cfg(feature = "delivery")]
mod transport;

#[cfg(feature = "test-support")]
pub mod test_smtp;

#[cfg(feature = "delivery")]
pub use mailer::{AttemptOutcome, Delivery, Mailer};
pub use message::{
    Link, MessageContent, MessageError, MessageKind, OneTimeCode, OutgoingMessage, PasswordChange,
    Recipient, RemainingToken, RemainingTokens, RequestOrigin,
};
pub use retry::{AfterFailure, DeliveryHistory, GiveUpReason, RetryPolicy};
#[cfg(feature = "delivery")]
pub use settings::{MailError, MailFrom, MailSettings, SmtpSecurity, SmtpUrl};
#[cfg(feature = "delivery")]
pub use telemetry::record_waiting_messages;
#[cfg(feature = "delivery")]
pub use templates::overrides::{TemplateFile, read_template_folder};
#[cfg(feature = "delivery")]
pub use templates::strict_environment;
