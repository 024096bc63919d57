//! Integration tests of `portcullis-mail` against a real SMTP server
//! (aiosmtpd, started per trial by `portcullis_mail::test_smtp`), and of
//! the development transport.
//!
//! A libtest-mimic harness rather than libtest's, because whether aiosmtpd
//! is installed is only known at run time: without it the SMTP trials are
//! reported ignored, with the reason on standard error, never passed; with
//! `PORTCULLIS_REQUIRE_SERVICES=1` its absence fails the run.

mod delivery;
mod development;
mod tls;

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use libtest_mimic::{Arguments, Trial};
use mail_parser::{MessageParser, MimeHeaders};
use portcullis_mail::test_smtp::{TestSmtpOptions, TestSmtpServer};
use portcullis_mail::{
    Link, MailFrom, MailSettings, MessageContent, OneTimeCode, OutgoingMessage, Recipient,
    RequestOrigin, SmtpUrl,
};

fn main() -> ExitCode {
    let arguments = Arguments::from_args();
    let trials: Vec<Trial> = [development::trials(), delivery::trials(), tls::trials()]
        .into_iter()
        .flatten()
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}

/// Trials named after their functions. `needs_smtp` ones are ignored at
/// run time, with the reason, when the test SMTP server cannot start here
/// (and fail when `PORTCULLIS_REQUIRE_SERVICES=1`).
macro_rules! trials {
    (needs_smtp: $($test:ident),* $(,)?) => {
        vec![$(libtest_mimic::Trial::ignorable_test(stringify!($test), || {
            if let Some(reason) = portcullis_mail::test_smtp::unavailable() {
                return Ok(libtest_mimic::Completion::ignored_with(reason));
            }
            $test();
            Ok(libtest_mimic::Completion::Completed)
        })),*]
    };
    ($($test:ident),* $(,)?) => {
        vec![$(libtest_mimic::Trial::test(stringify!($test), || {
            $test();
            Ok(())
        })),*]
    };
}
pub(crate) use trials;

pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

pub(crate) fn start(options: TestSmtpOptions) -> TestSmtpServer {
    TestSmtpServer::start(options).unwrap_or_else(|error| panic!("{error}"))
}

/// Settings that reach `server` with the protection it offers, trusting its
/// CA.
pub(crate) fn settings_for(server: &TestSmtpServer) -> MailSettings {
    let mut settings = settings(Some(&server.smtp_url()));
    settings.extra_root_certificates = server.ca_certificate();
    settings
}

pub(crate) fn settings(smtp_url: Option<&str>) -> MailSettings {
    let mut settings =
        MailSettings::new(MailFrom::parse("Portcullis <no-reply@example.com>").unwrap());
    settings.smtp_url = smtp_url.map(|url| SmtpUrl::parse(url).unwrap());
    settings.timeout = Duration::from_secs(10);
    settings
}

pub(crate) const LINK: &str = "https://auth.example.com/email/verify?token=Zm9vYmFy&next=%2Fhome";
pub(crate) const CODE: &str = "31415926";

pub(crate) fn requested() -> RequestOrigin {
    RequestOrigin {
        at: time::OffsetDateTime::now_utc(),
        client_address: Some([203, 0, 113, 9].into()),
    }
}

pub(crate) fn verification(email: &str, name: Option<&str>) -> OutgoingMessage {
    OutgoingMessage {
        to: Recipient {
            email: email.to_owned(),
            name: name.map(str::to_owned),
        },
        content: MessageContent::EmailVerification {
            link: Link::parse(LINK).unwrap(),
            code: OneTimeCode::parse(CODE).unwrap(),
            valid_for: Duration::from_secs(24 * 3600),
            requested: requested(),
        },
    }
}

/// A received message, parsed, with the checks every test wants: one
/// `multipart/alternative` with a text and an HTML part.
pub(crate) struct Parsed {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    pub(crate) to_name: Option<String>,
    /// The names of the top-level headers, lower case.
    pub(crate) header_names: Vec<String>,
}

pub(crate) fn parse(raw: &[u8]) -> Parsed {
    let message = MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    let content_type = message.content_type().expect("a content type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("alternative"))
    );
    let types: Vec<String> = message.parts[1..]
        .iter()
        .map(|part| {
            let part_type = part.content_type().expect("each part has a content type");
            format!(
                "{}/{}",
                part_type.ctype(),
                part_type.subtype().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = message
        .text_part(0)
        .and_then(|part| part.text_contents())
        .expect("a text part")
        .to_owned();
    let html = message
        .html_part(0)
        .and_then(|part| part.text_contents())
        .expect("an HTML part")
        .to_owned();
    let to_name = message
        .to()
        .and_then(|to| to.first())
        .and_then(|to| to.name().map(str::to_owned));
    let header_names = message
        .headers()
        .iter()
        .map(|header| header.name().to_ascii_lowercase())
        .collect();
    Parsed {
        subject: message.subject().expect("a subject").to_owned(),
        text,
        html,
        to_name,
        header_names,
    }
}
