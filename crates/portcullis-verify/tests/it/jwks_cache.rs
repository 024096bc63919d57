//! The JWKS cache: fetched once for any number of verifications, and an
//! unknown `kid` causes at most one fetch per `JWKS_REFETCH_INTERVAL` however
//! many requests carry it at once, so a flood of forged tokens cannot make
//! every API hammer Portcullis.

use portcullis_verify::{Verifier, VerifyError};

use crate::fake::{FakePortcullis, Signer};

/// Verifies every token at once, each in its own task; returns the outcomes in order.
async fn verify_concurrently(
    verifier: &Verifier,
    tokens: Vec<String>,
) -> Vec<Result<String, VerifyError>> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let verifier = verifier.clone();
            tokio::spawn(async move { verifier.verify(&token).await.map(|c| c.user_id) })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

fn tokens_of(signer: &Signer, count: usize) -> (Vec<String>, Vec<String>) {
    (0..count).map(|_| signer.token(&[])).unzip()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_jwks_is_fetched_once_for_many_verifications() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.verifier();
    for _ in 0..100 {
        let (token, user_id) = signer.token(&["books:read"]);
        assert_eq!(verifier.verify(&token).await.unwrap().user_id, user_id);
    }
    let (tokens, user_ids) = tokens_of(&signer, 50);
    let outcomes = verify_concurrently(&verifier, tokens).await;
    assert_eq!(outcomes, user_ids.into_iter().map(Ok).collect::<Vec<_>>());
    // A clone shares the cache.
    let (token, _) = signer.token(&[]);
    verifier.clone().verify(&token).await.unwrap();
    assert_eq!(fake.jwks_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_verifications_fetch_the_jwks_once() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let verifier = fake.verifier();
    let (tokens, user_ids) = tokens_of(&signer, 50);
    let outcomes = verify_concurrently(&verifier, tokens).await;
    assert_eq!(outcomes, user_ids.into_iter().map(Ok).collect::<Vec<_>>());
    assert_eq!(fake.jwks_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_unknown_kids_fetches_the_jwks_at_most_once() {
    let known = Signer::new();
    let unknown = Signer::new();
    let fake = FakePortcullis::start(&[&known]).await;

    // On a cold cache: one fetch for the whole burst.
    let verifier = fake.verifier();
    let outcomes = verify_concurrently(&verifier, tokens_of(&unknown, 50).0).await;
    assert!(
        outcomes.iter().all(|o| *o == Err(VerifyError::UnknownKey)),
        "{outcomes:?}"
    );
    assert_eq!(fake.jwks_hits(), 1, "one fetch for 50 unknown kids");

    // Within the interval of that fetch: none.
    for round in 0..2 {
        let outcomes = verify_concurrently(&verifier, tokens_of(&unknown, 50).0).await;
        assert!(
            outcomes.iter().all(|o| *o == Err(VerifyError::UnknownKey)),
            "round {round}: {outcomes:?}"
        );
    }
    assert_eq!(fake.jwks_hits(), 1, "no refetch within the interval");

    // Known keys keep working from the cache meanwhile.
    let (token, user_id) = known.token(&[]);
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, user_id);
    assert_eq!(fake.jwks_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_published_after_the_fetch_waits_for_the_refetch_interval() {
    let first = Signer::new();
    let rotated = Signer::new();
    let fake = FakePortcullis::start(&[&first]).await;
    let verifier = fake.verifier();
    let (token, _) = first.token(&[]);
    verifier.verify(&token).await.unwrap();

    fake.add_key(&rotated);
    let outcomes = verify_concurrently(&verifier, tokens_of(&rotated, 50).0).await;
    assert!(
        outcomes.iter().all(|o| *o == Err(VerifyError::UnknownKey)),
        "{outcomes:?}"
    );
    assert_eq!(fake.jwks_hits(), 1, "at most one fetch per interval");

    // A new verifier (a restarted API) sees the new key at once.
    let (token, user_id) = rotated.token(&[]);
    assert_eq!(
        fake.verifier().verify(&token).await.unwrap().user_id,
        user_id
    );
    assert_eq!(fake.jwks_hits(), 2);
}
