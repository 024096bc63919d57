//! OAuth clients (RFC 6749 §2): the applications an operator registered to
//! sign users in through the authorization endpoint, what each may ask for,
//! and where it may be sent back.
//!
//! A redirect URI is checked once, when it is registered
//! ([`RedirectUri::parse`]): absolute, without a fragment or user
//! information, and `https`, `http` on a loopback host, or a private-use
//! scheme with a dot (RFC 8252 §7.1). A presented redirect URI is then
//! compared as a string with the registered ones, never normalised: only a
//! loopback IP literal may change its port (RFC 8252 §7.3). A confidential
//! client's secret is 256 random bits with a recognisable prefix, kept only
//! as its SHA-256 and compared in constant time. This module holds values and
//! rules only: no store, no HTTP.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use uuid::Uuid;

/// The scopes of OpenID Connect, which every client may ask for without
/// listing them in its `allowed_scopes`.
pub const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// The algorithms an id token may be signed with, the default first.
pub const ID_TOKEN_ALGORITHMS: [&str; 2] = ["RS256", "EdDSA"];
/// The id token algorithm of a client that names none.
pub const DEFAULT_ID_TOKEN_ALGORITHM: &str = ID_TOKEN_ALGORITHMS[0];
/// Longest redirect URI accepted, in characters (ASCII, so also bytes).
pub const MAX_REDIRECT_URI_LENGTH: usize = 2000;
/// Most redirect URIs of one kind a client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// The prefix of every client secret, for secret scanners.
pub const CLIENT_SECRET_PREFIX: &str = "pcs_";

/// The loopback hosts on which `http` is allowed (RFC 8252 §7.3, §8.3).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];
/// The start of a loopback IP literal redirect URI, up to its port.
const LOOPBACK_IP_ORIGINS: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A browser or native app: no secret, PKCE only.
    Public,
    /// A server-side app that authenticates with its secret.
    Confidential,
}

impl ClientKind {
    /// The contract's `type`, and the stored form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }

    /// The kind [`Self::as_str`] names; `None` for anything else.
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        [Self::Public, Self::Confidential]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// A UUIDv7, its `client_id` in hyphenated lower-case form.
    pub client_id: Uuid,
    pub name: String,
    /// Where an authorization response may go; at least one.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser; may be empty.
    pub post_logout_redirect_uris: Vec<String>,
    pub kind: ClientKind,
    /// Consent is not asked of a user signing in to a first-party client.
    pub first_party: bool,
    /// The application permissions it may ask for, sorted; the
    /// [`OPENID_SCOPES`] are allowed besides.
    pub allowed_scopes: Vec<String>,
    /// One of [`ID_TOKEN_ALGORITHMS`].
    pub id_token_signed_response_alg: String,
    pub created_at: OffsetDateTime,
}

impl Client {
    /// Whether `presented` is one of the registered redirect URIs: the same
    /// string, except that a registered `http://127.0.0.1:PORT/…` or
    /// `http://[::1]:PORT/…` matches that URI with any port or none (RFC 8252
    /// §7.3), everything else identical.
    #[must_use]
    pub fn redirect_uri_matches(&self, presented: &str) -> bool {
        let presented_loopback = loopback_ip_parts(presented);
        self.redirect_uris.iter().any(|registered| {
            registered == presented
                || presented_loopback
                    .is_some_and(|parts| loopback_ip_parts(registered) == Some(parts))
        })
    }

    /// Whether `presented` is exactly one of the registered post-logout
    /// redirect URIs.
    #[must_use]
    pub fn post_logout_redirect_uri_matches(&self, presented: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == presented)
    }

    /// Whether this client may ask for `scope`: an OpenID Connect scope, or
    /// one of its allowed permissions.
    #[must_use]
    pub fn may_request(&self, scope: &str) -> bool {
        OPENID_SCOPES.contains(&scope) || self.allowed_scopes.iter().any(|allowed| allowed == scope)
    }
}

/// The canonical client id (hyphenated lower-case UUID) as a UUID; `None`
/// for any other text, so one client has one `client_id` only.
#[must_use]
pub fn parse_client_id(input: &str) -> Option<Uuid> {
    Uuid::try_parse(input)
        .ok()
        .filter(|id| id.hyphenated().to_string() == input)
}

/// Why a redirect URI was refused; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRedirectUri(String);

/// A redirect URI that may be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks `input`, which is kept exactly as given.
    ///
    /// # Errors
    /// [`InvalidRedirectUri`] saying what is wrong.
    pub fn parse(input: &str) -> Result<Self, InvalidRedirectUri> {
        let refuse = |reason: &str| Err(InvalidRedirectUri(reason.to_owned()));
        if input.is_empty() {
            return refuse("must not be empty");
        }
        if input.len() > MAX_REDIRECT_URI_LENGTH {
            return refuse(&format!(
                "must be at most {MAX_REDIRECT_URI_LENGTH} characters"
            ));
        }
        if input.contains('#') {
            return refuse("must not have a fragment (#)");
        }
        if !input.bytes().all(is_uri_character) {
            return refuse(
                "may hold only the characters of a URI (RFC 3986); percent-encode the others",
            );
        }
        if !percent_escapes_are_whole(input) {
            return refuse("has a % not followed by two hexadecimal digits");
        }
        let Some((scheme, rest)) = input
            .split_once(':')
            .filter(|(scheme, _)| is_scheme(scheme))
        else {
            return refuse("must be absolute: a scheme, then a colon");
        };
        if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
            return refuse("must have its scheme in lower case");
        }
        let authority = rest
            .strip_prefix("//")
            .map(|after| after.split(['/', '?']).next().unwrap_or_default());
        if authority.is_some_and(|authority| authority.contains('@')) {
            return refuse("must not hold user information (user@)");
        }
        let host = match authority.map(host_of) {
            Some(Some(host)) => Some(host),
            Some(None) => return refuse("has a malformed host or port"),
            None => None,
        };
        match (scheme, host) {
            ("https" | "http", None | Some("")) => refuse("must name a host (https://host/…)"),
            ("https", Some(_)) => Ok(Self(input.to_owned())),
            ("http", Some(host)) if LOOPBACK_HOSTS.contains(&host) => Ok(Self(input.to_owned())),
            ("http", Some(_)) => refuse(
                "may use http only on a loopback host (127.0.0.1, [::1] or localhost); use https",
            ),
            (private, _) if private.contains('.') => Ok(Self(input.to_owned())),
            _ => refuse(
                "must use https, http on a loopback host, or a private-use scheme with a dot such as com.example.app (RFC 8252 §7.1)",
            ),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The host of an authority without user information (`host[:port]`),
/// `None` when the host or the port is malformed. An empty host is `""`.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (literal, after) = authority.split_at(end);
        let inside = &literal[1..end - 1];
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        (literal, after)
    } else {
        let end = authority.find(':').unwrap_or(authority.len());
        let (name, after) = authority.split_at(end);
        if !name.bytes().all(is_host_name_character) {
            return None;
        }
        (name, after)
    };
    match port.strip_prefix(':') {
        None if port.is_empty() => Some(host),
        Some(port) if is_port(port) => Some(host),
        _ => None,
    }
}

/// For an `http` URI on a loopback IP literal, its origin without the port
/// and everything after the port (`http://127.0.0.1:8080/cb?x` gives
/// `("http://127.0.0.1", "/cb?x")`); `None` for any other text.
fn loopback_ip_parts(uri: &str) -> Option<(&'static str, &str)> {
    LOOPBACK_IP_ORIGINS.into_iter().find_map(|origin| {
        let after = uri.strip_prefix(origin)?;
        let rest = match after.strip_prefix(':') {
            Some(port_and_rest) => {
                let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
                if !is_port(&port_and_rest[..digits]) {
                    return None;
                }
                &port_and_rest[digits..]
            }
            None => after,
        };
        (rest.is_empty() || rest.starts_with(['/', '?'])).then_some((origin, rest))
    })
}

/// A port as a URI should write it: 1 to 65535, no leading zero.
fn is_port(digits: &str) -> bool {
    !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u16>().is_ok_and(|port| port > 0)
}

/// RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The characters a URI may hold (RFC 3986 §2): unreserved, reserved and `%`.
fn is_uri_character(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&byte)
}

/// The characters of a host name (RFC 3986 §3.2.2 `reg-name` or IPv4).
fn is_host_name_character(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&byte)
}

/// Every `%` starts a percent-encoded octet (`%` and two hexadecimal digits).
fn percent_escapes_are_whole(input: &str) -> bool {
    let bytes = input.as_bytes();
    bytes.iter().enumerate().all(|(at, byte)| {
        *byte != b'%'
            || (bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// SHA-256 of a client secret, the only form stored. The secret is 256
/// random bits, so a fast hash is enough: no guess can find it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientSecretHash(pub [u8; 32]);

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash([redacted])")
    }
}

impl ClientSecretHash {
    /// The hash of a presented secret, whatever its shape.
    #[must_use]
    pub fn of(secret: &SecretString) -> Self {
        Self(Sha256::digest(secret.expose_secret().as_bytes()).into())
    }

    /// Constant-time equality.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A new client secret from the OS CSPRNG, `pcs_` + base64url of 32 bytes
/// (47 characters), with its hash.
///
/// # Panics
/// When the operating system has no randomness to give.
#[must_use]
pub fn new_client_secret() -> (SecretString, ClientSecretHash) {
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random).expect("the OS CSPRNG is unavailable");
    let secret = SecretString::from(format!(
        "{CLIENT_SECRET_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random)
    ));
    let hash = ClientSecretHash::of(&secret);
    (secret, hash)
}

#[cfg(test)]
mod tests;
