//! The algorithms Portcullis may sign access tokens with (its
//! `--access-token-alg`): a verifier built for one accepts tokens signed so,
//! with keys from the JWKS, and refuses every other algorithm, `none`, HMAC
//! keyed with a public key, and a key of another type than the one its
//! algorithm takes (the algorithm-confusion attacks).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::keys::SigningAlgorithm as ServerAlgorithm;
use portcullis_verify::{SigningAlgorithm, VerifyError};
use serde_json::{Value, json};

use crate::fake::{FakePortcullis, ISSUER, Signer};

/// Each algorithm as the server names it and as the verifier does.
const ALGORITHMS: [(ServerAlgorithm, SigningAlgorithm); 3] = [
    (ServerAlgorithm::EdDSA, SigningAlgorithm::EdDSA),
    (ServerAlgorithm::ES256, SigningAlgorithm::ES256),
    (ServerAlgorithm::RS256, SigningAlgorithm::RS256),
];

/// `token` with its header edited (the signature no longer matches it).
fn with_header(token: &str, edit: impl Fn(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    edit(&mut header);
    parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    parts.join(".")
}

fn claims() -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "iss": ISSUER, "aud": ISSUER, "sub": "u-1", "sid": "s-1",
        "iat": now, "exp": now + 600, "scope": "", "roles": [],
    })
}

#[tokio::test]
async fn each_algorithm_verifies_and_refuses_the_others() {
    let signers = ALGORITHMS.map(|(server, _)| Signer::of(server));
    let fake = FakePortcullis::start(&signers.iter().collect::<Vec<_>>()).await;
    let verifiers = ALGORITHMS.map(|(_, algorithm)| fake.builder().algorithm(algorithm).build());
    for ((_, algorithm), signer) in ALGORITHMS.iter().zip(&signers) {
        let (token, user_id) = signer.token(&["books:download"]);
        for ((_, expected), verifier) in ALGORITHMS.iter().zip(&verifiers) {
            let outcome = verifier.verify(&token).await;
            if expected == algorithm {
                let claims = outcome.unwrap_or_else(|error| panic!("{algorithm}: {error}"));
                assert_eq!(claims.user_id, user_id);
                assert_eq!(claims.permissions, ["books:download"]);
            } else {
                assert_eq!(
                    outcome,
                    Err(VerifyError::Malformed),
                    "a {algorithm} token where {expected} is expected"
                );
            }
        }
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let mut signature = signature.to_owned().into_bytes();
        signature[5] = if signature[5] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{signed}.{}", String::from_utf8(signature).unwrap());
        let verifier = fake.builder().algorithm(*algorithm).build();
        assert_eq!(
            verifier.verify(&tampered).await,
            Err(VerifyError::BadSignature),
            "{algorithm}: a changed signature"
        );
    }
}

#[tokio::test]
async fn hmac_keyed_with_the_rsa_public_key_and_none_are_refused() {
    let rsa = Signer::of(ServerAlgorithm::RS256);
    let fake = FakePortcullis::start(&[&rsa]).await;
    let (genuine, _) = rsa.token(&[]);
    let jwk = rsa.jwk();
    let secrets: [Vec<u8>; 3] = [
        rsa.public_key().to_vec(),
        jwk["n"].as_str().unwrap().as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
    ];
    for algorithm in [SigningAlgorithm::RS256, SigningAlgorithm::EdDSA] {
        let verifier = fake.builder().algorithm(algorithm).build();
        for secret in &secrets {
            for hmac in [
                jsonwebtoken::Algorithm::HS256,
                jsonwebtoken::Algorithm::HS384,
                jsonwebtoken::Algorithm::HS512,
            ] {
                let mut header = jsonwebtoken::Header::new(hmac);
                header.typ = Some("at+jwt".to_owned());
                header.kid = Some(rsa.kid().to_owned());
                let forged = jsonwebtoken::encode(
                    &header,
                    &claims(),
                    &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
                )
                .unwrap();
                assert_eq!(
                    verifier.verify(&forged).await,
                    Err(VerifyError::Malformed),
                    "{hmac:?} keyed with the RSA public key, {algorithm} expected"
                );
            }
        }
        let unsigned = with_header(&genuine, |header| header["alg"] = "none".into());
        let (unsigned, _) = unsigned.rsplit_once('.').unwrap();
        for token in [format!("{unsigned}."), format!("{unsigned}.e30")] {
            assert_eq!(
                verifier.verify(&token).await,
                Err(VerifyError::Malformed),
                "alg none, {algorithm} expected"
            );
        }
    }
}

#[tokio::test]
async fn a_header_naming_a_key_of_another_type_is_refused() {
    let ed25519 = Signer::new();
    let rsa = Signer::of(ServerAlgorithm::RS256);
    let fake = FakePortcullis::start(&[&ed25519, &rsa]).await;

    // An Ed25519 signature under an EdDSA header that names the RSA key.
    let eddsa = fake.builder().algorithm(SigningAlgorithm::EdDSA).build();
    let naming_rsa = ed25519.token_naming_kid(rsa.kid(), &claims());
    assert_eq!(
        eddsa.verify(&naming_rsa).await,
        Err(VerifyError::UnknownKey)
    );
    assert!(eddsa.verify(&ed25519.token(&[]).0).await.is_ok());

    // An RS256 header that names the Ed25519 key: refused for the key's
    // type, before any signature is checked.
    let rs256 = fake.builder().algorithm(SigningAlgorithm::RS256).build();
    let (genuine, _) = rsa.token(&[]);
    let naming_ed25519 = with_header(&genuine, |header| header["kid"] = ed25519.kid().into());
    assert_eq!(
        rs256.verify(&naming_ed25519).await,
        Err(VerifyError::UnknownKey)
    );
    assert!(rs256.verify(&genuine).await.is_ok());
}
