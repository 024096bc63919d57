//! CPU cost of the token checks the server runs on every request or refresh,
//! with no database and no HTTP in the way.
//!
//! - `access_token/issue`: signing an EdDSA access token with
//!   [`AccessTokens::issue`] (claims, JSON, base64, one Ed25519 signature),
//!   paid by every login and refresh.
//! - `access_token/verify_first_use` and `access_token/verify_repeat`:
//!   [`AccessTokens::verify`], what every bearer-authenticated request pays
//!   before it reaches a handler. The first use of a token checks its Ed25519
//!   signature and claims; a token that already verified once may be answered
//!   from `AccessTokens`' cache of verified tokens, so the two are measured
//!   apart (each `first_use` iteration verifies a token issued just for it,
//!   the issuing not timed). Without such a cache they cost the same.
//! - `personal_token/check`: what a `pat_…` credential costs besides its
//!   primary-key read: [`PersonalToken::parse`] (length, base64, checksum),
//!   [`PersonalToken::secret_hash`] (SHA-256) and the constant-time
//!   [`PersonalTokenSecretHash::matches`] against the stored hash.
//!   `personal_token/reject_typo` is the same parse failing on its checksum,
//!   the cost of a made-up or mistyped token that never reaches the database.
//! - `refresh_token/current` and `refresh_token/just_rotated`: parsing a
//!   refresh token and placing it in its session's chain with
//!   [`RefreshToken::lineage`], for the token being rotated (one SHA-256) and
//!   for a retry of the one just rotated (one HMAC step more).
//!   `refresh_token/worst_case_trace` walks the longest chain a presented
//!   token may make the server walk ([`MAX_TRACE_DISTANCE`] HMAC steps), the
//!   most CPU one refresh request can cost.
//!
//! Run with `cargo bench -p portcullis-core --bench tokens`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_core::clock::SystemClock;
use portcullis_core::keys::{KeyRing, SigningAlgorithm, SigningKey};
use portcullis_core::personal_tokens::{PersonalToken, PersonalTokenSecretHash};
use portcullis_core::refresh::{Lineage, MAX_TRACE_DISTANCE, RefreshToken, SessionRefreshKey};
use portcullis_core::tokens::{AccessGrant, AccessTokens};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Access tokens as `AuthSettings::with_defaults` configures them: EdDSA,
/// 15 minutes, 1 s leeway.
fn access_tokens() -> AccessTokens {
    let now = OffsetDateTime::now_utc();
    let lifetime = Duration::minutes(15);
    let leeway = Duration::seconds(1);
    let key = SigningKey::generate(SigningAlgorithm::EdDSA, now, now);
    let ring =
        KeyRing::new(&[key], now, lifetime + leeway).expect("a freshly generated key is active");
    AccessTokens::new(
        std::sync::Arc::new(SystemClock),
        "https://auth.example.com".to_owned(),
        "https://api.example.com".to_owned(),
        lifetime,
        leeway,
        SigningAlgorithm::EdDSA,
        ring,
    )
}

/// A grant of typical size: two roles, a handful of permissions.
fn grant() -> AccessGrant {
    AccessGrant {
        user_id: Uuid::now_v7(),
        session_id: Uuid::now_v7(),
        roles: vec!["admin".to_owned(), "editor".to_owned()],
        scope: vec![
            "users:read".to_owned(),
            "users:write".to_owned(),
            "sessions:read".to_owned(),
            "sessions:revoke".to_owned(),
        ],
        email_verified: true,
        client_id: None,
    }
}

fn access_token(c: &mut Criterion) {
    let tokens = access_tokens();
    let grant = grant();
    let mut group = c.benchmark_group("access_token");
    group.bench_function("issue", |b| {
        b.iter(|| tokens.issue(black_box(&grant), OffsetDateTime::now_utc()));
    });
    let (token, claims) = tokens.issue(&grant, OffsetDateTime::now_utc());
    assert_eq!(tokens.verify(&token).as_ref(), Ok(&claims));
    group.bench_function("verify_first_use", |b| {
        b.iter_batched(
            || tokens.issue(&grant, OffsetDateTime::now_utc()).0,
            |fresh| tokens.verify(black_box(&fresh)).expect("a valid token"),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("verify_repeat", |b| {
        b.iter(|| tokens.verify(black_box(&token)).expect("a valid token"));
    });
    group.finish();
}

fn personal_token(c: &mut Criterion) {
    let token = PersonalToken::generate();
    let encoded = token.encode();
    let stored: PersonalTokenSecretHash = token.secret_hash();
    let mut typo = encoded.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("base64 is ASCII");
    let check = |presented: &str| {
        PersonalToken::parse(presented).is_some_and(|parsed| parsed.secret_hash().matches(&stored))
    };
    assert!(check(&encoded));
    assert!(!check(&typo));
    let mut group = c.benchmark_group("personal_token");
    group.bench_function("check", |b| b.iter(|| check(black_box(&encoded))));
    group.bench_function("reject_typo", |b| b.iter(|| check(black_box(&typo))));
    group.finish();
}

fn refresh_token(c: &mut Criterion) {
    let key = SessionRefreshKey::generate();
    let previous = RefreshToken::first(Uuid::now_v7());
    let current = previous.successor(&key);
    let current_hash = current.secret.hash();
    let (previous_wire, current_wire) = (previous.encode(), current.encode());
    let place = |presented: &str, generation: u64| {
        RefreshToken::parse(presented)
            .expect("a well-formed token")
            .lineage(&key, generation, &current_hash)
    };
    assert_eq!(place(&current_wire, 1), Lineage::Current);
    assert_eq!(
        place(&previous_wire, 1),
        Lineage::JustRotated(current.clone())
    );
    assert_eq!(place(&previous_wire, MAX_TRACE_DISTANCE), Lineage::Foreign);
    let mut group = c.benchmark_group("refresh_token");
    group.bench_function("current", |b| {
        b.iter(|| place(black_box(&current_wire), black_box(1)));
    });
    group.bench_function("just_rotated", |b| {
        b.iter(|| place(black_box(&previous_wire), black_box(1)));
    });
    // Generation 0 presented against generation MAX_TRACE_DISTANCE: the full
    // walk, then a mismatch.
    group.bench_function("worst_case_trace", |b| {
        b.iter(|| place(black_box(&previous_wire), black_box(MAX_TRACE_DISTANCE)));
    });
    group.finish();
}

criterion_group!(benches, access_token, personal_token, refresh_token);
criterion_main!(benches);
