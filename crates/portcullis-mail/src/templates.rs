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

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value, context};
use time::OffsetDateTime;

use crate::message::{
    Link, MessageContent, OneTimeCode, OutgoingMessage, PasswordChange, Recipient, RequestOrigin,
};
use crate::settings::MailError;

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
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build();
        environment.set_syntax(syntax.expect("the default delimiters are valid"));
        environment.set_formatter(|out, state, value| {
            if value.is_none() {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "prints a variable that this message does not have; put it inside {% if … %}",
                ));
            }
            minijinja::escape_formatter(out, state, value)
        });
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
            MessageContent::PasswordChangedNotice { how, .. } => {
                context! { reset => *how == PasswordChange::Reset }
            }
            MessageContent::Test { .. } => context! {},
        };
        context! { ..specific, ..common }
    }
}

/// The folder's templates by name. A `.txt` or `.html` file not named like
/// a built-in template is refused (a misspelt name would otherwise be
/// ignored in silence); other files (a README) and hidden ones are skipped.
fn read_overrides(folder: &Path) -> Result<Vec<(String, String)>, MailError> {
    let folder_error = |reason: String| MailError::TemplatesFolder {
        path: folder.to_owned(),
        reason,
    };
    let entries = std::fs::read_dir(folder).map_err(|error| folder_error(error.to_string()))?;
    let mut overrides = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| folder_error(error.to_string()))?
            .path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if name.starts_with('.') || !(name.ends_with(".txt") || name.ends_with(".html")) {
            continue;
        }
        if !BUILT_IN.iter().any(|(built_in, _)| *built_in == name) {
            let known: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            return Err(folder_error(format!(
                "{name} is not a template name; the names are {}",
                known.join(", ")
            )));
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|error| folder_error(format!("{name}: {error}")))?;
        overrides.push((name, source));
    }
    Ok(overrides)
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

/// Sample messages of every kind, with and without the optional values.
fn samples() -> Vec<OutgoingMessage> {
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
            },
            MessageContent::PasswordChangedNotice {
                how: PasswordChange::Reset,
                requested,
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

/// `text` on one line: control characters and line breaks become spaces,
/// runs of whitespace one space, at most `max_chars` characters. Used for
/// every header value a template or a variable can reach.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max_chars)
        .collect()
}

/// `24 hours`, `1 hour and 30 minutes`, `10 minutes`, `45 seconds`.
fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let parts: Vec<String> = [
        (seconds / 3600, "hour"),
        (seconds % 3600 / 60, "minute"),
        (seconds % 60, "second"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, unit)| format!("{count} {unit}{}", if count == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        "0 seconds".to_owned()
    } else {
        parts.join(" and ")
    }
}

/// `2026-12-07 14:03 UTC`: unambiguous in any locale.
fn format_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageKind;

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
    fn a_subject_is_one_line_whatever_the_template_says() {
        assert_eq!(
            one_line("Hello\r\nBcc: victim@example.com", 200),
            "Hello Bcc: victim@example.com"
        );
        assert_eq!(one_line("  a\t\u{0}b\u{2028}c\u{85}d  ", 200), "a b c d");
        assert_eq!(one_line(&"x".repeat(500), 200).len(), 200);
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
            &["test.txt", "{% if"],
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

    #[test]
    fn a_missing_folder_is_reported() {
        let error = Templates::load("Portcullis", Some(Path::new("/nonexistent/templates")))
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("/nonexistent/templates"),
            "{error}"
        );
    }

    #[test]
    fn durations_and_times_read_naturally() {
        #[track_caller]
        fn check(seconds: u64, expected: &str) {
            assert_eq!(human_duration(Duration::from_secs(seconds)), expected);
        }
        check(24 * 3600, "24 hours");
        check(3600, "1 hour");
        check(600, "10 minutes");
        check(5400, "1 hour and 30 minutes");
        check(61, "1 minute and 1 second");
        check(0, "0 seconds");
        let at = time::macros::datetime!(2026-12-07 15:03:59 +01:00);
        assert_eq!(format_time(at), "2026-12-07 14:03 UTC");
    }
}
