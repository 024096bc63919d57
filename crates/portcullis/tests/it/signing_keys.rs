//! Signing keys and the token commands of the command line (API.md "Command
//! line"): the first start makes exactly one key, of the access-token
//! algorithm; a key of another algorithm (EdDSA, ES256, RS256) is made when
//! first needed (an id token, `keys rotate`), once for every instance; the
//! JWKS lists each with its members and its RFC 7638 thumbprint as `kid`;
//! `keys list` and `keys rotate` print what the contract says; a rotation
//! makes new tokens use the new keys while tokens signed before keep
//! verifying and the JWKS lists both; and `token verify` prints the claims
//! of a good token and refuses a bad or revoked one with exit code 1.
//!
//! A running server reloads the keys every half second, so a change made
//! from the command line counts within a second.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use portcullis_core::keys::SigningAlgorithm;
use serde_json::json;

use crate::helpers::{
    ALGORITHMS, PASSWORD, TestDatabase, TestServer, assert_exit, jwt_claims, jwt_header, jwt_part,
    kid_of_algorithm, now_unix, rotated_keys, sorted_keys, stderr, stdout, text,
    with_signature_changed,
};

fn kid_of(access_token: &str) -> String {
    text(&jwt_header(access_token), "kid")
}

/// One line of `keys list`: kid, algorithm, state, created.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyLine {
    kid: String,
    algorithm: String,
    state: String,
    created_unix: i64,
}

fn keys_list(server: &TestServer) -> Vec<KeyLine> {
    let output = server.cli(&["keys", "list"], None);
    assert_exit(&output, 0, "keys list");
    stdout(&output)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 4, "keys list line {line:?}");
            assert!(ALGORITHMS.contains(&fields[1]), "{line:?}");
            KeyLine {
                kid: fields[0].to_owned(),
                algorithm: fields[1].to_owned(),
                state: fields[2].to_owned(),
                created_unix: unix_seconds(fields[3]),
            }
        })
        .collect()
}

/// `(kid, algorithm)` of the keys in `state`.
fn in_state(keys: &[KeyLine], state: &str) -> Vec<(String, String)> {
    keys.iter()
        .filter(|key| key.state == state)
        .map(|key| (key.kid.clone(), key.algorithm.clone()))
        .collect()
}

/// The kids of `keys`, sorted.
fn sorted_kids<'a>(keys: impl IntoIterator<Item = &'a (String, String)>) -> Vec<String> {
    let mut kids: Vec<String> = keys.into_iter().map(|(kid, _)| kid.clone()).collect();
    kids.sort();
    kids
}

/// The RFC 7638 thumbprint of a JWK, written again here (the required
/// members of its `kty` in lexicographic order, no whitespace, SHA-256).
fn thumbprint(jwk: &Value) -> String {
    let member = |name: &str| text(jwk, name);
    let canonical = match member("kty").as_str() {
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            member("crv"),
            member("x")
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e"),
            member("n")
        ),
        other => panic!("unexpected kty {other}"),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The length of a base64url member once decoded.
#[track_caller]
fn decoded_length(jwk: &Value, member: &str) -> usize {
    URL_SAFE_NO_PAD
        .decode(text(jwk, member))
        .unwrap_or_else(|error| panic!("{member} of {jwk}: {error}"))
        .len()
}

/// Seconds since the epoch of an RFC 3339 UTC time (`Z`, optional fraction).
#[track_caller]
fn unix_seconds(rfc3339: &str) -> i64 {
    let bytes = rfc3339.as_bytes();
    let shape_ok = rfc3339.len() >= 20
        && rfc3339.ends_with('Z')
        && [4, 7].iter().all(|&i| bytes[i] == b'-')
        && bytes[10] == b'T'
        && [13, 16].iter().all(|&i| bytes[i] == b':')
        && (rfc3339.len() == 20 || (bytes[19] == b'.' && rfc3339.len() > 21));
    assert!(shape_ok, "{rfc3339:?} is not an RFC 3339 UTC time");
    let number = |from: usize, to: usize| -> i64 {
        rfc3339[from..to]
            .parse()
            .unwrap_or_else(|_| panic!("{rfc3339:?} is not an RFC 3339 UTC time"))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    // Days from civil (H. Hinnant), March-based years.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days * 86_400 + number(11, 13) * 3600 + number(14, 16) * 60 + number(17, 19)
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let mut kids: Vec<String> = server
        .jwks()
        .await
        .iter()
        .map(|key| text(key, "kid"))
        .collect();
    kids.sort();
    kids
}

#[test]
fn rfc3339_reading_is_right() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), 0);
    assert_eq!(unix_seconds("2000-03-01T01:02:03Z"), 951_872_523);
    assert_eq!(unix_seconds("2024-02-29T23:59:59.5Z"), 1_709_251_199);
}

#[tokio::test]
async fn the_first_start_generates_exactly_one_key_of_the_access_token_algorithm() {
    let server = TestServer::spawn().await;
    let keys = keys_list(&server);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        (keys[0].algorithm.as_str(), keys[0].state.as_str()),
        ("EdDSA", "active")
    );
    assert!(
        (keys[0].created_unix - now_unix()).abs() <= 60,
        "created {} is not now",
        keys[0].created_unix
    );
    assert_eq!(jwks_kids(&server).await, [keys[0].kid.clone()]);
    let access = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    assert_eq!(kid_of(&access), keys[0].kid);

    let server = server.kill_and_restart().await;
    assert_eq!(keys_list(&server), keys, "a restart made another key");
    assert_eq!(jwks_kids(&server).await, [keys[0].kid.clone()]);

    // (`keys list` is not run here: a command run without the server's
    // settings would make the key of its own access-token algorithm.)
    let server = TestServer::spawn_with(&["--access-token-alg", "RS256"]).await;
    let jwks = server.jwks().await;
    assert_eq!(jwks.len(), 1, "{jwks:?}");
    assert_eq!(jwks[0]["alg"], "RS256");
    let access = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    assert_eq!(kid_of(&access), text(&jwks[0], "kid"));
}

/// An id token of an algorithm that has no key yet makes its first key
/// (RSA keys take a while to make: no start pays for one it may never use),
/// and instances asking at once on one database get the same key.
#[tokio::test]
async fn a_key_is_made_when_first_needed_and_every_instance_agrees_on_it() {
    let database = TestDatabase::fresh();
    let first = TestServer::spawn_on(&database, &[]).await;
    let second = TestServer::spawn_on(&database, &[]).await;
    assert_eq!(keys_list(&first).len(), 1);
    let (user, session) = (uuid_text(1), uuid_text(2));
    let claims = json!({
        "iss": "http://localhost:8080", "sub": user, "aud": "client-1", "sid": session,
        "iat": now_unix(), "exp": now_unix() + 300, "nonce": "n-1",
    });
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let signing: Vec<_> = [&first, &second]
            .map(|server| {
                let claims = claims.clone();
                scope.spawn(move || server.sign_id_token(claims, SigningAlgorithm::RS256))
            })
            .into_iter()
            .collect();
        signing
            .into_iter()
            .map(|signed| signed.join().unwrap())
            .collect()
    });
    let rsa: Vec<KeyLine> = keys_list(&first)
        .into_iter()
        .filter(|key| key.algorithm == "RS256")
        .collect();
    assert_eq!(rsa.len(), 1, "one RSA key for both: {rsa:?}");
    for token in &tokens {
        assert_eq!(
            jwt_header(token),
            json!({"alg": "RS256", "typ": "JWT", "kid": rsa[0].kid})
        );
        assert_eq!(jwt_part(token, 1), claims);
    }
    for server in [&first, &second] {
        assert!(jwks_kids(server).await.contains(&rsa[0].kid));
        let hint = server
            .verify_id_token_hint(&tokens[0])
            .expect("our id token");
        assert_eq!(
            (
                hint.sub.to_string(),
                hint.aud.as_str(),
                hint.sid.map(|sid| sid.to_string())
            ),
            (user.clone(), "client-1", Some(session.clone()))
        );
    }
    let es256 = first.sign_id_token(claims, SigningAlgorithm::ES256);
    assert!(
        second.verify_id_token_hint(&es256).is_err(),
        "ES256 is not an id-token algorithm of a hint"
    );
}

/// A UUID written as text, from a number.
fn uuid_text(number: u128) -> String {
    format!("0190a000-0000-7000-8000-{number:012x}")
}

/// API.md "For the APIs that you protect": every live key of every
/// algorithm, with `kty`, `kid`, `alg`, `use` and its public members only.
#[tokio::test]
async fn the_jwks_lists_each_key_type_with_its_members_and_thumbprint() {
    let server = TestServer::spawn().await;
    rotated_keys(&server.cli(&["keys", "rotate"], None));
    // The running server reloads its keys every half second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while server.jwks().await.len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the keys are not published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let jwks = server.jwks().await;
    let mut types: Vec<String> = jwks.iter().map(|jwk| text(jwk, "kty")).collect();
    types.sort();
    assert_eq!(types, ["EC", "EC", "OKP", "OKP", "RSA", "RSA"], "{jwks:?}");
    for jwk in &jwks {
        let (members, alg): (&[&str], &str) = match text(jwk, "kty").as_str() {
            "OKP" => {
                assert_eq!(jwk["crv"], "Ed25519");
                assert_eq!(decoded_length(jwk, "x"), 32);
                (&["alg", "crv", "kid", "kty", "use", "x"], "EdDSA")
            }
            "EC" => {
                assert_eq!(jwk["crv"], "P-256");
                assert_eq!(
                    (decoded_length(jwk, "x"), decoded_length(jwk, "y")),
                    (32, 32)
                );
                (&["alg", "crv", "kid", "kty", "use", "x", "y"], "ES256")
            }
            "RSA" => {
                assert_eq!(decoded_length(jwk, "n"), 256, "a 2048-bit modulus");
                assert_eq!(jwk["e"], "AQAB");
                (&["alg", "e", "kid", "kty", "n", "use"], "RS256")
            }
            other => panic!("unexpected kty {other} in {jwk}"),
        };
        assert_eq!(sorted_keys(jwk), members, "{jwk}");
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
        assert_eq!(
            text(jwk, "kid"),
            thumbprint(jwk),
            "the kid is the thumbprint"
        );
    }
}

#[tokio::test]
async fn rotation_publishes_the_new_keys_before_they_sign() {
    let server = TestServer::spawn().await;
    server.sign_up("ada@example.com").await;
    let before = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let old_kid = kid_of(&before);

    let rotated = server.cli(&["keys", "rotate"], None);
    let new = rotated_keys(&rotated);
    let new_kid = kid_of_algorithm(&new, "EdDSA");
    assert_ne!(new_kid, old_kid);
    for (kid, _) in &new {
        assert!(
            !kid.is_empty() && !kid.contains(char::is_whitespace),
            "{new:?}"
        );
    }
    assert!(
        stderr(&rotated).contains("signs from"),
        "{}",
        stderr(&rotated)
    );

    // Every algorithm signs with its current key (the Ed25519 key of the
    // first start, the first ES256 and RS256 keys the rotation made) until
    // the new keys' time comes.
    let keys = keys_list(&server);
    assert_eq!(keys.len(), 6, "{keys:?}");
    let active = in_state(&keys, "active");
    assert_eq!(kid_of_algorithm(&active, "EdDSA"), old_kid);
    assert_eq!(active.len(), 3, "{keys:?}");
    assert_eq!(sorted_kids(&in_state(&keys, "next")), sorted_kids(&new));

    // Every running server publishes the new keys within a second, before
    // it signs anything with them.
    let every = sorted_kids(active.iter().chain(&new));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while jwks_kids(&server).await != every {
        assert!(
            std::time::Instant::now() < deadline,
            "the new keys are not published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let during = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        kid_of(&during),
        old_kid,
        "the old key signs during the lead"
    );

    server.advance_clock(time::Duration::minutes(10) + time::Duration::seconds(1));
    let after = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        kid_of(&after),
        new_kid,
        "the new key signs once its time comes"
    );
    for (token, case) in [(&after, "new"), (&before, "signed before the rotation")] {
        assert_eq!(
            server.get_authorized("/me", token).await.status(),
            StatusCode::OK,
            "{case}"
        );
    }
}

#[tokio::test]
async fn rotation_now_signs_at_once_and_keeps_verifying_the_old_keys() {
    let server = TestServer::spawn_process().await;
    server.sign_up("ada@example.com").await;
    let before = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let new = rotated_keys(&server.cli(&["keys", "rotate", "--now"], None));
    let keys = keys_list(&server);
    let retiring = in_state(&keys, "retiring");
    assert_eq!(sorted_kids(&in_state(&keys, "active")), sorted_kids(&new));
    assert_eq!(retiring.len(), 3, "{keys:?}");
    assert_eq!(kid_of_algorithm(&retiring, "EdDSA"), kid_of(&before));

    let server = server.kill_and_restart().await;
    assert_eq!(
        jwks_kids(&server).await,
        sorted_kids(retiring.iter().chain(&new))
    );
    let after = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(kid_of(&after), kid_of_algorithm(&new, "EdDSA"));
    assert_eq!(
        server.get_authorized("/me", &before).await.status(),
        StatusCode::OK,
        "a token signed before the rotation"
    );
    assert_exit(
        &server.cli(&["token", "verify", &before], None),
        0,
        "token verify of a token signed before the rotation",
    );
}

/// Issue 10, finding 4: `keys revoke` removes a compromised key at once:
/// its tokens are refused by running servers within a second, it leaves
/// the JWKS, and a new key signs from now.
#[tokio::test]
async fn a_revoked_key_is_refused_at_once_and_a_new_key_signs() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("ada@example.com").await;
    let stolen = text(&tokens, "access_token");
    let old_kid = kid_of(&stolen);

    let revoked = server.cli(&["keys", "revoke", &old_kid], None);
    assert_exit(&revoked, 0, "keys revoke");
    assert!(
        stdout(&revoked).contains("signs from now"),
        "{}",
        stdout(&revoked)
    );
    let response = server.get_authorized("/me", &stolen).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "refused at once"
    );
    let kids = jwks_kids(&server).await;
    assert!(!kids.contains(&old_kid), "{kids:?}");
    assert_eq!(kids.len(), 1, "{kids:?}");
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK, "sessions live on");
    let fresh: Value = refreshed.json().await.unwrap();
    assert_eq!(kid_of(&text(&fresh, "access_token")), kids[0]);

    // Revoking the RSA key replaces the RSA key alone.
    let rotated = rotated_keys(&server.cli(&["keys", "rotate", "--now"], None));
    let rsa_kid = kid_of_algorithm(&rotated, "RS256");
    let revoked = server.cli(&["keys", "revoke", &rsa_kid], None);
    assert_exit(&revoked, 0, "keys revoke of the RSA key");
    let active = in_state(&keys_list(&server), "active");
    assert_eq!(active.len(), 3, "{active:?}");
    assert_ne!(kid_of_algorithm(&active, "RS256"), rsa_kid);
    for algorithm in ["EdDSA", "ES256"] {
        assert_eq!(
            kid_of_algorithm(&active, algorithm),
            kid_of_algorithm(&rotated, algorithm),
            "{algorithm}"
        );
    }
    assert!(!jwks_kids(&server).await.contains(&rsa_kid));

    let unknown = server.cli(&["keys", "revoke", "no-such-kid"], None);
    assert_exit(&unknown, 1, "an unknown kid");
    // One thumbprint in 64 begins with `-`: a kid still, not a flag.
    let hyphenated = server.cli(&["keys", "revoke", "-Dno-such-kid"], None);
    assert_exit(&hyphenated, 1, "an unknown kid that begins with a hyphen");
}

#[tokio::test]
async fn token_verify_prints_the_claims_of_a_valid_token() {
    let server = TestServer::spawn().await;
    let user = server.sign_up("ada@example.com").await;
    let access = text(
        &server.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let output = server.cli(&["token", "verify", &access], None);
    assert_exit(&output, 0, "token verify");
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("token verify prints JSON");
    let claims = jwt_claims(&access);
    assert_eq!(printed, claims);
    assert_eq!(printed["sub"], user["id"]);
    assert!(
        printed["sid"].is_string() && printed["scope"].is_string(),
        "{printed}"
    );
}

#[tokio::test]
async fn token_verify_refuses_garbage_tampered_and_revoked_tokens() {
    let server = TestServer::spawn().await;
    let access = text(
        &server.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let tampered = with_signature_changed(&access, 0, 0x80);

    for (label, token) in [("garbage", "not-a-token"), ("tampered", tampered.as_str())] {
        let output = server.cli(&["token", "verify", token], None);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{label}: {}",
            stderr(&output)
        );
        assert!(
            output.stdout.is_empty(),
            "{label}: printed {:?}",
            stdout(&output)
        );
        assert!(
            !stderr(&output).trim().is_empty(),
            "{label}: no reason given"
        );
    }

    let logout = server.logout(&access).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let output = server.cli(&["token", "verify", &access], None);
    assert_eq!(
        output.status.code(),
        Some(1),
        "revoked: {}",
        stderr(&output)
    );
    assert!(
        output.stdout.is_empty(),
        "revoked: printed {:?}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("revoked"),
        "revoked: {:?}",
        stderr(&output)
    );
}

/// When `keys rotate` says a new key starts signing: `--lead` (or
/// `PORTCULLIS_KEY_PUBLICATION_LEAD`) after now, 10 minutes by default.
#[tokio::test]
async fn the_publication_lead_is_a_setting_of_keys_rotate() {
    let server = TestServer::spawn().await;
    let signs_from = |arguments: &[&str]| {
        let rotated = server.cli(arguments, None);
        assert_exit(&rotated, 0, "keys rotate");
        let said = stderr(&rotated);
        let time = said
            .trim_end()
            .rsplit(' ')
            .next()
            .expect("a time at the end");
        let time =
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|error| panic!("{said:?}: {error}"));
        time.unix_timestamp() - now_unix()
    };
    for (arguments, lead) in [
        (&["keys", "rotate"][..], 600),
        (&["keys", "rotate", "--lead", "45m"], 2700),
        (&["keys", "rotate", "--lead", "45m", "--now"], 0),
    ] {
        let ahead = signs_from(arguments);
        assert!(
            (lead - 5..=lead).contains(&ahead),
            "{arguments:?}: {ahead} s ahead"
        );
    }
    let refused = server.cli(&["keys", "rotate", "--lead", "soon"], None);
    assert_exit(&refused, 1, "keys rotate --lead soon");
    assert!(
        stderr(&refused).contains("not a duration"),
        "{}",
        stderr(&refused)
    );
}
