//! What needs no SMTP server: the development transport (the log), and the
//! start-up errors a mis-set mailer reports.

use std::io::Write;
use std::sync::{Arc, Mutex};

use libtest_mimic::Trial;
use portcullis_mail::{AttemptOutcome, Delivery, DeliveryHistory, GiveUpReason, MailError, Mailer};
use secrecy::SecretString;

use crate::{CODE, LINK, block_on, settings, trials, verification};

pub(crate) fn trials() -> Vec<Trial> {
    trials!(
        without_an_smtp_url_messages_go_to_the_log_with_link_and_code,
        an_address_that_is_not_one_is_a_permanent_failure,
        start_up_refuses_what_cannot_work_and_names_it,
    )
}

fn without_an_smtp_url_messages_go_to_the_log_with_link_and_code() {
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    let delivery = tracing::subscriber::with_default(subscriber, || {
        let mailer = Mailer::new(settings(None)).unwrap();
        block_on(mailer.deliver(&verification("ada@example.com", Some("Ada"))))
    });
    let Delivery::Sent { answer } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(answer.contains("development mode"), "{answer}");
    let log = log.text();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "one line at start, one per message: {log}");
    assert!(
        lines
            .iter()
            .all(|line| line.contains("WARN") && line.contains("development mode")),
        "{log}"
    );
    for expected in [
        LINK,
        CODE,
        "ada@example.com",
        "email_verification",
        "Confirm your email address",
    ] {
        assert!(
            lines[1].contains(expected),
            "{expected:?} is missing from {}",
            lines[1]
        );
    }
}

fn an_address_that_is_not_one_is_a_permanent_failure() {
    // Nothing listens on port 9 of 127.0.0.1; the address is refused before.
    let mailer = Mailer::new(settings(Some("smtp://127.0.0.1:9?tls=none"))).unwrap();
    let message = verification("not an address", None);
    let delivery = block_on(mailer.deliver(&message));
    let Delivery::Permanent { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(reason.contains("recipient address"), "{reason}");
    let outcome = block_on(mailer.attempt(&message, DeliveryHistory::default()));
    assert!(
        matches!(
            outcome,
            AttemptOutcome::GaveUp {
                reason: GiveUpReason::Permanent,
                ..
            }
        ),
        "{outcome:?}"
    );
}

fn start_up_refuses_what_cannot_work_and_names_it() {
    #[track_caller]
    fn refused(settings: portcullis_mail::MailSettings, expected: &str) {
        let error: MailError = Mailer::new(settings).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains(expected), "{expected:?} not in {text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let mut twice = settings(Some("smtps://user:hunter2@mail.example.com"));
    twice.smtp_password = Some(SecretString::from("hunter2"));
    refused(twice, "both in the URL and in PORTCULLIS_SMTP_PASSWORD");

    let mut no_user = settings(Some("smtps://mail.example.com"));
    no_user.smtp_password = Some(SecretString::from("hunter2"));
    refused(no_user, "names no user");

    let mut plain = settings(Some("smtp://user@mail.example.com?tls=none"));
    plain.smtp_password = Some(SecretString::from("hunter2"));
    refused(plain, "only sent over TLS");

    let mut missing_ca = settings(Some("smtps://mail.example.com"));
    missing_ca.extra_root_certificates = Some("/nonexistent/ca.pem".into());
    refused(missing_ca, "/nonexistent/ca.pem");

    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "hello").unwrap();
    let mut bad_ca = settings(Some("smtp://mail.example.com"));
    bad_ca.extra_root_certificates = Some(not_pem.path().to_owned());
    refused(bad_ca, "no PEM certificate");

    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("sign_in_code.html"),
        "{{ code }} {{ lnk }}",
    )
    .unwrap();
    let mut bad_template = settings(None);
    bad_template.templates_dir = Some(templates.path().to_owned());
    refused(bad_template, "mail template sign_in_code.html");
}

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
