//! The settings the domain runs with, loaded once by the binary and passed in.

use time::Duration;

use crate::hashing::Argon2Settings;
use crate::key_encryption::KeyEncryptionKey;
use crate::keys::SigningAlgorithm;
use crate::password::PasswordPolicy;
use crate::rate_limits::RateLimit;
use crate::throttle::ThrottleSettings;

/// Whether anyone may create an account through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupMode {
    Open,
    Closed,
}

/// `--email-verification`: whether an address must be proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// No verification mail at sign-up; an email change applies at once.
    Off,
    /// A verification mail at sign-up; nothing is refused to an unproved address.
    Optional,
    /// As `Optional`, and a password grant for an unproved address is refused.
    Required,
}

/// The mail flows: verification, recovery.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub verification: EmailVerification,
    /// Mail requests per email address, known or not, across instances.
    pub per_email: RateLimit,
    /// Mail requests per client address, across instances.
    pub per_address: RateLimit,
    /// The link of a verification message, `{token}` standing for the token.
    pub verify_link: String,
    /// The link of a password-reset message, `{token}` standing for the token.
    pub reset_link: String,
    /// `--email-code-login on`: `POST /login/email-code` and the email-code grant.
    pub code_login: bool,
}

/// Mail requests one email address may cause an hour unless configured.
pub const DEFAULT_MAIL_REQUESTS_PER_EMAIL_AN_HOUR: u32 = 5;
/// Mail requests one client address may make an hour unless configured.
pub const DEFAULT_MAIL_REQUESTS_PER_ADDRESS_AN_HOUR: u32 = 30;

impl EmailSettings {
    /// Defaults from the contract, with links to this server's own pages
    /// under `issuer`.
    #[must_use]
    pub fn with_defaults(issuer: &str) -> Self {
        let base = issuer.trim_end_matches('/');
        Self {
            verification: EmailVerification::Off,
            per_email: RateLimit::per_hour(DEFAULT_MAIL_REQUESTS_PER_EMAIL_AN_HOUR),
            per_address: RateLimit::per_hour(DEFAULT_MAIL_REQUESTS_PER_ADDRESS_AN_HOUR),
            verify_link: format!("{base}/email/verify?token={{token}}"),
            reset_link: format!("{base}/password/reset?token={{token}}"),
            code_login: false,
        }
    }
}

/// Everything the use cases ([`crate::Services`]) need to know about its deployment.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of every token; shared by every instance of one deployment.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    pub access_token_ttl: Duration,
    /// What access tokens are signed, and verified, with.
    pub access_token_algorithm: SigningAlgorithm,
    /// A session unused for this long ends.
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after login, however used.
    pub session_max_age: Duration,
    /// How long a just-rotated refresh token still returns its successor.
    pub refresh_reuse_grace: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    pub signup: SignupMode,
    /// Sign-ups one client address may make, counted across instances.
    pub signup_per_address: RateLimit,
    pub password_policy: PasswordPolicy,
    pub argon2: Argon2Settings,
    /// Passwords hashed at once; the rest wait.
    pub hashing_workers: usize,
    pub throttle: ThrottleSettings,
    /// Seals the private signing keys at rest; `None` keeps them in the clear.
    pub key_encryption_key: Option<KeyEncryptionKey>,
    pub email: EmailSettings,
}

/// Sign-ups a client address may make an hour unless configured.
pub const DEFAULT_SIGNUPS_PER_ADDRESS_AN_HOUR: u32 = 20;

/// The most clock skew that may be configured.
pub const MAX_LEEWAY: Duration = Duration::seconds(30);

impl AuthSettings {
    /// Defaults from the contract, for `issuer`.
    #[must_use]
    pub fn with_defaults(issuer: String) -> Self {
        let issuer_for_links = issuer.clone();
        Self {
            audience: issuer.clone(),
            issuer,
            access_token_ttl: Duration::minutes(15),
            access_token_algorithm: SigningAlgorithm::EdDSA,
            refresh_idle_ttl: Duration::days(30),
            session_max_age: Duration::days(90),
            refresh_reuse_grace: Duration::seconds(10),
            leeway: Duration::seconds(1),
            signup: SignupMode::Open,
            signup_per_address: RateLimit::per_hour(DEFAULT_SIGNUPS_PER_ADDRESS_AN_HOUR),
            password_policy: PasswordPolicy::default(),
            argon2: Argon2Settings::default(),
            hashing_workers: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            throttle: ThrottleSettings::default(),
            key_encryption_key: None,
            email: EmailSettings::with_defaults(&issuer_for_links),
        }
    }

    /// How long after signing an access token may still be accepted.
    #[must_use]
    pub fn access_token_horizon(&self) -> Duration {
        self.access_token_ttl + self.leeway
    }
}
