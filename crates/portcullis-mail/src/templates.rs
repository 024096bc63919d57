//! The message templates: built in, replaceable file by file from a folder
//! (`--templates DIR`), and all rendered once when the mailer is built, so a
//! broken template stops start-up instead of failing deliveries a day later.
//!
//! Each kind has `KIND.subject.txt`, `KIND.txt` and `KIND.html`, extending
//! `layout.txt` and `layout.html`. Every variable is escaped in HTML
//! (minijinja's auto-escaping, chosen by the `.html` extension); a subject
//! is one line whatever a template or a variable puts in it; a variable
//! that the kind does not have, or printing one that is absent for this
//! message, is an error. Templates never see anything but the variables
//! listed in the README of `templates/`.

pub(crate) mod overrides;
mod samples;
mod values;

pub(crate) use values::one_line;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value, context};

use crate::message::{
    MessageContent, OutgoingMessage, PasswordChange, RemainingToken, RemainingTokens,
};
use crate::settings::MailError;
use crate::templates::overrides::read_overrides;
use crate::templates::samples::samples;
use crate::templates::values::{format_time, human_duration, token_name};

/// The environment with every template loaded and checked.
pub(crate) struct Templates {
    environment: Environment<'static>,
    product: String,
}

/// A message's three rendered parts.
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

macro_rules! built_in {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Every template file name and its built-in source.
const BUILT_IN: [(&str, &str); 23] = built_in![
    "layout.txt",
    "layout.html",
    "email_verification.subject.txt",
    "email_verification.txt",
    "email_verification.html",
    "password_reset.subject.txt",
    "password_reset.txt",
    "password_reset.html",
    "sign_in_code.subject.txt",
    "sign_in_code.txt",
    "sign_in_code.html",
    "email_change_confirmation.subject.txt",
    "email_change_confirmation.txt",
    "email_change_confirmation.html",
    "email_changed_notice.subject.txt",
    "email_changed_notice.txt",
    "email_changed_notice.html",
    "password_changed_notice.subject.txt",
    "password_changed_notice.txt",
    "password_changed_notice.html",
    "test.subject.txt",
    "test.txt",
    "test.html",
];

/// Longest subject kept, in characters.
const SUBJECT_MAX_CHARS: usize = 200;

impl Templates {
    /// Loads the built-in templates, replaces those the folder has, and
    /// renders every kind with sample values (with and without the optional
    /// ones) to prove they all work.
    pub(crate) fn load(product: &str, folder: Option<&Path>) -> Result<Self, MailError> {
        let mut sources: BTreeMap<String, String> = BUILT_IN
            .iter()
            .map(|(name, source)| ((*name).to_owned(), (*source).to_owned()))
            .collect();
        if let Some(folder) = folder {
            sources.extend(read_overrides(folder)?);
        }
        let mut environment = strict_environment("message");
        for (name, source) in sources {
            environment
                .add_template_owned(name.clone(), source)
                .map_err(|error| template_error(&name, &error))?;
        }
        let templates = Self {
            environment,
            product: product.to_owned(),
        };
        for sample in samples() {
            if let Err(error) = templates.render(&sample) {
                let name = error.name().unwrap_or(sample.kind().as_str()).to_owned();
                return Err(template_error(&name, &error));
            }
        }
        Ok(templates)
    }

    pub(crate) fn render(&self, message: &OutgoingMessage) -> Result<Rendered, Error> {
        let kind = message.kind().as_str();
        let context = self.context(message);
        let render = |suffix: &str| {
            self.environment
                .get_template(&format!("{kind}.{suffix}"))?
                .render(&context)
        };
        Ok(Rendered {
            subject: one_line(&render("subject.txt")?, SUBJECT_MAX_CHARS),
            text: render("txt")?,
            html: render("html")?,
        })
    }

    /// The variables a template of this message sees.
    fn context(&self, message: &OutgoingMessage) -> Value {
        let requested = message.content.requested();
        let common = context! {
            product => self.product.clone(),
            email => message.to.email.clone(),
            name => message.to.name.clone(),
            requested_at => format_time(requested.at),
            client_address => requested.client_address.map(|address| address.to_string()),
        };
        let expiry = |valid_for: &Duration| {
            context! {
                valid_for => human_duration(*valid_for),
                expires_at => message.expires_at().map(format_time),
            }
        };
        let specific = match &message.content {
            MessageContent::EmailVerification {
                link,
                code,
                valid_for,
                ..
            }
            | MessageContent::PasswordReset {
                link,
                code,
                valid_for,
                ..
            } => {
                context! { link => link.expose(), code => code.expose(), ..expiry(valid_for) }
            }
            MessageContent::SignInCode {
                code, valid_for, ..
            } => {
                context! { code => code.expose(), ..expiry(valid_for) }
            }
            MessageContent::EmailChangeConfirmation {
                link,
                code,
                valid_for,
                current_email,
                ..
            } => context! {
                link => link.expose(),
                code => code.expose(),
                current_email => current_email.clone(),
                ..expiry(valid_for)
            },
            MessageContent::EmailChangedNotice { new_email, .. } => {
                context! { new_email => new_email.clone() }
            }
            MessageContent::PasswordChangedNotice {
                how,
                personal_tokens,
                ..
            } => context! {
                reset => *how == PasswordChange::Reset,
                personal_tokens => personal_tokens.as_ref().map(|tokens| {
                    tokens.listed().iter().map(token_values).collect::<Vec<_>>()
                }),
                more_personal_tokens => personal_tokens.as_ref().map_or(0, RemainingTokens::unlisted),
            },
            MessageContent::Test { .. } => context! {},
        };
        context! { ..specific, ..common }
    }
}

/// The variables of one token in a password notice's list.
fn token_values(token: &RemainingToken) -> Value {
    context! {
        id => token.id.to_string(),
        name => token_name(&token.name),
        created_at => format_time(token.created_at),
        last_used_at => token.last_used_at.map(format_time),
        expires_at => token.expires_at.map(format_time),
    }
}

fn template_error(name: &str, error: &Error) -> MailError {
    let mut reason = error.to_string();
    if let Some(line) = error.line() {
        reason = format!("line {line}: {reason}");
    }
    MailError::Template {
        name: name.to_owned(),
        reason,
    }
}

/// The environment of the mail templates, and of the hosted pages' (a
/// `kind` of template, named in its errors): blocks trimmed, every variable
/// a template uses must exist, and printing an absent optional one is an
/// error (it belongs inside `{% if … %}`).
#[must_use]
pub fn strict_environment(kind: &'static str) -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    environment.set_syntax(syntax.expect("the default delimiters are valid"));
    environment.set_formatter(move |out, state, value| {
        if value.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "prints a variable that this {kind} may not have; put it inside {{% if … %}}"
                ),
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    environment
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::message::{Link, MessageKind, OneTimeCode, Recipient, RequestOrigin};

    fn built_in() -> Templates {
        Templates::load("Portcullis", None).expect("the built-in templates work")
    }

    fn message(name: &str, content: MessageContent) -> OutgoingMessage {
        OutgoingMessage {
            to: Recipient {
                email: "ada@example.com".into(),
                name: Some(name.into()),
            },
            content,
        }
    }

    fn reset(name: &str) -> OutgoingMessage {
        message(
            name,
            MessageContent::PasswordReset {
                link: Link::parse("https://auth.example.com/password/reset?token=abc&x=1").unwrap(),
                code: OneTimeCode::parse("87654321").unwrap(),
                valid_for: Duration::from_secs(3600),
                requested: RequestOrigin {
                    at: time::macros::datetime!(2026-12-07 10:00 UTC),
                    client_address: Some("2001:db8::1".parse().unwrap()),
                },
            },
        )
    }

    #[test]
    fn every_kind_has_its_three_templates() {
        for kind in MessageKind::ALL {
            for suffix in ["subject.txt", "txt", "html"] {
                let name = format!("{kind}.{suffix}");
                assert!(
                    BUILT_IN.iter().any(|(built_in, _)| *built_in == name),
                    "{name} is missing"
                );
            }
        }
    }

    /// What happened, what to do, until when, and what if it was not you.
    #[test]
    fn a_reset_message_says_everything_in_both_parts() {
        let rendered = built_in().render(&reset("Ada")).unwrap();
        assert_eq!(rendered.subject, "Reset your Portcullis password");
        for part in [&rendered.text, &rendered.html] {
            for expected in [
                "87654321",
                "1 hour",
                "2026-12-07 11:00 UTC",
                "2001:db8::1",
                "ada@example.com",
                "Ada",
            ] {
                assert!(part.contains(expected), "{expected:?} missing from {part}");
            }
            assert!(part.contains("If you did not ask"), "{part}");
        }
        assert!(
            rendered
                .text
                .contains("https://auth.example.com/password/reset?token=abc&x=1")
        );
        assert!(rendered.html.contains(
            "href=\"https:&#x2f;&#x2f;auth.example.com&#x2f;password&#x2f;reset?token=abc&amp;x=1\""
        ));
    }

    #[test]
    fn variables_are_escaped_in_html_and_kept_in_text() {
        let rendered = built_in()
            .render(&reset("<script>alert(\"x\")</script>"))
            .unwrap();
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt;")
        );
        assert!(rendered.text.contains("<script>alert(\"x\")</script>"));
    }

    fn password_notice(personal_tokens: Option<RemainingTokens>) -> OutgoingMessage {
        message(
            "Ada",
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Reset,
                requested: RequestOrigin {
                    at: time::macros::datetime!(2026-12-07 10:00 UTC),
                    client_address: None,
                },
                personal_tokens,
            },
        )
    }

    fn token(n: u128, name: &str) -> RemainingToken {
        RemainingToken {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            created_at: time::macros::datetime!(2026-11-02 08:30 UTC),
            last_used_at: None,
            expires_at: None,
        }
    }

    /// Issue 10, finding 6: after a new password the owner learns which
    /// personal access tokens still work, when each was made and last
    /// used, and how to end one.
    #[test]
    fn a_password_notice_names_the_tokens_that_still_work() {
        let used = RemainingToken {
            last_used_at: Some(time::macros::datetime!(2026-12-06 17:45 UTC)),
            expires_at: Some(time::macros::datetime!(2027-01-01 00:00 UTC)),
            ..token(1, "deploy bot")
        };
        let tokens = RemainingTokens::new([used, token(2, "laptop script")]);
        let rendered = built_in().render(&password_notice(Some(tokens))).unwrap();
        for part in [&rendered.text, &rendered.html] {
            for expected in [
                "deploy bot",
                "00000000-0000-0000-0000-000000000001",
                "created 2026-11-02 08:30 UTC, last used 2026-12-06 17:45 UTC, expires 2027-01-01 00:00 UTC.",
                "laptop script",
                "00000000-0000-0000-0000-000000000002",
                "created 2026-11-02 08:30 UTC, never used.",
                "DELETE /me/tokens/ID",
            ] {
                assert!(part.contains(expected), "{expected:?} missing from {part}");
            }
            assert!(!part.contains("No personal access token"), "{part}");
            assert!(!part.contains("more"), "{part}");
        }
        assert!(
            rendered
                .text
                .contains("- \"deploy bot\" (id 00000000-0000-0000-0000-000000000001): created"),
            "{}",
            rendered.text
        );
        assert_eq!(
            rendered
                .text
                .lines()
                .filter(|line| line.starts_with("- \""))
                .count(),
            2,
            "one line each: {}",
            rendered.text
        );
    }

    #[test]
    fn a_password_notice_says_when_no_token_still_works() {
        let templates = built_in();
        let none_left = templates
            .render(&password_notice(Some(RemainingTokens::default())))
            .unwrap();
        for part in [&none_left.text, &none_left.html] {
            assert!(
                part.contains("No personal access token of the account still works."),
                "{part}"
            );
            assert!(!part.contains("DELETE"), "{part}");
        }
        // A notice queued before tokens were listed says nothing of them.
        let unknown = templates.render(&password_notice(None)).unwrap();
        for part in [&unknown.text, &unknown.html] {
            assert!(!part.contains("personal access token"), "{part}");
        }
    }

    #[test]
    fn a_long_token_list_names_twenty_and_counts_the_rest() {
        let tokens = RemainingTokens::new((0..27).map(|n| token(n, &format!("token number {n}"))));
        let rendered = built_in().render(&password_notice(Some(tokens))).unwrap();
        for part in [&rendered.text, &rendered.html] {
            assert_eq!(part.matches("token number").count(), 20, "{part}");
            assert!(part.contains("token number 19"));
            assert!(!part.contains("token number 20"));
            assert!(part.contains("and 7 more"), "{part}");
        }
    }

    /// A token's name is its owner's choice, and whoever holds a session can
    /// choose it: in the HTML part it is text, never markup; in the text
    /// part it stays on its own line and reads forwards.
    #[test]
    fn a_hostile_token_name_is_text_in_both_parts() {
        let hostile = "<script>alert(\"x\")</script><a href=\"https://evil.example\">\u{202E}gnp.exe\r\nVisit https://evil.example";
        let tokens = RemainingTokens::new([token(1, hostile)]);
        let rendered = built_in().render(&password_notice(Some(tokens))).unwrap();
        for markup in ["<script", "<a href", "\u{202E}"] {
            assert!(
                !rendered.html.contains(markup),
                "{markup:?} in {}",
                rendered.html
            );
        }
        assert!(
            rendered.html.contains(
                "&ldquo;&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt;&lt;a href=&quot;https:&#x2f;&#x2f;evil.example&quot;&gt;gnp.exe Visit https:&#x2f;&#x2f;evil.example&rdquo;"
            ),
            "{}",
            rendered.html
        );
        assert!(
            rendered.text.lines().any(|line| line.starts_with(
                "- \"<script>alert(\"x\")</script><a href=\"https://evil.example\">gnp.exe Visit https://evil.example\" (id "
            )),
            "{}",
            rendered.text
        );
        assert!(!rendered.text.contains('\u{202E}'));
        assert!(
            !rendered.text.lines().any(|line| line.starts_with("Visit")),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn html_uses_no_outside_resources() {
        let templates = built_in();
        for sample in samples() {
            let html = templates.render(&sample).unwrap().html;
            let lower = html.to_lowercase();
            for forbidden in [
                "<img", "<link", "<script", "src=", "url(", "@import", "<style",
            ] {
                assert!(
                    !lower.contains(forbidden),
                    "{forbidden} in {}: {html}",
                    sample.kind()
                );
            }
        }
    }

    #[test]
    fn absent_optional_values_leave_no_trace() {
        let templates = built_in();
        for sample in samples()
            .into_iter()
            .filter(|sample| sample.to.name.is_none())
        {
            let rendered = templates.render(&sample).unwrap();
            let html = rendered.html.replace("text-decoration:none", "");
            for part in [&rendered.subject, &rendered.text, &html] {
                assert!(
                    !part.to_lowercase().contains("none"),
                    "{}: {part}",
                    sample.kind()
                );
            }
        }
    }

    #[test]
    fn a_folder_replaces_templates_by_name() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(
            folder.path().join("password_reset.subject.txt"),
            "{{ product }}: new password\r\nBcc: x@example.com",
        )
        .unwrap();
        std::fs::write(folder.path().join(".gitkeep"), "").unwrap();
        std::fs::write(folder.path().join("README.md"), "notes").unwrap();
        let templates = Templates::load("Acme", Some(folder.path())).unwrap();
        let rendered = templates.render(&reset("Ada")).unwrap();
        assert_eq!(rendered.subject, "Acme: new password Bcc: x@example.com");
        assert!(
            rendered.text.contains("Acme"),
            "the other templates stay built in"
        );
    }

    #[track_caller]
    fn refused(files: &[(&str, &str)], expected: &[&str]) {
        let folder = tempfile::tempdir().unwrap();
        for (name, source) in files {
            std::fs::write(folder.path().join(name), source).unwrap();
        }
        let error = Templates::load("Portcullis", Some(folder.path()))
            .err()
            .expect("refused")
            .to_string();
        for part in expected {
            assert!(error.contains(part), "{part:?} not in {error}");
        }
    }

    #[test]
    fn broken_templates_are_reported_at_load_with_their_name() {
        refused(
            &[("password_reset.html", "{% if %}")],
            &["password_reset.html", "line 1", "syntax"],
        );
        refused(
            &[("sign_in_code.txt", "{{ link }}")],
            &["sign_in_code.txt", "undefined"],
        );
        refused(
            &[("test.txt", "{{ client_address }}")],
            &["test.txt", "this message may not have", "{% if"],
        );
        refused(
            &[("password-reset.txt", "x")],
            &[
                "password-reset.txt is not a template name",
                "password_reset.txt",
            ],
        );
        refused(&[("layout.html", "{% block body %}")], &["layout.html"]);
    }
}
