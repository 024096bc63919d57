//! What a [`Mailer`](crate::Mailer) is built from, each value checked once
//! when it is parsed: the SMTP URL, the sender's mailbox, the product name,
//! the templates folder, an extra root certificate.
//!
//! The SMTP password is a secret wherever it came from (the URL's userinfo
//! or `PORTCULLIS_SMTP_PASSWORD`, which the binary reads): it is held in a
//! `SecretString`, never displayed, and `Debug` shows `[redacted]`. This
//! module reads no environment variable: the binary passes everything in.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use url::Url;

use crate::retry::RetryPolicy;

/// Everything the mailer needs, resolved by the binary.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `--smtp-url`; `None` selects the development transport, which writes
    /// each message (link and code included) to the log instead.
    pub smtp_url: Option<SmtpUrl>,
    /// `PORTCULLIS_SMTP_PASSWORD`, for the user named in the URL. Giving a
    /// password both here and in the URL is refused.
    pub smtp_password: Option<SecretString>,
    /// `--mail-from`, e.g. `Portcullis <no-reply@example.com>`.
    pub from: MailFrom,
    /// The name messages sign with and their subjects mention.
    pub product_name: String,
    /// `--templates DIR`: a file there named like a built-in template
    /// replaces it.
    pub templates_dir: Option<PathBuf>,
    /// A PEM file of root certificates trusted in addition to the built-in
    /// ones (Mozilla's), for a server with a private CA.
    pub extra_root_certificates: Option<PathBuf>,
    /// Bound on connecting and on each SMTP command.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// A parsed `smtp://` or `smtps://` URL:
///
/// - `smtp://[user[:password]@]host[:port]`: STARTTLS, required (a server
///   that does not offer it is a transient failure); port 587 by default.
/// - `…?tls=opportunistic`: STARTTLS when offered, plain text otherwise.
/// - `…?tls=none`: plain text, for a relay on the same machine.
/// - `smtps://[user[:password]@]host[:port]`: TLS from the first byte
///   (implicit TLS); port 465 by default.
///
/// User name and password are percent-decoded. A password is refused with
/// `tls=none` or `tls=opportunistic`: it is only ever sent over TLS.
#[derive(Clone)]
pub struct SmtpUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: SmtpSecurity,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<SecretString>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS or no delivery.
    StartTlsRequired,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// `smtp://…?tls=none`: never encrypted.
    Plain,
    /// `smtps://`: TLS from the start.
    ImplicitTls,
}

/// The sender's mailbox (`From:` and the envelope sender), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom(pub(crate) Mailbox);

/// Why a mailer could not be built. Each names the setting at fault, and
/// none contains the SMTP password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid sender mailbox (--mail-from): {0}")]
    MailFrom(String),
    #[error(
        "the SMTP password is given both in the URL and in PORTCULLIS_SMTP_PASSWORD; give it once"
    )]
    PasswordGivenTwice,
    #[error("PORTCULLIS_SMTP_PASSWORD is set but the SMTP URL names no user (smtp://USER@host)")]
    PasswordWithoutUser,
    #[error("the root certificates in {path} cannot be used: {reason}")]
    RootCertificates { path: PathBuf, reason: String },
    /// A template that does not parse or render, with the template's name
    /// and where the problem is.
    #[error("mail template {name}: {reason}")]
    Template { name: String, reason: String },
    #[error("mail templates folder {path}: {reason}")]
    TemplatesFolder { path: PathBuf, reason: String },
}

impl MailSettings {
    /// The defaults around a sender: development transport, product name
    /// "Portcullis", built-in templates, 30 s timeout, default retries.
    #[must_use]
    pub fn new(from: MailFrom) -> Self {
        Self {
            smtp_url: None,
            smtp_password: None,
            from,
            product_name: "Portcullis".to_owned(),
            templates_dir: None,
            extra_root_certificates: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

impl SmtpUrl {
    /// # Errors
    /// [`MailError::SmtpUrl`], saying what is wrong without repeating the
    /// URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, MailError> {
        let invalid = |reason: &str| MailError::SmtpUrl(reason.to_owned());
        let url = Url::parse(text).map_err(|error| MailError::SmtpUrl(error.to_string()))?;
        let host = match url.host() {
            Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_ascii_lowercase(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            _ => return Err(invalid("no host (smtp://host[:port])")),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(invalid(
                "only smtp[s]://[user[:password]@]host[:port][?tls=…] is understood",
            ));
        }
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), tls) {
                ("tls", None) => tls = Some(value.into_owned()),
                ("tls", Some(_)) => return Err(invalid("tls is given twice")),
                _ => {
                    return Err(MailError::SmtpUrl(format!(
                        "unknown parameter {key:?} (only tls)"
                    )));
                }
            }
        }
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("required")) => (SmtpSecurity::StartTlsRequired, 587),
            ("smtp", Some("opportunistic")) => (SmtpSecurity::StartTlsOpportunistic, 587),
            ("smtp", Some("none")) => (SmtpSecurity::Plain, 587),
            ("smtp", Some(_)) => {
                return Err(invalid("tls must be required, opportunistic or none"));
            }
            ("smtps", None) => (SmtpSecurity::ImplicitTls, 465),
            ("smtps", Some(_)) => {
                return Err(invalid("smtps:// is always TLS; tls= is for smtp://"));
            }
            _ => return Err(invalid("the scheme must be smtp or smtps")),
        };
        let decode = |part: &str, what: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| MailError::SmtpUrl(format!("the {what} is not UTF-8 once decoded")))
        };
        let username = match url.username() {
            "" => None,
            user => Some(decode(user, "user name")?),
        };
        let password = match url.password() {
            None => None,
            Some(password) => Some(SecretString::from(decode(password, "password")?)),
        };
        if password.is_some() && username.is_none() {
            return Err(invalid(
                "a password needs a user name (smtp://user:password@host)",
            ));
        }
        let parsed = Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
        };
        parsed.check_password_is_protected(parsed.password.is_some())?;
        Ok(parsed)
    }

    #[must_use]
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// Whether the host is this machine (`localhost` or a loopback
    /// address), where plain text is reasonable.
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    }

    pub(crate) fn check_password_is_protected(&self, has_password: bool) -> Result<(), MailError> {
        match self.security {
            SmtpSecurity::Plain | SmtpSecurity::StartTlsOpportunistic if has_password => Err(MailError::SmtpUrl(
                "a password is only sent over TLS: use smtps://, or smtp:// without tls=none or tls=opportunistic"
                    .to_owned(),
            )),
            _ => Ok(()),
        }
    }
}

/// The URL without its password, e.g. `smtp://mailer:[redacted]@host:587`.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == SmtpSecurity::ImplicitTls {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}")?;
            if self.password.is_some() {
                f.write_str(":[redacted]")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        match self.security {
            SmtpSecurity::StartTlsOpportunistic => f.write_str("?tls=opportunistic"),
            SmtpSecurity::Plain => f.write_str("?tls=none"),
            SmtpSecurity::StartTlsRequired | SmtpSecurity::ImplicitTls => Ok(()),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

impl FromStr for SmtpUrl {
    type Err = MailError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl MailFrom {
    /// # Errors
    /// [`MailError::MailFrom`] unless `text` is `address` or
    /// `Display Name <address>`.
    pub fn parse(text: &str) -> Result<Self, MailError> {
        if text.chars().any(char::is_control) {
            return Err(MailError::MailFrom(
                "control characters are not allowed".to_owned(),
            ));
        }
        text.parse::<Mailbox>().map(Self).map_err(|error| {
            MailError::MailFrom(format!(
                "{error} (expected e.g. Portcullis <no-reply@example.com>)"
            ))
        })
    }
}

impl FromStr for MailFrom {
    type Err = MailError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for MailFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[track_caller]
    fn check(text: &str, host: &str, port: u16, security: SmtpSecurity) {
        let url = SmtpUrl::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(
            (url.host.as_str(), url.port, url.security),
            (host, port, security),
            "{text}"
        );
    }

    #[test]
    fn urls_choose_host_port_and_protection() {
        check(
            "smtp://mail.example.com",
            "mail.example.com",
            587,
            SmtpSecurity::StartTlsRequired,
        );
        check(
            "smtp://mail.example.com:2525",
            "mail.example.com",
            2525,
            SmtpSecurity::StartTlsRequired,
        );
        check(
            "smtp://mail.example.com?tls=required",
            "mail.example.com",
            587,
            SmtpSecurity::StartTlsRequired,
        );
        check(
            "smtp://mail.example.com?tls=opportunistic",
            "mail.example.com",
            587,
            SmtpSecurity::StartTlsOpportunistic,
        );
        check(
            "smtp://127.0.0.1:25?tls=none",
            "127.0.0.1",
            25,
            SmtpSecurity::Plain,
        );
        check(
            "smtps://mail.example.com",
            "mail.example.com",
            465,
            SmtpSecurity::ImplicitTls,
        );
        check("smtps://[::1]:1465", "::1", 1465, SmtpSecurity::ImplicitTls);
        check(
            "SMTP://Mail.Example.COM/",
            "mail.example.com",
            587,
            SmtpSecurity::StartTlsRequired,
        );
    }

    #[test]
    fn malformed_urls_are_refused() {
        for text in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://",
            "smtp://mail.example.com/path",
            "smtp://mail.example.com?tls=maybe",
            "smtp://mail.example.com?tls=none&tls=required",
            "smtp://mail.example.com?timeout=5",
            "smtps://mail.example.com?tls=none",
            "smtp://mail.example.com#x",
            "smtp://:secret@mail.example.com",
        ] {
            assert!(SmtpUrl::parse(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let url =
            SmtpUrl::parse("smtps://mailer%40example.com:p%40ss%3Aw+rd@mail.example.com").unwrap();
        assert_eq!(url.username.as_deref(), Some("mailer@example.com"));
        assert_eq!(url.password.as_ref().unwrap().expose_secret(), "p@ss:w+rd");
        let shown = format!(
            "{url} {url:?} {:?}",
            MailSettings {
                smtp_url: Some(url.clone()),
                ..settings()
            }
        );
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(
            shown.contains("smtps://mailer@example.com:[redacted]@mail.example.com:465"),
            "{shown}"
        );
    }

    #[test]
    fn a_password_is_never_configured_for_plain_text() {
        for text in [
            "smtp://u:p@mail.example.com?tls=none",
            "smtp://u:p@localhost?tls=opportunistic",
        ] {
            let error = SmtpUrl::parse(text).unwrap_err().to_string();
            assert!(
                error.contains("only sent over TLS") && !error.contains(":p@"),
                "{text}: {error}"
            );
        }
        assert!(SmtpUrl::parse("smtp://u:p@mail.example.com").is_ok());
        assert!(
            SmtpUrl::parse("smtp://u@mail.example.com?tls=none").is_ok(),
            "no password, nothing to leak"
        );
    }

    #[test]
    fn an_invalid_url_error_does_not_repeat_the_password() {
        let error = SmtpUrl::parse("smtp://user:hunter2@mail example.com")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(
            SmtpUrl::parse("smtp://localhost?tls=none")
                .unwrap()
                .is_loopback()
        );
        assert!(
            SmtpUrl::parse("smtp://127.0.0.2?tls=none")
                .unwrap()
                .is_loopback()
        );
        assert!(
            SmtpUrl::parse("smtp://[::1]?tls=none")
                .unwrap()
                .is_loopback()
        );
        assert!(
            !SmtpUrl::parse("smtp://mail.example.com?tls=none")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn the_sender_is_a_mailbox() {
        let from = MailFrom::parse("Portcullis <no-reply@example.com>").unwrap();
        assert_eq!(from.to_string(), "Portcullis <no-reply@example.com>");
        assert!(MailFrom::parse("no-reply@example.com").is_ok());
        for text in [
            "",
            "Portcullis",
            "no-reply",
            "Portcullis <no-reply@example.com>\r\nBcc: x@example.com",
        ] {
            assert!(MailFrom::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    fn settings() -> MailSettings {
        MailSettings::new(MailFrom::parse("no-reply@example.com").unwrap())
    }
}
