//! The JWKS cache: fetched once for any number of verifications, and an
//! unknown `kid` causes at most one fetch per `JWKS_REFETCH_INTERVAL` however
//! many requests carry it at once, so a flood of forged tokens cannot make
//! every API hammer Portcullis. Meanwhile a token that may carry a key
//! published since is told to try again (`503`), not refused; the
//! background refresh drops withdrawn keys; unusable keys are skipped.

use std::time::{Duration, Instant};

use portcullis_verify::{JWKS_REFETCH_INTERVAL, Verifier, VerifyError};
use serde_json::json;
use time::OffsetDateTime;

use crate::fake::{FakePortcullis, ISSUER, Signer};

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
    let issued_before = || OffsetDateTime::now_utc() - time::Duration::seconds(10);
    let old_tokens = |count| -> Vec<String> {
        (0..count)
            .map(|_| unknown.token_at(&[], issued_before()).0)
            .collect()
    };

    // On a cold cache: one fetch for the whole burst, which settles it.
    let verifier = fake.verifier();
    let outcomes = verify_concurrently(&verifier, old_tokens(50)).await;
    assert!(
        outcomes.iter().all(|o| *o == Err(VerifyError::UnknownKey)),
        "{outcomes:?}"
    );
    assert_eq!(fake.jwks_hits(), 1, "one fetch for 50 unknown kids");

    // Within the interval of that fetch: none. Tokens issued before it are
    // refused (their key would have been in it); tokens issued since may
    // carry a key published since, so they are told to come back.
    for round in 0..2 {
        let outcomes = verify_concurrently(&verifier, old_tokens(50)).await;
        assert!(
            outcomes.iter().all(|o| *o == Err(VerifyError::UnknownKey)),
            "round {round}: {outcomes:?}"
        );
        let outcomes = verify_concurrently(&verifier, tokens_of(&unknown, 50).0).await;
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Err(VerifyError::KeyNotYetKnown { .. }))),
            "round {round}: {outcomes:?}"
        );
    }
    assert_eq!(fake.jwks_hits(), 1, "no refetch within the interval");

    // Known keys keep working from the cache meanwhile.
    let (token, user_id) = known.token(&[]);
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, user_id);
    assert_eq!(fake.jwks_hits(), 1);
}

/// Finding 14: a rotation used to give up to 30 s of `401` for valid tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_published_after_the_fetch_is_try_again_later_until_the_refetch() {
    let first = Signer::new();
    let rotated = Signer::new();
    let fake = FakePortcullis::start(&[&first]).await;
    let verifier = fake.verifier();
    let (token, _) = first.token(&[]);
    verifier.verify(&token).await.unwrap();

    fake.add_key(&rotated);
    let outcomes = verify_concurrently(&verifier, tokens_of(&rotated, 50).0).await;
    for outcome in &outcomes {
        let Err(error @ VerifyError::KeyNotYetKnown { retry_after }) = outcome else {
            panic!("{outcome:?} should be KeyNotYetKnown");
        };
        assert!(error.is_unavailable(), "a 503, not a 401");
        assert!(
            *retry_after <= JWKS_REFETCH_INTERVAL
                && *retry_after > JWKS_REFETCH_INTERVAL - Duration::from_secs(10),
            "{retry_after:?}"
        );
    }
    assert_eq!(fake.jwks_hits(), 1, "at most one fetch per interval");

    // A new verifier (a restarted API) sees the new key at once.
    let (token, user_id) = rotated.token(&[]);
    assert_eq!(
        fake.verifier().verify(&token).await.unwrap().user_id,
        user_id
    );
    assert_eq!(fake.jwks_hits(), 2);
}

/// Polls `verify(token)` until `done` holds for its outcome, for at most 5 s.
async fn outcome_once(
    verifier: &Verifier,
    token: &str,
    done: impl Fn(&Result<String, VerifyError>) -> bool,
) -> Result<String, VerifyError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let outcome = verifier.verify(token).await.map(|claims| claims.user_id);
        if done(&outcome) || Instant::now() > deadline {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Finding 13: keys used to be fetched only for an unknown `kid`, so a key
/// withdrawn from the JWKS (say, a compromised one) verified for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_background_refresh_drops_withdrawn_keys_and_picks_up_new_ones() {
    let compromised = Signer::new();
    let next = Signer::new();
    let fake = FakePortcullis::start(&[&compromised]).await;
    fake.delay_jwks(Duration::from_millis(10));
    let verifier = fake
        .builder()
        .jwks_refresh_interval(Duration::from_millis(200))
        .build();
    let issued_before = OffsetDateTime::now_utc() - time::Duration::seconds(10);
    let (stolen, user_id) = compromised.token_at(&[], issued_before);
    assert_eq!(verifier.verify(&stolen).await.unwrap().user_id, user_id);

    // The operator withdraws the compromised key and publishes the next one.
    fake.set_keys(vec![next.jwk()]);
    let outcome = outcome_once(&verifier, &stolen, Result::is_err).await;
    assert_eq!(outcome, Err(VerifyError::UnknownKey), "withdrawn, so 401");
    let (token, user_id) = next.token(&[]);
    let hits = fake.jwks_hits();
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, user_id);
    assert_eq!(fake.jwks_hits(), hits, "the refresh had fetched it already");

    // The refresh goes on; it stops with the last clone of the verifier.
    let before = fake.jwks_hits();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(fake.jwks_hits() >= before + 2, "refreshing every 200 ms");
    drop(verifier);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_drop = fake.jwks_hits();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        fake.jwks_hits(),
        after_drop,
        "no refresh without a verifier"
    );
}

/// Finding 16: one key without `kid` used to fail the whole JWKS (every
/// token `503`), `use` and `alg` were ignored, and a duplicated `kid` passed
/// with whichever key came last.
#[tokio::test]
async fn unusable_keys_are_skipped_and_a_kid_naming_two_keys_trusts_neither() {
    let good = Signer::new();
    let for_encryption = Signer::new();
    let for_rsa = Signer::new();
    let twice = Signer::new();
    let impostor = Signer::new();
    let fake = FakePortcullis::start(&[]).await;
    let mut without_kid = Signer::new().jwk();
    without_kid.as_object_mut().unwrap().remove("kid");
    let mut encryption = for_encryption.jwk();
    encryption["use"] = json!("enc");
    let mut rsa = for_rsa.jwk();
    rsa["alg"] = json!("RS256");
    let mut impostor_jwk = impostor.jwk();
    impostor_jwk["kid"] = json!(twice.kid());
    fake.set_keys(vec![
        without_kid,
        json!({ "kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB" }),
        encryption,
        rsa,
        twice.jwk(),
        good.jwk(),
        impostor_jwk,
    ]);
    let verifier = fake.verifier();
    let issued_before = OffsetDateTime::now_utc() - time::Duration::seconds(10);

    let (token, user_id) = good.token(&[]);
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, user_id);
    let claims = json!({
        "iss": ISSUER, "aud": ISSUER, "sub": "u-1", "sid": "s-1",
        "iat": issued_before.unix_timestamp(), "exp": issued_before.unix_timestamp() + 600,
    });
    for (case, token) in [
        ("use: enc", for_encryption.token_at(&[], issued_before).0),
        ("alg: RS256", for_rsa.token_at(&[], issued_before).0),
        (
            "a kid naming two keys, the first",
            twice.token_at(&[], issued_before).0,
        ),
        (
            "a kid naming two keys, the second",
            impostor.token_naming_kid(twice.kid(), &claims),
        ),
    ] {
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::UnknownKey),
            "{case}"
        );
    }
    // Both orders give the same answer.
    let mut reversed_twice = twice.jwk();
    let mut reversed_impostor = impostor.jwk();
    reversed_impostor["kid"] = json!(twice.kid());
    std::mem::swap(&mut reversed_twice, &mut reversed_impostor);
    fake.set_keys(vec![good.jwk(), reversed_twice, reversed_impostor]);
    let verifier = fake.verifier();
    assert_eq!(
        verifier
            .verify(&impostor.token_naming_kid(twice.kid(), &claims))
            .await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(
        verifier.verify(&twice.token_at(&[], issued_before).0).await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(fake.jwks_hits(), 2);
}

/// Finding 16: the JWKS body used to be read whatever its size.
#[tokio::test]
async fn an_oversized_jwks_is_refused_as_unavailable() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let padding = "x".repeat(1024 * 1024);
    fake.serve_jwks_body(Some(
        json!({ "keys": [signer.jwk()], "padding": padding }).to_string(),
    ));
    let (token, _) = signer.token(&[]);
    let outcome = fake.verifier().verify(&token).await;
    assert!(
        outcome.as_ref().is_err_and(VerifyError::is_unavailable),
        "{outcome:?}"
    );
    // The same keys in a body of ordinary size verify.
    fake.serve_jwks_body(None);
    assert!(fake.verifier().verify(&token).await.is_ok());
}
