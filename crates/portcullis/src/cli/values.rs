//! How the text of a setting becomes its value, and which values are
//! refused: the `value_parser`s of [`super::ServeArgs`], each refusal an
//! [`InvalidSetting`] (exit 1; see the parent module).

use std::str::FromStr;

use portcullis_core::PasswordPolicy;
use portcullis_core::key_encryption::KeyEncryptionKey;
use portcullis_core::settings::MAX_LEEWAY;
use portcullis_mail::{MailFrom, SmtpUrl};
use portcullis_server::{Colour, LogoUrl};
use time::Duration;

/// A setting's value that its rule refuses; the message says why, and clap
/// adds the flag and the value. Exits 1, not clap's 2 (see the module doc).
#[derive(Debug)]
pub(crate) struct InvalidSetting(String);

impl std::fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidSetting {}

impl InvalidSetting {
    /// Whether clap refused a value because one of our rules did.
    pub(crate) fn caused(error: &clap::Error) -> bool {
        std::error::Error::source(error).is_some_and(|source| source.is::<Self>())
    }
}

/// Reads `15m`, `30d`, `2s` and the like.
pub(super) fn duration(text: &str) -> Result<Duration, InvalidSetting> {
    let parsed = humantime::parse_duration(text.trim())
        .map_err(|_| InvalidSetting("not a duration like 15m, 30d or 2s".to_owned()))?;
    Duration::try_from(parsed).map_err(|_| InvalidSetting("too long".to_owned()))
}

/// A duration longer than zero.
pub(super) fn timeout(text: &str) -> Result<Duration, InvalidSetting> {
    let timeout = duration(text)?;
    if timeout <= Duration::ZERO {
        return Err(InvalidSetting("must be longer than 0s".to_owned()));
    }
    Ok(timeout)
}

pub(super) fn access_ttl(text: &str) -> Result<Duration, InvalidSetting> {
    let ttl = duration(text)?;
    if ttl < Duration::seconds(1) {
        return Err(InvalidSetting("must be at least 1s".to_owned()));
    }
    Ok(ttl)
}

pub(super) fn key_encryption_key(text: &str) -> Result<KeyEncryptionKey, InvalidSetting> {
    KeyEncryptionKey::from_base64(text).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn key_encryption_key_file(path: &str) -> Result<KeyEncryptionKey, InvalidSetting> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| InvalidSetting(format!("cannot read {path}: {error}")))?;
    key_encryption_key(&text)
}

/// A page of an application that a mailed link opens, for one kind of link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkUrl {
    Verify(String),
    Reset(String),
}

pub(super) fn link_url(text: &str) -> Result<LinkUrl, InvalidSetting> {
    let (kind, url) = text
        .split_once('=')
        .ok_or_else(|| InvalidSetting("expected verify=URL or reset=URL".into()))?;
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || !url.contains("{token}") || url.chars().any(char::is_whitespace) {
        return Err(InvalidSetting(
            "the URL must be http(s)://…, hold {token}, and have no spaces".into(),
        ));
    }
    match kind {
        "verify" => Ok(LinkUrl::Verify(url.to_owned())),
        "reset" => Ok(LinkUrl::Reset(url.to_owned())),
        other => Err(InvalidSetting(format!(
            "unknown link {other:?}: expected verify or reset"
        ))),
    }
}

pub(super) fn smtp_url(text: &str) -> Result<SmtpUrl, InvalidSetting> {
    SmtpUrl::parse(text).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn mail_from(text: &str) -> Result<MailFrom, InvalidSetting> {
    MailFrom::parse(text).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn colour(text: &str) -> Result<Colour, InvalidSetting> {
    Colour::parse(text).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn logo_url(text: &str) -> Result<LogoUrl, InvalidSetting> {
    LogoUrl::parse(text).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn leeway(text: &str) -> Result<Duration, InvalidSetting> {
    let leeway = duration(text)?;
    if leeway > MAX_LEEWAY {
        let most = MAX_LEEWAY.whole_seconds();
        return Err(InvalidSetting(format!("must be at most {most}s")));
    }
    Ok(leeway)
}

/// A number that `rule` accepts or refuses. Text that is not a number is
/// refused as clap refuses it, as bad usage (exit 2).
pub(super) fn number<Number, Setting>(
    rule: fn(Number) -> Result<Setting, InvalidSetting>,
) -> impl Fn(&str) -> Result<Setting, Box<dyn std::error::Error + Send + Sync>>
+ Clone
+ Send
+ Sync
+ 'static
where
    Number: FromStr + 'static,
    Number::Err: std::error::Error + Send + Sync + 'static,
    Setting: 'static,
{
    move |text| Ok(rule(text.parse()?)?)
}

pub(super) fn password_policy(min_length: usize) -> Result<PasswordPolicy, InvalidSetting> {
    PasswordPolicy::new(min_length).map_err(|error| InvalidSetting(error.to_string()))
}

pub(super) fn at_least_one<T: PartialEq + From<u8>>(number: T) -> Result<T, InvalidSetting> {
    if number == T::from(0) {
        return Err(InvalidSetting("must be at least 1".to_owned()));
    }
    Ok(number)
}

/// An exact origin: the CORS layer matches origins as written and cannot
/// combine a wildcard with a list.
pub(super) fn cors_origin(text: &str) -> Result<String, InvalidSetting> {
    if text.contains('*') {
        return Err(InvalidSetting(
            "wildcards are not supported: list each origin, e.g. https://app.example.com"
                .to_owned(),
        ));
    }
    Ok(text.to_owned())
}

pub(super) fn number_of_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}
