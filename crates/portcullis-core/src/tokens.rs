//! Access tokens: JWTs (RFC 9068 profile) signed with the configured
//! algorithm (EdDSA unless `--access-token-alg` says ES256 or RS256), and
//! their verification; the id tokens of OpenID Connect are signed with the
//! same ring (`id_tokens`).
//!
//! Verification is strict and boring on purpose: the algorithm is pinned to
//! the configured one, the key is chosen by `kid` among our own keys of that
//! algorithm only (never one named or embedded in the token, never a key of
//! another algorithm), `typ` must be `at+jwt`, and `exp`, `iss`, `aud` and
//! `nbf` are checked with the configured leeway. Whether the session was
//! revoked is a separate question answered by [`crate::revocation`].
//!
//! A token that verified once is remembered until it expires
//! (module `verified`): signature checking is most of the cost of a request.

mod id_tokens;
mod verified;

use std::sync::{Arc, RwLock};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::Clock;
use crate::keys::{KeyRing, PublicJwk, SigningAlgorithm};
use crate::tokens::verified::{VERIFIED_CACHE_CAPACITY, VerifiedTokens};

pub use id_tokens::{ID_TOKEN_TYPE, IdTokenHint};

/// The JWT `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Whether a JWT `typ` names an access token: `at+jwt` or its full media
/// type `application/at+jwt` (RFC 9068 §4), compared without case as media
/// types are (RFC 7515 §4.1.9).
#[must_use]
pub fn is_access_token_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").unwrap_or(&typ) == ACCESS_TOKEN_TYPE
}

/// The claims of an access token, as they appear in the JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Not before; never issued, but honoured when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: Uuid,
    pub sid: Uuid,
    pub roles: Vec<String>,
    pub scope: String,
    /// Whether the user's address was proved when the token was issued;
    /// absent (`false`) in tokens issued before the claim existed.
    #[serde(default)]
    pub email_verified: bool,
    /// The client the token was issued to (RFC 9068 §2.2), for a session
    /// opened by browser sign-in; absent for the token endpoint's own grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
}

impl AccessTokenClaims {
    /// The permissions this token grants.
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// Refuses the token at `now` (unix seconds) when it has expired or is
    /// not valid yet, each with `leeway` seconds of tolerance.
    fn check_times(&self, now: i64, leeway: i64) -> Result<(), TokenError> {
        if now > self.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if self.nbf.is_some_and(|nbf| now < nbf.saturating_sub(leeway)) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// Why a presented access token was refused; the message is safe to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued for another issuer or audience")]
    WrongIssuerOrAudience,
    #[error("the session of this token has been revoked")]
    Revoked,
    #[error("the personal access token is unknown, expired or revoked")]
    UnknownPersonalToken,
}

/// What goes into a new access token besides the time-based claims.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub roles: Vec<String>,
    pub scope: Vec<String>,
    pub email_verified: bool,
    pub client_id: Option<Uuid>,
}

/// Issues and verifies access tokens with the current key ring.
pub struct AccessTokens {
    clock: Arc<dyn Clock>,
    issuer: String,
    audience: String,
    lifetime: Duration,
    algorithm: SigningAlgorithm,
    validation: Validation,
    ring: RwLock<Arc<KeyRing>>,
    verified: VerifiedTokens,
}

impl AccessTokens {
    /// Issues access tokens signed with `algorithm` and verifies them by
    /// `clock`; `exp` and `nbf` are checked against it here, not by
    /// `jsonwebtoken` (which would read the system clock).
    #[must_use]
    pub fn new(
        clock: Arc<dyn Clock>,
        issuer: String,
        audience: String,
        lifetime: Duration,
        leeway: Duration,
        algorithm: SigningAlgorithm,
        ring: KeyRing,
    ) -> Self {
        let mut validation = Validation::new(algorithm.jwt());
        validation.algorithms = vec![algorithm.jwt()];
        validation.leeway = 0;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Self {
            clock,
            issuer,
            audience,
            lifetime,
            algorithm,
            validation,
            ring: RwLock::new(Arc::new(ring)),
            verified: VerifiedTokens::with_capacity(
                VERIFIED_CACHE_CAPACITY,
                leeway.whole_seconds(),
            ),
        }
    }

    #[must_use]
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The algorithm access tokens are signed, and verified, with.
    #[must_use]
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// Whether the current ring has a key of `algorithm` to sign with.
    #[must_use]
    pub fn signs_with(&self, algorithm: SigningAlgorithm) -> bool {
        self.ring().signs_with(algorithm)
    }

    /// Swaps in a freshly loaded key ring (after a rotation).
    pub fn replace_ring(&self, ring: KeyRing) {
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
        // A key may have left the ring: verify every token again.
        self.verified.clear();
    }

    fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(
            &self
                .ring
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.ring().jwks().to_vec()
    }

    /// Signs a new access token; returns it with its claims.
    ///
    /// # Panics
    /// When the ring has no key of the access-token algorithm, which the key
    /// loader makes at start and never builds a ring without.
    #[must_use]
    pub fn issue(&self, grant: &AccessGrant, now: OffsetDateTime) -> (String, AccessTokenClaims) {
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: grant.user_id,
            aud: self.audience.clone(),
            exp: (now + self.lifetime).unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            jti: Uuid::now_v7(),
            sid: grant.session_id,
            roles: grant.roles.clone(),
            scope: grant.scope.join(" "),
            email_verified: grant.email_verified,
            client_id: grant.client_id,
        };
        let token = self.sign(&claims, self.algorithm, ACCESS_TOKEN_TYPE, now);
        (token, claims)
    }

    /// A JWS of `claims` with header `{alg, typ, kid}`, signed by the key of
    /// `algorithm` that signs at `now`. Signing with a key the ring checked
    /// cannot fail; the ring must have a key of `algorithm`.
    fn sign<C: Serialize>(
        &self,
        claims: &C,
        algorithm: SigningAlgorithm,
        typ: &str,
        now: OffsetDateTime,
    ) -> String {
        let ring = self.ring();
        let (kid, key) = ring.signing(algorithm, now).unwrap_or_else(|| {
            panic!("no {algorithm} key in the ring: the key loader makes it before it is used")
        });
        let mut header = Header::new(algorithm.jwt());
        header.typ = Some(typ.to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).expect("signing with a checked key cannot fail")
    }

    /// Checks signature, type, issuer, audience and times. Revocation is not checked here.
    ///
    /// # Errors
    /// [`TokenError`] saying why the token is refused.
    pub fn verify(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now().unix_timestamp();
        if let Some(remembered) = self.verified.get(&key, now) {
            return remembered;
        }
        let claims = self.verify_signature_and_claims(token)?;
        claims.check_times(now, self.verified.leeway_seconds())?;
        self.verified.insert(key, &claims);
        Ok(claims)
    }

    /// How many verified tokens are remembered now, for monitoring.
    pub(crate) fn remembered(&self) -> usize {
        self.verified.len()
    }

    fn verify_signature_and_claims(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != self.algorithm.jwt() {
            return Err(TokenError::Malformed);
        }
        if !header.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(TokenError::WrongType);
        }
        let ring = self.ring();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.verifying_key(kid))
            .filter(|key| key.algorithm == self.algorithm)
            .ok_or(TokenError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &self.validation)
            .map(|data| data.claims)
            .map_err(refusal)?;
        // We never issue a longer-lived token; one could only be forged.
        // Saturating: an `iat` far in the past must not wrap round to a
        // short lifetime (found by fuzzing).
        if claims.exp.saturating_sub(claims.iat)
            > (self.lifetime + Duration::seconds(self.verified.leeway_seconds())).whole_seconds()
        {
            return Err(TokenError::Malformed);
        }
        Ok(claims)
    }
}

/// Why `jsonwebtoken` refused a token, as a [`TokenError`].
fn refusal(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongIssuerOrAudience,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use std::sync::LazyLock;

    use super::*;
    use crate::clock::{ManualClock, SystemClock};
    use crate::keys::SigningKey;

    /// One key of each algorithm, signing since the epoch.
    fn fresh_keys() -> Vec<SigningKey> {
        let epoch = OffsetDateTime::UNIX_EPOCH;
        SigningAlgorithm::ALL
            .map(|algorithm| SigningKey::generate(algorithm, epoch, epoch))
            .to_vec()
    }

    /// [`fresh_keys`] made once for the tests that need any keys.
    fn shared_keys() -> Vec<SigningKey> {
        static KEYS: LazyLock<Vec<SigningKey>> = LazyLock::new(fresh_keys);
        KEYS.clone()
    }

    fn tokens_signing_with(
        keys: &[SigningKey],
        issuer: &str,
        algorithm: SigningAlgorithm,
    ) -> AccessTokens {
        let now = OffsetDateTime::now_utc();
        let ring = KeyRing::new(keys, now, Duration::minutes(16)).unwrap();
        AccessTokens::new(
            Arc::new(SystemClock),
            issuer.into(),
            "api".into(),
            Duration::minutes(15),
            Duration::seconds(1),
            algorithm,
            ring,
        )
    }

    fn tokens_with(keys: &[SigningKey], issuer: &str) -> AccessTokens {
        tokens_signing_with(keys, issuer, SigningAlgorithm::EdDSA)
    }

    fn grant() -> AccessGrant {
        AccessGrant {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            roles: vec!["admin".into()],
            scope: vec!["a:b".into(), "c:d".into()],
            email_verified: true,
            client_id: None,
        }
    }

    fn reencode(token: &str, edit_header: impl Fn(&mut serde_json::Value)) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
        edit_header(&mut header);
        parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        parts.join(".")
    }

    #[test]
    fn a_token_verified_once_is_remembered() {
        let tokens = tokens_with(&shared_keys(), "https://auth");
        let (token, claims) = tokens.issue(&grant(), OffsetDateTime::now_utc());
        assert_eq!(tokens.remembered(), 0);
        assert_eq!(tokens.verify(&token).unwrap(), claims);
        assert_eq!(tokens.remembered(), 1);
        assert_eq!(
            tokens.verify(&token).unwrap(),
            claims,
            "the second check is a cache hit"
        );
    }

    #[test]
    fn expiry_follows_the_injected_clock_whether_or_not_the_token_is_remembered() {
        let clock = Arc::new(ManualClock::starting_now());
        let ring = KeyRing::new(&shared_keys(), clock.now(), Duration::minutes(16)).unwrap();
        let tokens = AccessTokens::new(
            clock.clone(),
            "https://auth".into(),
            "api".into(),
            Duration::minutes(15),
            Duration::seconds(1),
            SigningAlgorithm::EdDSA,
            ring,
        );
        let (remembered, _) = tokens.issue(&grant(), clock.now());
        let (fresh, _) = tokens.issue(&grant(), clock.now());
        assert!(tokens.verify(&remembered).is_ok());
        clock.advance(Duration::minutes(15) + Duration::seconds(1));
        assert!(tokens.verify(&remembered).is_ok(), "within the leeway");
        assert!(tokens.verify(&fresh).is_ok(), "within the leeway");
        clock.advance(Duration::seconds(2));
        assert_eq!(tokens.verify(&remembered), Err(TokenError::Expired));
        let (_, claims) = tokens.issue(&grant(), clock.now());
        let not_yet = AccessTokenClaims {
            nbf: Some(clock.now().unix_timestamp() + 10),
            ..claims
        };
        assert_eq!(
            not_yet.check_times(clock.now().unix_timestamp(), 1),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn round_trip() {
        let tokens = tokens_with(&shared_keys(), "https://auth");
        let (token, claims) = tokens.issue(&grant(), OffsetDateTime::now_utc());
        assert_eq!(tokens.verify(&token).unwrap(), claims);
        assert_eq!(claims.permissions().collect::<Vec<_>>(), ["a:b", "c:d"]);
    }

    #[test]
    fn refusals() {
        let keys = shared_keys();
        let tokens = tokens_with(&keys, "https://auth");
        let now = OffsetDateTime::now_utc();
        let (token, _) = tokens.issue(&grant(), now);
        let (expired, _) = tokens.issue(&grant(), now - Duration::minutes(16));
        assert_eq!(tokens.verify(&expired), Err(TokenError::Expired));
        assert_eq!(tokens.verify("not.a.jwt"), Err(TokenError::Malformed));
        assert_eq!(tokens.verify(""), Err(TokenError::Malformed));
        let other_issuer = tokens_with(&keys, "https://elsewhere");
        assert_eq!(
            other_issuer.verify(&token),
            Err(TokenError::WrongIssuerOrAudience)
        );
        let stranger = tokens_with(&fresh_keys(), "https://auth");
        assert_eq!(stranger.verify(&token), Err(TokenError::UnknownKey));
        let long_lived = AccessTokens::new(
            Arc::new(SystemClock),
            "https://auth".into(),
            "api".into(),
            Duration::hours(24),
            Duration::seconds(1),
            SigningAlgorithm::EdDSA,
            KeyRing::new(&keys, now, Duration::days(2)).unwrap(),
        );
        let (too_long, _) = long_lived.issue(&grant(), now);
        assert_eq!(
            tokens.verify(&too_long),
            Err(TokenError::Malformed),
            "longer than we ever issue"
        );
        for accepted in ["AT+JWT", "application/at+jwt"] {
            let typed = reencode(&token, |h| h["typ"] = accepted.into());
            assert_ne!(
                tokens.verify(&typed),
                Err(TokenError::WrongType),
                "{accepted}"
            );
        }
        assert!(!is_access_token_type("application/jwt"));
        let untyped = reencode(&token, |h| h["typ"] = "JWT".into());
        assert_eq!(tokens.verify(&untyped), Err(TokenError::WrongType));
        let none_alg = reencode(&token, |h| h["alg"] = "none".into());
        assert_eq!(tokens.verify(&none_alg), Err(TokenError::Malformed));
        let hs256 = reencode(&token, |h| h["alg"] = "HS256".into());
        assert_eq!(tokens.verify(&hs256), Err(TokenError::Malformed));
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(
            tokens.verify(&tampered),
            Err(TokenError::BadSignature | TokenError::Malformed)
        ));
    }

    #[test]
    fn each_algorithm_signs_access_tokens_and_verifies_only_its_own() {
        let keys = shared_keys();
        let now = OffsetDateTime::now_utc();
        let by_algorithm = SigningAlgorithm::ALL.map(|algorithm| {
            (
                algorithm,
                tokens_signing_with(&keys, "https://auth", algorithm),
            )
        });
        for (algorithm, tokens) in &by_algorithm {
            assert_eq!(tokens.algorithm(), *algorithm);
            let (token, claims) = tokens.issue(&grant(), now);
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            let key = keys.iter().find(|key| key.algorithm == *algorithm).unwrap();
            assert_eq!(
                header,
                serde_json::json!({"alg": algorithm.name(), "typ": "at+jwt", "kid": key.kid}),
            );
            assert_eq!(tokens.verify(&token), Ok(claims), "{algorithm}");
            for (other, verifier) in &by_algorithm {
                if other != algorithm {
                    assert_eq!(
                        verifier.verify(&token),
                        Err(TokenError::Malformed),
                        "a {algorithm} token where {other} is configured"
                    );
                }
            }
        }
    }

    #[test]
    fn a_header_naming_a_key_of_another_algorithm_or_hmac_is_refused() {
        let keys = shared_keys();
        let now = OffsetDateTime::now_utc();
        let rs256 = tokens_signing_with(&keys, "https://auth", SigningAlgorithm::RS256);
        let eddsa_kid = &keys
            .iter()
            .find(|key| key.algorithm == SigningAlgorithm::EdDSA)
            .unwrap()
            .kid;
        let rsa_key = keys
            .iter()
            .find(|key| key.algorithm == SigningAlgorithm::RS256)
            .unwrap();
        let (token, claims) = rs256.issue(&grant(), now);
        let naming_eddsa_key = reencode(&token, |h| h["kid"] = eddsa_kid.as_str().into());
        assert_eq!(rs256.verify(&naming_eddsa_key), Err(TokenError::UnknownKey));

        // The classic confusion: HS256 keyed with the RSA public key, in
        // every form a verifier might hold it.
        let jwk = serde_json::to_value(rsa_key.public_jwk().unwrap()).unwrap();
        for secret in [
            rsa_key.public_key.clone(),
            jwk["n"].as_str().unwrap().as_bytes().to_vec(),
            jwk.to_string().into_bytes(),
        ] {
            let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
            header.typ = Some(ACCESS_TOKEN_TYPE.into());
            header.kid = Some(rsa_key.kid.clone());
            let forged = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
            )
            .unwrap();
            assert_eq!(rs256.verify(&forged), Err(TokenError::Malformed));
        }
    }
}
