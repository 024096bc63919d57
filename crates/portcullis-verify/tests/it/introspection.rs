//! Introspection: how personal access tokens are verified, and how
//! `verify_with_revocation` learns that a session ended. Answers are cached
//! for the configured time, never longer; a refusal of the verifier's own
//! credential is the server's problem (`Unavailable`), not the token's.

use std::time::Duration;

use portcullis_verify::{Claims, Verifier, VerifyError};
use serde_json::json;

use crate::fake::{
    FakePortcullis, ISSUER, PAT_ADA, PAT_UNKNOWN, PAT_WRONG, Signer, active_personal_token,
};

#[tokio::test]
async fn a_personal_token_is_what_introspection_says() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(
        PAT_ADA.as_str(),
        active_personal_token(&user_id, "books:download books:read"),
    );
    let verifier = fake.verifier();
    assert_eq!(
        verifier.verify(PAT_ADA.as_str()).await,
        Ok(Claims {
            user_id,
            session_id: None,
            roles: vec!["member".to_owned()],
            permissions: vec!["books:download".to_owned(), "books:read".to_owned()],
            expires_at: None,
        })
    );
    assert_eq!(
        verifier.verify(PAT_UNKNOWN.as_str()).await,
        Err(VerifyError::Revoked)
    );
    assert_eq!(fake.introspection_hits(), 2);
    // An access token is verified locally, without asking.
    let (token, _) = signer.token(&[]);
    verifier.verify(&token).await.unwrap();
    assert_eq!(fake.introspection_hits(), 2);
}

#[tokio::test]
async fn answers_are_cached_for_the_configured_time_only() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(PAT_ADA.as_str(), active_personal_token(&user_id, ""));
    let verifier = Verifier::builder(&fake.base)
        .issuer(ISSUER)
        .introspection(crate::fake::INTROSPECTION_CREDENTIAL)
        .introspection_cache(Duration::from_millis(300))
        .build();
    for _ in 0..10 {
        assert_eq!(
            verifier.verify(PAT_ADA.as_str()).await.unwrap().user_id,
            user_id
        );
    }
    assert_eq!(fake.introspection_hits(), 1, "cached");

    // Revoked meanwhile: seen once the cached answer is older than the cache time.
    fake.answer(PAT_ADA.as_str(), json!({ "active": false }));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        verifier.verify(PAT_ADA.as_str()).await,
        Err(VerifyError::Revoked)
    );
    assert_eq!(fake.introspection_hits(), 2);
}

#[tokio::test]
async fn verify_with_revocation_asks_about_sessions_only() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.verifier();
    let (live, live_id) = signer.token(&[]);
    let (ended, _) = signer.token(&[]);
    fake.answer(
        &live,
        json!({ "active": true, "sub": live_id, "sid": "s", "scope": "" }),
    );

    assert_eq!(
        verifier
            .verify_with_revocation(&live)
            .await
            .unwrap()
            .user_id,
        live_id
    );
    assert_eq!(
        verifier.verify_with_revocation(&ended).await,
        Err(VerifyError::Revoked)
    );
    assert!(
        verifier.verify(&ended).await.is_ok(),
        "locally it is still valid"
    );
    assert_eq!(fake.introspection_hits(), 2);
    // A token refused locally is never sent to introspection.
    assert_eq!(
        verifier.verify_with_revocation("not-a-token").await,
        Err(VerifyError::Malformed)
    );
    assert_eq!(fake.introspection_hits(), 2);
}

#[tokio::test]
async fn a_refused_introspection_credential_is_unavailable_not_a_bad_token() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(PAT_ADA.as_str(), active_personal_token(&user_id, ""));
    let verifier = Verifier::builder(&fake.base)
        .issuer(ISSUER)
        .introspection(PAT_WRONG.as_str())
        .build();
    let outcome = verifier.verify(PAT_ADA.as_str()).await;
    assert!(
        outcome.as_ref().is_err_and(VerifyError::is_unavailable),
        "{outcome:?}"
    );
    let without = Verifier::builder(&fake.base).issuer(ISSUER).build();
    assert_eq!(
        without.verify(PAT_ADA.as_str()).await,
        Err(VerifyError::IntrospectionNotConfigured)
    );
}
