//! Access tokens as issued and as checked (API.md "Access token" and
//! "Credentials a client can present"): the RFC 9068 header and claims, the
//! JWKS that names their key, which `Authorization` headers a protected
//! endpoint accepts, the RFC 6750 challenge on every refusal (forged,
//! tampered, `none`/HS256, expired, foreign, wrong `typ`), revocation taking
//! effect at once, and tokens outliving a server restart.
//!
//! The JWTs are taken apart and re-assembled by hand (base64url JSON); these
//! tests never sign anything with a real key, so a token they build can only
//! be accepted if the server's checks are broken.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{
    PASSWORD, TestServer, assert_exit, assert_problem, is_uuid, jwt_claims, jwt_header, jwt_part,
    now_unix, sorted_keys, text, with_signature_changed,
};

const CHALLENGE: &str = r#"Bearer realm="portcullis""#;
const INVALID_TOKEN_CHALLENGE: &str =
    r#"Bearer realm="portcullis", error="invalid_token", error_description=""#;

/// The token with its header or payload (part 0 or 1) edited and the original signature kept.
fn with_part_edited(token: &str, part: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut value = jwt_part(token, part);
    edit(&mut value);
    parts[part] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap());
    parts.join(".")
}

async fn me_with_authorization(server: &TestServer, authorization: &str) -> Response {
    server
        .client
        .get(server.url("/me"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

/// Asserts a `401` with the RFC 6750 `invalid_token` challenge and a problem body.
async fn assert_invalid_token(response: Response, label: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{label}");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(INVALID_TOKEN_CHALLENGE)
            && challenge.ends_with('"')
            && challenge.len() > INVALID_TOKEN_CHALLENGE.len() + 1,
        "{label}: WWW-Authenticate is {challenge:?}"
    );
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn the_access_token_is_an_eddsa_at_jwt_with_the_contract_claims() {
    let server = TestServer::spawn().await;
    let user = server.sign_up("ada@example.com").await;
    let first = server.login("ada@example.com", PASSWORD).await;
    let second = server.login("ada@example.com", PASSWORD).await;
    let token = text(&first, "access_token");

    let header = jwt_header(&token);
    let kid = text(&header, "kid");
    assert_eq!(sorted_keys(&header), ["alg", "kid", "typ"], "{header}");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");

    let claims_of_first = jwt_claims(&token);
    let names = sorted_keys(&claims_of_first);
    for name in [
        "iss", "sub", "aud", "exp", "iat", "jti", "sid", "roles", "scope",
    ] {
        assert!(names.contains(&name), "{name} missing in {claims_of_first}");
    }
    assert_eq!(claims_of_first["iss"], "http://localhost:8080");
    // Contract silent on the default audience; the command line documents "the issuer".
    assert_eq!(claims_of_first["aud"], "http://localhost:8080");
    assert_eq!(claims_of_first["sub"], user["id"]);
    let iat = claims_of_first["iat"].as_i64().expect("iat is a number");
    assert!((iat - now_unix()).abs() <= 5, "iat {iat} is not now");
    assert_eq!(claims_of_first["exp"].as_i64(), Some(iat + 900));
    assert_eq!(first["expires_in"], 900);
    assert_eq!(claims_of_first["roles"], serde_json::json!([]));
    assert_eq!(claims_of_first["scope"], first["scope"]);
    assert!(claims_of_first["scope"].is_string());
    assert!(
        ["jti", "sid"]
            .iter()
            .all(|claim| claims_of_first[claim].as_str().is_some_and(is_uuid)),
        "{claims_of_first}"
    );

    let claims_of_second = jwt_claims(&text(&second, "access_token"));
    assert_ne!(claims_of_first["jti"], claims_of_second["jti"]);
    assert_ne!(claims_of_first["sid"], claims_of_second["sid"]);
    assert_eq!(
        text(&jwt_header(&text(&second, "access_token")), "kid"),
        kid
    );

    let keys = server.jwks_of("EdDSA").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert_eq!(key["kid"], kid.as_str());
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(text(key, "x"))
            .expect("x is base64url")
            .len(),
        32
    );
    assert!(key.get("d").is_none(), "the JWKS leaks the private key");
}

#[tokio::test]
async fn issuer_and_audience_come_from_the_configuration() {
    let server = TestServer::spawn_with(&[
        "--issuer",
        "https://auth.example.test",
        "--audience",
        "https://api.example.test",
    ])
    .await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let access = text(&tokens, "access_token");
    let claims = jwt_claims(&access);
    assert_eq!(claims["iss"], "https://auth.example.test");
    assert_eq!(claims["aud"], "https://api.example.test");
    assert_eq!(
        server.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_bearer_scheme_in_any_case_and_a_bare_token_are_accepted() {
    let server = TestServer::spawn().await;
    let user = server.sign_up("ada@example.com").await;
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    for authorization in [
        format!("Bearer {access}"),
        format!("bearer {access}"),
        format!("BEARER {access}"),
        access.clone(),
    ] {
        let response = me_with_authorization(&server, &authorization).await;
        let label = authorization
            .split(' ')
            .next()
            .unwrap()
            .chars()
            .take(8)
            .collect::<String>();
        assert_eq!(response.status(), StatusCode::OK, "{label}");
        let me: Value = response.json().await.unwrap();
        assert_eq!(me["id"], user["id"], "{label}");
    }
}

#[tokio::test]
async fn a_missing_credential_gets_a_challenge_without_an_error() {
    let server = TestServer::spawn().await;
    let response = server.get("/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], CHALLENGE);
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn forged_tampered_foreign_and_mistyped_tokens_get_an_invalid_token_challenge() {
    let server = TestServer::spawn().await;
    let other_server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let mallory = server.sign_up("mallory@example.com").await;
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let foreign = text(
        &other_server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let (unsigned, _) = access.rsplit_once('.').unwrap();
    let alg_none = with_part_edited(unsigned, 0, |h| h["alg"] = "none".into());

    let cases = [
        ("not a JWT", "Bearer not-a-jwt".to_owned()),
        ("three garbage parts", "Bearer a.b.c".to_owned()),
        ("header and payload only", format!("Bearer {unsigned}")),
        (
            "one signature byte changed",
            format!("Bearer {}", with_signature_changed(&access, 10, 0x01)),
        ),
        (
            "sub changed, signature kept",
            format!(
                "Bearer {}",
                with_part_edited(&access, 1, |c| c["sub"] = mallory["id"].clone())
            ),
        ),
        (
            "scope widened, signature kept",
            format!(
                "Bearer {}",
                with_part_edited(&access, 1, |c| c["scope"] = "admin:users".into())
            ),
        ),
        ("alg none, empty signature", format!("Bearer {alg_none}.")),
        (
            "alg HS256, signature kept",
            format!(
                "Bearer {}",
                with_part_edited(&access, 0, |h| h["alg"] = "HS256".into())
            ),
        ),
        (
            "kid of no key",
            format!(
                "Bearer {}",
                with_part_edited(&access, 0, |h| h["kid"] = "unknown".into())
            ),
        ),
        (
            "typ JWT",
            format!(
                "Bearer {}",
                with_part_edited(&access, 0, |h| h["typ"] = "JWT".into())
            ),
        ),
        (
            "no typ",
            format!(
                "Bearer {}",
                with_part_edited(&access, 0, |h| {
                    h.as_object_mut().unwrap().remove("typ");
                })
            ),
        ),
        ("a token from another server", format!("Bearer {foreign}")),
        (
            "Basic credentials",
            format!(
                "Basic {}",
                STANDARD.encode(format!("ada@example.com:{PASSWORD}"))
            ),
        ),
        ("another scheme", format!("Token {access}")),
    ];
    for (label, authorization) in &cases {
        assert_invalid_token(me_with_authorization(&server, authorization).await, label).await;
    }
    // The refusals were the tokens' doing: the genuine token still works.
    assert_eq!(
        server.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    assert_eq!(tokens["expires_in"], 900);
    let access = text(&tokens, "access_token");
    assert_eq!(
        server.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );
    // 15 minutes, then the 1 s of leeway, then a moment more.
    server.advance_clock(time::Duration::minutes(15));
    assert_eq!(
        server.get_authorized("/me", &access).await.status(),
        StatusCode::OK,
        "within the leeway"
    );
    server.advance_clock(time::Duration::seconds(2));
    assert_invalid_token(server.get_authorized("/me", &access).await, "expired").await;
}

#[tokio::test]
async fn logout_refuses_the_access_token_at_once() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let leaving = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let staying = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        server.get_authorized("/me", &leaving).await.status(),
        StatusCode::OK
    );

    let logout = server.logout(&leaving).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_invalid_token(server.get_authorized("/me", &leaving).await, "after logout").await;
    assert_eq!(
        server.get_authorized("/me", &staying).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn ending_another_session_refuses_its_access_token_at_once() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let laptop = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let phone = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let phone_session = text(&jwt_claims(&phone), "sid");
    assert_eq!(
        server.get_authorized("/me", &phone).await.status(),
        StatusCode::OK
    );

    let ended = server
        .client
        .delete(server.url(&format!("/me/sessions/{phone_session}")))
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_invalid_token(server.get_authorized("/me", &phone).await, "ended session").await;
    assert_eq!(
        server.get_authorized("/me", &laptop).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn access_tokens_and_revocations_outlive_a_server_restart() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let kept = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let revoked = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let logout = server.logout(&revoked).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let kids_before: Vec<Value> = server
        .jwks()
        .await
        .iter()
        .map(|key| key["kid"].clone())
        .collect();

    let server = server.kill_and_restart().await;
    assert_eq!(
        server.get_authorized("/me", &kept).await.status(),
        StatusCode::OK
    );
    assert_invalid_token(
        server.get_authorized("/me", &revoked).await,
        "revoked before the restart",
    )
    .await;
    let kids_after: Vec<Value> = server
        .jwks()
        .await
        .iter()
        .map(|key| key["kid"].clone())
        .collect();
    assert_eq!(kids_after, kids_before);
    let new_token = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(jwt_header(&new_token)["kid"], jwt_header(&kept)["kid"]);
}

/// An access token says whether the user's address was proved when it was
/// issued (API.md "Email": access tokens carry `email_verified`).
#[tokio::test]
async fn an_access_token_says_whether_the_address_is_verified() {
    let server = TestServer::spawn().await;
    server.sign_up("bob@example.com").await;
    let added = server.cli(
        &[
            "user",
            "add",
            "--email",
            "carol@example.com",
            "--verified",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_exit(&added, 0, "user add --verified");
    for (email, verified) in [("bob@example.com", false), ("carol@example.com", true)] {
        let tokens = server.login(email, PASSWORD).await;
        let access = jwt_claims(&text(&tokens, "access_token"));
        assert_eq!(access["email_verified"], verified, "{email}: {access}");
        let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
        assert_eq!(refreshed.status(), StatusCode::OK);
        let refreshed: Value = refreshed.json().await.unwrap();
        let access = jwt_claims(&text(&refreshed, "access_token"));
        assert_eq!(
            access["email_verified"], verified,
            "{email} refreshed: {access}"
        );
    }
}
