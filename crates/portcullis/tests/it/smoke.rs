//! The README's five-minute tour, step by step.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestServer, text};

#[tokio::test]
async fn tour_sign_up_log_in_me_refresh_log_out() {
    let server = TestServer::spawn().await;
    let user = server.sign_up("Alice@Example.com").await;
    assert_eq!(user["email"], "alice@example.com");

    let tokens = server.login("alice@example.com", PASSWORD).await;
    let access = text(&tokens, "access_token");
    let me = server.get_authorized("/me", &access).await;
    assert_eq!(me.status(), StatusCode::OK);

    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    let logout = server.logout(&access).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = server.get_authorized("/me", &access).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}
