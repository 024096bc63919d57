//! Refresh tokens: one row per session, not per token.
//!
//! Following supabase/auth (PR 2216), a session row carries a generation
//! counter instead of a table of every refresh token ever issued. Unlike it,
//! the database holds no secret from which a token can be rebuilt: a session
//! stores a random per-session key and only the SHA-256 of the current
//! token's secret. Each new secret is HMAC-SHA256(key, previous secret), so:
//! - rotation is one compare-and-set on `(session id, generation)`, which the
//!   database serialises across instances;
//! - a client that re-presents the token it just rotated (within the grace
//!   interval) can be handed the very same successor again, recomputed;
//! - a genuine older token is recognised by walking the chain forward to the
//!   stored hash, which proves reuse and revokes the session, while a forged
//!   one merely fails;
//! - a stolen database dump yields no usable token: the key alone derives
//!   nothing without a live secret.
//!
//! Wire form: `base64url(session id (16 bytes) || generation (8 bytes, big
//! endian) || secret (32 bytes))`, 75 characters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

const ENCODED_LENGTH: usize = 75;
const DECODED_LENGTH: usize = 56;
const DERIVATION_LABEL: &[u8] = b"portcullis refresh token v1";

/// Farthest back along a session's chain that a presented token is traced
/// (bounds the work an attacker can cause with a made-up generation).
pub const MAX_TRACE_DISTANCE: u64 = 1_000;

/// A refresh token's 32 secret bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshSecret([u8; 32]);

/// SHA-256 of a [`RefreshSecret`], the only form stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSecretHash(pub [u8; 32]);

/// The per-session HMAC key from which successive secrets are derived.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRefreshKey(pub [u8; 32]);

/// A parsed refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session_id: Uuid,
    pub generation: u64,
    pub secret: RefreshSecret,
}

/// How a presented token relates to the session's current generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lineage {
    /// The current token: rotate it.
    Current,
    /// The token just before the current one; the current one is attached.
    JustRotated(RefreshToken),
    /// A genuine token from further back.
    Older,
    /// Not a token this session ever issued.
    Foreign,
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecret([redacted])")
    }
}

impl std::fmt::Debug for SessionRefreshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionRefreshKey([redacted])")
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the OS CSPRNG is unavailable");
    bytes
}

impl SessionRefreshKey {
    #[must_use]
    pub fn generate() -> Self {
        Self(random_bytes())
    }
}

impl RefreshSecret {
    #[must_use]
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    #[must_use]
    pub fn hash(&self) -> RefreshSecretHash {
        RefreshSecretHash(Sha256::digest(self.0).into())
    }

    /// The secret that follows this one in the session's chain.
    #[must_use]
    pub fn successor(&self, key: &SessionRefreshKey) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
        mac.update(DERIVATION_LABEL);
        mac.update(&self.0);
        Self(mac.finalize().into_bytes().into())
    }
}

impl RefreshSecretHash {
    /// Constant-time equality.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl RefreshToken {
    /// The first token of a new session.
    #[must_use]
    pub fn first(session_id: Uuid) -> Self {
        Self {
            session_id,
            generation: 0,
            secret: RefreshSecret::generate(),
        }
    }

    #[must_use]
    pub fn successor(&self, key: &SessionRefreshKey) -> Self {
        Self {
            session_id: self.session_id,
            generation: self.generation + 1,
            secret: self.secret.successor(key),
        }
    }

    #[must_use]
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(DECODED_LENGTH);
        bytes.extend_from_slice(self.session_id.as_bytes());
        bytes.extend_from_slice(&self.generation.to_be_bytes());
        bytes.extend_from_slice(&self.secret.0);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses the wire form; `None` for anything else.
    #[must_use]
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() != ENCODED_LENGTH {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(input).ok()?;
        let (id, rest) = bytes.split_first_chunk::<16>()?;
        let (generation, secret) = rest.split_first_chunk::<8>()?;
        Some(Self {
            session_id: Uuid::from_bytes(*id),
            generation: u64::from_be_bytes(*generation),
            secret: RefreshSecret(secret.try_into().ok()?),
        })
    }

    /// Places this token in the session's chain, given the session's key,
    /// current generation and the hash of its current secret.
    #[must_use]
    pub fn lineage(
        &self,
        key: &SessionRefreshKey,
        current_generation: u64,
        current_hash: &RefreshSecretHash,
    ) -> Lineage {
        let Some(distance) = current_generation.checked_sub(self.generation) else {
            return Lineage::Foreign;
        };
        if distance > MAX_TRACE_DISTANCE {
            return Lineage::Foreign;
        }
        let mut walked = self.clone();
        for _ in 0..distance {
            walked = walked.successor(key);
        }
        if !walked.secret.hash().matches(current_hash) {
            return Lineage::Foreign;
        }
        match distance {
            0 => Lineage::Current,
            1 => Lineage::JustRotated(walked),
            _ => Lineage::Older,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_round_trips_and_rejects_garbage() {
        let token = RefreshToken::first(Uuid::now_v7());
        let encoded = token.encode();
        assert_eq!(encoded.len(), ENCODED_LENGTH);
        assert_eq!(RefreshToken::parse(&encoded), Some(token));
        for bad in [
            "",
            "x",
            &encoded[1..],
            &format!("{encoded}A"),
            &"!".repeat(ENCODED_LENGTH),
        ] {
            assert_eq!(RefreshToken::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lineage_along_a_chain() {
        let key = SessionRefreshKey::generate();
        let t0 = RefreshToken::first(Uuid::now_v7());
        let t1 = t0.successor(&key);
        let t2 = t1.successor(&key);
        let current = t2.secret.hash();
        assert_eq!(t2.lineage(&key, 2, &current), Lineage::Current);
        assert_eq!(
            t1.lineage(&key, 2, &current),
            Lineage::JustRotated(t2.clone())
        );
        assert_eq!(t0.lineage(&key, 2, &current), Lineage::Older);
        let forged = RefreshToken {
            generation: 1,
            ..RefreshToken::first(t0.session_id)
        };
        assert_eq!(forged.lineage(&key, 2, &current), Lineage::Foreign);
        let future = t2.successor(&key);
        assert_eq!(future.lineage(&key, 2, &current), Lineage::Foreign);
        let other_key = SessionRefreshKey::generate();
        assert_eq!(t1.lineage(&other_key, 2, &current), Lineage::Foreign);
    }

    #[test]
    fn tracing_is_bounded() {
        let key = SessionRefreshKey::generate();
        let t0 = RefreshToken::first(Uuid::now_v7());
        assert_eq!(
            t0.lineage(&key, MAX_TRACE_DISTANCE + 1, &t0.secret.hash()),
            Lineage::Foreign
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let token = RefreshToken::first(Uuid::now_v7());
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(
            format!("{:?}", SessionRefreshKey::generate()),
            "SessionRefreshKey([redacted])"
        );
    }
}
