//! `--access-token-alg EdDSA|ES256|RS256` (API.md "Browser sign-in" and
//! "Tokens"): access tokens are signed with the configured algorithm by its
//! key in the JWKS, and verified with it alone, so a token of another
//! algorithm, even one the server signed itself before the setting changed,
//! is refused; `token verify` follows the setting; the setting is read from
//! the flag, the environment and the configuration file, and a value that
//! is not one of the three is bad usage.

use reqwest::{Response, StatusCode};

use crate::helpers::{
    PASSWORD, TestServer, assert_exit, jwt_header, run_to_exit, serve_to_exit, stderr, text,
};

/// Signs up ada once and logs her in; the access token.
async fn access_token(server: &TestServer, sign_up: bool) -> String {
    if sign_up {
        server.sign_up("ada@example.com").await;
    }
    text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    )
}

/// Asserts the token's header names `algorithm` and the JWKS key of that algorithm.
async fn assert_signed_with(server: &TestServer, token: &str, algorithm: &str) {
    let header = jwt_header(token);
    assert_eq!(header["alg"], algorithm, "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let keys = server.jwks_of(algorithm).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        header["kid"], keys[0]["kid"],
        "signed by the {algorithm} key"
    );
}

#[track_caller]
fn assert_status(response: &Response, status: StatusCode, case: &str) {
    assert_eq!(response.status(), status, "{case}");
}

#[tokio::test]
async fn each_algorithm_signs_with_its_key_and_the_others_are_refused() {
    for algorithm in ["ES256", "RS256"] {
        let server = TestServer::spawn_with(&["--access-token-alg", algorithm]).await;
        let token = access_token(&server, true).await;
        assert_signed_with(&server, &token, algorithm).await;
        let me = server.get_authorized("/me", &token).await;
        assert_status(&me, StatusCode::OK, algorithm);

        // The same database and keys, the default algorithm: the token the
        // server signed itself a moment ago is refused, the new one passes.
        let server = server.restart_with(&[]).await;
        let refused = server.get_authorized("/me", &token).await;
        assert_status(
            &refused,
            StatusCode::UNAUTHORIZED,
            &format!("{algorithm} where EdDSA is set"),
        );
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
        let eddsa = access_token(&server, false).await;
        assert_signed_with(&server, &eddsa, "EdDSA").await;
        assert_status(
            &server.get_authorized("/me", &eddsa).await,
            StatusCode::OK,
            "EdDSA",
        );

        let server = server
            .restart_with(&["--access-token-alg", algorithm])
            .await;
        let case = format!("EdDSA where {algorithm} is set");
        assert_status(
            &server.get_authorized("/me", &eddsa).await,
            StatusCode::UNAUTHORIZED,
            &case,
        );
        assert_status(
            &server.get_authorized("/me", &token).await,
            StatusCode::OK,
            algorithm,
        );
    }
}

#[tokio::test]
async fn the_algorithm_is_read_from_the_environment() {
    let server = TestServer::spawn_with_env(&[("PORTCULLIS_ACCESS_TOKEN_ALG", "ES256")]).await;
    let token = access_token(&server, true).await;
    assert_signed_with(&server, &token, "ES256").await;
    assert_status(
        &server.get_authorized("/me", &token).await,
        StatusCode::OK,
        "ES256",
    );
}

#[tokio::test]
async fn token_verify_follows_the_configured_algorithm() {
    let server = TestServer::spawn_with(&["--access-token-alg", "RS256"]).await;
    let token = access_token(&server, true).await;
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("portcullis.toml");
    std::fs::write(&config, "access_token_alg = \"RS256\"\n").unwrap();
    let config = config.display().to_string();

    let verified = server.cli(&["token", "verify", &token, "--config", &config], None);
    assert_exit(&verified, 0, "token verify with access_token_alg = RS256");
    let refused = server.cli(&["token", "verify", &token], None);
    assert_exit(
        &refused,
        1,
        "token verify of an RS256 token, EdDSA configured",
    );
    assert!(
        stderr(&refused).contains("invalid token"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn an_algorithm_that_is_not_offered_is_bad_usage() {
    for refused in ["HS256", "none", "eddsa", "PS256"] {
        let output = serve_to_exit(&["--access-token-alg", refused]);
        assert_exit(&output, 2, refused);
        assert!(
            stderr(&output).contains("EdDSA, ES256, RS256"),
            "{refused}: {}",
            stderr(&output)
        );
    }
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("portcullis.toml");
    std::fs::write(&config, "access_token_alg = \"HS256\"\n").unwrap();
    let output = run_to_exit(&["keys", "list", "--config", config.to_str().unwrap()]);
    assert_exit(&output, 1, "access_token_alg = HS256 in the file");
    assert!(
        stderr(&output).contains("access_token_alg"),
        "{}",
        stderr(&output)
    );
}
