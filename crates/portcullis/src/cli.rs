//! The command line, as `../shared/API.md` specifies it: subcommands, flags,
//! and their `PORTCULLIS_*` environment variables.
//!
//! Every setting of `serve` is an `Option` here, so that [`crate::config`]
//! can tell "not given" from "given", and layer flags and environment over
//! the TOML file over the defaults.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Token-based authentication for APIs."
)]
pub(crate) struct Cli {
    /// Database URL: `sqlite://FILE`, a plain file path, or `postgres://USER@HOST/DB`.
    #[arg(long, global = true, env = "PORTCULLIS_DATABASE")]
    pub(crate) database: Option<String>,

    /// A TOML file with any of the `serve` settings (flags and environment win over it).
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, env = "PORTCULLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user and print its id.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// A role to grant (repeatable), e.g. `admin`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from standard input (one trailing newline dropped) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// One line per user: id, email, roles, active or disabled.
    List,
    /// Disable a user and revoke all their sessions. Returns once running servers see it (about 1 s).
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Set a user's password (the policy applies) and revoke their sessions. Returns once running servers see it (about 1 s).
    Passwd {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoleCommand {
    /// Create or replace a role. Returns once running servers see it (about 1 s).
    Set {
        name: String,
        /// A permission of the role (repeatable).
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// One line per role: name, then its permissions.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new signing key active and print its kid; the old key keeps verifying until its tokens expire.
    Rotate,
    /// One line per key: kid, algorithm, active or retiring, created.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Verify an access token with the database's keys and revocations; print its claims as JSON.
    Verify { token: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Signup {
    /// Anyone may create an account with `POST /users`.
    Open,
    /// Only `portcullis user add` creates accounts.
    Closed,
}

/// The settings of `serve`, each also read from `PORTCULLIS_<NAME>` and the TOML file.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PORTCULLIS_LISTEN")]
    pub(crate) listen: Option<String>,

    /// The `iss` of every token; the same for every instance of a deployment
    /// [default: http://localhost:8080].
    #[arg(long, env = "PORTCULLIS_ISSUER")]
    pub(crate) issuer: Option<String>,

    /// The `aud` of every token [default: the issuer].
    #[arg(long, env = "PORTCULLIS_AUDIENCE")]
    pub(crate) audience: Option<String>,

    /// Access-token lifetime, e.g. `15m` [default: 15m].
    #[arg(long, env = "PORTCULLIS_ACCESS_TTL")]
    pub(crate) access_ttl: Option<String>,

    /// A session unused for this long ends (refresh idle lifetime) [default: 30d].
    #[arg(long, env = "PORTCULLIS_REFRESH_TTL")]
    pub(crate) refresh_ttl: Option<String>,

    /// A session ends this long after login, however used [default: 90d].
    #[arg(long, env = "PORTCULLIS_SESSION_MAX_AGE")]
    pub(crate) session_max_age: Option<String>,

    /// How long a just-rotated refresh token still returns its successor
    /// instead of counting as reuse [default: 10s].
    #[arg(long, env = "PORTCULLIS_REFRESH_REUSE_GRACE")]
    pub(crate) refresh_reuse_grace: Option<String>,

    /// Clock skew tolerated on `exp` and `nbf`, at most 30s [default: 1s].
    #[arg(long, env = "PORTCULLIS_LEEWAY")]
    pub(crate) leeway: Option<String>,

    /// Whether `POST /users` is open to anyone [default: open].
    #[arg(long, env = "PORTCULLIS_SIGNUP", value_enum)]
    pub(crate) signup: Option<Signup>,

    /// Minimum password length in characters after NFKC, at least 8 [default: 12].
    #[arg(long, env = "PORTCULLIS_PASSWORD_MIN_LENGTH")]
    pub(crate) password_min_length: Option<usize>,

    /// A browser origin allowed by CORS, e.g. `https://app.example.com` (repeatable;
    /// comma-separated in the environment) [default: none].
    #[arg(
        long = "cors-origin",
        env = "PORTCULLIS_CORS_ORIGIN",
        value_delimiter = ','
    )]
    pub(crate) cors_origins: Vec<String>,

    /// A reverse proxy whose `X-Forwarded-For` is believed for the client address
    /// (repeatable; comma-separated in the environment) [default: none].
    #[arg(
        long = "trusted-proxy",
        env = "PORTCULLIS_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<IpAddr>,

    /// Argon2id memory cost in KiB [default: 19456].
    #[arg(long, env = "PORTCULLIS_ARGON2_MEMORY_KIB")]
    pub(crate) argon2_memory_kib: Option<u32>,

    /// Argon2id iterations [default: 2].
    #[arg(long, env = "PORTCULLIS_ARGON2_ITERATIONS")]
    pub(crate) argon2_iterations: Option<u32>,

    /// Argon2id lanes [default: 1].
    #[arg(long, env = "PORTCULLIS_ARGON2_PARALLELISM")]
    pub(crate) argon2_parallelism: Option<u32>,

    /// Passwords hashed at once; more wait their turn [default: the number of cores].
    #[arg(long, env = "PORTCULLIS_HASHING_WORKERS")]
    pub(crate) hashing_workers: Option<usize>,

    /// Database connections open at most [default: 8 for SQLite, 16 for PostgreSQL].
    #[arg(long, env = "PORTCULLIS_DB_MAX_CONNECTIONS")]
    pub(crate) db_max_connections: Option<u32>,

    /// Longest wait for a database connection before answering 503 [default: 5s].
    #[arg(long, env = "PORTCULLIS_DB_ACQUIRE_TIMEOUT")]
    pub(crate) db_acquire_timeout: Option<String>,

    /// PostgreSQL cancels a statement running longer; the request gets 503 [default: 5s].
    #[arg(long, env = "PORTCULLIS_DB_STATEMENT_TIMEOUT")]
    pub(crate) db_statement_timeout: Option<String>,

    /// Throttle failed logins per account and per client address [default: true].
    #[arg(long, env = "PORTCULLIS_THROTTLE")]
    pub(crate) throttle: Option<bool>,

    /// Failed logins allowed per account before back-off begins [default: 5].
    #[arg(long, env = "PORTCULLIS_THROTTLE_ACCOUNT_ATTEMPTS")]
    pub(crate) throttle_account_attempts: Option<u32>,

    /// Failed logins allowed per client address before back-off begins [default: 20].
    #[arg(long, env = "PORTCULLIS_THROTTLE_IP_ATTEMPTS")]
    pub(crate) throttle_ip_attempts: Option<u32>,

    /// First back-off; each further failure doubles it [default: 1s].
    #[arg(long, env = "PORTCULLIS_THROTTLE_BASE_DELAY")]
    pub(crate) throttle_base_delay: Option<String>,

    /// Longest back-off [default: 15m].
    #[arg(long, env = "PORTCULLIS_THROTTLE_MAX_DELAY")]
    pub(crate) throttle_max_delay: Option<String>,

    /// Failures older than this are forgotten [default: 1h].
    #[arg(long, env = "PORTCULLIS_THROTTLE_FORGET_AFTER")]
    pub(crate) throttle_forget_after: Option<String>,
}

/// Reads only the environment's values for the serve settings, for the
/// commands other than `serve` (which hash passwords and judge them too).
pub(crate) fn settings_from_environment() -> ServeArgs {
    #[derive(Parser)]
    struct EnvironmentOnly {
        #[command(flatten)]
        settings: ServeArgs,
    }
    EnvironmentOnly::try_parse_from(["portcullis"])
        .map(|parsed| parsed.settings)
        .unwrap_or_default()
}
