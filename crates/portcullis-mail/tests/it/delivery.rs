//! Delivery to a plain local relay: what arrives (both parts, subject,
//! escaping, no header injection), and how the server's refusals and
//! absence become permanent or transient failures and retries.

use std::time::Duration;

use libtest_mimic::Trial;
use portcullis_mail::test_smtp::TestSmtpOptions;
use portcullis_mail::{
    AttemptOutcome, Delivery, DeliveryHistory, GiveUpReason, Link, Mailer, MessageContent,
    OneTimeCode, OutgoingMessage, PasswordChange, Recipient, RemainingTokens,
};

use crate::{CODE, LINK, block_on, parse, requested, settings_for, start, trials, verification};

pub(crate) fn trials() -> Vec<Trial> {
    trials!(needs_smtp:
        a_plain_relay_receives_both_parts_with_variables_escaped,
        every_kind_arrives_with_its_own_subject,
        a_hostile_subject_template_cannot_add_headers,
        a_refused_recipient_is_a_permanent_failure,
        a_deferred_recipient_is_retried_with_back_off,
        a_server_that_is_down_is_a_transient_failure_until_it_returns,
    )
}

fn a_plain_relay_receives_both_parts_with_variables_escaped() {
    let server = start(TestSmtpOptions::default());
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let name = "<script>alert('owned')</script>\r\nX-Injected: yes";
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", Some(name))));
    let Delivery::Sent { answer } = delivery else {
        panic!("{delivery:?}")
    };
    assert_eq!(
        answer, "250 2.0.0 OK: queued as test-1",
        "the server's own answer"
    );

    let received = server.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.recipients, ["ada@example.com"]);
    assert_eq!(message.mail_from, "no-reply@example.com");
    assert!(!message.tls, "a plain relay");
    let parsed = parse(&message.raw);
    assert_eq!(parsed.subject, "Confirm your email address for Portcullis");
    for part in [&parsed.text, &parsed.html] {
        for expected in [
            CODE,
            "24 hours",
            "203.0.113.9",
            "ada@example.com",
            "If you did not ask for this",
        ] {
            assert!(
                part.contains(expected),
                "{expected:?} is missing from {part}"
            );
        }
    }
    assert!(parsed.text.contains(LINK), "{}", parsed.text);
    assert!(
        parsed.html.contains("token=Zm9vYmFy&amp;next=%2Fhome"),
        "{}",
        parsed.html
    );
    assert!(!parsed.html.contains("<script>"), "{}", parsed.html);
    assert!(
        parsed
            .html
            .contains("&lt;script&gt;alert(&#x27;owned&#x27;)&lt;&#x2f;script&gt;"),
        "{}",
        parsed.html
    );
    assert_eq!(
        parsed.to_name.as_deref(),
        Some("<script>alert('owned')</script> X-Injected: yes")
    );
    assert!(
        !parsed.header_names.contains(&"x-injected".to_owned()),
        "{:?}",
        parsed.header_names
    );
    assert!(parsed.header_names.contains(&"auto-submitted".to_owned()));
}

fn every_kind_arrives_with_its_own_subject() {
    let server = start(TestSmtpOptions::default());
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let link = Link::parse(LINK).unwrap();
    let code = OneTimeCode::parse(CODE).unwrap();
    let requested = requested();
    let valid_for = Duration::from_secs(600);
    let contents = [
        MessageContent::EmailVerification {
            link: link.clone(),
            code: code.clone(),
            valid_for,
            requested,
        },
        MessageContent::PasswordReset {
            link: link.clone(),
            code: code.clone(),
            valid_for,
            requested,
        },
        MessageContent::SignInCode {
            code: code.clone(),
            valid_for,
            requested,
        },
        MessageContent::EmailChangeConfirmation {
            link,
            code,
            valid_for,
            requested,
            current_email: "old@example.com".into(),
        },
        MessageContent::EmailChangedNotice {
            new_email: "new@example.com".into(),
            requested,
        },
        MessageContent::PasswordChangedNotice {
            how: PasswordChange::Changed,
            requested,
            personal_tokens: None,
        },
        MessageContent::PasswordChangedNotice {
            how: PasswordChange::Reset,
            requested,
            personal_tokens: Some(RemainingTokens::default()),
        },
        MessageContent::Test { requested },
    ];
    for content in contents {
        let message = OutgoingMessage {
            to: Recipient {
                email: "ada@example.com".into(),
                name: None,
            },
            content,
        };
        let delivery = block_on(mailer.deliver(&message));
        assert!(
            matches!(delivery, Delivery::Sent { .. }),
            "{}: {delivery:?}",
            message.kind()
        );
    }
    let subjects: Vec<String> = server
        .received()
        .iter()
        .map(|message| parse(&message.raw).subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "Confirm your email address for Portcullis",
            "Reset your Portcullis password",
            "Your Portcullis sign-in code",
            "Confirm your new email address for Portcullis",
            "The email address of your Portcullis account was changed",
            "Your Portcullis password was changed",
            "Your Portcullis password was reset",
            "Test message from Portcullis",
        ]
    );
}

fn a_hostile_subject_template_cannot_add_headers() {
    let server = start(TestSmtpOptions::default());
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("email_verification.subject.txt"),
        "Welcome to {{ product }}{% if name %}, {{ name }}{% endif %}!",
    )
    .unwrap();
    let mut settings = settings_for(&server);
    settings.templates_dir = Some(templates.path().to_owned());
    settings.product_name = "Acme\r\nX-Product: injected".into();
    let mailer = Mailer::new(settings).unwrap();
    let name = "Eve\r\nBcc: victim@example.com\r\nX-Injected: yes\r\n\r\nbody";
    let delivery = block_on(mailer.deliver(&verification("ada@example.com", Some(name))));
    assert!(matches!(delivery, Delivery::Sent { .. }), "{delivery:?}");

    let message = &server.received()[0];
    assert_eq!(
        message.recipients,
        ["ada@example.com"],
        "no Bcc reached the envelope"
    );
    let parsed = parse(&message.raw);
    assert_eq!(
        parsed.subject,
        "Welcome to Acme X-Product: injected, Eve Bcc: victim@example.com X-Injected: yes body!"
    );
    for injected in ["bcc", "x-injected", "x-product"] {
        assert!(
            !parsed.header_names.contains(&injected.to_owned()),
            "{injected}: {:?}",
            parsed.header_names
        );
    }
}

fn a_refused_recipient_is_a_permanent_failure() {
    let server = start(TestSmtpOptions {
        refuse: vec!["gone@".into()],
        ..TestSmtpOptions::default()
    });
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let message = verification("gone@example.com", None);
    let delivery = block_on(mailer.deliver(&message));
    let Delivery::Permanent { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(
        reason.contains("550") && reason.contains("Mailbox unavailable"),
        "{reason}"
    );

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
    assert!(server.received().is_empty());
}

fn a_deferred_recipient_is_retried_with_back_off() {
    let server = start(TestSmtpOptions {
        defer: vec!["busy@".into()],
        ..TestSmtpOptions::default()
    });
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let message = verification("busy@example.com", None);
    let delivery = block_on(mailer.deliver(&message));
    let Delivery::Transient { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(reason.contains("451"), "{reason}");

    let before = time::OffsetDateTime::now_utc();
    let first = block_on(mailer.attempt(&message, DeliveryHistory::default()));
    let AttemptOutcome::RetryAt { at, .. } = first else {
        panic!("{first:?}")
    };
    let wait = at - before;
    assert!(
        wait >= time::Duration::seconds(30) && wait < time::Duration::seconds(45),
        "{wait}"
    );

    let history = DeliveryHistory {
        failed_attempts: 3,
        first_attempt_at: Some(before),
    };
    let fourth = block_on(mailer.attempt(&message, history));
    let AttemptOutcome::RetryAt { at, .. } = fourth else {
        panic!("{fourth:?}")
    };
    let wait = at - before;
    assert!(
        wait >= time::Duration::seconds(240) && wait < time::Duration::seconds(255),
        "{wait}"
    );

    let a_day_ago = before - time::Duration::hours(24);
    let history = DeliveryHistory {
        failed_attempts: 30,
        first_attempt_at: Some(a_day_ago),
    };
    let last = block_on(mailer.attempt(&message, history));
    assert!(
        matches!(
            last,
            AttemptOutcome::GaveUp {
                reason: GiveUpReason::TriedTooLong,
                ..
            }
        ),
        "{last:?}"
    );
}

fn a_server_that_is_down_is_a_transient_failure_until_it_returns() {
    let mut server = start(TestSmtpOptions::default());
    let mailer = Mailer::new(settings_for(&server)).unwrap();
    let message = verification("ada@example.com", None);
    server.stop();
    let delivery = block_on(mailer.deliver(&message));
    let Delivery::Transient { reason } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(
        reason.to_lowercase().contains("connection refused"),
        "{reason}"
    );
    let outcome = block_on(mailer.attempt(&message, DeliveryHistory::default()));
    assert!(
        matches!(outcome, AttemptOutcome::RetryAt { .. }),
        "{outcome:?}"
    );

    server.restart().unwrap();
    let delivery = block_on(mailer.deliver(&message));
    assert!(matches!(delivery, Delivery::Sent { .. }), "{delivery:?}");
    assert_eq!(server.received().len(), 1);
}
