//! Sample messages of every kind, with and without each optional value,
//! which every template must render when the mailer is built (so that a
//! replaced template that breaks on some message stops start-up, not a
//! delivery) and which the tests render.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::message::{
    Link, MessageContent, OneTimeCode, OutgoingMessage, PasswordChange, Recipient, RemainingToken,
    RemainingTokens, RequestOrigin,
};

/// Sample messages of every kind, with and without the optional values.
pub(super) fn samples() -> Vec<OutgoingMessage> {
    let link =
        Link::parse("https://auth.example.com/email/verify?token=sample").expect("a valid link");
    let code = OneTimeCode::parse("12345678").expect("a valid code");
    let valid_for = Duration::from_secs(3600);
    let mut samples = Vec::new();
    for (name, client_address) in [
        (Some("Ada".to_owned()), Some([203, 0, 113, 9].into())),
        (None, None),
    ] {
        let requested = RequestOrigin {
            at: OffsetDateTime::UNIX_EPOCH,
            client_address,
        };
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
                link: link.clone(),
                code: code.clone(),
                valid_for,
                requested,
                current_email: "old@example.com".to_owned(),
            },
            MessageContent::EmailChangedNotice {
                new_email: "new@example.com".to_owned(),
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
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Changed,
                requested,
                personal_tokens: Some(sample_tokens(3)),
            },
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Reset,
                requested,
                personal_tokens: Some(sample_tokens(RemainingTokens::LISTED_MAX + 3)),
            },
            MessageContent::Test { requested },
        ];
        let to = Recipient {
            email: "ada@example.com".to_owned(),
            name: name.clone(),
        };
        samples.extend(contents.into_iter().map(|content| OutgoingMessage {
            to: to.clone(),
            content,
        }));
    }
    samples
}

/// `count` tokens with names that need escaping, some used, some expiring.
fn sample_tokens(count: usize) -> RemainingTokens {
    let at = OffsetDateTime::UNIX_EPOCH;
    RemainingTokens::new((0..count).zip(0_u128..).map(|(n, id)| RemainingToken {
        id: Uuid::from_u128(id),
        name: format!("<build & \"deploy\"> {n}"),
        created_at: at,
        last_used_at: (n % 2 == 0).then_some(at),
        expires_at: (n % 3 == 0).then_some(at),
    }))
}
