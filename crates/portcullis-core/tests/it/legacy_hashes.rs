//! Every fixture hash, made by the system it comes from, verifies with its
//! password, fails with a wrong one, and is replaced by Argon2id on a match;
//! bcrypt's 72-byte rule holds as the originating systems apply it.

use portcullis_core::Password;
use portcullis_core::hashing::{PasswordHashString, PasswordHasher, Verification};

use crate::fixtures::{Case, cases, cheap_argon2, heavy_hashing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_verifies_in_its_own_scheme_and_is_rehashed() {
    let _heavy = heavy_hashing().await;
    let cases = cases();
    assert!(cases.len() >= 25, "the fixture file is complete");
    // Each case on a hasher of its own, so all of them at once: the cores
    // share the work, and a failing case still names itself.
    let mut checks = tokio::task::JoinSet::new();
    for case in cases {
        checks.spawn(async move { check(&case).await });
    }
    while let Some(checked) = checks.join_next().await {
        if let Err(error) = checked {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

async fn check(case: &Case) {
    let id = &case.id;
    let stored = case.stored();
    assert_eq!(stored.scheme().to_string(), case.scheme, "{id}");
    let stored = PasswordHashString::from(stored);
    // A fresh hasher per case: one cost of hash, so no verification floor.
    let hasher = PasswordHasher::new(cheap_argon2(), 1).unwrap();
    let verify = |password: &str| {
        let (hasher, stored) = (hasher.clone(), stored.clone());
        let password = Password::normalise(password);
        async move { hasher.verify(&password, Some(&stored)).await.unwrap() }
    };

    let Verification::NeedsRehash(new) = verify(&case.password).await else {
        panic!("{id}: the right password must match and ask for a rehash");
    };
    assert!(new.0.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{id}");
    let wrong = format!("x{}", case.password);
    assert_eq!(verify(&wrong).await, Verification::Mismatch, "{id}");
    for other in &case.also_matches {
        assert!(
            matches!(verify(other).await, Verification::NeedsRehash(_)),
            "{id}: {other:?} matches where the hash was made"
        );
    }
    for other in &case.never_matches {
        assert_eq!(
            verify(other).await,
            Verification::Mismatch,
            "{id}: {other:?}"
        );
    }
    // Another hasher, so that the first keeps a single cost and no floor.
    let upgraded = PasswordHasher::new(cheap_argon2(), 1).unwrap();
    assert_eq!(
        upgraded
            .verify(&Password::normalise(&case.password), Some(&new))
            .await
            .unwrap(),
        Verification::Match,
        "{id}: the new hash verifies as the server's own"
    );
}

#[test]
fn the_fixtures_cover_every_scheme_and_format_asked_for() {
    let cases = cases();
    let ids: Vec<&str> = cases.iter().map(|case| case.id.as_str()).collect();
    for prefix in [
        "passlib-argon2id",
        "passlib-argon2i",
        "passlib-argon2d",
        "argon2-cffi",
        "passlib-scrypt",
        "passlib-pbkdf2-sha256",
        "passlib-pbkdf2-sha512",
        "passlib-pbkdf2-sha1",
        "phc-pbkdf2-sha256",
        "phc-pbkdf2-sha512",
        "passlib-bcrypt-2b",
        "passlib-bcrypt-2y",
        "pyca-bcrypt-2a",
        "passlib-bcrypt-80-bytes",
        "django-pbkdf2-sha256",
        "django-pbkdf2-sha1",
        "django-argon2",
        "django-scrypt",
        "keycloak-pbkdf2-sha256",
        "keycloak-pbkdf2-sha512",
        "keycloak-pbkdf2-sha1",
        "keycloak-argon2",
    ] {
        assert!(
            ids.iter().any(|id| id.starts_with(prefix)),
            "no fixture {prefix}*"
        );
    }
}
