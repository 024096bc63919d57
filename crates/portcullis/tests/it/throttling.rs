//! Login throttling on `POST /token`: per account and per client address,
//! with a back-off that grows, and the same treatment for emails that have
//! no account (so throttling never reveals which emails exist).
//!
//! Each test picks the throttling flags it needs. A long base delay (60s)
//! makes "still locked" certain where the test never waits for the lock to
//! end; tests that wait use delays of one or two seconds and poll, so the
//! suite stays fast.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{PASSWORD, TestServer, assert_oauth_error};

const WRONG: &str = "not the right password at all";

/// `count` wrong passwords for `identifier`, each refused as `invalid_grant`.
async fn fail(server: &TestServer, identifier: &str, count: usize) {
    for n in 1..=count {
        let response = server.password_grant(identifier, WRONG).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "failure {n} for {identifier}"
        );
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
}

/// Asserts a throttled answer: `429`, `Retry-After` in whole seconds, an
/// OAuth error body. Returns the `Retry-After` seconds and the body.
async fn assert_throttled(response: Response, case: &str) -> (u64, Value) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{case}");
    assert_eq!(response.headers()["cache-control"], "no-store", "{case}");
    let retry_after = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{case}: no Retry-After"))
        .to_str()
        .unwrap()
        .to_owned();
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("{case}: Retry-After {retry_after:?} is not whole seconds"));
    assert!(seconds >= 1, "{case}: Retry-After {seconds}");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{case}: {body}"
    );
    assert!(body["error_description"].is_string(), "{case}: {body}");
    (seconds, body)
}

/// A server that locks an account after five failures for `base_delay` (and
/// allows an address far more), where alice has an account.
async fn server_with_alice(base_delay: &str) -> TestServer {
    let server = TestServer::spawn_with(&[
        "--throttle-base-delay",
        base_delay,
        "--throttle-ip-attempts",
        "1000",
    ])
    .await;
    server.sign_up("alice@example.com").await;
    server
}

/// Asserts that alice's right password is throttled; see [`assert_throttled`].
async fn assert_alice_throttled(server: &TestServer, case: &str) -> (u64, Value) {
    assert_throttled(
        server.password_grant("alice@example.com", PASSWORD).await,
        case,
    )
    .await
}

/// Retries `password` every 50 ms while the answer is `429`; returns the
/// first other answer. Fails after `limit`.
async fn retry_while_throttled(
    server: &TestServer,
    identifier: &str,
    password: &str,
    limit: Duration,
) -> Response {
    let deadline = Instant::now() + limit;
    loop {
        let response = server.password_grant(identifier, password).await;
        if response.status() != StatusCode::TOO_MANY_REQUESTS {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "{identifier} is still throttled after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    // 2s rather than 1s: the lock must be certain for the attempt right after
    // the fifth failure, whichever part of a second that failure falls in.
    let server = server_with_alice("2s").await;
    fail(&server, "alice@example.com", 5).await;

    let (retry_after, _) = assert_alice_throttled(&server, "the right password, locked").await;
    assert!(
        retry_after <= 2,
        "Retry-After {retry_after} is longer than the base delay"
    );
    assert_throttled(
        server.password_grant("alice@example.com", WRONG).await,
        "a wrong password, locked",
    )
    .await;

    server.advance_clock(time::Duration::seconds(i64::try_from(retry_after).unwrap()));
    let response = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "after waiting Retry-After seconds"
    );
}

#[tokio::test]
async fn the_lock_lasts_the_whole_base_delay_even_late_in_a_second() {
    let server = server_with_alice("1s").await;
    fail(&server, "alice@example.com", 4).await;
    // The fifth failure lands late in a wall-clock second: a lock that counted
    // from the start of that second would end a few milliseconds later.
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    let wait = if millis < 850 {
        850 - millis
    } else {
        1850 - millis
    };
    tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
    let fifth_failure_sent = Instant::now();
    fail(&server, "alice@example.com", 1).await;

    assert_alice_throttled(&server, "right after the fifth failure").await;
    let response = retry_while_throttled(
        &server,
        "alice@example.com",
        PASSWORD,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let locked_for = fifth_failure_sent.elapsed();
    assert!(
        locked_for >= Duration::from_millis(900),
        "a 1s back-off let a login through after {locked_for:?}"
    );
}

#[tokio::test]
async fn a_locked_account_leaves_other_accounts_alone() {
    let server = server_with_alice("60s").await;
    server.sign_up("bob@example.com").await;
    fail(&server, "alice@example.com", 5).await;

    assert_alice_throttled(&server, "alice is locked").await;
    let bob = server.password_grant("bob@example.com", PASSWORD).await;
    assert_eq!(
        bob.status(),
        StatusCode::OK,
        "bob logs in while alice is locked"
    );
}

#[tokio::test]
async fn failures_from_one_address_lock_the_address() {
    let server = TestServer::spawn_with(&[
        "--throttle-ip-attempts",
        "3",
        "--throttle-account-attempts",
        "1000",
        "--throttle-base-delay",
        "60s",
    ])
    .await;
    server.sign_up("alice@example.com").await;
    for email in [
        "nobody1@example.com",
        "nobody2@example.com",
        "nobody3@example.com",
    ] {
        fail(&server, email, 1).await;
    }

    assert_throttled(
        server.password_grant("nobody4@example.com", WRONG).await,
        "a fourth failure from 127.0.0.1",
    )
    .await;
    assert_throttled(
        server.password_grant("nobody5@example.com", WRONG).await,
        "a fifth failure from 127.0.0.1",
    )
    .await;
    assert_alice_throttled(&server, "any login from the locked address").await;
}

#[tokio::test]
async fn the_back_off_grows_with_each_failure_after_the_lock() {
    let server = server_with_alice("1s").await;
    fail(&server, "alice@example.com", 5).await;

    let mut waits = Vec::new();
    for failure in [6, 7] {
        let response =
            retry_while_throttled(&server, "alice@example.com", WRONG, Duration::from_secs(5))
                .await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
        let case = format!("right after failure {failure}");
        let (retry_after, _) = assert_alice_throttled(&server, &case).await;
        waits.push(retry_after);
    }
    assert!(
        waits[1] > waits[0],
        "Retry-After after failures 6 and 7: {waits:?}"
    );
}

#[tokio::test]
async fn with_throttling_off_failures_are_never_throttled() {
    let server = TestServer::spawn_with(&["--throttle", "false"]).await;
    server.sign_up("alice@example.com").await;
    fail(&server, "alice@example.com", 20).await;
    let response = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_emails_are_throttled_like_known_ones() {
    let server = server_with_alice("60s").await;
    let mut answers = Vec::new();
    for identifier in ["alice@example.com", "nobody@example.com", "not-an-email"] {
        let mut refusals = Vec::new();
        for _ in 0..5 {
            let response = server.password_grant(identifier, WRONG).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{identifier}");
            refusals.push(response.bytes().await.unwrap());
        }
        let (_, body) =
            assert_throttled(server.password_grant(identifier, WRONG).await, identifier).await;
        answers.push((identifier, refusals, body["error"].clone()));
    }
    let (known, known_refusals, known_error) = &answers[0];
    for (identifier, refusals, error) in &answers[1..] {
        assert_eq!(
            refusals, known_refusals,
            "{identifier} is refused exactly like {known}"
        );
        assert_eq!(
            error, known_error,
            "{identifier} is throttled exactly like {known}"
        );
    }
}

#[tokio::test]
async fn spellings_of_one_email_share_one_count() {
    let server = server_with_alice("60s").await;
    for spelling in [
        "alice@example.com",
        "Alice@Example.com",
        " alice@example.com ",
        "ALICE@EXAMPLE.COM",
        "alice@example.com",
    ] {
        fail(&server, spelling, 1).await;
    }
    assert_alice_throttled(&server, "five failures under five spellings").await;
}

#[tokio::test]
async fn a_successful_login_resets_the_account_count() {
    let server = server_with_alice("60s").await;
    fail(&server, "alice@example.com", 4).await;
    let response = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);

    fail(&server, "alice@example.com", 4).await;
    let response = server.password_grant("alice@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "four failures since the last success are still free"
    );
}

/// Guesses sent all at once cannot all pass the check before any failure is
/// counted: each attempt is counted before its password is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_get_no_more_tries_than_sequential_ones() {
    let server = TestServer::spawn_with(&["--throttle-ip-attempts", "1000"]).await;
    server.sign_up("alice@example.com").await;
    let server = std::sync::Arc::new(server);
    let guesses: Vec<_> = (0..20)
        .map(|guess| {
            let server = std::sync::Arc::clone(&server);
            tokio::spawn(async move {
                server
                    .password_grant("alice@example.com", &format!("wrong guess number {guess}"))
                    .await
                    .status()
            })
        })
        .collect();
    let mut refused_as_wrong = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::BAD_REQUEST => refused_as_wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        refused_as_wrong, 5,
        "exactly the five free attempts were checked"
    );
}

/// Issue 10, finding 10e: refresh tokens that are not ours (malformed, of
/// an unknown session, or with a wrong secret) count against the client's
/// address (in the process's memory), and once its free attempts are spent
/// every refresh from it is refused with 429, a real one included, while
/// logins are counted apart.
#[tokio::test]
async fn made_up_refresh_tokens_lock_their_address_out_of_refreshing() {
    let server = TestServer::spawn_with(&[
        "--throttle-ip-attempts",
        "3",
        "--throttle-base-delay",
        "60s",
    ])
    .await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    // One character changed: at 2, in the session id (an unknown session);
    // at 40, in the secret (the session's own chain, its HMAC checked).
    let altered_at = |at: usize| {
        let mut altered = refresh_token.to_owned();
        let replacement = if &altered[at..=at] == "A" { "B" } else { "A" };
        altered.replace_range(at..=at, replacement);
        altered
    };
    for (case, made_up) in [
        ("not a refresh token", "made-up-refresh-token".to_owned()),
        ("an unknown session", altered_at(2)),
        ("a wrong secret", altered_at(40)),
    ] {
        let reply = server.refresh(&made_up).await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_oauth_error(reply, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    assert_throttled(
        server.refresh("made-up-refresh-token-4").await,
        "a fourth made-up refresh token",
    )
    .await;
    assert_throttled(
        server.refresh(refresh_token).await,
        "a real refresh token from the locked address",
    )
    .await;
    assert_eq!(
        server
            .password_grant("alice@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "logins are counted apart"
    );
}
