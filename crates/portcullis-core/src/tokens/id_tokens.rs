//! Id tokens (OpenID Connect Core 1.0 §2): signed here with the key ring
//! for whoever builds their claims, and read back as the `id_token_hint` of
//! RP-initiated logout.
//!
//! An id token is a JWT with `typ: JWT`, signed by the key of the asked
//! algorithm that signs at the given time (`Core::sign_id_token` makes that
//! algorithm's first key when there is none yet: RSA keys are made only
//! once needed). A hint is accepted only when one
//! of our published or still verifying keys of RS256 or EdDSA signed it,
//! that key being of the algorithm its header names, and its `iss` is ours;
//! its `exp` may be past (OpenID Connect RP-Initiated Logout 1.0 §2: an
//! expired hint still says who is signing out). What the hint says is then
//! the caller's to check (the client it names, the session).

use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keys::{ID_TOKEN_SIGNING_ALGORITHMS, SigningAlgorithm};
use crate::tokens::{AccessTokens, TokenError, refusal};

/// The JWT `typ` of an id token.
pub const ID_TOKEN_TYPE: &str = "JWT";

/// Who an `id_token_hint` names: the user, the client it was issued to, the
/// session it was issued in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub sub: Uuid,
    pub aud: String,
    pub sid: Option<Uuid>,
}

/// The claims of a hint that are read; the others are ignored.
#[derive(Deserialize)]
struct HintClaims {
    sub: Uuid,
    aud: Audience,
    #[serde(default)]
    sid: Option<Uuid>,
}

/// `aud`: one client, written as a string or as an array of one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Several(Vec<String>),
}

impl AccessTokens {
    /// A JWS of `claims` with header `{alg, typ: "JWT", kid}`, signed by the
    /// key of `algorithm` that signs at `now`: an id token once the claims
    /// are an id token's. A key line is made when first needed: call
    /// `Core::sign_id_token`, which makes it first, or make sure of it with
    /// `Core::ensure_signing_key` (or [`AccessTokens::signs_with`]).
    ///
    /// # Panics
    /// When the ring has no key of `algorithm`; otherwise never in practice
    /// (signing with a key the ring checked cannot fail, and claims that
    /// derive `Serialize` serialise).
    #[must_use]
    pub fn sign_id_token<C: Serialize>(
        &self,
        claims: &C,
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
    ) -> String {
        self.sign(claims, algorithm, ID_TOKEN_TYPE, now)
    }

    /// Reads an `id_token_hint`: signed by one of our live RS256 or EdDSA
    /// keys, `typ` JWT, `iss` ours; an expired hint is accepted.
    ///
    /// # Errors
    /// [`TokenError::UnknownKey`] when no key of ours of the header's
    /// algorithm has its `kid`, [`TokenError::BadSignature`],
    /// [`TokenError::WrongIssuerOrAudience`] for another issuer, and
    /// [`TokenError::Malformed`] for anything else (another algorithm or
    /// `typ`, a `sub` or `sid` that is not a UUID, several audiences).
    pub fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenHint, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let algorithm = SigningAlgorithm::of_jwt(header.alg)
            .filter(|algorithm| ID_TOKEN_SIGNING_ALGORITHMS.contains(algorithm))
            .ok_or(TokenError::Malformed)?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|typ| typ.eq_ignore_ascii_case(ID_TOKEN_TYPE))
        {
            return Err(TokenError::Malformed);
        }
        let ring = self.ring();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.verifying_key(kid))
            .filter(|key| key.algorithm == algorithm)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(algorithm.jwt());
        validation.algorithms = vec![algorithm.jwt()];
        validation.leeway = 0;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<HintClaims>(token, &key.key, &validation)
            .map_err(refusal)?
            .claims;
        let aud = match claims.aud {
            Audience::One(client) => client,
            Audience::Several(clients) => match <[String; 1]>::try_from(clients) {
                Ok([client]) => client,
                Err(_) => return Err(TokenError::Malformed),
            },
        };
        Ok(IdTokenHint {
            sub: claims.sub,
            aud,
            sid: claims.sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};
    use time::Duration;

    use super::*;
    use crate::clock::{Clock as _, ManualClock};
    use crate::keys::{KeyRing, SigningKey};
    use crate::tokens::AccessGrant;

    const ISSUER: &str = "https://auth.example.test";

    fn keys(now: OffsetDateTime) -> Vec<SigningKey> {
        SigningAlgorithm::ALL
            .map(|algorithm| SigningKey::generate(algorithm, now, now))
            .to_vec()
    }

    fn tokens(keys: &[SigningKey], issuer: &str, clock: Arc<ManualClock>) -> AccessTokens {
        let ring = KeyRing::new(keys, clock.now(), Duration::minutes(16)).unwrap();
        AccessTokens::new(
            clock,
            issuer.into(),
            "api".into(),
            Duration::minutes(15),
            Duration::seconds(1),
            SigningAlgorithm::EdDSA,
            ring,
        )
    }

    fn id_claims(now: OffsetDateTime, sub: Uuid, sid: Uuid) -> Value {
        json!({
            "iss": ISSUER,
            "sub": sub,
            "aud": "client-1",
            "iat": now.unix_timestamp(),
            "exp": (now + Duration::minutes(5)).unix_timestamp(),
            "sid": sid,
            "nonce": "n-0S6_WzA2Mj",
        })
    }

    fn part(token: &str, index: usize) -> Value {
        let encoded = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
    }

    /// `token` with its payload replaced and signed again by the ring's
    /// `algorithm` key, so only the payload differs.
    fn resigned(tokens: &AccessTokens, claims: &Value, algorithm: SigningAlgorithm) -> String {
        tokens.sign_id_token(claims, algorithm, tokens.clock.now())
    }

    #[test]
    fn id_tokens_are_signed_with_the_asked_algorithm_and_read_back_as_hints() {
        let clock = Arc::new(ManualClock::starting_now());
        let keys = keys(clock.now());
        let tokens = tokens(&keys, ISSUER, Arc::clone(&clock));
        let (sub, sid) = (Uuid::now_v7(), Uuid::now_v7());
        for algorithm in ID_TOKEN_SIGNING_ALGORITHMS {
            let token =
                tokens.sign_id_token(&id_claims(clock.now(), sub, sid), algorithm, clock.now());
            let header = part(&token, 0);
            let key = keys.iter().find(|key| key.algorithm == algorithm).unwrap();
            assert_eq!(
                header,
                json!({"alg": algorithm.name(), "typ": "JWT", "kid": key.kid}),
                "{algorithm}"
            );
            assert_eq!(part(&token, 1)["nonce"], "n-0S6_WzA2Mj");
            assert_eq!(
                tokens.verify_id_token_hint(&token),
                Ok(IdTokenHint {
                    sub,
                    aud: "client-1".into(),
                    sid: Some(sid),
                }),
                "{algorithm}"
            );
        }
        clock.advance(Duration::days(30));
        let expired = tokens.sign_id_token(
            &id_claims(clock.now() - Duration::days(29), sub, sid),
            SigningAlgorithm::RS256,
            clock.now(),
        );
        assert!(
            tokens.verify_id_token_hint(&expired).is_ok(),
            "an expired hint is accepted"
        );
        let without_sid = json!({"iss": ISSUER, "sub": sub, "aud": ["client-1"], "exp": 1});
        assert_eq!(
            tokens.verify_id_token_hint(&resigned(&tokens, &without_sid, SigningAlgorithm::EdDSA)),
            Ok(IdTokenHint {
                sub,
                aud: "client-1".into(),
                sid: None,
            })
        );
    }

    #[test]
    fn hints_not_ours_or_not_id_tokens_are_refused() {
        let clock = Arc::new(ManualClock::starting_now());
        let now = clock.now();
        let keys = keys(now);
        let tokens = tokens(&keys, ISSUER, Arc::clone(&clock));
        let (sub, sid) = (Uuid::now_v7(), Uuid::now_v7());
        let claims = id_claims(now, sub, sid);
        let good = tokens.sign_id_token(&claims, SigningAlgorithm::RS256, now);

        let stranger = self::tokens(&self::keys(now), ISSUER, Arc::clone(&clock));
        let elsewhere = self::tokens(&keys, "https://elsewhere.example.test", Arc::clone(&clock));
        let grant = AccessGrant {
            user_id: sub,
            session_id: sid,
            roles: vec![],
            scope: vec![],
            email_verified: false,
            client_id: None,
        };
        let (access_token, _) = tokens.issue(&grant, now);
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut signature = signature.to_owned().into_bytes();
        signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{signed}.{}", String::from_utf8(signature).unwrap());
        let edit = |edit: &dyn Fn(&mut Value)| {
            let mut edited = claims.clone();
            edit(&mut edited);
            edited
        };
        let cases: Vec<(&str, String, TokenError)> = vec![
            (
                "ES256 is not an id-token algorithm",
                tokens.sign_id_token(&claims, SigningAlgorithm::ES256, now),
                TokenError::Malformed,
            ),
            ("an access token", access_token, TokenError::Malformed),
            (
                "another server's key",
                stranger.sign_id_token(&claims, SigningAlgorithm::RS256, now),
                TokenError::UnknownKey,
            ),
            (
                "another issuer",
                elsewhere.sign_id_token(
                    &edit(&|c| c["iss"] = "https://elsewhere.example.test".into()),
                    SigningAlgorithm::RS256,
                    now,
                ),
                TokenError::WrongIssuerOrAudience,
            ),
            ("a changed signature", tampered, TokenError::BadSignature),
            (
                "a sub that is not a user id",
                resigned(
                    &tokens,
                    &edit(&|c| c["sub"] = "alice".into()),
                    SigningAlgorithm::RS256,
                ),
                TokenError::Malformed,
            ),
            (
                "two audiences",
                resigned(
                    &tokens,
                    &edit(&|c| c["aud"] = json!(["client-1", "client-2"])),
                    SigningAlgorithm::RS256,
                ),
                TokenError::Malformed,
            ),
            (
                "no iss",
                resigned(
                    &tokens,
                    &edit(&|c| {
                        c.as_object_mut().unwrap().remove("iss");
                    }),
                    SigningAlgorithm::EdDSA,
                ),
                TokenError::Malformed,
            ),
            ("garbage", "not.a.jwt".into(), TokenError::Malformed),
        ];
        for (case, token, expected) in cases {
            assert_eq!(tokens.verify_id_token_hint(&token), Err(expected), "{case}");
        }

        // A header naming another algorithm than its key's, whatever it signs with.
        let rs256_kid = &keys
            .iter()
            .find(|key| key.algorithm == SigningAlgorithm::RS256)
            .unwrap()
            .kid;
        let eddsa = tokens.sign_id_token(&claims, SigningAlgorithm::EdDSA, now);
        let relabelled = with_header(&eddsa, |header| header["kid"] = rs256_kid.as_str().into());
        assert_eq!(
            tokens.verify_id_token_hint(&relabelled),
            Err(TokenError::UnknownKey),
            "an EdDSA header naming the RSA key"
        );
        for (alg, typ) in [("none", "JWT"), ("HS256", "JWT"), ("RS256", "at+jwt")] {
            let edited = with_header(&good, |header| {
                header["alg"] = alg.into();
                header["typ"] = typ.into();
            });
            assert_eq!(
                tokens.verify_id_token_hint(&edited),
                Err(TokenError::Malformed),
                "alg {alg}, typ {typ}"
            );
        }
    }

    /// `token` with its header edited (the signature no longer matches).
    fn with_header(token: &str, edit: impl Fn(&mut Value)) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut header = part(token, 0);
        edit(&mut header);
        parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        parts.join(".")
    }
}
