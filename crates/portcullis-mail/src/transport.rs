//! The two ways a message leaves: SMTP through lettre, or, when there is no
//! SMTP URL, the log (development mode). Also where lettre's errors become
//! the sender's only question: try again later, or give up?
//!
//! The SMTP password goes from its `SecretString` straight into lettre's
//! `Credentials` (whose `Debug` prints nothing) and is never formatted. The
//! development transport is the one place that writes a link and a code to
//! the log, on purpose, and it exists only when no SMTP URL is configured.

use std::path::Path;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::mailer::Delivery;
use crate::message::OutgoingMessage;
use crate::settings::{MailError, MailSettings, SmtpSecurity, SmtpUrl};

pub(crate) enum Transport {
    /// `shown` is the URL without its password, for `Debug`.
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        shown: String,
    },
    /// No SMTP URL: messages are written to the log at WARN level.
    Development,
}

/// Reply codes that refuse the sender's credentials or their protection:
/// the server's configuration or ours, not the message's fault, so they
/// are retried (while an operator fixes it) rather than dropped.
const AUTHENTICATION_REFUSALS: [&str; 4] = ["530", "534", "535", "538"];

impl Transport {
    pub(crate) fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let Some(url) = &settings.smtp_url else {
            tracing::warn!(
                "development mode: no SMTP URL (--smtp-url), so mail is written to the log, links and codes \
                 included, instead of being sent"
            );
            return Ok(Self::Development);
        };
        let password = match (&url.password, &settings.smtp_password) {
            (Some(_), Some(_)) => return Err(MailError::PasswordGivenTwice),
            (Some(password), None) | (None, Some(password)) => Some(password),
            (None, None) => None,
        };
        url.check_password_is_protected(password.is_some())?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .timeout(Some(settings.timeout))
            .tls(tls(url, settings.extra_root_certificates.as_deref())?);
        if let Some(password) = password {
            let user = url.username.clone().ok_or(MailError::PasswordWithoutUser)?;
            builder =
                builder.credentials(Credentials::new(user, password.expose_secret().to_owned()));
        }
        if matches!(
            url.security,
            SmtpSecurity::Plain | SmtpSecurity::StartTlsOpportunistic
        ) && !url.is_loopback()
        {
            tracing::warn!(smtp_url = %url, "mail to this SMTP server may travel unencrypted");
        }
        Ok(Self::Smtp {
            transport: Box::new(builder.build()),
            shown: url.to_string(),
        })
    }

    pub(crate) async fn send(
        &self,
        message: &OutgoingMessage,
        subject: &str,
        email: lettre::Message,
    ) -> Delivery {
        match self {
            Self::Smtp { transport, .. } => match transport.send(email).await {
                Ok(response) => Delivery::Sent {
                    answer: format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                },
                Err(error) => classify(&error),
            },
            Self::Development => {
                let content = &message.content;
                tracing::warn!(
                    kind = %message.kind(),
                    to = %message.to.email,
                    subject,
                    link = content.link().map_or("-", |link| link.expose()),
                    code = content.code().map_or("-", |code| code.expose()),
                    "development mode (no SMTP URL): this message was written to the log, not sent"
                );
                Delivery::Sent {
                    answer: "written to the log (development mode: no SMTP URL)".to_owned(),
                }
            }
        }
    }

    /// The URL without its password, or that this is development mode.
    pub(crate) fn describe(&self) -> &str {
        match self {
            Self::Smtp { shown, .. } => shown,
            Self::Development => "development mode (the log)",
        }
    }
}

/// Transient unless the server refused the message itself for good.
fn classify(error: &lettre::transport::smtp::Error) -> Delivery {
    let reason = error.to_string();
    let refuses_credentials = error
        .status()
        .is_some_and(|code| AUTHENTICATION_REFUSALS.contains(&code.to_string().as_str()));
    if error.is_permanent() && !refuses_credentials {
        Delivery::Permanent { reason }
    } else {
        Delivery::Transient { reason }
    }
}

fn tls(url: &SmtpUrl, extra_roots: Option<&Path>) -> Result<Tls, MailError> {
    let parameters = || {
        let mut builder = TlsParameters::builder(url.host.clone());
        if let Some(path) = extra_roots {
            builder = builder.add_root_certificate(read_roots(path)?);
        }
        builder
            .build_rustls()
            .map_err(|error| MailError::SmtpUrl(format!("TLS set-up failed: {error}")))
    };
    Ok(match url.security {
        SmtpSecurity::Plain => Tls::None,
        SmtpSecurity::StartTlsOpportunistic => Tls::Opportunistic(parameters()?),
        SmtpSecurity::StartTlsRequired => Tls::Required(parameters()?),
        SmtpSecurity::ImplicitTls => Tls::Wrapper(parameters()?),
    })
}

/// The PEM file's certificates (one or more), trusted in addition to
/// Mozilla's roots.
fn read_roots(path: &Path) -> Result<Certificate, MailError> {
    let refused = |reason: String| MailError::RootCertificates {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| refused(error.to_string()))?;
    if !pem
        .windows(27)
        .any(|window| window == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(refused(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_owned(),
        ));
    }
    Certificate::from_pem(&pem).map_err(|error| refused(error.to_string()))
}
