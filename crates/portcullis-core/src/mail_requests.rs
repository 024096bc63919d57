//! Writing mail into the outbox, for every use case that sends some:
//! making a one-time token and queueing the message that carries it (in one
//! store write), and the notices that carry nothing secret.
//!
//! It builds [`portcullis_mail`] messages (plain data) and never sends
//! anything: the server's sender loop does. What to send and when is the
//! use cases' decision; this module only makes the token, the link and the
//! message agree.

use std::net::IpAddr;

use portcullis_mail::{
    Link, MessageContent, OneTimeCode, OutgoingMessage, PasswordChange, Recipient, RemainingToken,
    RemainingTokens, RequestOrigin,
};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::Core;
use crate::email::Email;
use crate::email_tokens::{EmailTokenPurpose, MAX_CODE_TRIES, NewEmailToken, is_code_shaped};
use crate::error::AuthError;
use crate::services::grants::ClientInfo;
use crate::store::{EmailTokenRecord, PersonalTokenRecord, QueuedMail, UserRecord};

/// When and from where a request that causes mail was made.
pub(crate) fn origin(client: &ClientInfo, at: OffsetDateTime) -> RequestOrigin {
    RequestOrigin {
        at,
        client_address: client
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
    }
}

/// `message` as an outbox row queued at `now`.
pub(crate) fn queued(message: &OutgoingMessage, now: OffsetDateTime) -> QueuedMail {
    QueuedMail {
        id: Uuid::now_v7(),
        kind: message.kind().as_str(),
        payload: message.to_json(),
        queued_at: now,
    }
}

/// Makes a token of `purpose` for `user`, proving `address` (the account's,
/// or the new one of an email change, where the message goes), and queues
/// the message carrying it, in one store write that also cancels the
/// user's older tokens of that purpose.
pub(crate) async fn issue_token(
    core: &Core,
    user: &UserRecord,
    address: &Email,
    purpose: EmailTokenPurpose,
    requested: RequestOrigin,
) -> Result<(), AuthError> {
    let now = core.clock.now_seconds();
    let token = NewEmailToken::generate();
    let link = |template: &str| {
        Link::parse(template.replace("{token}", token.link_token.expose_secret())).map_err(
            |error| AuthError::Misconfigured(format!("the {} link: {error}", purpose.as_str())),
        )
    };
    let code = OneTimeCode::parse(token.code.expose_secret())
        .map_err(|error| AuthError::Internal(error.to_string()))?;
    let valid_for = purpose.lifetime().unsigned_abs();
    let links = &core.settings.email;
    let content = match purpose {
        EmailTokenPurpose::VerifyEmail => MessageContent::EmailVerification {
            link: link(&links.verify_link)?,
            code,
            valid_for,
            requested,
        },
        EmailTokenPurpose::ResetPassword => MessageContent::PasswordReset {
            link: link(&links.reset_link)?,
            code,
            valid_for,
            requested,
        },
        EmailTokenPurpose::ChangeEmail => MessageContent::EmailChangeConfirmation {
            link: link(&links.verify_link)?,
            code,
            valid_for,
            requested,
            current_email: user.email.as_str().to_owned(),
        },
        EmailTokenPurpose::SignIn => MessageContent::SignInCode {
            code,
            valid_for,
            requested,
        },
    };
    let message = OutgoingMessage {
        to: Recipient {
            email: address.as_str().to_owned(),
            name: user.name.clone(),
        },
        content,
    };
    let record = EmailTokenRecord {
        id: token.id,
        user_id: user.id,
        purpose,
        email: address.clone(),
        link_hash: token.link_hash,
        code_hash: token.code_hash,
        created_at: now,
        expires_at: now + purpose.lifetime(),
        failed_tries: 0,
        used_at: None,
    };
    core.store
        .issue_email_token(&record, &queued(&message, now))
        .await?;
    Ok(())
}

/// The notice to `user`'s address that the password changed or was reset,
/// naming the personal access tokens among `personal_tokens` (the user's,
/// newest first) that still work at the time of the request.
pub(crate) fn password_notice(
    user: &UserRecord,
    how: PasswordChange,
    requested: RequestOrigin,
    personal_tokens: &[PersonalTokenRecord],
) -> OutgoingMessage {
    let still_valid = personal_tokens
        .iter()
        .filter(|token| token.expires_at.is_none_or(|end| end > requested.at))
        .map(|token| RemainingToken {
            id: token.id,
            name: token.name.clone(),
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            expires_at: token.expires_at,
        });
    OutgoingMessage {
        to: recipient(user),
        content: MessageContent::PasswordChangedNotice {
            how,
            requested,
            personal_tokens: Some(RemainingTokens::new(still_valid)),
        },
    }
}

/// The live token of one of `purposes` whose code is `code`, for the
/// account that has `email` now; a wrong code counts against each of the
/// account's live tokens of those purposes.
pub(crate) async fn token_for_code(
    core: &Core,
    email: &Email,
    code: &SecretString,
    purposes: &[EmailTokenPurpose],
) -> Result<Option<EmailTokenRecord>, AuthError> {
    if !is_code_shaped(code.expose_secret()) {
        return Ok(None);
    }
    let Some(user) = core.store.user_by_email(email).await? else {
        return Ok(None);
    };
    let now = core.clock.now();
    let mut live = Vec::new();
    for purpose in purposes {
        live.extend(
            core.store
                .live_email_tokens(user.id, *purpose, now, MAX_CODE_TRIES)
                .await?,
        );
    }
    let matching = live
        .iter()
        .find(|token| token.code_hash.matches(token.id, code))
        .cloned();
    if matching.is_none() {
        for token in &live {
            core.store.count_wrong_code(token.id).await?;
        }
    }
    Ok(matching)
}

/// The notice to the old address once an email change applied.
pub(crate) fn email_changed_notice(
    user: &UserRecord,
    new_email: &Email,
    requested: RequestOrigin,
) -> OutgoingMessage {
    OutgoingMessage {
        to: recipient(user),
        content: MessageContent::EmailChangedNotice {
            new_email: new_email.as_str().to_owned(),
            requested,
        },
    }
}

fn recipient(user: &UserRecord) -> Recipient {
    Recipient {
        email: user.email.as_str().to_owned(),
        name: user.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::hashing::PasswordHashString;
    use crate::personal_tokens::PersonalToken;

    fn personal_token(name: &str, expires_at: Option<OffsetDateTime>) -> PersonalTokenRecord {
        let token = PersonalToken::generate();
        PersonalTokenRecord {
            id: token.id,
            user_id: Uuid::nil(),
            name: name.to_owned(),
            scopes: Vec::new(),
            secret_hash: token.secret_hash(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at,
            last_used_at: None,
        }
    }

    /// An expired token no longer works, so the notice does not name it;
    /// the others keep their order.
    #[test]
    fn a_password_notice_names_only_the_tokens_still_valid_at_the_request() {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let user = UserRecord {
            id: Uuid::nil(),
            email: Email::parse("ada@example.com").unwrap(),
            name: None,
            roles: Vec::new(),
            password_hash: PasswordHashString(String::new()),
            disabled: false,
            email_verified: true,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let tokens = [
            personal_token("expiring later", Some(at + Duration::seconds(1))),
            personal_token("expired", Some(at - Duration::seconds(1))),
            personal_token("expiring now", Some(at)),
            personal_token("never expiring", None),
        ];
        let requested = RequestOrigin {
            at,
            client_address: None,
        };
        let notice = password_notice(&user, PasswordChange::Reset, requested, &tokens);
        let MessageContent::PasswordChangedNotice {
            personal_tokens: Some(remaining),
            ..
        } = notice.content
        else {
            panic!("a password notice listing tokens: {notice:?}");
        };
        let names: Vec<&str> = remaining
            .listed()
            .iter()
            .map(|token| token.name.as_str())
            .collect();
        assert_eq!(names, ["expiring later", "never expiring"]);
        assert_eq!(remaining.unlisted(), 0);
    }
}
