//! TLS and authentication against the real server: STARTTLS (required and
//! opportunistic), implicit TLS, a private CA trusted through the extra
//! root certificate, and credentials that only ever travel encrypted.

use libtest_mimic::Trial;
use portcullis_mail::test_smtp::{TestSecurity, TestSmtpOptions};
use portcullis_mail::{Delivery, Mailer, SmtpUrl};
use secrecy::SecretString;

use crate::{block_on, parse, settings_for, start, trials, verification};

pub(crate) fn trials() -> Vec<Trial> {
    trials!(needs_smtp:
        starttls_is_used_with_the_private_ca_trusted,
        required_starttls_sends_nothing_to_a_server_without_it,
        opportunistic_starttls_upgrades_only_when_offered,
        implicit_tls_is_used_with_the_private_ca_trusted,
        an_untrusted_certificate_is_a_transient_failure,
        credentials_travel_encrypted_from_the_environment_or_the_url,
        refused_credentials_are_a_transient_failure,
    )
}

fn starttls_is_used_with_the_private_ca_trusted() {
    let server = start(TestSmtpOptions {
        security: TestSecurity::StartTls,
        ..TestSmtpOptions::default()
    });
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", Some("Ada"))));
    assert!(matches!(delivery, Delivery::Sent { .. }), "{delivery:?}");
    let received = server.received();
    assert!(received[0].tls, "the message travelled after STARTTLS");
    assert_eq!(
        parse(&received[0].raw).subject,
        "Confirm your email address for Portcullis"
    );
}

fn required_starttls_sends_nothing_to_a_server_without_it() {
    let server = start(TestSmtpOptions::default());
    let mut settings = settings_for(&server);
    settings.smtp_url =
        Some(SmtpUrl::parse(&format!("smtp://127.0.0.1:{}", server.port())).unwrap());
    let mailer = Mailer::new(settings).unwrap();
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
    let Delivery::Transient { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(reason.contains("STARTTLS"), "{reason}");
    assert!(server.received().is_empty());
}

fn opportunistic_starttls_upgrades_only_when_offered() {
    for (security, encrypted) in [(TestSecurity::StartTls, true), (TestSecurity::Plain, false)] {
        let server = start(TestSmtpOptions {
            security,
            ..TestSmtpOptions::default()
        });
        let mut settings = settings_for(&server);
        let url = format!("smtp://127.0.0.1:{}?tls=opportunistic", server.port());
        settings.smtp_url = Some(SmtpUrl::parse(&url).unwrap());
        let mailer = Mailer::new(settings).unwrap();
        let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
        assert!(
            matches!(delivery, Delivery::Sent { .. }),
            "{security:?}: {delivery:?}"
        );
        assert_eq!(server.received()[0].tls, encrypted, "{security:?}");
    }
}

fn implicit_tls_is_used_with_the_private_ca_trusted() {
    let server = start(TestSmtpOptions {
        security: TestSecurity::ImplicitTls,
        ..TestSmtpOptions::default()
    });
    assert!(server.smtp_url().starts_with("smtps://"));
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
    assert!(matches!(delivery, Delivery::Sent { .. }), "{delivery:?}");
    assert!(server.received()[0].tls);
}

fn an_untrusted_certificate_is_a_transient_failure() {
    for security in [TestSecurity::StartTls, TestSecurity::ImplicitTls] {
        let server = start(TestSmtpOptions {
            security,
            ..TestSmtpOptions::default()
        });
        let mut settings = settings_for(&server);
        settings.extra_root_certificates = None;
        let mailer = Mailer::new(settings).unwrap();
        let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
        let Delivery::Transient { reason } = delivery else {
            panic!("{security:?}: {delivery:?}")
        };
        assert!(
            reason.to_lowercase().contains("certificate"),
            "{security:?}: {reason}"
        );
        assert!(server.received().is_empty(), "{security:?}");
    }
}

const USER: &str = "mailer@example.com";
const PASSWORD: &str = "correct horse:battery@staple";

fn credentials_travel_encrypted_from_the_environment_or_the_url() {
    for security in [TestSecurity::StartTls, TestSecurity::ImplicitTls] {
        let login = Some((USER.to_owned(), PASSWORD.to_owned()));
        let server = start(TestSmtpOptions {
            security,
            login,
            ..TestSmtpOptions::default()
        });
        let scheme = if security == TestSecurity::StartTls {
            "smtp"
        } else {
            "smtps"
        };

        // The password from PORTCULLIS_SMTP_PASSWORD, the user in the URL.
        let mut settings = settings_for(&server);
        let url = format!(
            "{scheme}://mailer%40example.com@127.0.0.1:{}",
            server.port()
        );
        settings.smtp_url = Some(SmtpUrl::parse(&url).unwrap());
        settings.smtp_password = Some(SecretString::from(PASSWORD));
        let mailer = Mailer::new(settings).unwrap();
        assert!(!format!("{mailer:?}").contains("battery"), "{mailer:?}");
        let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
        assert!(
            matches!(delivery, Delivery::Sent { .. }),
            "{security:?}: {delivery:?}"
        );

        // Both in the URL, percent-encoded.
        let mut settings = settings_for(&server);
        let url = format!(
            "{scheme}://mailer%40example.com:correct%20horse%3Abattery%40staple@127.0.0.1:{}",
            server.port()
        );
        settings.smtp_url = Some(SmtpUrl::parse(&url).unwrap());
        let mailer = Mailer::new(settings).unwrap();
        let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
        assert!(
            matches!(delivery, Delivery::Sent { .. }),
            "{security:?}: {delivery:?}"
        );

        let received = server.received();
        assert_eq!(received.len(), 2);
        for message in &received {
            assert_eq!(message.authenticated_as.as_deref(), Some(USER));
            assert!(message.tls);
        }
        let attempts = server.auth_attempts();
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert!(
            attempts
                .iter()
                .all(|attempt| attempt.tls && attempt.accepted),
            "{attempts:?}"
        );
    }
}

fn refused_credentials_are_a_transient_failure() {
    let login = Some((USER.to_owned(), PASSWORD.to_owned()));
    let server = start(TestSmtpOptions {
        security: TestSecurity::StartTls,
        login,
        ..TestSmtpOptions::default()
    });
    let mut settings = settings_for(&server);
    let url = format!(
        "smtp://mailer%40example.com:wrong@127.0.0.1:{}",
        server.port()
    );
    settings.smtp_url = Some(SmtpUrl::parse(&url).unwrap());
    let mailer = Mailer::new(settings).unwrap();
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", None)));
    let Delivery::Transient { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(reason.contains("535"), "{reason}");
    let attempts = server.auth_attempts();
    assert_eq!(
        attempts.len(),
        1,
        "lettre may try another mechanism; {attempts:?}"
    );
    assert!(
        attempts
            .iter()
            .all(|attempt| attempt.tls && !attempt.accepted),
        "{attempts:?}"
    );
    assert!(server.received().is_empty());
}
