//! Reading a JWKS: which of its keys can verify Portcullis tokens, each
//! kept with the one algorithm its type allows: an Ed25519 `OKP` key
//! verifies EdDSA, a P-256 `EC` key ES256, an `RSA` key of 2048 bits or more
//! RS256. A key without `kid`, with a `use` other than `sig`, an `alg` other
//! than its type's, or of another type or curve is skipped; a `kid` naming
//! two different keys names neither. A set with no usable key of the
//! expected algorithm is refused. It never reads a private member.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::algorithm::SigningAlgorithm;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A public key from the JWKS and the one algorithm it verifies.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) key: DecodingKey,
}

#[derive(Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

/// The members of a JWK this crate reads; any may be missing or malformed.
#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
}

/// The public key material of a usable JWK, compared to tell whether two
/// entries with one `kid` are the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyMaterial {
    Ed25519([u8; 32]),
    P256 { x: [u8; 32], y: [u8; 32] },
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl KeyMaterial {
    fn algorithm(&self) -> SigningAlgorithm {
        match self {
            Self::Ed25519(_) => SigningAlgorithm::EdDSA,
            Self::P256 { .. } => SigningAlgorithm::ES256,
            Self::Rsa { .. } => SigningAlgorithm::RS256,
        }
    }

    fn public_key(&self) -> PublicKey {
        let key = match self {
            Self::Ed25519(x) => DecodingKey::from_ed_der(x),
            Self::P256 { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                DecodingKey::from_ec_der(&point)
            }
            Self::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
        };
        PublicKey {
            algorithm: self.algorithm(),
            key,
        }
    }
}

/// The verification keys of a JWKS by `kid`, each with its algorithm,
/// skipping keys that cannot verify Portcullis tokens and refusing `kid`s
/// that name two keys; an error when none is of `expected`.
pub(crate) fn usable_keys(
    body: &[u8],
    expected: SigningAlgorithm,
) -> Result<HashMap<String, PublicKey>, String> {
    let document: KeySetDocument = serde_json::from_slice(body)
        .map_err(|error| format!("the JWKS is not a JSON key set: {error}"))?;
    // `None`: the kid names two different keys.
    let mut by_kid: HashMap<String, Option<KeyMaterial>> = HashMap::new();
    for value in document.keys {
        let Some((kid, material)) = usable_key(value) else {
            continue;
        };
        match by_kid.entry(kid) {
            Entry::Vacant(entry) => {
                entry.insert(Some(material));
            }
            Entry::Occupied(mut entry) => {
                if entry.get().as_ref() != Some(&material) {
                    tracing::warn!(kid = %entry.key(), "the JWKS names two keys with one kid; neither is trusted");
                    entry.insert(None);
                }
            }
        }
    }
    let keys: HashMap<String, PublicKey> = by_kid
        .into_iter()
        .filter_map(|(kid, material)| Some((kid, material?.public_key())))
        .collect();
    if !keys.values().any(|key| key.algorithm == expected) {
        return Err(format!("the JWKS holds no usable {expected} signing key"));
    }
    Ok(keys)
}

/// The `kid` and public key of a JWK that can verify Portcullis tokens.
fn usable_key(value: serde_json::Value) -> Option<(String, KeyMaterial)> {
    let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
        tracing::debug!("skipped a JWK of an unexpected shape");
        return None;
    };
    let for_signatures = jwk
        .key_use
        .as_deref()
        .is_none_or(|key_use| key_use == "sig")
        && jwk
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
    let material = match (jwk.kty.as_deref(), jwk.crv.as_deref()) {
        (Some("OKP"), Some("Ed25519")) => Some(KeyMaterial::Ed25519(decoded(jwk.x.as_deref())?)),
        (Some("EC"), Some("P-256")) => Some(KeyMaterial::P256 {
            x: decoded(jwk.x.as_deref())?,
            y: decoded(jwk.y.as_deref())?,
        }),
        (Some("RSA"), None) => {
            let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?).ok()?;
            let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?).ok()?;
            (n.len() >= MIN_RSA_MODULUS_BYTES && n[0] != 0 && !e.is_empty())
                .then_some(KeyMaterial::Rsa { n, e })
        }
        _ => None,
    };
    let alg_fits = |material: &KeyMaterial| {
        jwk.alg.as_deref().is_none_or(|alg| {
            alg == material.algorithm().name()
                || (material.algorithm() == SigningAlgorithm::EdDSA && alg == "Ed25519")
        })
    };
    let kid = jwk.kid.filter(|kid| !kid.is_empty());
    match (for_signatures, kid, material) {
        (true, Some(kid), Some(material)) if alg_fits(&material) => Some((kid, material)),
        _ => {
            tracing::debug!("skipped a JWK that cannot verify Portcullis tokens");
            None
        }
    }
}

/// 32 bytes written in base64url: an Ed25519 key or a P-256 coordinate.
fn decoded(text: Option<&str>) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(text?).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const X_A: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn jwk(kid: &str, x: &str, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut jwk = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x });
        for (name, value) in extra {
            jwk[*name] = serde_json::Value::from(*value);
        }
        jwk
    }

    #[track_caller]
    fn check(keys: Vec<serde_json::Value>, expected_kids: &[&str]) {
        check_expecting(SigningAlgorithm::EdDSA, keys, expected_kids);
    }

    /// The kids kept, each with the algorithm its key verifies; none when the fetch fails.
    #[track_caller]
    fn check_expecting(
        algorithm: SigningAlgorithm,
        keys: Vec<serde_json::Value>,
        expected_kids: &[&str],
    ) {
        let body = serde_json::json!({ "keys": keys }).to_string();
        let outcome = usable_keys(body.as_bytes(), algorithm);
        let mut kids: Vec<String> = outcome
            .map(|keys| keys.into_keys().collect())
            .unwrap_or_default();
        kids.sort();
        assert_eq!(kids, expected_kids);
    }

    #[test]
    fn only_usable_ed25519_signing_keys_are_kept() {
        let x_b = URL_SAFE_NO_PAD.encode([7_u8; 32]);
        check(vec![jwk("a", X_A, &[])], &["a"]);
        check(
            vec![jwk("a", X_A, &[("use", "sig"), ("alg", "EdDSA")])],
            &["a"],
        );
        check(
            vec![jwk("a", X_A, &[("use", "enc")]), jwk("b", &x_b, &[])],
            &["b"],
        );
        check(
            vec![jwk("a", X_A, &[("alg", "RS256")]), jwk("b", &x_b, &[])],
            &["b"],
        );
        check(
            vec![jwk("a", X_A, &[("crv", "X25519")]), jwk("b", &x_b, &[])],
            &["b"],
        );
        check(
            vec![jwk("a", X_A, &[("kty", "EC")]), jwk("b", &x_b, &[])],
            &["b"],
        );
        check(vec![jwk("", X_A, &[]), jwk("b", &x_b, &[])], &["b"]);
        check(vec![jwk("a", "c2hvcnQ", &[]), jwk("b", &x_b, &[])], &["b"]);
        let mut no_kid = jwk("a", X_A, &[]);
        no_kid.as_object_mut().unwrap().remove("kid");
        check(vec![no_kid, jwk("b", &x_b, &[])], &["b"]);
        let mut numeric_kid = jwk("a", X_A, &[]);
        numeric_kid["kid"] = serde_json::json!(7);
        check(vec![numeric_kid, jwk("b", &x_b, &[])], &["b"]);
        // Nothing usable is a failed fetch, not an empty trust list.
        check(vec![jwk("a", X_A, &[("use", "enc")])], &[]);
    }

    #[test]
    fn a_kid_naming_two_keys_names_neither_in_any_order() {
        let x_b = URL_SAFE_NO_PAD.encode([7_u8; 32]);
        let other = jwk("other", X_A, &[]);
        check(
            vec![jwk("a", X_A, &[]), jwk("a", &x_b, &[]), other.clone()],
            &["other"],
        );
        check(
            vec![jwk("a", &x_b, &[]), jwk("a", X_A, &[]), other.clone()],
            &["other"],
        );
        // The same key twice is one key.
        check(
            vec![jwk("a", X_A, &[]), jwk("a", X_A, &[]), other],
            &["a", "other"],
        );
    }

    /// The P-256 key of RFC 7517 Appendix A.1.
    fn ec_jwk(kid: &str, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        });
        for (name, value) in extra {
            jwk[*name] = serde_json::Value::from(*value);
        }
        jwk
    }

    /// An RSA key whose modulus is `bytes` long (the bytes are not a real
    /// modulus: the JWKS is read, not the signature checked).
    fn rsa_jwk(kid: &str, bytes: usize, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut jwk = serde_json::json!({
            "kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode(vec![0xc3_u8; bytes]), "e": "AQAB",
        });
        for (name, value) in extra {
            jwk[*name] = serde_json::Value::from(*value);
        }
        jwk
    }

    #[test]
    fn each_key_type_is_kept_with_its_one_algorithm() {
        let keys = vec![
            jwk("ed", X_A, &[("alg", "EdDSA")]),
            ec_jwk("ec", &[("alg", "ES256"), ("use", "sig")]),
            rsa_jwk("rsa", 256, &[("alg", "RS256")]),
        ];
        let body = serde_json::json!({ "keys": keys }).to_string();
        let kept = usable_keys(body.as_bytes(), SigningAlgorithm::RS256).unwrap();
        let algorithms: Vec<(&str, SigningAlgorithm)> = ["ed", "ec", "rsa"]
            .into_iter()
            .map(|kid| (kid, kept[kid].algorithm))
            .collect();
        assert_eq!(
            algorithms,
            [
                ("ed", SigningAlgorithm::EdDSA),
                ("ec", SigningAlgorithm::ES256),
                ("rsa", SigningAlgorithm::RS256)
            ]
        );
        for algorithm in [
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::ES256,
            SigningAlgorithm::RS256,
        ] {
            check_expecting(algorithm, keys.clone(), &["ec", "ed", "rsa"]);
        }
    }

    #[test]
    fn keys_whose_alg_or_shape_does_not_fit_their_type_are_skipped() {
        let ed = || jwk("ed", X_A, &[]);
        for (case, key) in [
            ("an EC key named RS256", ec_jwk("bad", &[("alg", "RS256")])),
            ("an EC key named ES384", ec_jwk("bad", &[("alg", "ES384")])),
            ("a P-384 key", ec_jwk("bad", &[("crv", "P-384")])),
            ("an EC key without y", {
                let mut key = ec_jwk("bad", &[]);
                key.as_object_mut().unwrap().remove("y");
                key
            }),
            (
                "an RSA key named PS256",
                rsa_jwk("bad", 256, &[("alg", "PS256")]),
            ),
            (
                "an RSA key named HS256",
                rsa_jwk("bad", 256, &[("alg", "HS256")]),
            ),
            ("a 1024-bit RSA key", rsa_jwk("bad", 128, &[])),
            (
                "an RSA key for encryption",
                rsa_jwk("bad", 256, &[("use", "enc")]),
            ),
            (
                "an OKP key named RS256",
                jwk("bad", X_A, &[("alg", "RS256")]),
            ),
            (
                "a symmetric key",
                serde_json::json!({"kty": "oct", "kid": "bad", "k": "c2VjcmV0", "alg": "HS256"}),
            ),
        ] {
            let body = serde_json::json!({ "keys": [key, ed()] }).to_string();
            let kept = usable_keys(body.as_bytes(), SigningAlgorithm::EdDSA).unwrap();
            assert!(!kept.contains_key("bad"), "{case}");
        }
        // No key of the expected algorithm is a failed fetch.
        check_expecting(
            SigningAlgorithm::ES256,
            vec![ed(), rsa_jwk("rsa", 256, &[])],
            &[],
        );
        check_expecting(SigningAlgorithm::RS256, vec![ed(), ec_jwk("ec", &[])], &[]);
        // One kid naming keys of two types names neither.
        check_expecting(
            SigningAlgorithm::EdDSA,
            vec![jwk("a", X_A, &[]), ec_jwk("a", &[]), jwk("b", X_A, &[])],
            &["b"],
        );
    }
}
