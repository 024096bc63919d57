//! The rules of browser sign-in (OAuth 2.1 authorization code with PKCE,
//! OpenID Connect) that are plain functions: which scopes a request names,
//! what `prompt` and `max_age` ask, a PKCE S256 challenge and its verifier
//! (RFC 7636), the authorization code itself, and the id token's claims.
//!
//! The code is 256 bits from the OS CSPRNG, stored only as its SHA-256 (it
//! is high-entropy, so no slow hash is needed), single-use and short-lived.
//! A verifier is compared with its challenge in constant time.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::Duration;
use uuid::Uuid;

use crate::names::{InvalidName, Scope};

/// How long an authorization code may be redeemed (API.md: 60 s).
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::seconds(60);

/// The scopes of OpenID Connect this server knows: not permissions, but
/// what the id token and `/userinfo` tell, and whether a refresh token is
/// issued.
pub const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The scopes of one request: the OpenID ones and the application's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedScope {
    /// A subset of [`OPENID_SCOPES`], in that order.
    pub openid: Vec<&'static str>,
    /// Permissions, sorted, each once.
    pub permissions: BTreeSet<String>,
}

impl RequestedScope {
    /// Splits a space-separated `scope` parameter.
    ///
    /// # Errors
    /// [`InvalidName`] when an entry is neither an OpenID scope nor a valid permission name.
    pub fn parse(scope: &str) -> Result<Self, InvalidName> {
        let names: BTreeSet<&str> = scope.split_ascii_whitespace().collect();
        let openid: Vec<&'static str> = OPENID_SCOPES
            .into_iter()
            .filter(|name| names.contains(name))
            .collect();
        let permissions = names
            .into_iter()
            .filter(|name| !OPENID_SCOPES.contains(name))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Self {
            openid,
            permissions: Scope::parse(&permissions)?
                .into_strings()
                .into_iter()
                .collect(),
        })
    }

    #[must_use]
    pub fn has(&self, openid_scope: &str) -> bool {
        self.openid.contains(&openid_scope)
    }

    /// The OpenID scopes, space-separated.
    #[must_use]
    pub fn openid_joined(&self) -> String {
        self.openid.join(" ")
    }

    /// Every scope, OpenID ones first.
    #[must_use]
    pub fn all(&self) -> Vec<String> {
        self.openid
            .iter()
            .map(|&scope| scope.to_owned())
            .chain(self.permissions.iter().cloned())
            .collect()
    }

    /// Every scope, OpenID ones first, space-separated.
    #[must_use]
    pub fn joined(&self) -> String {
        self.all().join(" ")
    }

    /// Whether everything in `self` is in `granted`.
    #[must_use]
    pub fn is_within(&self, granted: &[String]) -> bool {
        self.all().iter().all(|scope| granted.contains(scope))
    }
}

/// What `prompt` asks of the authorization endpoint (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: answer without showing anything, or fail.
    pub none: bool,
    /// `login`: make the user sign in again.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
}

impl Prompt {
    /// Parses a space-separated `prompt`; `none` with anything else is an error.
    ///
    /// # Errors
    /// A message for an unknown value or `none` combined with another.
    pub fn parse(prompt: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for value in prompt.split_ascii_whitespace() {
            match value {
                "none" => parsed.none = true,
                "login" => parsed.login = true,
                "consent" => parsed.consent = true,
                other => return Err(format!("prompt {other:?} is not supported")),
            }
        }
        if parsed.none && (parsed.login || parsed.consent) {
            return Err("prompt=none cannot be combined with another value".to_owned());
        }
        Ok(parsed)
    }
}

/// A PKCE S256 code challenge: the base64url SHA-256 of a verifier, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// # Errors
    /// A message when `challenge` is not 43 base64url characters.
    pub fn parse(challenge: &str) -> Result<Self, &'static str> {
        if challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(challenge.to_owned()))
        } else {
            Err("code_challenge must be the 43-character base64url SHA-256 of the verifier")
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` (43 to 128 unreserved characters, RFC 7636 §4.1)
    /// hashes to this challenge; compared in constant time.
    #[must_use]
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// An authorization code as handed to the client, and its stored hash.
pub struct AuthorizationCode {
    pub code: SecretString,
    pub hash: [u8; 32],
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

impl AuthorizationCode {
    /// A fresh code from the OS CSPRNG.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("the OS CSPRNG is unavailable");
        let code = URL_SAFE_NO_PAD.encode(secret);
        Self {
            hash: Self::hash(&code),
            code: code.into(),
        }
    }

    /// The stored form of a presented code.
    #[must_use]
    pub fn hash(presented: &str) -> [u8; 32] {
        Sha256::digest(presented.as_bytes()).into()
    }
}

/// The claims of an id token (OpenID Connect Core §2), as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: Uuid,
    /// The client.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The browser session that signed in, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// With the `profile` scope: the name, or `null` when the user has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_into_openid_and_permissions() {
        let scope = RequestedScope::parse("books:download openid  email openid").unwrap();
        assert_eq!(scope.openid, ["openid", "email"]);
        assert_eq!(
            scope.permissions.iter().collect::<Vec<_>>(),
            ["books:download"]
        );
        assert_eq!(scope.joined(), "openid email books:download");
        assert!(RequestedScope::parse("openid bad\"name").is_err());
        assert_eq!(
            RequestedScope::parse("").unwrap(),
            RequestedScope::default()
        );
        assert!(scope.is_within(&["email".into(), "openid".into(), "books:download".into()]));
        assert!(!scope.is_within(&["openid".into(), "books:download".into()]));
    }

    #[test]
    fn prompt_none_stands_alone() {
        assert!(Prompt::parse("none").unwrap().none);
        let both = Prompt::parse("login consent").unwrap();
        assert!(both.login && both.consent && !both.none);
        assert!(Prompt::parse("none login").is_err());
        assert!(Prompt::parse("select_account").is_err());
    }

    #[test]
    fn pkce_s256_as_in_rfc_7636_appendix_b() {
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!challenge.is_met_by("short"));
        assert!(CodeChallenge::parse("plain-verifier").is_err());
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM").is_err());
    }

    #[test]
    fn codes_are_distinct_and_stored_as_their_hash() {
        use secrecy::ExposeSecret as _;
        let (a, b) = (AuthorizationCode::generate(), AuthorizationCode::generate());
        assert_ne!(a.hash, b.hash);
        assert_eq!(AuthorizationCode::hash(a.code.expose_secret()), a.hash);
        assert_eq!(a.code.expose_secret().len(), 43);
        assert!(!format!("{a:?}").contains(a.code.expose_secret()));
    }

    #[test]
    fn id_token_claims_leave_out_what_the_scopes_do_not_allow() {
        let claims = IdTokenClaims {
            iss: "https://id.example".into(),
            sub: Uuid::nil(),
            aud: "client".into(),
            exp: 2,
            iat: 1,
            auth_time: 1,
            nonce: None,
            sid: None,
            email: None,
            email_verified: None,
            name: Some(None),
        };
        let json = serde_json::to_value(&claims).unwrap();
        assert!(json.get("email").is_none() && json.get("nonce").is_none());
        assert!(json["name"].is_null() && json.get("name").is_some());
    }
}
