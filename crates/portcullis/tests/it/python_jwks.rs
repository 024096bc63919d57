//! The Python example (`examples/python/verify_token.py`): a standard JWT
//! library (PyJWT) verifies Portcullis's access tokens from the JWKS alone.
//!
//! It must accept a real token and refuse a tampered one or one signed by
//! another server, so the JWKS and the tokens really are standard.
//!
//! Without python3 and PyJWT these tests print one line and pass, unless
//! `PORTCULLIS_TEST_PYTHON=1` demands them.

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

/// Whether python3 with PyJWT and its crypto extra can run the example; when
/// not, prints why the test is skipped (or fails if the tests are demanded).
fn python_or_skip() -> bool {
    let usable = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !usable {
        assert!(
            std::env::var("PORTCULLIS_TEST_PYTHON").as_deref() != Ok("1"),
            "PORTCULLIS_TEST_PYTHON=1 but `python3 -c 'import jwt, cryptography'` fails; \
             pip install 'PyJWT[crypto]'"
        );
        println!("skipping Python tests: python3 with PyJWT[crypto] is not installed");
    }
    usable
}

fn verify_with_python(base: &str, token: &str, issuer: &str) -> Output {
    Command::new("python3")
        .args([&script(), base, token, issuer])
        .stdin(Stdio::null())
        .output()
        .expect("run python3")
}

#[tokio::test]
async fn pyjwt_accepts_a_real_access_token() {
    if !python_or_skip() {
        return;
    }
    let server = TestServer::spawn_with(&["--issuer", ISSUER]).await;
    let ada = server.sign_up("ada@example.com").await;
    let access = text(
        &server
            .login("ada@example.com", crate::helpers::PASSWORD)
            .await,
        "access_token",
    );
    let output = verify_with_python(&server.base, &access, ISSUER);
    assert_exit(&output, 0, "a valid token");
    let claims: Value = serde_json::from_str(&stdout(&output)).expect("the claims as JSON");
    assert_eq!(claims["sub"], ada["id"]);
    assert_eq!(claims, jwt_claims(&access));
}

#[tokio::test]
async fn pyjwt_refuses_tampered_foreign_and_misaddressed_tokens() {
    if !python_or_skip() {
        return;
    }
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
        let output = verify_with_python(&server.base, token, issuer);
        assert_exit(&output, 1, case);
        assert!(stdout(&output).is_empty(), "{case}: no claims printed");
        assert!(
            stderr(&output).contains("invalid token"),
            "{case}: {}",
            stderr(&output)
        );
    }
}
