//! Every outcome of an operation beyond refused input is in the OpenAPI
//! document with the media type really sent: conflicts, closed sign-up,
//! throttling, an unreachable database, and each endpoint's success. Each
//! test asserts the statuses it provokes; the app it runs on checks every
//! response against the document ([`crate::app`]). The refusals of
//! malformed input, credentials and permissions are in `conformance.rs`.

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use serde_json::json;

use crate::app::{Call, PASSWORD, TestApp, call, text};

#[tokio::test]
async fn conflicts_closed_sign_up_and_throttling_are_documented() {
    // A minute's wait after the fifth failure, so that the test does not race it.
    let app = TestApp::start_with(|settings| {
        settings.throttle.base_delay = time::Duration::minutes(1);
    })
    .await;
    let taken = app.account("taken@example.com", &[]).await;
    let other = app.account("other@example.com", &[]).await;
    let reply = app
        .send(
            call("POST", "/users")
                .json(json!({"email": "Taken@Example.com", "password": "a fine long passphrase"})),
        )
        .await
        .expect(StatusCode::CONFLICT);
    assert_eq!(reply.problem(), "email-taken");
    let reply = app
        .send(
            call("PATCH", "/me")
                .bearer(&other.access_token)
                .json(json!({"email": taken.email, "current_password": PASSWORD})),
        )
        .await
        .expect(StatusCode::CONFLICT);
    assert_eq!(reply.problem(), "email-taken");

    // The sixth wrong password in a row waits, on the token endpoint and elsewhere.
    for _ in 0..5 {
        let reply = app
            .send(
                call("POST", "/token")
                    .json(json!({"email": taken.email, "password": "wrong password"})),
            )
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert_eq!(reply.oauth_error(), "invalid_grant");
    }
    let reply = app
        .send(
            call("POST", "/token")
                .json(json!({"email": taken.email, "password": "wrong password"})),
        )
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.oauth_error(), "temporarily_unavailable");
    assert!(reply.header(RETRY_AFTER).is_some());
    let reply = app
        .send(
            call("DELETE", "/me")
                .bearer(&taken.access_token)
                .json(json!({"current_password": "wrong password"})),
        )
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.problem(), "too-many-attempts");
    assert!(reply.header(RETRY_AFTER).is_some());
    for request in [
        call("PUT", "/me/password").json(
            json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"}),
        ),
        call("PATCH", "/me")
            .json(json!({"email": "elsewhere@example.com", "current_password": PASSWORD})),
    ] {
        app.send(request.bearer(&taken.access_token))
            .await
            .expect(StatusCode::TOO_MANY_REQUESTS);
    }

    let closed = TestApp::start_with(|settings| {
        settings.signup = portcullis_core::settings::SignupMode::Closed;
    })
    .await;
    let reply = closed
        .send(
            call("POST", "/users")
                .json(json!({"email": "new@example.com", "password": "a fine long passphrase"})),
        )
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(reply.problem(), "signup-closed");
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    let pat = app.personal_token(&admin, &["tokens:introspect"]).await;
    app.close_database().await;
    // What this instance read lately keeps answering for at most the
    // account cache's and the deny list's trust (2 s); then it fails closed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app
        .send(call("GET", "/me").bearer(&admin.access_token))
        .await
        .status
        == StatusCode::OK
    {
        assert!(
            std::time::Instant::now() < deadline,
            "still answering from memory"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let problems = [
        call("GET", "/me").bearer(&admin.access_token),
        call("GET", "/me/sessions").bearer(&admin.access_token),
        call("GET", "/users").bearer(&admin.access_token),
        call("GET", "/roles").bearer(&admin.access_token),
        call("GET", "/me/tokens").bearer(&admin.access_token),
        call("GET", "/auth/verify").bearer(&admin.access_token),
        call("GET", "/auth/verify").bearer(&pat),
        call("POST", "/users")
            .json(json!({"email": "new@example.com", "password": "a fine long passphrase"})),
    ];
    for request in problems {
        let reply = app
            .send(request)
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.problem(), "unavailable");
        assert!(reply.header(RETRY_AFTER).is_some());
    }
    let oauth = [
        call("POST", "/token").json(json!({"email": admin.email, "password": PASSWORD})),
        call("POST", "/token")
            .json(json!({"grant_type": "refresh_token", "refresh_token": admin.refresh_token})),
        call("POST", "/token/revoke").json(json!({"token": admin.refresh_token})),
        call("POST", "/token/introspect")
            .bearer(&pat)
            .json(json!({"token": pat})),
    ];
    for request in oauth {
        let reply = app
            .send(request)
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.oauth_error(), "temporarily_unavailable");
        assert!(reply.header(RETRY_AFTER).is_some());
    }
    let ready = app
        .send(call("GET", "/readyz"))
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text(&ready.json(), "status"), "unavailable");
}

#[tokio::test]
async fn every_success_is_documented_with_its_media_type() {
    let app = TestApp::start().await;
    let admin = app.account("admin@example.com", &["admin"]).await;
    let user = app
        .send(
            call("POST", "/users")
                .json(json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let user_id = text(&user, "id");
    let form = format!(
        "grant_type=password&username=ada%40example.com&password={}",
        PASSWORD.replace(' ', "+")
    );
    let login = || call("POST", "/token").body("application/x-www-form-urlencoded", form.clone());
    let first = app.send(login()).await.expect(StatusCode::OK).json();
    let second = app.send(login()).await.expect(StatusCode::OK).json();
    let access = text(&first, "access_token");
    let as_ada = |request: Call| request.bearer(&access);
    let as_admin = |request: Call| request.bearer(&admin.access_token);
    let refreshed = app
        .send(call("POST", "/token").json(
            json!({"grant_type": "refresh_token", "refresh_token": text(&second, "refresh_token")}),
        ))
        .await
        .expect(StatusCode::OK)
        .json();
    let pat = app
        .send(as_ada(call("POST", "/me/tokens")).json(json!({"name": "ci", "expires_in_days": 30})))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let sessions = app
        .send(as_ada(call("GET", "/me/sessions")))
        .await
        .expect(StatusCode::OK)
        .json();
    let second_session = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .find(|session| session["current"] == false)
        .map(|session| text(session, "id"))
        .expect("the second login's session");
    let client = app
        .send(as_admin(call("POST", "/clients")).json(json!({
            "name": "Bookstore",
            "redirect_uris": ["https://books.example/cb"],
            "type": "confidential",
        })))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let client_path = format!("/clients/{}", text(&client, "client_id"));
    let steps = [
        (as_admin(call("GET", "/clients")), StatusCode::OK),
        (as_admin(call("GET", &client_path)), StatusCode::OK),
        (
            as_admin(call("PATCH", &client_path)).json(json!({"first_party": true})),
            StatusCode::OK,
        ),
        (
            as_admin(call("DELETE", &client_path)),
            StatusCode::NO_CONTENT,
        ),
        (call("GET", "/healthz"), StatusCode::OK),
        (call("GET", "/readyz"), StatusCode::OK),
        (call("GET", "/metrics"), StatusCode::OK),
        (call("GET", "/openapi.json"), StatusCode::OK),
        (call("GET", "/.well-known/jwks.json"), StatusCode::OK),
        (
            call("GET", "/.well-known/openid-configuration"),
            StatusCode::OK,
        ),
        (as_ada(call("GET", "/me")), StatusCode::OK),
        (
            as_ada(call("PATCH", "/me")).json(json!({"name": null})),
            StatusCode::OK,
        ),
        (as_ada(call("GET", "/me/tokens")), StatusCode::OK),
        (as_ada(call("GET", "/auth/verify")), StatusCode::OK),
        (
            as_admin(call("POST", "/token/introspect")).json(json!({"token": access})),
            StatusCode::OK,
        ),
        (
            as_admin(call("POST", "/token/introspect"))
                .body("application/x-www-form-urlencoded", "token=nonsense"),
            StatusCode::OK,
        ),
        (
            as_admin(call("PUT", "/roles/librarian")).json(json!({"permissions": ["books:read"]})),
            StatusCode::OK,
        ),
        (as_admin(call("GET", "/roles")), StatusCode::OK),
        (as_admin(call("GET", "/users?limit=1")), StatusCode::OK),
        (
            as_admin(call("GET", &format!("/users/{user_id}"))),
            StatusCode::OK,
        ),
        (
            as_admin(call("PATCH", &format!("/users/{user_id}")))
                .json(json!({"roles": ["librarian"]})),
            StatusCode::OK,
        ),
        (
            as_admin(call("DELETE", "/roles/librarian")),
            StatusCode::NO_CONTENT,
        ),
        (
            as_ada(call("DELETE", &format!("/me/tokens/{}", text(&pat, "id")))),
            StatusCode::NO_CONTENT,
        ),
        (
            as_ada(call("DELETE", &format!("/me/sessions/{second_session}"))),
            StatusCode::NO_CONTENT,
        ),
        (
            call("POST", "/token/revoke").json(json!({"token": text(&refreshed, "refresh_token")})),
            StatusCode::OK,
        ),
        (
            call("POST", "/token/revoke").body(
                "application/x-www-form-urlencoded",
                "token=nonsense&token_type_hint=refresh_token",
            ),
            StatusCode::OK,
        ),
        (
            as_ada(call("PUT", "/me/password")).json(
                json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"}),
            ),
            StatusCode::NO_CONTENT,
        ),
        (as_ada(call("POST", "/logout")), StatusCode::NO_CONTENT),
        (
            as_admin(call("DELETE", &format!("/users/{user_id}"))),
            StatusCode::NO_CONTENT,
        ),
        (
            as_admin(call("DELETE", "/me/sessions")),
            StatusCode::NO_CONTENT,
        ),
    ];
    for (request, status) in steps {
        app.send(request).await.expect(status);
    }
    let leaving = app.account("leaving@example.com", &[]).await;
    app.send(
        call("DELETE", "/me")
            .bearer(&leaving.access_token)
            .json(json!({"current_password": PASSWORD})),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
}
