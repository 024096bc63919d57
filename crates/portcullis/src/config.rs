//! Configuration, loaded once: flags and `PORTCULLIS_*` variables over the
//! optional TOML file over the defaults of the contract. The result is plain
//! structs handed to the store, the domain and the server; nothing reads
//! configuration anywhere else.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context as _, bail};
use portcullis_core::hashing::Argon2Settings;
use portcullis_core::settings::{MAX_LEEWAY, SignupMode};
use portcullis_core::throttle::ThrottleSettings;
use portcullis_core::{AuthSettings, PasswordPolicy};
use portcullis_server::HttpSettings;
use serde::Deserialize;
use time::Duration;

use crate::cli::{ServeArgs, Signup};

/// The default database, in the current folder.
pub(crate) const DEFAULT_DATABASE: &str = "sqlite://portcullis.db";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_ISSUER: &str = "http://localhost:8080";

/// The TOML file: the same names as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    database: Option<String>,
    listen: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Option<String>,
    refresh_ttl: Option<String>,
    session_max_age: Option<String>,
    refresh_reuse_grace: Option<String>,
    leeway: Option<String>,
    signup: Option<Signup>,
    password_min_length: Option<usize>,
    #[serde(default)]
    cors_origins: Vec<String>,
    #[serde(default)]
    trusted_proxies: Vec<IpAddr>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    hashing_workers: Option<usize>,
    db_max_connections: Option<u32>,
    db_acquire_timeout: Option<String>,
    db_statement_timeout: Option<String>,
    throttle: Option<bool>,
    throttle_account_attempts: Option<u32>,
    throttle_ip_attempts: Option<u32>,
    throttle_base_delay: Option<String>,
    throttle_max_delay: Option<String>,
    throttle_forget_after: Option<String>,
}

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
}

impl FileConfig {
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Layers `args` (flags and environment) over `file` over the defaults.
pub(crate) fn resolve(
    database: Option<String>,
    args: ServeArgs,
    file: FileConfig,
) -> anyhow::Result<Config> {
    let issuer = args
        .issuer
        .or(file.issuer)
        .unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
    let mut auth = AuthSettings::with_defaults(issuer);
    if let Some(audience) = args.audience.or(file.audience) {
        auth.audience = audience;
    }
    let durations = [
        (
            "access-ttl",
            args.access_ttl.or(file.access_ttl),
            &mut auth.access_token_ttl,
        ),
        (
            "refresh-ttl",
            args.refresh_ttl.or(file.refresh_ttl),
            &mut auth.refresh_idle_ttl,
        ),
        (
            "session-max-age",
            args.session_max_age.or(file.session_max_age),
            &mut auth.session_max_age,
        ),
        (
            "refresh-reuse-grace",
            args.refresh_reuse_grace.or(file.refresh_reuse_grace),
            &mut auth.refresh_reuse_grace,
        ),
        ("leeway", args.leeway.or(file.leeway), &mut auth.leeway),
        (
            "throttle-base-delay",
            args.throttle_base_delay.or(file.throttle_base_delay),
            &mut auth.throttle.base_delay,
        ),
        (
            "throttle-max-delay",
            args.throttle_max_delay.or(file.throttle_max_delay),
            &mut auth.throttle.max_delay,
        ),
        (
            "throttle-forget-after",
            args.throttle_forget_after.or(file.throttle_forget_after),
            &mut auth.throttle.forget_after,
        ),
    ];
    for (name, text, target) in durations {
        if let Some(text) = text {
            *target = parse_duration(name, &text)?;
        }
    }
    if auth.leeway > MAX_LEEWAY {
        bail!("--leeway must be at most 30s");
    }
    if auth.access_token_ttl < Duration::seconds(1) {
        bail!("--access-ttl must be at least 1s");
    }
    if let Some(signup) = args.signup.or(file.signup) {
        auth.signup = match signup {
            Signup::Open => SignupMode::Open,
            Signup::Closed => SignupMode::Closed,
        };
    }
    if let Some(min) = args.password_min_length.or(file.password_min_length) {
        auth.password_policy = PasswordPolicy::new(min).context("--password-min-length")?;
    }
    let argon2 = Argon2Settings::default();
    auth.argon2 = Argon2Settings {
        memory_kib: args
            .argon2_memory_kib
            .or(file.argon2_memory_kib)
            .unwrap_or(argon2.memory_kib),
        iterations: args
            .argon2_iterations
            .or(file.argon2_iterations)
            .unwrap_or(argon2.iterations),
        parallelism: args
            .argon2_parallelism
            .or(file.argon2_parallelism)
            .unwrap_or(argon2.parallelism),
    };
    if let Some(workers) = args.hashing_workers.or(file.hashing_workers) {
        if workers == 0 {
            bail!("--hashing-workers must be at least 1");
        }
        auth.hashing_workers = workers;
    }
    let throttle = ThrottleSettings::default();
    auth.throttle.enabled = args.throttle.or(file.throttle).unwrap_or(throttle.enabled);
    auth.throttle.account_free_attempts = args
        .throttle_account_attempts
        .or(file.throttle_account_attempts)
        .unwrap_or(throttle.account_free_attempts);
    auth.throttle.ip_free_attempts = args
        .throttle_ip_attempts
        .or(file.throttle_ip_attempts)
        .unwrap_or(throttle.ip_free_attempts);

    let pool = PoolSettings {
        max_connections: args.db_max_connections.or(file.db_max_connections),
        acquire_timeout: pool_timeout(
            "db-acquire-timeout",
            args.db_acquire_timeout.or(file.db_acquire_timeout),
        )?,
        statement_timeout: pool_timeout(
            "db-statement-timeout",
            args.db_statement_timeout.or(file.db_statement_timeout),
        )?,
    };
    if pool.max_connections == Some(0) {
        bail!("--db-max-connections must be at least 1");
    }

    Ok(Config {
        database: database
            .or(file.database)
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
        pool,
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        auth,
        http: HttpSettings {
            cors_origins: non_empty_or(args.cors_origins, file.cors_origins),
            trusted_proxies: non_empty_or(args.trusted_proxies, file.trusted_proxies),
        },
    })
}

fn non_empty_or<T>(preferred: Vec<T>, fallback: Vec<T>) -> Vec<T> {
    if preferred.is_empty() {
        fallback
    } else {
        preferred
    }
}

/// A pool timeout, 5 s unless given.
fn pool_timeout(name: &str, text: Option<String>) -> anyhow::Result<std::time::Duration> {
    text.map_or(Ok(std::time::Duration::from_secs(5)), |text| {
        Ok(parse_duration(name, &text)?.unsigned_abs())
    })
}

/// Parses `15m`, `30d`, `2s` and the like.
fn parse_duration(name: &str, text: &str) -> anyhow::Result<Duration> {
    let parsed = humantime::parse_duration(text.trim())
        .with_context(|| format!("--{name}: {text:?} is not a duration like 15m, 30d or 2s"))?;
    Duration::try_from(parsed).with_context(|| format!("--{name}: {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig = toml::from_str(
            r#"
            issuer = "https://auth.example.com"
            access_ttl = "5m"
            listen = "0.0.0.0:9000"
            cors_origins = ["https://app.example.com"]
            "#,
        )
        .unwrap();
        let args = ServeArgs {
            access_ttl: Some("2m".into()),
            ..ServeArgs::default()
        };
        let config = resolve(None, args, file).unwrap();
        assert_eq!(config.auth.issuer, "https://auth.example.com");
        assert_eq!(config.auth.audience, "https://auth.example.com");
        assert_eq!(config.auth.access_token_ttl, Duration::minutes(2));
        assert_eq!(config.auth.refresh_idle_ttl, Duration::days(30));
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.database, DEFAULT_DATABASE);
        assert_eq!(config.http.cors_origins, ["https://app.example.com"]);
    }

    #[test]
    fn refusals() {
        for args in [
            ServeArgs {
                leeway: Some("31s".into()),
                ..ServeArgs::default()
            },
            ServeArgs {
                access_ttl: Some("soon".into()),
                ..ServeArgs::default()
            },
            ServeArgs {
                password_min_length: Some(7),
                ..ServeArgs::default()
            },
            ServeArgs {
                hashing_workers: Some(0),
                ..ServeArgs::default()
            },
        ] {
            assert!(
                resolve(None, args.clone(), FileConfig::default()).is_err(),
                "{args:?}"
            );
        }
        assert!(toml::from_str::<FileConfig>("no_such_setting = 1").is_err());
    }
}
