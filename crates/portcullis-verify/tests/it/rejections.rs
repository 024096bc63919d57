//! The axum extractors' answers (RFC 6750): `401` with a bare challenge for
//! a missing credential, `401` `invalid_token` for a refused one, `403`
//! `insufficient_scope` naming the permission, `404` for someone else's
//! resource, and `503` (fail closed, never a pass) when Portcullis cannot be
//! asked.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use portcullis_verify::{
    Authenticated, Owner, OwnerOr, RevocationCheck, RevocationChecked,
    RevocationCheckedWithPermission, Verifier, WithPermission, permission,
};
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt as _;

use crate::fake::{
    FakePortcullis, ISSUER, PAT_ADA, PAT_UNKNOWN, Signer, active_personal_token, nothing_listening,
};

const MISCONFIGURED: Expect<'static> = Expect::Refused(StatusCode::INTERNAL_SERVER_ERROR, None);

permission!(BooksDownload = "books:download");
permission!(RecordsRead = "records:read");

const BARE_CHALLENGE: &str = r#"Bearer realm="portcullis""#;

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route(
            "/any",
            get(|Authenticated(claims): Authenticated| async move { claims.user_id }),
        )
        .route(
            "/download",
            get(
                |WithPermission(claims, ..): WithPermission<BooksDownload>| async move {
                    claims.user_id
                },
            ),
        )
        .route(
            "/users/{user_id}/records",
            get(|OwnerOr(claims, ..): OwnerOr<RecordsRead>| async move { claims.user_id }),
        )
        .route(
            "/users/{user_id}/profile",
            get(|Owner(claims): Owner| async move { claims.user_id }),
        )
        .route(
            "/checked",
            get(|RevocationChecked(claims): RevocationChecked| async move { claims.user_id }),
        )
        .route(
            "/checked/download",
            get(
                |RevocationCheckedWithPermission(claims, ..): RevocationCheckedWithPermission<
                    BooksDownload,
                >| async move { claims.user_id },
            ),
        )
        .with_state(verifier)
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: String,
}

async fn call(app: &Router, path: &str, authorization: Option<&str>) -> Answer {
    call_with(app, path, authorization.as_slice()).await
}

/// Calls with one `Authorization` header per item.
async fn call_with(app: &Router, path: &str, authorizations: &[&str]) -> Answer {
    let mut request = Request::get(path);
    for authorization in authorizations {
        request = request.header("authorization", *authorization);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate");
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenge,
        content_type,
        retry_after,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// What a case expects.
enum Expect<'a> {
    /// `200` with this user id as the body.
    Pass(&'a str),
    /// Refused with this status and exactly this challenge, or none.
    Refused(StatusCode, Option<&'a str>),
    /// `401` with an `invalid_token` challenge whose description contains this.
    Invalid(&'a str),
}

const MISSING: Expect<'static> = Expect::Refused(StatusCode::UNAUTHORIZED, Some(BARE_CHALLENGE));
const NOT_FOUND: Expect<'static> = Expect::Refused(StatusCode::NOT_FOUND, None);
const UNAVAILABLE: Expect<'static> = Expect::Refused(StatusCode::SERVICE_UNAVAILABLE, None);

#[track_caller]
fn check(answer: &Answer, expect: &Expect<'_>, case: &str) {
    let (status, challenge) = match expect {
        Expect::Pass(user_id) => {
            assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.body);
            assert_eq!(answer.body, *user_id, "{case}");
            return;
        }
        Expect::Refused(status, challenge) => (*status, *challenge),
        Expect::Invalid(description) => {
            let actual = answer.challenge.as_deref().unwrap_or_default();
            assert!(
                actual.starts_with(r#"Bearer realm="portcullis", error="invalid_token", "#)
                    && actual.contains(description),
                "{case}: {actual:?} should name invalid_token and {description:?}"
            );
            (StatusCode::UNAUTHORIZED, Some(actual))
        }
    };
    assert_eq!(answer.status, status, "{case}: {}", answer.body);
    assert_eq!(answer.challenge.as_deref(), challenge, "{case}");
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/problem+json"),
        "{case}"
    );
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["status"], status.as_u16(), "{case}: {body}");
    assert!(body["detail"].is_string(), "{case}: {body}");
}

/// `token` with one character of its signature changed.
fn tampered(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = signature.to_owned().into_bytes();
    signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
    format!("{signed}.{}", String::from_utf8(signature).unwrap())
}

#[tokio::test]
async fn each_extractor_answers_as_rfc_6750_says() {
    let signer = Signer::new();
    let other_issuer = signer.for_issuer("https://elsewhere.example.test");
    let fake = FakePortcullis::start(&[&signer]).await;
    let app = app(fake.verifier());

    let (plain, plain_id) = signer.token(&[]);
    let (buyer, buyer_id) = signer.token(&["books:download"]);
    let (doctor, doctor_id) = signer.token(&["records:read"]);
    let (expired, _) = signer.token_at(
        &["books:download"],
        OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    let (misaddressed, _) = other_issuer.token(&["books:download"]);
    // Issued before the verifier's first fetch, so its key would have been in it.
    let (unknown_key, _) =
        Signer::new().token_at(&[], OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let bearer = |token: &str| format!("Bearer {token}");
    let records = format!("/users/{plain_id}/records");
    let profile = format!("/users/{plain_id}/profile");

    let insufficient = Expect::Refused(
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="portcullis", error="insufficient_scope", scope="books:download""#),
    );
    let cases: Vec<(&str, &str, Option<String>, Expect<'_>)> = vec![
        ("no credential", "/any", None, MISSING),
        ("an empty header", "/any", Some(String::new()), MISSING),
        ("no credential, a permission", "/download", None, MISSING),
        (
            "garbage",
            "/any",
            Some(bearer("not-a-token")),
            Expect::Invalid("malformed"),
        ),
        (
            "a changed signature",
            "/any",
            Some(bearer(&tampered(&plain))),
            Expect::Invalid("signature"),
        ),
        (
            "an expired token",
            "/download",
            Some(bearer(&expired)),
            Expect::Invalid("expired"),
        ),
        (
            "another issuer",
            "/any",
            Some(bearer(&misaddressed)),
            Expect::Invalid("issuer"),
        ),
        (
            "an unknown key",
            "/any",
            Some(bearer(&unknown_key)),
            Expect::Invalid("unknown key"),
        ),
        (
            "the Basic scheme",
            "/any",
            Some("Basic YTpi".to_owned()),
            Expect::Invalid("malformed"),
        ),
        (
            "a valid token",
            "/any",
            Some(bearer(&plain)),
            Expect::Pass(&plain_id),
        ),
        (
            "a lowercase scheme",
            "/any",
            Some(format!("bearer {plain}")),
            Expect::Pass(&plain_id),
        ),
        (
            "no scheme at all",
            "/any",
            Some(plain.clone()),
            Expect::Pass(&plain_id),
        ),
        (
            "without the permission",
            "/download",
            Some(bearer(&plain)),
            insufficient,
        ),
        (
            "with the permission",
            "/download",
            Some(bearer(&buyer)),
            Expect::Pass(&buyer_id),
        ),
        (
            "the owner",
            &records,
            Some(bearer(&plain)),
            Expect::Pass(&plain_id),
        ),
        ("not the owner", &records, Some(bearer(&buyer)), NOT_FOUND),
        (
            "a holder of records:read",
            &records,
            Some(bearer(&doctor)),
            Expect::Pass(&doctor_id),
        ),
        (
            "owner only: the owner",
            &profile,
            Some(bearer(&plain)),
            Expect::Pass(&plain_id),
        ),
        (
            "owner only: records:read",
            &profile,
            Some(bearer(&doctor)),
            NOT_FOUND,
        ),
        ("owner only: no credential", &profile, None, MISSING),
    ];
    for (case, path, authorization, expect) in &cases {
        check(
            &call(&app, path, authorization.as_deref()).await,
            expect,
            case,
        );
    }
}

#[tokio::test]
async fn personal_tokens_and_revocation_are_decided_by_introspection() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let app = app(fake.verifier());
    let (live, live_id) = signer.token(&["books:download"]);
    let (revoked, revoked_id) = signer.token(&["books:download"]);
    fake.answer(
        &live,
        serde_json::json!({ "active": true, "sub": live_id, "scope": "books:download" }),
    );
    fake.answer(
        PAT_ADA.as_str(),
        active_personal_token(&live_id, "books:download"),
    );
    let live_bearer = format!("Bearer {live}");
    let revoked_bearer = format!("Bearer {revoked}");
    let pat_bearer = format!("Bearer {}", PAT_ADA.as_str());
    let unknown_pat_bearer = format!("Bearer {}", PAT_UNKNOWN.as_str());
    let cases = [
        (
            "an active PAT",
            "/download",
            pat_bearer.as_str(),
            Expect::Pass(&live_id),
        ),
        (
            "an unknown PAT",
            "/any",
            unknown_pat_bearer.as_str(),
            Expect::Invalid("revoked"),
        ),
        (
            "a made-up PAT: refused by its checksum, no call",
            "/any",
            "Bearer pat_nobody",
            Expect::Invalid("malformed"),
        ),
        (
            "a live session, checked",
            "/checked",
            &live_bearer,
            Expect::Pass(&live_id),
        ),
        (
            "a revoked session, checked",
            "/checked",
            &revoked_bearer,
            Expect::Invalid("revoked"),
        ),
        (
            "a revoked session, not checked",
            "/any",
            &revoked_bearer,
            Expect::Pass(&revoked_id),
        ),
    ];
    for (case, path, authorization, expect) in &cases {
        check(&call(&app, path, Some(authorization)).await, expect, case);
    }
    assert_eq!(fake.introspection_hits(), 4);
}

#[tokio::test]
async fn an_unreachable_portcullis_is_503_never_a_pass() {
    let signer = Signer::new();
    let (token, _) = signer.token(&["books:download"]);
    let unreachable = Verifier::builder(nothing_listening())
        .issuer(ISSUER)
        .introspection("pat_introspector")
        .build();
    let app = app(unreachable);
    for (case, path, authorization) in [
        ("an access token", "/download", format!("Bearer {token}")),
        ("a PAT", "/any", format!("Bearer {}", PAT_ADA.as_str())),
    ] {
        check(
            &call(&app, path, Some(&authorization)).await,
            &UNAVAILABLE,
            case,
        );
    }
}

#[tokio::test]
async fn a_failing_jwks_is_503_never_a_pass() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.fail_jwks_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
    let app = app(fake.verifier());
    let (token, _) = signer.token(&[]);
    check(
        &call(&app, "/any", Some(&format!("Bearer {token}"))).await,
        &UNAVAILABLE,
        "the JWKS answers 500",
    );
}

/// While Portcullis cannot be asked, every request is `503`, not only the
/// first: a `401` would tell clients their valid tokens are bad.
#[tokio::test]
async fn every_request_while_the_jwks_is_down_is_503() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    fake.fail_jwks_with(Some(StatusCode::BAD_GATEWAY));
    let app = app(fake.verifier());
    for attempt in 1..=3 {
        let (token, _) = signer.token(&[]);
        check(
            &call(&app, "/any", Some(&format!("Bearer {token}"))).await,
            &UNAVAILABLE,
            &format!("attempt {attempt} while the JWKS is down"),
        );
    }
}

/// Finding 16: with several `Authorization` headers the first used to win,
/// so what a proxy checked and what the API used could differ.
#[tokio::test]
async fn several_authorization_headers_are_refused() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let app = app(fake.verifier());
    let (token, user_id) = signer.token(&["books:download"]);
    let bearer = format!("Bearer {token}");
    check(
        &call_with(&app, "/any", &[&bearer]).await,
        &Expect::Pass(&user_id),
        "one header",
    );
    let invalid_request = Expect::Refused(
        StatusCode::BAD_REQUEST,
        Some(
            r#"Bearer realm="portcullis", error="invalid_request", error_description="more than one Authorization header""#,
        ),
    );
    for path in ["/any", "/download", "/checked", "/checked/download"] {
        check(
            &call_with(&app, path, &[&bearer, &bearer]).await,
            &invalid_request,
            &format!("{path}: the same token twice"),
        );
        check(
            &call_with(&app, path, &[&bearer, "Bearer other"]).await,
            &invalid_request,
            &format!("{path}: two tokens"),
        );
    }
}

/// Finding 16: a misconfiguration used to answer `401` with a hint meant for
/// the developer ("configure it with VerifierBuilder::introspection").
#[tokio::test]
async fn a_misconfigured_verifier_answers_500_and_tells_the_client_nothing() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let (token, _) = signer.token(&["books:download"]);
    let without_introspection = app(Verifier::builder(&fake.base).issuer(ISSUER).build());
    // Plain HTTP to a host that is not loopback: refused, nothing is sent.
    let plain_http = app(Verifier::builder("http://auth.example.test").build());
    let bearer = format!("Bearer {token}");
    let pat = format!("Bearer {}", PAT_ADA.as_str());
    for (case, app, path, authorization) in [
        (
            "a PAT without introspection",
            &without_introspection,
            "/any",
            &pat,
        ),
        (
            "a revocation check without introspection",
            &without_introspection,
            "/checked",
            &bearer,
        ),
        ("plain HTTP to a remote host", &plain_http, "/any", &bearer),
    ] {
        let answer = call(app, path, Some(authorization)).await;
        check(&answer, &MISCONFIGURED, case);
        assert!(
            !answer.body.contains("Verifier")
                && !answer.body.contains("introspection")
                && !answer.body.contains("http"),
            "{case}: {}",
            answer.body
        );
    }
}

/// Finding 14: a token signed by a key published since the last fetch used
/// to be `401` for up to 30 s; it is `503` with `Retry-After` instead.
#[tokio::test]
async fn a_key_not_fetched_yet_is_503_with_retry_after() {
    let first = Signer::new();
    let rotated = Signer::new();
    let fake = FakePortcullis::start(&[&first]).await;
    let app = app(fake.verifier());
    let (token, user_id) = first.token(&[]);
    check(
        &call(&app, "/any", Some(&format!("Bearer {token}"))).await,
        &Expect::Pass(&user_id),
        "the first key",
    );
    fake.add_key(&rotated);
    let (token, _) = rotated.token(&[]);
    let answer = call(&app, "/any", Some(&format!("Bearer {token}"))).await;
    check(&answer, &UNAVAILABLE, "a key published since the fetch");
    let seconds: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((20..=30).contains(&seconds), "Retry-After: {seconds}");
}

/// Finding 15: `WithPermission`, `Owner` and `OwnerOr` never checked
/// revocation; with `RevocationCheck::EveryRequest` every extractor does,
/// with the server's current permissions.
#[tokio::test]
async fn every_extractor_checks_revocation_when_the_verifier_says_every_request() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let app = app(fake
        .builder()
        .introspection_cache(std::time::Duration::ZERO)
        .revocation_check(RevocationCheck::EveryRequest)
        .build());
    let (revoked, revoked_id) = signer.token(&["books:download", "records:read"]);
    let (demoted, demoted_id) = signer.token(&["books:download", "records:read"]);
    fake.answer(
        &demoted,
        serde_json::json!({ "active": true, "sub": demoted_id, "scope": "" }),
    );
    let revoked_bearer = format!("Bearer {revoked}");
    let demoted_bearer = format!("Bearer {demoted}");
    let insufficient = Expect::Refused(
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="portcullis", error="insufficient_scope", scope="books:download""#),
    );
    let revoked_records = format!("/users/{revoked_id}/records");
    let revoked_profile = format!("/users/{revoked_id}/profile");
    let someone_elses = format!("/users/{revoked_id}/records");
    let demoted_profile = format!("/users/{demoted_id}/profile");
    let cases = [
        (
            "Authenticated, revoked",
            "/any",
            &revoked_bearer,
            Expect::Invalid("revoked"),
        ),
        (
            "WithPermission, revoked",
            "/download",
            &revoked_bearer,
            Expect::Invalid("revoked"),
        ),
        (
            "OwnerOr, revoked",
            revoked_records.as_str(),
            &revoked_bearer,
            Expect::Invalid("revoked"),
        ),
        (
            "Owner, revoked",
            revoked_profile.as_str(),
            &revoked_bearer,
            Expect::Invalid("revoked"),
        ),
        (
            "Authenticated, live",
            "/any",
            &demoted_bearer,
            Expect::Pass(&demoted_id),
        ),
        (
            "WithPermission, permission removed",
            "/download",
            &demoted_bearer,
            insufficient,
        ),
        (
            "OwnerOr, records:read removed",
            someone_elses.as_str(),
            &demoted_bearer,
            NOT_FOUND,
        ),
        (
            "Owner, live",
            demoted_profile.as_str(),
            &demoted_bearer,
            Expect::Pass(&demoted_id),
        ),
    ];
    for (case, path, authorization, expect) in &cases {
        check(&call(&app, path, Some(authorization)).await, expect, case);
    }
}

/// Finding 15: one extractor asks for both: the session is not revoked and
/// the server grants the permission now.
#[tokio::test]
async fn revocation_checked_with_permission_uses_the_servers_permissions() {
    let signer = Signer::new();
    let fake = FakePortcullis::start(&[&signer]).await;
    let app = app(fake.verifier());
    let (kept, kept_id) = signer.token(&["books:download"]);
    let (removed, removed_id) = signer.token(&["books:download"]);
    let (revoked, _) = signer.token(&["books:download"]);
    fake.answer(
        &kept,
        serde_json::json!({ "active": true, "sub": kept_id, "scope": "books:download" }),
    );
    fake.answer(
        &removed,
        serde_json::json!({ "active": true, "sub": removed_id, "scope": "" }),
    );
    fake.answer(
        PAT_ADA.as_str(),
        active_personal_token(&kept_id, "books:download"),
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sessionless = signer.token_with_claims(&serde_json::json!({
        "iss": ISSUER, "aud": ISSUER, "sub": "u-1", "iat": now, "exp": now + 600,
        "scope": "books:download",
    }));
    let insufficient = Expect::Refused(
        StatusCode::FORBIDDEN,
        Some(r#"Bearer realm="portcullis", error="insufficient_scope", scope="books:download""#),
    );
    let bearer = |token: &str| format!("Bearer {token}");
    let cases = [
        ("still granted", bearer(&kept), Expect::Pass(&kept_id)),
        ("taken away since", bearer(&removed), insufficient),
        ("revoked", bearer(&revoked), Expect::Invalid("revoked")),
        ("a PAT", bearer(PAT_ADA.as_str()), Expect::Pass(&kept_id)),
        (
            "an access token without a session",
            bearer(&sessionless),
            Expect::Invalid("no session"),
        ),
    ];
    for (case, authorization, expect) in &cases {
        check(
            &call(&app, "/checked/download", Some(authorization)).await,
            expect,
            case,
        );
    }
    // Without the check, the token's own claims decide.
    check(
        &call(&app, "/download", Some(&bearer(&removed))).await,
        &Expect::Pass(&removed_id),
        "not checked",
    );
}
