//! Finding 16: every request to Portcullis is bounded by the crate, whatever
//! HTTP client the application configured: a timeout, no redirects (a `307`
//! would re-post the user's token elsewhere), and a leeway that cannot be
//! made large enough to accept long-expired tokens.

use std::time::Duration;

use portcullis_verify::{MAX_LEEWAY, VerifyError};
use time::OffsetDateTime;

use crate::fake::{FakePortcullis, PAT_ADA, Signer, active_personal_token};

#[tokio::test]
async fn a_hanging_server_is_cut_off_by_the_fetch_timeout_whatever_the_client_says() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.delay_jwks(Duration::from_secs(30));
    fake.delay_introspection(Duration::from_secs(30));
    let verifier = fake
        .builder()
        .configure_http_client(|client| client.timeout(Duration::from_secs(3600)))
        .fetch_timeout(Duration::from_millis(300))
        .build();
    let (token, _) = signer.token(&[]);
    for (case, token) in [
        ("the JWKS", token.as_str()),
        ("introspection", PAT_ADA.as_str()),
    ] {
        let outcome = tokio::time::timeout(Duration::from_secs(3), verifier.verify(token))
            .await
            .unwrap_or_else(|_| panic!("{case}: still waiting after 3 s"));
        assert!(
            outcome.as_ref().is_err_and(VerifyError::is_unavailable),
            "{case}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(PAT_ADA.as_str(), active_personal_token(&user_id, ""));
    fake.redirect_introspection();
    let outcome = fake.verifier().verify(PAT_ADA.as_str()).await;
    assert!(
        outcome.as_ref().is_err_and(VerifyError::is_unavailable),
        "{outcome:?}"
    );
    assert_eq!(fake.introspection_hits(), 1);
    assert!(
        fake.elsewhere_bodies().is_empty(),
        "the token was re-posted: {:?}",
        fake.elsewhere_bodies()
    );
    // Nor with a client the application configured to follow them.
    let verifier = fake
        .builder()
        .configure_http_client(|client| {
            client.redirect(portcullis_verify::reqwest::redirect::Policy::limited(10))
        })
        .build();
    assert!(verifier.verify(PAT_ADA.as_str()).await.is_err());
    assert!(fake.elsewhere_bodies().is_empty());
}

#[tokio::test]
async fn the_leeway_is_at_most_thirty_seconds() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.builder().leeway(Duration::from_secs(3600)).build();
    let now = OffsetDateTime::now_utc();
    // Tokens live 15 minutes: issued 15 min 50 s ago, expired 50 s ago.
    let (expired, _) = signer.token_at(&[], now - time::Duration::seconds(15 * 60 + 50));
    assert_eq!(verifier.verify(&expired).await, Err(VerifyError::Expired));
    // Expired 10 s ago: within the clamped leeway.
    let (recent, user_id) = signer.token_at(&[], now - time::Duration::seconds(15 * 60 + 10));
    assert_eq!(verifier.verify(&recent).await.unwrap().user_id, user_id);
    assert_eq!(MAX_LEEWAY, Duration::from_secs(30));
}
