//! Introspection: how personal access tokens are verified, and how
//! `verify_with_revocation` learns that a session ended and what the token
//! grants now. Answers are cached for the configured time, never longer (nor
//! past a minute or the token's expiry); a refusal of the verifier's own
//! credential is the server's problem (`Unavailable`), not the token's.
//! Made-up tokens cannot flood the server (calls in flight are bounded, one
//! per token) nor evict real answers (inactive ones are cached apart).

use std::time::Duration;

use portcullis_verify::{
    Claims, ConfigError, DEFAULT_INTROSPECTION_CONCURRENCY, RevocationCheck, Verifier, VerifyError,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::fake::{
    FakePortcullis, ISSUER, PAT_ADA, PAT_UNKNOWN, PAT_WRONG, Signer, active_personal_token,
    personal_token,
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

/// Verifies every token at once, each in its own task; returns the outcomes in order.
async fn verify_concurrently(
    verifier: &Verifier,
    tokens: &[String],
) -> Vec<Result<Claims, VerifyError>> {
    let tasks: Vec<_> = tokens
        .iter()
        .map(|token| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// Finding 12: made-up personal access tokens pass the public checksum, and
/// each used to cost one introspection call, all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspection_calls_in_flight_are_bounded() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.delay_introspection(Duration::from_millis(30));
    let forged: Vec<String> = (0..200).map(|_| personal_token()).collect();

    let outcomes = verify_concurrently(&fake.verifier(), &forged).await;
    assert!(outcomes.iter().all(|o| *o == Err(VerifyError::Revoked)));
    assert_eq!(fake.introspection_hits(), 200);
    let most = fake.most_introspections_in_flight();
    assert!(
        most <= DEFAULT_INTROSPECTION_CONCURRENCY,
        "{most} calls in flight at once"
    );

    let fake = FakePortcullis::start(&[&signer]).await;
    fake.delay_introspection(Duration::from_millis(30));
    let verifier = fake
        .builder()
        .introspection_cache(Duration::ZERO)
        .introspection_concurrency(2)
        .build();
    let outcomes = verify_concurrently(&verifier, &forged[..40]).await;
    assert!(outcomes.iter().all(|o| *o == Err(VerifyError::Revoked)));
    assert_eq!(fake.most_introspections_in_flight(), 2);
}

/// Finding 12: a request that cannot get a turn within the fetch timeout is
/// answered `503` instead of queueing without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_cannot_get_a_turn_is_unavailable() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.delay_introspection(Duration::from_millis(400));
    let verifier = fake
        .builder()
        .introspection_concurrency(1)
        .fetch_timeout(Duration::from_millis(250))
        .build();
    let forged: Vec<String> = (0..3).map(|_| personal_token()).collect();
    let started = std::time::Instant::now();
    let outcomes = verify_concurrently(&verifier, &forged).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().is_err_and(VerifyError::is_unavailable)),
        "{outcomes:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "bounded waits");
}

/// Finding 12: concurrent requests with one token share one call (single flight).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_token_share_one_call() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.delay_introspection(Duration::from_millis(200));
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(PAT_ADA.as_str(), active_personal_token(&user_id, ""));
    let forged = personal_token();
    // The introspection cache is off: only the sharing saves calls.
    let verifier = fake.verifier();

    let outcomes = verify_concurrently(&verifier, &vec![PAT_ADA.clone(); 50]).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().unwrap().user_id == user_id)
    );
    assert_eq!(fake.introspection_hits_for(PAT_ADA.as_str()), 1);

    let outcomes = verify_concurrently(&verifier, &vec![forged.clone(); 50]).await;
    assert!(outcomes.iter().all(|o| *o == Err(VerifyError::Revoked)));
    assert_eq!(fake.introspection_hits_for(&forged), 1);

    // Once answered, the next request asks again (the cache is off).
    verifier.verify(PAT_ADA.as_str()).await.unwrap();
    assert_eq!(fake.introspection_hits_for(PAT_ADA.as_str()), 2);
}

/// Finding 12: 10,000 answers used to fill one cache, which was then cleared
/// whole, so a flood of made-up tokens evicted every real answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_inactive_answers_does_not_evict_active_ones() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(PAT_ADA.as_str(), active_personal_token(&user_id, ""));
    let verifier = fake
        .builder()
        .introspection_cache(Duration::from_secs(60))
        .build();
    verifier.verify(PAT_ADA.as_str()).await.unwrap();

    let forged: Vec<String> = (0..10_100).map(|_| personal_token()).collect();
    for batch in forged.chunks(500) {
        let outcomes = verify_concurrently(&verifier, batch).await;
        assert!(outcomes.iter().all(|o| *o == Err(VerifyError::Revoked)));
    }
    assert_eq!(fake.introspection_hits(), 1 + forged.len());

    assert_eq!(
        verifier.verify(PAT_ADA.as_str()).await.unwrap().user_id,
        user_id
    );
    assert_eq!(
        fake.introspection_hits_for(PAT_ADA.as_str()),
        1,
        "the active answer is still cached"
    );
    // Inactive answers are cached too (in their own, bounded, cache).
    let last = forged.last().unwrap();
    assert_eq!(verifier.verify(last).await, Err(VerifyError::Revoked));
    assert_eq!(fake.introspection_hits_for(last), 1);
}

/// Finding 16: the cache lifetime used to be whatever was configured, so an
/// answer could outlive the token it was about.
#[tokio::test]
async fn an_answer_is_not_reused_past_the_tokens_expiry() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let user_id = uuid::Uuid::now_v7().to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut expiring_now = active_personal_token(&user_id, "");
    expiring_now["exp"] = json!(now);
    fake.answer(PAT_ADA.as_str(), expiring_now);
    let mut expiring_later = active_personal_token(&user_id, "");
    expiring_later["exp"] = json!(now + 600);
    fake.answer(PAT_UNKNOWN.as_str(), expiring_later);
    let verifier = fake
        .builder()
        .introspection_cache(Duration::from_secs(3600))
        .build();

    for _ in 0..3 {
        assert_eq!(
            verifier.verify(PAT_ADA.as_str()).await.unwrap().user_id,
            user_id
        );
        assert_eq!(
            verifier.verify(PAT_UNKNOWN.as_str()).await.unwrap().user_id,
            user_id
        );
    }
    assert_eq!(
        fake.introspection_hits_for(PAT_ADA.as_str()),
        3,
        "expires within the second: never reused"
    );
    assert_eq!(fake.introspection_hits_for(PAT_UNKNOWN.as_str()), 1);

    // An answer that says active after the token's expiry is not believed.
    let mut expired = active_personal_token(&user_id, "");
    expired["exp"] = json!(now - 120);
    fake.answer(PAT_ADA.as_str(), expired);
    assert_eq!(
        verifier.verify(PAT_ADA.as_str()).await,
        Err(VerifyError::Expired)
    );
}

/// Finding 15: `verify_with_revocation` used to throw the answer away and
/// return the token's own claims, so a permission taken away still passed.
#[tokio::test]
async fn a_revocation_check_returns_the_servers_current_permissions() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.verifier();
    let (token, user_id) = signer.token(&["books:download", "books:read"]);
    fake.answer(
        &token,
        json!({ "active": true, "sub": user_id, "scope": "books:read", "roles": ["reader"] }),
    );
    let claims = verifier.verify_with_revocation(&token).await.unwrap();
    assert_eq!(claims.permissions, ["books:read"]);
    assert_eq!(claims.roles, ["reader"]);
    assert!(claims.session_id.is_some(), "the token's own session");
    // Locally, the token still carries what it was issued with.
    let local = verifier.verify(&token).await.unwrap();
    assert_eq!(local.permissions, ["books:download", "books:read"]);

    // An answer about another user is not believed.
    fake.answer(
        &token,
        json!({ "active": true, "sub": "someone-else", "scope": "books:read" }),
    );
    let outcome = verifier.verify_with_revocation(&token).await;
    assert!(
        outcome.as_ref().is_err_and(VerifyError::is_unavailable),
        "{outcome:?}"
    );
}

/// Finding 15: an access token without `sid` used to skip the revocation
/// check and pass.
#[tokio::test]
async fn an_access_token_without_a_session_is_refused_when_revocation_is_asked() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.verifier();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = signer.token_with_claims(&json!({
        "iss": ISSUER, "aud": ISSUER, "sub": "u-1", "iat": now, "exp": now + 600,
        "scope": "books:download",
    }));
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, "u-1");
    assert_eq!(
        verifier.verify_with_revocation(&token).await,
        Err(VerifyError::NoSessionToCheck)
    );
    assert_eq!(fake.introspection_hits(), 0);
}

/// Finding 15: with `RevocationCheck::EveryRequest`, plain `verify` checks
/// revocation too, and takes permissions from the answer.
#[tokio::test]
async fn every_request_mode_checks_revocation_in_verify() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake
        .builder()
        .introspection_cache(Duration::ZERO)
        .revocation_check(RevocationCheck::EveryRequest)
        .build();
    let (live, live_id) = signer.token(&["books:download"]);
    let (revoked, _) = signer.token(&["books:download"]);
    fake.answer(
        &live,
        json!({ "active": true, "sub": live_id, "scope": "" }),
    );
    let claims = verifier.verify(&live).await.unwrap();
    assert_eq!(claims.user_id, live_id);
    assert!(claims.permissions.is_empty(), "the server's current scope");
    assert_eq!(verifier.verify(&revoked).await, Err(VerifyError::Revoked));
    assert_eq!(fake.introspection_hits(), 2);

    // It needs introspection: refused at build time.
    let refused = Verifier::builder(&fake.base)
        .revocation_check(RevocationCheck::EveryRequest)
        .try_build();
    assert!(
        matches!(
            refused,
            Err(ConfigError::RevocationCheckWithoutIntrospection)
        ),
        "{refused:?}"
    );
}

#[test]
fn the_introspection_credential_is_never_printed() {
    let builder = Verifier::builder("https://auth.example.test").introspection("pat_secret_value");
    let printed = format!("{builder:?}");
    assert!(!printed.contains("pat_secret_value"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
}
