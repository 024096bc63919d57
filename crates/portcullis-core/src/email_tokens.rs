//! One-time tokens sent by mail: a link token and an 8-digit code for one
//! purpose of one account, made here, stored only as hashes, and checked
//! here.
//!
//! A link token is 256 bits from the OS CSPRNG (base64url), stored as its
//! SHA-256, so the database finds it by hash as it does a personal access
//! token. A code is 8 decimal digits drawn without bias; it is stored as the
//! SHA-256 of the token's id and the code, and compared in constant time.
//! Eight digits are few: what protects a code is that it is tried only
//! against one account's live token, dies after [`MAX_CODE_TRIES`] wrong
//! tries, and lives minutes to a day. This module holds no I/O and never
//! shows a secret in `Debug`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::Duration;
use uuid::Uuid;

/// Wrong codes after which a token's code stops working.
pub const MAX_CODE_TRIES: u32 = 5;

/// What a token proves when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    /// The account's address is its owner's.
    VerifyEmail,
    /// The owner may choose a new password.
    ResetPassword,
    /// The account's address becomes the token's (the new one, proved).
    ChangeEmail,
    /// The owner signs in (its message carries the code only).
    SignIn,
}

/// The SHA-256 of a link token, as stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LinkTokenHash(pub [u8; 32]);

/// The SHA-256 of a token's id and its code, as stored.
#[derive(Clone, Copy)]
pub struct CodeHash(pub [u8; 32]);

/// A newly made token: the secrets for the message, and their hashes for the store.
pub struct NewEmailToken {
    pub id: Uuid,
    pub link_token: SecretString,
    pub code: SecretString,
    pub link_hash: LinkTokenHash,
    pub code_hash: CodeHash,
}

impl EmailTokenPurpose {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
            Self::SignIn => "sign_in",
        }
    }

    /// The purpose a stored name names.
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        [
            Self::VerifyEmail,
            Self::ResetPassword,
            Self::ChangeEmail,
            Self::SignIn,
        ]
        .into_iter()
        .find(|purpose| purpose.as_str() == name)
    }

    /// How long a token of this purpose lives (the contract's lifetimes).
    #[must_use]
    pub fn lifetime(self) -> Duration {
        match self {
            Self::VerifyEmail | Self::ChangeEmail => Duration::hours(24),
            Self::ResetPassword => Duration::hours(1),
            Self::SignIn => Duration::minutes(10),
        }
    }
}

impl NewEmailToken {
    /// A fresh link token and code, from the OS CSPRNG.
    ///
    /// # Panics
    /// When the OS CSPRNG is unavailable.
    #[must_use]
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("the OS CSPRNG is unavailable");
        let link_token = URL_SAFE_NO_PAD.encode(secret);
        let code = random_code();
        let id = Uuid::now_v7();
        Self {
            id,
            link_hash: LinkTokenHash::of(&link_token),
            code_hash: CodeHash::of(id, &code),
            link_token: SecretString::from(link_token),
            code: SecretString::from(code),
        }
    }
}

impl LinkTokenHash {
    /// The hash of a link token as a client presents it.
    #[must_use]
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

impl CodeHash {
    /// The hash of `code` for the token `id`.
    #[must_use]
    pub fn of(id: Uuid, code: &str) -> Self {
        Self(
            Sha256::new()
                .chain_update(id.as_bytes())
                .chain_update(code.as_bytes())
                .finalize()
                .into(),
        )
    }

    /// Whether `code`, presented for the token `id`, is this one, in constant time.
    #[must_use]
    pub fn matches(&self, id: Uuid, code: &SecretString) -> bool {
        Self::of(id, code.expose_secret()).0.ct_eq(&self.0).into()
    }
}

/// Whether `text` is shaped like a code (8 ASCII digits), before any lookup.
#[must_use]
pub fn is_code_shaped(text: &str) -> bool {
    text.len() == 8 && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `text` is shaped like a link token (43 base64url characters).
#[must_use]
pub fn is_link_token_shaped(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Eight uniformly drawn digits: a 32-bit draw below the largest multiple
/// of 10^8 that fits, reduced.
fn random_code() -> String {
    const RANGE: u32 = 100_000_000;
    const LIMIT: u32 = u32::MAX - u32::MAX % RANGE;
    loop {
        let mut bytes = [0u8; 4];
        getrandom::getrandom(&mut bytes).expect("the OS CSPRNG is unavailable");
        let draw = u32::from_le_bytes(bytes);
        if draw < LIMIT {
            return format!("{:08}", draw % RANGE);
        }
    }
}

impl fmt::Debug for LinkTokenHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("LinkTokenHash([redacted])")
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("CodeHash([redacted])")
    }
}

impl fmt::Debug for NewEmailToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NewEmailToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_has_a_256_bit_link_and_an_eight_digit_code_stored_only_as_hashes() {
        let token = NewEmailToken::generate();
        let link = token.link_token.expose_secret();
        assert!(is_link_token_shaped(link), "{link}");
        assert!(is_code_shaped(token.code.expose_secret()));
        assert_eq!(LinkTokenHash::of(link), token.link_hash);
        assert!(token.code_hash.matches(token.id, &token.code));
        assert!(
            !token.code_hash.matches(Uuid::now_v7(), &token.code),
            "the id is part of the hash"
        );
        let other = SecretString::from(format!(
            "{:08}",
            (token.code.expose_secret().parse::<u32>().unwrap() + 1) % 100_000_000
        ));
        assert!(!token.code_hash.matches(token.id, &other));
        let shown = format!("{token:?} {:?} {:?}", token.link_hash, token.code_hash);
        assert!(!shown.contains(link) && !shown.contains(token.code.expose_secret()));
    }

    #[test]
    fn codes_use_every_digit_in_every_place() {
        let mut seen = [[false; 10]; 8];
        for _ in 0..2_000 {
            let code = random_code();
            for (place, digit) in code.bytes().enumerate() {
                seen[place][usize::from(digit - b'0')] = true;
            }
        }
        assert!(seen.iter().flatten().all(|seen| *seen), "{seen:?}");
    }

    #[test]
    fn shapes() {
        assert!(!is_code_shaped("1234567"));
        assert!(!is_code_shaped("1234567a"));
        assert!(!is_code_shaped("１２３４５６７８"));
        assert!(!is_link_token_shaped("short"));
        assert!(!is_link_token_shaped(&"+".repeat(43)));
        assert!(is_link_token_shaped(
            &"-_aZ09".repeat(7).chars().chain(['x']).collect::<String>()
        ));
    }
}
