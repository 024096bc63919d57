//! The command line, as `../shared/API.md` specifies it: subcommands, flags,
//! and their `PORTCULLIS_*` environment variables.
//!
//! # Every setting is declared once
//! A setting of `serve` is one field of [`ServeArgs`], and that declaration
//! is all there is of it: the field's name is its key in the TOML file, its
//! `long` flag is the field's name with dashes (or the singular, for a
//! repeatable one), `env` is `PORTCULLIS_` and the flag in upper case (a
//! test checks the rule), the doc comment is its help, `default_value` its
//! default (which `--help` shows), and the field's type and `value_parser`
//! say how the text is read and which values are refused. Flags and the
//! environment are clap's own; [`crate::config`] reads the file into the
//! arguments' defaults, so the order is flag, environment, file, default.
//!
//! Adding a setting is one field here and its use in `config::resolve`,
//! which takes [`ServeArgs`] apart without `..`, so the compiler points
//! there. For example:
//!
//! ```text
//!     /// Longest a request may take before it is answered 503.
//!     #[arg(long, env = "PORTCULLIS_HTTP_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration)]
//!     pub(crate) http_request_timeout: Duration,
//! ```
//!
//! gives `--http-request-timeout 10s`, `PORTCULLIS_HTTP_REQUEST_TIMEOUT=10s`,
//! `http_request_timeout = "10s"` in the file, and `[default: 30s]` in
//! `portcullis serve --help`. A list is a `Vec` with `value_delimiter = ','`
//! (a TOML array in the file); a choice is a [`ValueEnum`]; a setting with
//! no default is an `Option`.
//!
//! A value that one of our parsers refuses (text that is not a duration, a
//! leeway over 30 s, a minimum password length of 7) is an
//! [`InvalidSetting`] and exits 1, like a bad configuration file; what clap
//! refuses by itself (an unknown flag, a number that is not one, a choice
//! not offered) is bad usage and exits 2. Both were so before settings were
//! typed, when durations and limits were checked after parsing.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use portcullis_core::clients::{DEFAULT_ID_TOKEN_ALGORITHM, ID_TOKEN_ALGORITHMS};
use portcullis_core::key_encryption::KeyEncryptionKey;
use portcullis_core::settings::{
    DEFAULT_MAIL_REQUESTS_PER_ADDRESS_AN_HOUR, DEFAULT_MAIL_REQUESTS_PER_EMAIL_AN_HOUR,
    DEFAULT_SIGNUPS_PER_ADDRESS_AN_HOUR,
};
use portcullis_core::{PasswordPolicy, SecretString};
use portcullis_mail::{MailFrom, SmtpUrl};
use portcullis_server::{Colour, HttpSettings, LogoUrl, PageSettings};
use time::Duration;
use uuid::Uuid;

mod import;
mod values;

pub(crate) use import::{ConflictChoice, ImportArgs, ImportFormat};
pub(crate) use values::{InvalidSetting, LinkUrl};
use values::{
    access_ttl, at_least_one, colour, cors_origin, duration, key_encryption_key,
    key_encryption_key_file, leeway, link_url, logo_url, mail_from, number, number_of_cores,
    password_policy, smtp_url, timeout,
};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Token-based authentication for APIs."
)]
pub(crate) struct Cli {
    /// Database URL: `sqlite://FILE`, a plain file path, or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_DATABASE",
        default_value = "sqlite://portcullis.db"
    )]
    pub(crate) database: String,

    /// A TOML file with `database` and any of the `serve` settings, named as
    /// the flags with underscores (flags and environment win over it).
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
    /// Manage OAuth clients (the applications that sign users in).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import users with their password hashes from JSON Lines, CSV or a Keycloak realm export.
    Import(ImportArgs),
    /// Check the mail settings.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Write every user, password hash included, as JSON Lines that `import` reads back.
    Export {
        /// The file to create (it must not exist; readable by its owner only).
        /// Standard output when not given.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user and print its id.
    Add {
        #[command(flatten)]
        account: AccountEmail,
        #[arg(long)]
        name: Option<String>,
        /// A role to grant (repeatable), e.g. `admin`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from standard input (one trailing newline dropped) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// The address counts as verified (you vouch for it).
        #[arg(long)]
        verified: bool,
    },
    /// One line per user: id, email, roles, active or disabled, verified or unverified.
    List,
    /// Disable a user and revoke all their sessions. Returns once running servers see it (about 1 s).
    Disable {
        #[command(flatten)]
        account: AccountEmail,
    },
    /// Set a user's password (the policy applies) and revoke their sessions. Returns once running servers see it (about 1 s).
    Passwd {
        #[command(flatten)]
        account: AccountEmail,
        #[arg(long)]
        password_stdin: bool,
        /// Also delete every personal access token of the user.
        #[arg(long)]
        revoke_tokens: bool,
    },
}

/// The address that names an account on the command line.
#[derive(Debug, Args)]
pub(crate) struct AccountEmail {
    /// The account's address (it may begin with `-`).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) email: String,
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
pub(crate) enum ClientCommand {
    /// Register an OAuth client; print its client_id, and for a
    /// confidential client its secret on a second line, shown this once.
    Add {
        /// Its name, shown to users.
        #[arg(long)]
        name: String,
        /// Where authorization responses may go (repeatable, at least one):
        /// https, http on 127.0.0.1, [::1] or localhost, or a private-use
        /// scheme such as com.example.app:/callback.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where logout may send the browser (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (a browser or native app): no secret, PKCE only.
        /// Without it, the client is confidential and gets a secret.
        #[arg(long)]
        public: bool,
        /// A first-party client: its users are not asked for consent.
        #[arg(long)]
        first_party: bool,
        /// An application permission it may ask for (repeatable); openid,
        /// profile, email and offline_access always may be.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// How its id tokens are signed.
        #[arg(long, default_value = DEFAULT_ID_TOKEN_ALGORITHM, value_parser = PossibleValuesParser::new(ID_TOKEN_ALGORITHMS))]
        id_token_alg: String,
    },
    /// One line per client: id, name, public or confidential, first-party
    /// or third-party, redirect URIs.
    List,
    /// Remove a client: it can no longer sign anyone in.
    Remove {
        /// Its client_id.
        id: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MailCommand {
    /// Send one test message through the configured SMTP server (the
    /// settings of `serve`, from PORTCULLIS_* variables or --config) and
    /// print what the server answered; exit 1 when it was not sent.
    Test {
        /// The address to send it to.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new signing key of every algorithm (EdDSA, ES256, RS256) and
    /// print each kid with its algorithm, one per line: published at once,
    /// they sign after the publication lead unless --now; the old keys keep
    /// verifying until their tokens expire.
    Rotate {
        /// How long the new key is published before it signs: longer than
        /// the APIs you protect cache the JWKS (portcullis-verify refreshes
        /// every minute, PyJWT's client every five). --now overrides it.
        #[arg(long, env = "PORTCULLIS_KEY_PUBLICATION_LEAD", default_value = "10m", value_parser = duration)]
        lead: Duration,
        /// Sign with the new key at once.
        #[arg(long)]
        now: bool,
    },
    /// Remove a (compromised) key at once: its tokens are refused; a new key
    /// of its algorithm signs from now if it was signing. Returns once running servers see it (about 1 s).
    Revoke {
        /// The key's kid, as `keys list` prints it. A kid (an RFC 7638
        /// thumbprint, base64url) may begin with `-`: it is still a kid.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// One line per key: kid, algorithm, next, active or retiring, created.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Verify an access token with the database's keys and revocations; print its claims as JSON.
    Verify { token: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Signup {
    /// Anyone may create an account with `POST /users`.
    Open,
    /// Only `portcullis user add` creates accounts.
    Closed,
}

/// `--access-token-alg`, named as JOSE names the algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AccessTokenAlgorithm {
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    #[value(name = "ES256")]
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys).
    #[value(name = "RS256")]
    RS256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Switch {
    Off,
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EmailVerificationChoice {
    /// No verification mail at sign-up; an email change applies at once.
    Off,
    /// A verification mail at sign-up; an unproved address may still sign in.
    Optional,
    /// As `optional`, and a password grant for an unproved address is refused.
    Required,
}

/// The settings of `serve`, each also read from `PORTCULLIS_<FLAG>` and from
/// the TOML file's key of the field's name. The other commands read them
/// from the environment and the file (they hash and judge passwords too).
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,

    /// The `iss` of every token; the same for every instance of a deployment.
    #[arg(
        long,
        env = "PORTCULLIS_ISSUER",
        default_value = "http://localhost:8080"
    )]
    pub(crate) issuer: String,

    /// The `aud` of every token; the issuer when not given.
    #[arg(long, env = "PORTCULLIS_AUDIENCE")]
    pub(crate) audience: Option<String>,

    /// Access-token lifetime, at least 1s.
    #[arg(long, env = "PORTCULLIS_ACCESS_TTL", default_value = "15m", value_parser = access_ttl)]
    pub(crate) access_ttl: Duration,

    /// What access tokens are signed with; tokens of any other algorithm are
    /// refused. ES256 and RS256 are for APIs whose JWT libraries lack EdDSA.
    #[arg(long, env = "PORTCULLIS_ACCESS_TOKEN_ALG", value_enum, default_value_t = AccessTokenAlgorithm::EdDSA)]
    pub(crate) access_token_alg: AccessTokenAlgorithm,

    /// A session unused for this long ends (refresh idle lifetime).
    #[arg(long, env = "PORTCULLIS_REFRESH_TTL", default_value = "30d", value_parser = duration)]
    pub(crate) refresh_ttl: Duration,

    /// A session ends this long after login, however used.
    #[arg(long, env = "PORTCULLIS_SESSION_MAX_AGE", default_value = "90d", value_parser = duration)]
    pub(crate) session_max_age: Duration,

    /// How long a just-rotated refresh token still returns its successor
    /// instead of counting as reuse.
    #[arg(long, env = "PORTCULLIS_REFRESH_REUSE_GRACE", default_value = "10s", value_parser = duration)]
    pub(crate) refresh_reuse_grace: Duration,

    /// Clock skew tolerated on `exp` and `nbf`, at most 30s.
    #[arg(long, env = "PORTCULLIS_LEEWAY", default_value = "1s", value_parser = leeway)]
    pub(crate) leeway: Duration,

    /// Whether `POST /users` is open to anyone.
    #[arg(long, env = "PORTCULLIS_SIGNUP", value_enum, default_value_t = Signup::Open)]
    pub(crate) signup: Signup,

    /// Sign-ups one client address may make an hour, across instances; 0 for no limit.
    #[arg(long, env = "PORTCULLIS_SIGNUP_PER_ADDRESS", default_value_t = DEFAULT_SIGNUPS_PER_ADDRESS_AN_HOUR)]
    pub(crate) signup_per_address: u32,

    /// Minimum password length in characters after NFKC, from 8 to 1024.
    #[arg(
        long,
        env = "PORTCULLIS_PASSWORD_MIN_LENGTH",
        default_value = "12",
        value_parser = number(password_policy)
    )]
    pub(crate) password_min_length: PasswordPolicy,

    /// A browser origin allowed by CORS, e.g. `https://app.example.com` (repeatable;
    /// comma-separated in the environment). None by default.
    #[arg(
        long = "cors-origin",
        env = "PORTCULLIS_CORS_ORIGIN",
        value_delimiter = ',',
        value_parser = cors_origin
    )]
    pub(crate) cors_origins: Vec<String>,

    /// A reverse proxy whose `X-Forwarded-For` is believed for the client address
    /// (repeatable; comma-separated in the environment). None by default.
    #[arg(
        long = "trusted-proxy",
        env = "PORTCULLIS_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<IpAddr>,

    /// Longest a client may take to send a request's headers, counted from
    /// the connection's start or a later request's first byte; then the
    /// connection is closed.
    #[arg(long, env = "PORTCULLIS_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = timeout)]
    pub(crate) http_header_timeout: Duration,

    /// Longest a client may take to send a request's body, counted from the
    /// end of its headers; then the answer is 408 and the connection closes.
    #[arg(long, env = "PORTCULLIS_HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = timeout)]
    pub(crate) http_body_timeout: Duration,

    /// A connection with no request in progress for this long is closed.
    #[arg(long, env = "PORTCULLIS_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = timeout)]
    pub(crate) http_idle_timeout: Duration,

    /// Connections served at once; further clients wait in the listen
    /// backlog until one closes. By default what this process's limit on open
    /// files leaves after a reserve for the database and logs (an eighth of
    /// it, at least 64), at most 10000.
    #[arg(
        long,
        env = "PORTCULLIS_HTTP_MAX_CONNECTIONS",
        default_value_t = HttpSettings::default_max_connections(),
        value_parser = number(at_least_one::<usize>)
    )]
    pub(crate) http_max_connections: usize,

    /// Argon2id memory cost in KiB.
    #[arg(long, env = "PORTCULLIS_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub(crate) argon2_memory_kib: u32,

    /// Argon2id iterations.
    #[arg(long, env = "PORTCULLIS_ARGON2_ITERATIONS", default_value_t = 2)]
    pub(crate) argon2_iterations: u32,

    /// Argon2id lanes.
    #[arg(long, env = "PORTCULLIS_ARGON2_PARALLELISM", default_value_t = 1)]
    pub(crate) argon2_parallelism: u32,

    /// Passwords hashed at once, by default as many as this machine has cores;
    /// more wait their turn.
    #[arg(
        long,
        env = "PORTCULLIS_HASHING_WORKERS",
        default_value_t = number_of_cores(),
        value_parser = number(at_least_one::<usize>)
    )]
    pub(crate) hashing_workers: usize,

    /// Database connections open at most; when not given, 8 for SQLite and
    /// 16 for PostgreSQL.
    #[arg(
        long,
        env = "PORTCULLIS_DB_MAX_CONNECTIONS",
        value_parser = number(at_least_one::<u32>)
    )]
    pub(crate) db_max_connections: Option<u32>,

    /// Longest wait for a database connection before answering 503.
    #[arg(long, env = "PORTCULLIS_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub(crate) db_acquire_timeout: Duration,

    /// PostgreSQL cancels a statement running longer; the request gets 503.
    #[arg(long, env = "PORTCULLIS_DB_STATEMENT_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub(crate) db_statement_timeout: Duration,

    /// Throttle failed logins per account and per client address.
    #[arg(long, env = "PORTCULLIS_THROTTLE", action = ArgAction::Set, default_value_t = true)]
    pub(crate) throttle: bool,

    /// Failed logins allowed per account before back-off begins.
    #[arg(
        long,
        env = "PORTCULLIS_THROTTLE_ACCOUNT_ATTEMPTS",
        default_value_t = 5
    )]
    pub(crate) throttle_account_attempts: u32,

    /// Failed logins allowed per client address before back-off begins.
    #[arg(long, env = "PORTCULLIS_THROTTLE_IP_ATTEMPTS", default_value_t = 20)]
    pub(crate) throttle_ip_attempts: u32,

    /// First back-off; each further failure doubles it.
    #[arg(long, env = "PORTCULLIS_THROTTLE_BASE_DELAY", default_value = "1s", value_parser = duration)]
    pub(crate) throttle_base_delay: Duration,

    /// Longest back-off.
    #[arg(long, env = "PORTCULLIS_THROTTLE_MAX_DELAY", default_value = "15m", value_parser = duration)]
    pub(crate) throttle_max_delay: Duration,

    /// Failures older than this are forgotten.
    #[arg(long, env = "PORTCULLIS_THROTTLE_FORGET_AFTER", default_value = "1h", value_parser = duration)]
    pub(crate) throttle_forget_after: Duration,

    /// A file holding the key-encryption key (32 bytes in base64) that seals
    /// the private signing keys at rest; it wins over PORTCULLIS_KEY_ENCRYPTION_KEY
    /// [without either, the keys are kept in the clear].
    #[arg(
        long,
        env = "PORTCULLIS_KEY_ENCRYPTION_KEY_FILE",
        value_parser = key_encryption_key_file
    )]
    pub(crate) key_encryption_key_file: Option<KeyEncryptionKey>,

    /// The key-encryption key itself (32 bytes in base64), for the environment
    /// (`PORTCULLIS_KEY_ENCRYPTION_KEY`); a flag would show it to `ps`.
    #[arg(
        long,
        env = "PORTCULLIS_KEY_ENCRYPTION_KEY",
        hide = true,
        hide_env_values = true,
        value_parser = key_encryption_key
    )]
    pub(crate) key_encryption_key: Option<KeyEncryptionKey>,

    /// The SMTP server mail goes through: `smtp://[USER@]HOST[:PORT]`
    /// (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a local
    /// relay) or `smtps://[USER@]HOST[:PORT]` (TLS from the start)
    /// [without it, every message is written to the log instead: development mode].
    #[arg(long, env = "PORTCULLIS_SMTP_URL", hide_env_values = true, value_parser = smtp_url)]
    pub(crate) smtp_url: Option<SmtpUrl>,

    /// The SMTP password of the user the URL names, for the environment
    /// (`PORTCULLIS_SMTP_PASSWORD`); a flag would show it to `ps`.
    #[arg(
        long,
        env = "PORTCULLIS_SMTP_PASSWORD",
        hide = true,
        hide_env_values = true
    )]
    pub(crate) smtp_password: Option<SecretString>,

    /// The sender of every message (`From:` and the envelope sender).
    #[arg(long, env = "PORTCULLIS_MAIL_FROM", default_value = "Portcullis <portcullis@localhost>", value_parser = mail_from)]
    pub(crate) mail_from: MailFrom,

    /// The name messages sign with and mention, and the hosted pages show.
    #[arg(long, env = "PORTCULLIS_PRODUCT_NAME", default_value = PageSettings::DEFAULT_PRODUCT_NAME)]
    pub(crate) product_name: String,

    /// The logo in the hosted pages' header (its alt text is the product
    /// name): an https URL, whose origin their policy allows, or a data: URL
    /// of an image (at most 64 KiB). None by default.
    #[arg(long, env = "PORTCULLIS_PRODUCT_LOGO_URL", value_parser = logo_url)]
    pub(crate) product_logo_url: Option<LogoUrl>,

    /// The brand colour of the hosted pages' buttons and links, `#rgb` or
    /// `#rrggbb`; button text is white or black, whichever reads better.
    #[arg(long, env = "PORTCULLIS_PRODUCT_COLOUR", default_value = PageSettings::DEFAULT_COLOUR, value_parser = colour)]
    pub(crate) product_colour: Colour,

    /// Whether addresses are proved by mail; when not given, `optional` with
    /// --smtp-url and `off` without.
    #[arg(long, env = "PORTCULLIS_EMAIL_VERIFICATION", value_enum)]
    pub(crate) email_verification: Option<EmailVerificationChoice>,

    /// Sign-in by a code sent by mail (`POST /login/email-code`, then the
    /// email-code grant of `POST /token`).
    #[arg(long, env = "PORTCULLIS_EMAIL_CODE_LOGIN", value_enum, default_value_t = Switch::Off)]
    pub(crate) email_code_login: Switch,

    /// Mail requests (verification, reset) one email address may cause an
    /// hour, known or not, across instances; 0 for no limit.
    #[arg(long, env = "PORTCULLIS_MAIL_PER_EMAIL", default_value_t = DEFAULT_MAIL_REQUESTS_PER_EMAIL_AN_HOUR)]
    pub(crate) mail_per_email: u32,

    /// Mail requests one client address may make an hour, across instances; 0 for no limit.
    #[arg(long, env = "PORTCULLIS_MAIL_PER_ADDRESS", default_value_t = DEFAULT_MAIL_REQUESTS_PER_ADDRESS_AN_HOUR)]
    pub(crate) mail_per_address: u32,

    /// Where mailed links point, instead of this server's own pages:
    /// `verify=URL` or `reset=URL`, `{token}` in the URL standing for the
    /// token (repeatable), e.g. `reset=https://app.example.com/reset?token={token}`.
    #[arg(
        long = "link-url",
        env = "PORTCULLIS_LINK_URL",
        value_delimiter = ',',
        value_parser = link_url
    )]
    pub(crate) link_urls: Vec<LinkUrl>,

    /// A folder of mail templates: a file named like a built-in one
    /// (`password_reset.html`, `layout.txt` …) replaces it.
    #[arg(long, env = "PORTCULLIS_TEMPLATES")]
    pub(crate) templates: Option<PathBuf>,

    /// A folder of hosted-page templates: a file named like a built-in one
    /// (`sign_in.html`, `layout.html`, `style.css` …) replaces it.
    #[arg(long, env = "PORTCULLIS_PAGE_TEMPLATES")]
    pub(crate) page_templates: Option<PathBuf>,
}
