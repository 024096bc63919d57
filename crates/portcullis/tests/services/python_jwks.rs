//! The Python example (`examples/python/verify_token.py`): a standard JWT
//! library (PyJWT) verifies Portcullis's access tokens from the JWKS alone,
//! whichever algorithm `--access-token-alg` chose (EdDSA, ES256, RS256).
//!
//! It must accept a real token and refuse a tampered one, one signed by
//! another server, and one of another algorithm than it expects, so the
//! JWKS and the tokens really are standard.
//!
//! They need python3 with PyJWT (see `crate::harness`).

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::helpers::{
    TestServer, assert_exit, jwt_claims, stderr, stdout, text, with_signature_changed,
};

/// The issuer both servers are configured with; not their URL, as in a
/// deployment behind a proxy (the script takes it as its third argument).
const ISSUER: &str = "https://auth.example.test";

fn script() -> String {
    format!(
        "{}/../../examples/python/verify_token.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The algorithms `--access-token-alg` offers.
const ALGORITHMS: [&str; 3] = ["EdDSA", "ES256", "RS256"];

fn verify_with_python(base: &str, token: &str, issuer: &str, algorithm: &str) -> Output {
    Command::new("python3")
        .args([&script(), base, token, issuer, algorithm])
        .stdin(Stdio::null())
        .output()
        .expect("run python3")
}

/// For each algorithm: PyJWT accepts the server's token when it expects
/// that algorithm, and refuses it when it expects either other one.
pub(crate) async fn pyjwt_accepts_a_real_access_token_of_each_algorithm() {
    for algorithm in ALGORITHMS {
        let server =
            TestServer::spawn_with(&["--issuer", ISSUER, "--access-token-alg", algorithm]).await;
        let ada = server.sign_up("ada@example.com").await;
        let access = text(
            &server
                .login("ada@example.com", crate::helpers::PASSWORD)
                .await,
            "access_token",
        );
        let output = verify_with_python(&server.base, &access, ISSUER, algorithm);
        assert_exit(&output, 0, algorithm);
        let claims: Value = serde_json::from_str(&stdout(&output)).expect("the claims as JSON");
        assert_eq!(claims["sub"], ada["id"]);
        assert_eq!(claims, jwt_claims(&access));
        for expected in ALGORITHMS.into_iter().filter(|other| *other != algorithm) {
            let output = verify_with_python(&server.base, &access, ISSUER, expected);
            let case = format!("a {algorithm} token where {expected} is expected");
            assert_exit(&output, 1, &case);
            assert!(stdout(&output).is_empty(), "{case}: no claims printed");
            assert!(
                stderr(&output).contains("invalid token"),
                "{case}: {}",
                stderr(&output)
            );
        }
    }
}

pub(crate) async fn pyjwt_refuses_tampered_foreign_and_misaddressed_tokens() {
    let server = TestServer::spawn_with(&["--issuer", ISSUER]).await;
    let other_server = TestServer::spawn_with(&["--issuer", ISSUER]).await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let access = text(&tokens, "access_token");
    let foreign = text(
        &other_server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let tampered = with_signature_changed(&access, 7, 0x01);
    let refresh_token = text(&tokens, "refresh_token");
    for (case, token, issuer) in [
        ("a changed signature", tampered.as_str(), ISSUER),
        ("another server's key, same issuer", &foreign, ISSUER),
        (
            "another issuer expected",
            &access,
            "https://elsewhere.example.test",
        ),
        ("a refresh token", &refresh_token, ISSUER),
        ("garbage", "not-a-token", ISSUER),
    ] {
        let output = verify_with_python(&server.base, token, issuer, "EdDSA");
        assert_exit(&output, 1, case);
        assert!(stdout(&output).is_empty(), "{case}: no claims printed");
        assert!(
            stderr(&output).contains("invalid token"),
            "{case}: {}",
            stderr(&output)
        );
    }
}
