//! `POST /token/introspect` (RFC 7662), and the `portcullis-verify` crate
//! using it against the real server.
//!
//! Only a caller holding `tokens:introspect` may ask; anything that is not an
//! active token is `{"active": false}` and nothing else, so an inactive
//! token's owner, scope or session never leak.

use std::time::Duration;

use portcullis_core::revocation::DENY_LIST_TRUSTED_FOR;
use portcullis_verify::{Verifier, VerifyError};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestServer, check_oauth_error, jwt_claims, now_unix, read, sorted_keys, text,
    with_signature_changed,
};

/// The members of an active token's description.
const ACTIVE_MEMBERS: [&str; 8] = [
    "active",
    "exp",
    "iat",
    "roles",
    "scope",
    "sid",
    "sub",
    "token_type",
];

/// `POST /me/tokens` for the holder of `access_token`; asserts `201` and returns the body.
async fn create_personal_token(server: &TestServer, access_token: &str, scopes: &[&str]) -> Value {
    let reply = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(access_token)
            .json(&json!({ "name": "introspection test", "scopes": scopes })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

/// Introspects with a JSON body, `caller` as the bearer credential.
async fn introspect(server: &TestServer, caller: Option<&str>, body: &Value) -> Reply {
    let mut request = server
        .client
        .post(server.url("/token/introspect"))
        .json(body);
    if let Some(caller) = caller {
        request = request.bearer_auth(caller);
    }
    read(request).await
}

/// Introspects with an `application/x-www-form-urlencoded` body.
async fn introspect_form(server: &TestServer, caller: &str, form: &str) -> Reply {
    read(
        server
            .client
            .post(server.url("/token/introspect"))
            .bearer_auth(caller)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.to_owned()),
    )
    .await
}

/// Asserts `200 {"active": false}` with nothing else.
#[track_caller]
fn check_inactive(reply: &Reply, case: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store", "{case}");
    assert_eq!(reply.json(), json!({ "active": false }), "{case}");
}

/// Asserts that `reply` describes the access token `access_token` as active.
#[track_caller]
fn check_active_access_token(reply: &Reply, access_token: &str, case: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store", "{case}");
    let body = reply.json();
    assert_eq!(sorted_keys(&body), ACTIVE_MEMBERS, "{case}: {body}");
    let claims = jwt_claims(access_token);
    assert_eq!(body["active"], true, "{case}");
    assert_eq!(body["token_type"], "access_token", "{case}");
    for member in ["sub", "scope", "exp", "iat", "sid", "roles"] {
        assert_eq!(body[member], claims[member], "{case}: {member}");
    }
}

#[tokio::test]
async fn an_active_access_token_is_described_for_json_and_form_bodies() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download", "books:read"]);
    server.add_user("ada@example.com", &["customer"]);
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let admin = server.admin_access_token().await;

    let reply = introspect(&server, Some(&admin), &json!({ "token": access })).await;
    check_active_access_token(&reply, &access, "JSON body");
    let body = reply.json();
    assert_eq!(body["roles"], json!(["customer"]));
    let mut scope: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["books:download", "books:read"]);

    let reply = introspect_form(&server, &admin, &format!("token={access}")).await;
    check_active_access_token(&reply, &access, "form body");
    let reply = introspect_form(
        &server,
        &admin,
        &format!("token={access}&token_type_hint=access_token"),
    )
    .await;
    check_active_access_token(&reply, &access, "form body with a type hint");
}

/// Issue 10, finding 10a: the deny list decides only while the revocation
/// feed is being read. With its table gone from under the server (the
/// account feed still reads), an access token is answered 503 once the
/// bound has passed, never described active, while a personal access token
/// (no session, no deny list) still is; with the table back, as before.
/// The caller is a personal access token, so that its own authentication
/// does not answer first.
#[tokio::test]
async fn while_revocations_cannot_be_read_no_access_token_is_described_active() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:read"]);
    server.add_user("ada@example.com", &["customer"]);
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let admin = server.admin_access_token().await;
    let caller = text(
        &create_personal_token(&server, &admin, &["tokens:introspect"]).await,
        "token",
    );
    let access_body = json!({ "token": access });
    let pat_body = json!({ "token": caller });
    check_active_access_token(
        &introspect(&server, Some(&caller), &access_body).await,
        &access,
        "before",
    );

    let database = server.database();
    database
        .execute("ALTER TABLE revoked_sessions RENAME TO revoked_sessions_away")
        .await;
    // Every read started after the rename fails, so this is past the bound.
    tokio::time::sleep(DENY_LIST_TRUSTED_FOR + Duration::from_secs(1)).await;
    let reply = introspect(&server, Some(&caller), &access_body).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text()
    );
    assert_ne!(reply.json()["active"], true);
    let reply = introspect(&server, Some(&caller), &pat_body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["active"], true, "the caller's own PAT");

    database
        .execute("ALTER TABLE revoked_sessions_away RENAME TO revoked_sessions")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = introspect(&server, Some(&caller), &access_body).await;
        if reply.status == StatusCode::OK {
            check_active_access_token(&reply, &access, "after");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {} 10 s after the table came back",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_personal_access_token_is_described_without_a_session() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download", "books:read"]);
    let ada = server.add_user("ada@example.com", &["customer"]);
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let admin = server.admin_access_token().await;
    let forever = create_personal_token(&server, &access, &["books:download"]).await;
    let reply = read(
        server
            .client
            .post(server.url("/me/tokens"))
            .bearer_auth(&access)
            .json(&json!({ "name": "monthly", "scopes": ["books:read"], "expires_in_days": 30 })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let monthly = reply.json();

    for (case, created, scope) in [
        ("a PAT that never expires", &forever, "books:download"),
        ("a PAT that expires in 30 days", &monthly, "books:read"),
    ] {
        let reply = introspect(&server, Some(&admin), &json!({ "token": created["token"] })).await;
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text());
        assert_eq!(reply.header("cache-control"), "no-store", "{case}");
        let body = reply.json();
        assert_eq!(body["active"], true, "{case}: {body}");
        assert_eq!(body["token_type"], "personal_access_token", "{case}");
        assert_eq!(body["sub"], ada.as_str(), "{case}");
        assert_eq!(body["scope"], scope, "{case}");
        assert_eq!(body["roles"], json!(["customer"]), "{case}");
        assert!(
            body.get("sid").is_none_or(Value::is_null),
            "{case}: a PAT has no session: {body}"
        );
        assert!(body["iat"].is_i64(), "{case}: {body}");
    }
    let expiry = introspect(&server, Some(&admin), &json!({ "token": monthly["token"] })).await;
    let exp = expiry.json()["exp"]
        .as_i64()
        .expect("exp of a PAT with an expiry");
    let thirty_days = 30 * 24 * 3600;
    assert!(
        (exp - (now_unix() + thirty_days)).abs() < 120,
        "exp {exp} is not 30 days from now"
    );
}

#[tokio::test]
async fn every_kind_of_caller_holding_tokens_introspect_may_ask() {
    let server = TestServer::spawn().await;
    server.set_role("gateway", &["tokens:introspect"]);
    server.add_user("gateway@example.com", &["gateway"]);
    let gateway = text(
        &server.login("gateway@example.com", PASSWORD).await,
        "access_token",
    );
    let admin = server.admin_access_token().await;
    let admin_pat = text(
        &create_personal_token(&server, &admin, &["tokens:introspect"]).await,
        "token",
    );
    let gateway_pat = text(
        &create_personal_token(&server, &gateway, &["tokens:introspect"]).await,
        "token",
    );
    let subject = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    for (case, caller) in [
        ("an admin's access token", &admin),
        ("an admin's PAT scoped to tokens:introspect", &admin_pat),
        (
            "the access token of a role holding tokens:introspect",
            &gateway,
        ),
        ("a PAT of a role holding tokens:introspect", &gateway_pat),
    ] {
        let reply = introspect(&server, Some(caller), &json!({ "token": subject })).await;
        check_active_access_token(&reply, &subject, case);
    }
}

#[tokio::test]
async fn anything_but_an_active_token_is_active_false_and_nothing_else() {
    let server = TestServer::spawn().await;
    let other_server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    server.sign_up("ada@example.com").await;
    let live = server.login("ada@example.com", PASSWORD).await;
    let logged_out = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        server.logout(&logged_out).await.status(),
        StatusCode::NO_CONTENT
    );
    let live_access = text(&live, "access_token");
    let revoked_pat = create_personal_token(&server, &live_access, &[]).await;
    let deleted = server
        .client
        .delete(server.url(&format!("/me/tokens/{}", text(&revoked_pat, "id"))))
        .bearer_auth(&live_access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let foreign = text(
        &other_server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let revoked_pat = text(&revoked_pat, "token");
    let refresh_token = text(&live, "refresh_token");
    let tampered = with_signature_changed(&live_access, 0, 1);

    for (case, token) in [
        ("a logged-out session's access token", logged_out.as_str()),
        ("a deleted PAT", &revoked_pat),
        ("a refresh token", &refresh_token),
        ("an access token with a changed signature", &tampered),
        ("an access token of another server", &foreign),
        ("garbage", "not-a-token"),
        ("a PAT-shaped string", "pat_0000000000000000000000000000"),
    ] {
        let reply = introspect(&server, Some(&admin), &json!({ "token": token })).await;
        check_inactive(&reply, case);
    }
    let reply = introspect(&server, Some(&admin), &json!({ "token": live_access })).await;
    check_active_access_token(&reply, &live_access, "the live session, for contrast");
}

#[tokio::test]
async fn an_expired_access_token_is_active_false() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    // The caller's own access token expires too; a PAT does not.
    let caller = text(
        &create_personal_token(&server, &admin, &["tokens:introspect"]).await,
        "token",
    );
    let access = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    check_active_access_token(
        &introspect(&server, Some(&caller), &json!({ "token": access })).await,
        &access,
        "before it expires",
    );
    server.advance_clock(time::Duration::minutes(15) + time::Duration::seconds(2));
    check_inactive(
        &introspect(&server, Some(&caller), &json!({ "token": access })).await,
        "after it expired",
    );
}

#[tokio::test]
async fn a_caller_without_tokens_introspect_gets_insufficient_scope() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    server.add_user("ada@example.com", &["customer"]);
    let user = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let admin = server.admin_access_token().await;
    let admin_pat_without = text(
        &create_personal_token(&server, &admin, &["admin:users"]).await,
        "token",
    );
    let admin_narrow_login = server
        .token(json!({
            "grant_type": "password",
            "username": "admin@example.com",
            "password": PASSWORD,
            "scope": "admin:users",
        }))
        .await;
    assert_eq!(admin_narrow_login.status(), StatusCode::OK);
    let admin_narrow = text(&admin_narrow_login.json().await.unwrap(), "access_token");

    for (case, caller) in [
        ("a user without the permission", &user),
        ("an admin's PAT scoped to admin:users", &admin_pat_without),
        ("an admin's token scoped to admin:users", &admin_narrow),
    ] {
        let reply = introspect(&server, Some(caller), &json!({ "token": user })).await;
        check_oauth_error(&reply, StatusCode::FORBIDDEN, "insufficient_scope", case);
        let challenge = reply.header("www-authenticate");
        assert!(
            challenge.starts_with("Bearer ")
                && challenge.contains(r#"error="insufficient_scope""#)
                && challenge.contains(r#"scope="tokens:introspect""#),
            "{case}: {challenge}"
        );
        assert!(
            reply.json().get("active").is_none(),
            "{case}: nothing about the token may leak"
        );
    }
}

#[tokio::test]
async fn a_caller_without_a_usable_credential_gets_401_with_a_challenge() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    let subject = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let logged_out_admin = text(
        &server.login("admin@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        server.logout(&logged_out_admin).await.status(),
        StatusCode::NO_CONTENT
    );

    let reply = introspect(&server, None, &json!({ "token": subject })).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="portcullis""#
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    assert!(reply.json()["error"].is_string(), "{}", reply.text());
    assert!(reply.json().get("active").is_none());

    for (case, authorization) in [
        ("garbage", "Bearer not-a-token".to_owned()),
        (
            "a logged-out admin session",
            format!("Bearer {logged_out_admin}"),
        ),
        (
            "a tampered admin token",
            format!("Bearer {}", with_signature_changed(&admin, 3, 0x40)),
        ),
        ("the Basic scheme", "Basic YWRtaW46cGFzc3dvcmQ=".to_owned()),
    ] {
        let reply = read(
            server
                .client
                .post(server.url("/token/introspect"))
                .header("authorization", authorization)
                .json(&json!({ "token": subject })),
        )
        .await;
        check_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_token", case);
        let challenge = reply.header("www-authenticate");
        assert!(
            challenge.starts_with(r#"Bearer realm="portcullis""#)
                && challenge.contains(r#"error="invalid_token""#),
            "{case}: {challenge}"
        );
    }
}

#[tokio::test]
async fn a_request_without_a_token_is_invalid_request() {
    let server = TestServer::spawn().await;
    let admin = server.admin_access_token().await;
    for (case, body) in [
        ("an empty JSON object", json!({})),
        ("a null token", json!({ "token": null })),
        ("another member", json!({ "access_token": "x" })),
    ] {
        let reply = introspect(&server, Some(&admin), &body).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request", case);
    }
    for (case, form) in [
        ("an empty form", ""),
        ("a form without token", "token_type_hint=access_token"),
    ] {
        let reply = introspect_form(&server, &admin, form).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request", case);
    }
}

/// `portcullis-verify` against the real server: PATs and revocation go
/// through introspection; a logout is seen at once with the cache off.
#[tokio::test]
async fn the_verifier_crate_sees_personal_tokens_and_logouts_through_introspection() {
    let server = TestServer::spawn().await;
    server.set_role("customer", &["books:download"]);
    let ada = server.add_user("ada@example.com", &["customer"]);
    let admin = server.admin_access_token().await;
    let credential = text(
        &create_personal_token(&server, &admin, &["tokens:introspect"]).await,
        "token",
    );
    let verifier = Verifier::builder(&server.base)
        .issuer("http://localhost:8080")
        .introspection(credential)
        .introspection_cache(Duration::ZERO)
        .build();
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let pat = text(
        &create_personal_token(&server, &access, &["books:download"]).await,
        "token",
    );

    let claims = verifier.verify_with_revocation(&access).await.unwrap();
    assert_eq!(claims.user_id, ada);
    assert_eq!(
        claims.session_id.as_deref(),
        jwt_claims(&access)["sid"].as_str()
    );
    assert_eq!(claims.roles, ["customer"]);
    assert!(claims.has_permission("books:download"));

    let claims = verifier.verify(&pat).await.unwrap();
    assert_eq!(claims.user_id, ada);
    assert_eq!(claims.session_id, None);
    assert_eq!(claims.permissions, ["books:download"]);

    assert_eq!(
        server.logout(&access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        verifier.verify_with_revocation(&access).await,
        Err(VerifyError::Revoked)
    );
    // Without the revocation check the token stays valid until it expires, as documented.
    assert_eq!(verifier.verify(&access).await.unwrap().user_id, ada);
    assert_eq!(
        verifier.verify("pat_0000000000000000000000000000").await,
        Err(VerifyError::Malformed),
        "a made-up PAT fails its checksum without a call"
    );
    let unknown = portcullis_core::personal_tokens::PersonalToken::generate().encode();
    assert_eq!(
        verifier.verify(&unknown).await,
        Err(VerifyError::Revoked),
        "a well-formed PAT the server does not know"
    );
}
