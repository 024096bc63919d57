//! Configuration, loaded once: flags over `PORTCULLIS_*` variables over the
//! optional TOML file over the defaults, for every setting declared in
//! [`crate::cli`]. The result is plain structs handed to the store, the
//! domain and the server; nothing reads configuration anywhere else.
//!
//! Flags, variables and defaults are clap's. The file is read first and its
//! values become the defaults of the arguments they name, each checked
//! with the argument's own parser, so a bad value is refused naming the
//! file and the key, and an unknown key stops the command. `--help` is
//! answered before the file is read and shows the built-in defaults.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Arg, ArgAction, CommandFactory as _, FromArgMatches as _};
use portcullis_core::AuthSettings;
use portcullis_core::hashing::Argon2Settings;
use portcullis_core::keys::SigningAlgorithm;
use portcullis_core::rate_limits::RateLimit;
use portcullis_core::settings::{EmailSettings, EmailVerification, SignupMode};
use portcullis_core::throttle::ThrottleSettings;
use portcullis_mail::MailSettings;
use portcullis_server::{HttpSettings, PageSettings};

use crate::cli::{
    AccessTokenAlgorithm, Cli, Command, EmailVerificationChoice, InvalidSetting, LinkUrl,
    ServeArgs, Signup, Switch,
};

/// How to use the database's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolSettings {
    /// `None`: the store's own default.
    pub(crate) max_connections: Option<u32>,
    pub(crate) acquire_timeout: std::time::Duration,
    pub(crate) statement_timeout: std::time::Duration,
}

/// Everything a command needs, resolved.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) database: String,
    pub(crate) pool: PoolSettings,
    pub(crate) listen: String,
    pub(crate) auth: AuthSettings,
    pub(crate) http: HttpSettings,
    pub(crate) mail: MailSettings,
    pub(crate) pages: PageSettings,
}

/// Why no command runs.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// clap's answer: bad usage, a refused value, or `--help` and `--version`.
    CommandLine(clap::Error),
    /// The TOML file cannot be read, or holds an unknown key or a bad value.
    File(anyhow::Error),
}

impl Refusal {
    /// Prints the refusal (or the help) and gives the exit code.
    pub(crate) fn report(self) -> ExitCode {
        match &self {
            Self::CommandLine(error) => {
                // Nothing more can be said if the output is gone.
                let _ = error.print();
            }
            Self::File(error) => eprintln!("error: {error:#}"),
        }
        ExitCode::from(self.exit_code())
    }

    /// 0 for `--help` and `--version`, 2 for bad usage, 1 for a value a
    /// rule refused or a bad file.
    fn exit_code(&self) -> u8 {
        match self {
            Self::CommandLine(error) if InvalidSetting::caused(error) => 1,
            Self::CommandLine(error) => u8::try_from(error.exit_code()).unwrap_or(2),
            Self::File(_) => 1,
        }
    }
}

/// Parses the command line `args` (the program's name first) with the
/// configuration file it names as defaults, and resolves the settings of
/// `serve` for whichever command it is: the other commands take them from
/// the environment and the file.
pub(crate) fn load(args: impl IntoIterator<Item = OsString>) -> Result<(Cli, Config), Refusal> {
    load_with(Cli::command(), &args.into_iter().collect::<Vec<_>>())
}

fn load_with(command: clap::Command, args: &[OsString]) -> Result<(Cli, Config), Refusal> {
    // The first parse finds the file (and answers `--help`); the second,
    // only when there is a file, has the file's values as defaults. Both
    // see the same flags and environment, so only the file can tell them
    // apart, and its values were checked on the way in.
    let cli = parse(command.clone(), args)?;
    let (cli, command) = match cli.config.as_deref() {
        None => (cli, command),
        Some(path) => {
            let command = with_file_defaults(command, path).map_err(Refusal::File)?;
            (parse(command.clone(), args)?, command)
        }
    };
    let settings = match &cli.command {
        Command::Serve(settings) => (**settings).clone(),
        _ => settings_without_flags(command).map_err(Refusal::CommandLine)?,
    };
    let config = resolve(cli.database.clone(), settings);
    Ok((cli, config))
}

fn parse(command: clap::Command, args: &[OsString]) -> Result<Cli, Refusal> {
    command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(Refusal::CommandLine)
}

/// The settings of `serve` as `portcullis serve` with no flag would have them.
fn settings_without_flags(command: clap::Command) -> Result<ServeArgs, clap::Error> {
    let matches = command.try_get_matches_from(["portcullis", "serve"])?;
    let serve = matches
        .subcommand_matches("serve")
        .expect("`serve` was given");
    ServeArgs::from_arg_matches(serve)
}

/// Keys of the file that are not settings of `serve` but of every command.
const SHARED_FILE_KEYS: [&str; 1] = ["database"];

/// `command` with the values of the TOML file at `path` as the defaults of
/// the arguments named by its keys (the arguments' ids: the field names
/// of [`ServeArgs`], and `database`).
fn with_file_defaults(mut command: clap::Command, path: &Path) -> anyhow::Result<clap::Command> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    for (key, value) in table {
        let shared = SHARED_FILE_KEYS.contains(&key.as_str());
        let arguments = if shared {
            &command
        } else {
            command
                .find_subcommand("serve")
                .expect("`serve` is a subcommand")
        };
        let Some(argument) = arguments.get_arguments().find(|argument| {
            argument.get_id() == key.as_str() && argument.get_action().takes_values()
        }) else {
            bail!(
                "{}: unknown setting `{key}` (the settings are those of `portcullis serve --help` and `database`, written with underscores)",
                path.display()
            );
        };
        let values = texts(argument, value)
            .and_then(|values| check(argument, &values).map(|()| values))
            .with_context(|| format!("{}: {key}", path.display()))?;
        command = if shared {
            command.mut_arg(&key, |argument| argument.default_values(values))
        } else {
            command.mut_subcommand("serve", |serve| {
                serve.mut_arg(&key, |argument| argument.default_values(values))
            })
        };
    }
    Ok(command)
}

/// A value of the file as the texts a flag would be given: one, or one
/// per item of an array for a repeatable setting.
fn texts(argument: &Arg, value: toml::Value) -> anyhow::Result<Vec<String>> {
    let repeatable = matches!(argument.get_action(), ArgAction::Append);
    match value {
        toml::Value::Array(items) if repeatable => items.into_iter().map(text).collect(),
        toml::Value::Array(_) => bail!("takes one value, not an array"),
        _ if repeatable => bail!("takes an array, e.g. [\"…\"]"),
        value => Ok(vec![text(value)?]),
    }
}

fn text(value: toml::Value) -> anyhow::Result<String> {
    match value {
        toml::Value::String(text) => Ok(text),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        toml::Value::Boolean(truth) => Ok(truth.to_string()),
        toml::Value::Datetime(datetime) => Ok(datetime.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            bail!("takes a value, not {}", value.type_str())
        }
    }
}

/// Reads each of `values` with the argument's own parser, as clap will.
fn check(argument: &Arg, values: &[String]) -> anyhow::Result<()> {
    for value in values {
        let alone = argument
            .clone()
            .env(None)
            .required(false)
            .default_value(value.clone());
        let refused = clap::Command::new("portcullis")
            .no_binary_name(true)
            .arg(alone)
            .try_get_matches_from(std::iter::empty::<OsString>())
            .err();
        if let Some(error) = refused {
            let possible: Vec<String> = argument
                .get_possible_values()
                .iter()
                .map(|possible| possible.get_name().to_owned())
                .collect();
            let reason = match std::error::Error::source(&error) {
                Some(reason) => reason.to_string(),
                None if !possible.is_empty() => format!("not one of {}", possible.join(", ")),
                None => error.kind().to_string(),
            };
            return Err(anyhow!("{value:?}: {reason}"));
        }
    }
    Ok(())
}

/// The settings as the store, the domain and the server take them. Takes
/// [`ServeArgs`] apart whole, so a new setting that is not used here does
/// not compile.
pub(crate) fn resolve(database: String, settings: ServeArgs) -> Config {
    let ServeArgs {
        listen,
        issuer,
        audience,
        access_ttl,
        access_token_alg,
        refresh_ttl,
        session_max_age,
        refresh_reuse_grace,
        leeway,
        signup,
        signup_per_address,
        password_min_length,
        cors_origins,
        trusted_proxies,
        http_header_timeout,
        http_body_timeout,
        http_idle_timeout,
        http_max_connections,
        argon2_memory_kib,
        argon2_iterations,
        argon2_parallelism,
        hashing_workers,
        db_max_connections,
        db_acquire_timeout,
        db_statement_timeout,
        throttle,
        throttle_account_attempts,
        throttle_ip_attempts,
        throttle_base_delay,
        throttle_max_delay,
        throttle_forget_after,
        key_encryption_key_file,
        key_encryption_key,
        smtp_url,
        smtp_password,
        mail_from,
        product_name,
        product_logo_url,
        product_colour,
        templates,
        page_templates,
        email_verification,
        mail_per_email,
        mail_per_address,
        link_urls,
        email_code_login,
    } = settings;
    let mut email = EmailSettings {
        verification: match email_verification {
            Some(EmailVerificationChoice::Off) => EmailVerification::Off,
            Some(EmailVerificationChoice::Optional) => EmailVerification::Optional,
            Some(EmailVerificationChoice::Required) => EmailVerification::Required,
            None if smtp_url.is_some() => EmailVerification::Optional,
            None => EmailVerification::Off,
        },
        per_email: RateLimit::per_hour(mail_per_email),
        per_address: RateLimit::per_hour(mail_per_address),
        code_login: email_code_login == Switch::On,
        ..EmailSettings::with_defaults(&issuer)
    };
    for link in link_urls {
        match link {
            LinkUrl::Verify(url) => email.verify_link = url,
            LinkUrl::Reset(url) => email.reset_link = url,
        }
    }
    Config {
        database,
        pool: PoolSettings {
            max_connections: db_max_connections,
            acquire_timeout: db_acquire_timeout.unsigned_abs(),
            statement_timeout: db_statement_timeout.unsigned_abs(),
        },
        listen,
        auth: AuthSettings {
            audience: audience.unwrap_or_else(|| issuer.clone()),
            issuer,
            access_token_ttl: access_ttl,
            access_token_algorithm: match access_token_alg {
                AccessTokenAlgorithm::EdDSA => SigningAlgorithm::EdDSA,
                AccessTokenAlgorithm::ES256 => SigningAlgorithm::ES256,
                AccessTokenAlgorithm::RS256 => SigningAlgorithm::RS256,
            },
            refresh_idle_ttl: refresh_ttl,
            session_max_age,
            refresh_reuse_grace,
            leeway,
            signup: match signup {
                Signup::Open => SignupMode::Open,
                Signup::Closed => SignupMode::Closed,
            },
            signup_per_address: RateLimit::per_hour(signup_per_address),
            password_policy: password_min_length,
            argon2: Argon2Settings {
                memory_kib: argon2_memory_kib,
                iterations: argon2_iterations,
                parallelism: argon2_parallelism,
            },
            hashing_workers,
            throttle: ThrottleSettings {
                enabled: throttle,
                account_free_attempts: throttle_account_attempts,
                ip_free_attempts: throttle_ip_attempts,
                base_delay: throttle_base_delay,
                max_delay: throttle_max_delay,
                forget_after: throttle_forget_after,
            },
            key_encryption_key: key_encryption_key_file.or(key_encryption_key),
            email,
        },
        http: HttpSettings {
            cors_origins,
            trusted_proxies,
            header_timeout: http_header_timeout.unsigned_abs(),
            body_timeout: http_body_timeout.unsigned_abs(),
            idle_timeout: http_idle_timeout.unsigned_abs(),
            max_connections: http_max_connections,
        },
        mail: MailSettings {
            smtp_url,
            smtp_password,
            product_name: product_name.clone(),
            templates_dir: templates,
            ..MailSettings::new(mail_from)
        },
        pages: PageSettings {
            product_name,
            logo: product_logo_url,
            colour: product_colour,
            templates_dir: page_templates,
        },
    }
}

#[cfg(test)]
mod tests;
