//! Fixtures and oracles shared by the fuzz targets in `fuzz_targets/`.
//!
//! Everything here is deterministic: one fixed Ed25519 key, one fixed clock,
//! one fixed refresh-token session. So the valid tokens committed in
//! `corpus/` stay valid for ever, a crash reproduces from its input alone,
//! and `examples/seeds.rs` can rewrite the seed corpus at any time.
//!
//! The oracles (`decode_base64url`, `assert_genuine_access_token`) are
//! written again here rather than borrowed from the code under test, so that
//! a property is checked against an independent reading of the format.

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, Verifier as _};
use portcullis_core::clock::ManualClock;
use portcullis_core::keys::{KeyRing, PrivateKey, SigningAlgorithm, SigningKey};
use portcullis_core::refresh::{RefreshToken, SessionRefreshKey};
use portcullis_core::tokens::{AccessGrant, AccessTokenClaims, AccessTokens, is_access_token_type};
use portcullis_server::fuzzing::{HeaderMap, header};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The fixed "now" of every target: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;
/// The issuer and audience the fixture's tokens are made for.
pub const ISSUER: &str = "https://auth.example.test";
pub const AUDIENCE: &str = "https://api.example.test";
/// Access-token lifetime and leeway: the server's defaults.
pub const LIFETIME_SECONDS: i64 = 15 * 60;
pub const LEEWAY_SECONDS: i64 = 1;

/// The RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key (the seed follows).
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The seed of the fixture's ring key, and of a stranger's key with the same `kid`.
const RING_SEED: [u8; 32] = [7; 32];
const STRANGER_SEED: [u8; 32] = [9; 32];

/// `AccessTokens` over a one-key ring, with the keys to forge against it.
pub struct TokenFixture {
    pub tokens: AccessTokens,
    pub kid: String,
    pub public_key: [u8; 32],
    /// The ring's own private key: what a genuine token is signed with.
    pub ring_key: ed25519_dalek::SigningKey,
    /// Another key, never in the ring.
    pub stranger_key: ed25519_dalek::SigningKey,
    /// The ring's public key as the JWKS serves it (JSON).
    pub public_jwk_json: String,
}

/// The one access-token fixture, built on first use and checked then: a
/// token it issues verifies (else every property would hold vacuously).
pub fn token_fixture() -> &'static TokenFixture {
    static FIXTURE: LazyLock<TokenFixture> = LazyLock::new(|| {
        let now = now();
        let ring_key = ed25519_dalek::SigningKey::from_bytes(&RING_SEED);
        let public_key = ring_key.verifying_key().to_bytes();
        let mut private_pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
        private_pkcs8.extend_from_slice(&RING_SEED);
        let key = SigningKey {
            kid: thumbprint(&public_key),
            algorithm: SigningAlgorithm::EdDSA,
            created_at: now - Duration::days(1),
            active_from: now - Duration::days(1),
            retiring_since: None,
            private_key: PrivateKey::Plain(private_pkcs8),
            public_key: public_key.to_vec(),
        };
        let public_jwk_json =
            serde_json::to_string(&key.public_jwk().expect("the fixture's key is well formed"))
                .expect("a JWK serialises");
        let ring = KeyRing::new(
            std::slice::from_ref(&key),
            now,
            Duration::seconds(LIFETIME_SECONDS + LEEWAY_SECONDS),
        )
        .expect("the fixture's key is active");
        let tokens = AccessTokens::new(
            Arc::new(ManualClock::starting_at(now)),
            ISSUER.to_owned(),
            AUDIENCE.to_owned(),
            Duration::seconds(LIFETIME_SECONDS),
            Duration::seconds(LEEWAY_SECONDS),
            SigningAlgorithm::EdDSA,
            ring,
        );
        let fixture = TokenFixture {
            tokens,
            kid: key.kid,
            public_key,
            ring_key,
            stranger_key: ed25519_dalek::SigningKey::from_bytes(&STRANGER_SEED),
            public_jwk_json,
        };
        let (issued, claims) = fixture.issue(now);
        assert_eq!(
            fixture.tokens.verify(&issued),
            Ok(claims),
            "the fixture verifies its own token"
        );
        fixture
    });
    &FIXTURE
}

impl TokenFixture {
    /// A genuine token issued at `at` by the ring.
    pub fn issue(&self, at: OffsetDateTime) -> (String, AccessTokenClaims) {
        let grant = AccessGrant {
            user_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            session_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002),
            roles: vec!["admin".to_owned()],
            scope: vec!["users:read".to_owned(), "users:write".to_owned()],
            email_verified: true,
            client_id: None,
        };
        self.tokens.issue(&grant, at)
    }

    /// `header.payload.signature`, signed by the ring's key over exactly these bytes.
    pub fn sign(&self, header: &[u8], payload: &[u8]) -> String {
        sign_with(&self.ring_key, header, payload)
    }
}

/// A compact JWS over `header` and `payload` (any bytes), signed by `key`.
pub fn sign_with(key: &ed25519_dalek::SigningKey, header: &[u8], payload: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The fixture's clock.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).expect("a valid time")
}

/// RFC 7638 thumbprint, as `keys.rs` computes the `kid`.
fn thumbprint(public_key: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Panics unless `token`, which `AccessTokens::verify` accepted with
/// `claims`, is one the ring really signed and the rules really allow:
/// exactly three base64url parts, `alg` exactly `EdDSA`, an access-token
/// `typ`, the ring's `kid`, an Ed25519 signature by the ring's key over the
/// first two parts, and claims for our issuer and audience, live at `NOW`,
/// no longer-lived than we issue, equal to what `verify` returned.
pub fn assert_genuine_access_token(token: &str, claims: &AccessTokenClaims) {
    let fixture = token_fixture();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "an accepted token has three parts");
    let header = decode_base64url(parts[0]).expect("an accepted header is canonical base64url");
    let header: serde_json::Value =
        serde_json::from_slice(&header).expect("an accepted header is JSON");
    assert_eq!(header["alg"], "EdDSA", "accepted alg other than EdDSA");
    let typ = header["typ"].as_str().expect("an accepted token has a typ");
    assert!(is_access_token_type(typ), "accepted typ {typ:?}");
    assert_eq!(
        header["kid"],
        fixture.kid.as_str(),
        "accepted a foreign kid"
    );
    let signature =
        decode_base64url(parts[2]).expect("an accepted signature is canonical base64url");
    let signature = ed25519_dalek::Signature::from_slice(&signature)
        .expect("an accepted signature has 64 bytes");
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
    ed25519_dalek::VerifyingKey::from_bytes(&fixture.public_key)
        .expect("the ring's key is a point")
        .verify(signing_input.as_bytes(), &signature)
        .expect("accepted a token the ring did not sign");
    let payload = decode_base64url(parts[1]).expect("an accepted payload is canonical base64url");
    let signed_claims: AccessTokenClaims =
        serde_json::from_slice(&payload).expect("accepted claims deserialise");
    assert_eq!(
        &signed_claims, claims,
        "verify returned claims it was not given"
    );
    assert_eq!(claims.iss, ISSUER, "accepted another issuer");
    assert_eq!(claims.aud, AUDIENCE, "accepted another audience");
    assert!(
        NOW <= claims.exp.saturating_add(LEEWAY_SECONDS),
        "accepted an expired token"
    );
    assert!(
        claims
            .nbf
            .is_none_or(|nbf| NOW >= nbf.saturating_sub(LEEWAY_SECONDS)),
        "accepted a token before its nbf"
    );
    assert!(
        claims.exp.saturating_sub(claims.iat) <= LIFETIME_SECONDS + LEEWAY_SECONDS,
        "accepted a token living longer than we issue"
    );
}

/// Base64url without padding, canonical (the unused low bits of the last
/// character are zero), decoded by hand; `None` for anything else.
pub fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut held = 0;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    if text.len() % 4 == 1 {
        return None;
    }
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    (bits == 0).then_some(bytes)
}

/// Splits fuzz input at its first newline: `(first line, rest)`; without a
/// newline, the whole input and nothing.
pub fn split_first_line(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    }
}

/// The media type of `Content-Type` without parameters, lower-cased; empty
/// when absent or not text.
pub fn content_type_essence(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `Content-Type` is JSON: `application/json` or any `+json` type.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let essence = content_type_essence(headers);
    essence == "application/json" || essence.ends_with("+json")
}

/// The names of an `application/x-www-form-urlencoded` body, in order, as
/// the URL standard decodes them (`+` is a space, `%XX` a byte, bytes that
/// are not UTF-8 U+FFFD).
pub fn form_keys(body: &[u8]) -> Vec<String> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let mut decoded = Vec::with_capacity(name.len());
            let mut at = 0;
            while at < name.len() {
                let escaped = match name.get(at..at + 3) {
                    Some([b'%', high, low])
                        if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
                    {
                        std::str::from_utf8(&[*high, *low])
                            .ok()
                            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    }
                    _ => None,
                };
                if let Some(byte) = escaped {
                    decoded.push(byte);
                    at += 3;
                } else {
                    decoded.push(if name[at] == b'+' { b' ' } else { name[at] });
                    at += 1;
                }
            }
            String::from_utf8_lossy(&decoded).into_owned()
        })
        .collect()
}

/// One refresh-token session: its id, key and the first `CHAIN_LENGTH`
/// tokens of its chain (generation `n` at index `n`).
pub struct RefreshFixture {
    pub session_id: Uuid,
    pub key: SessionRefreshKey,
    pub chain: Vec<RefreshToken>,
}

/// Generations of the fixture's chain computed ahead (past
/// `MAX_TRACE_DISTANCE`, so that the bound itself is exercised).
pub const CHAIN_LENGTH: usize = 1_100;

/// The fixture session; its generation-0 secret is 32 bytes of 0x42.
pub fn refresh_fixture() -> &'static RefreshFixture {
    static FIXTURE: LazyLock<RefreshFixture> = LazyLock::new(|| {
        let session_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
        let mut wire = session_id.as_bytes().to_vec();
        wire.extend_from_slice(&0u64.to_be_bytes());
        wire.extend_from_slice(&[0x42; 32]);
        let first = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(wire))
            .expect("the fixture's first token parses");
        let key = SessionRefreshKey([0x5a; 32]);
        let mut chain = Vec::with_capacity(CHAIN_LENGTH);
        chain.push(first);
        while chain.len() < CHAIN_LENGTH {
            let next = chain[chain.len() - 1].successor(&key);
            chain.push(next);
        }
        RefreshFixture {
            session_id,
            key,
            chain,
        }
    });
    &FIXTURE
}

/// The personal-token checksum, computed here from the format's description:
/// the first four bytes of SHA-256 over `pat_`, the id and the secret.
pub fn personal_token_checksum(id: &[u8], secret: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(b"pat_")
        .chain_update(id)
        .chain_update(secret)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The wire form of a personal token with this id and secret.
pub fn encode_personal_token(id: &[u8; 16], secret: &[u8; 32]) -> String {
    let mut payload = id.to_vec();
    payload.extend_from_slice(secret);
    payload.extend_from_slice(&personal_token_checksum(id, secret));
    format!("pat_{}", URL_SAFE_NO_PAD.encode(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_decoder_agrees_with_the_base64_crate() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(decode_base64url(&text), Some(bytes));
        }
        assert_eq!(decode_base64url("QR"), None, "trailing bits set");
        assert_eq!(decode_base64url("QQ"), Some(b"A".to_vec()));
        assert_eq!(decode_base64url("Q"), None);
        assert_eq!(decode_base64url("QQ=="), None);
    }
}
