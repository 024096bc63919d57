//! Signing keys, login-failure counts, and the byte order of stored text.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;
use portcullis_core::store::LoginFailures;

/// Names come back in byte order, as Rust's `str` sorts, whatever the database's locale.
pub(crate) async fn text_order_is_bytewise(store: &dyn Store) {
    let names = [
        "admin", "Zeta", "zeta", "_ops", "éclair", "Éclair", "a b", "a-b", "ab", "B", "a",
    ];
    let mut expected: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();

    let mut alice = user("alice@example.com", at(0));
    alice.roles = names.iter().map(|name| (*name).to_owned()).collect();
    store.insert_user(&alice).await.unwrap();
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap().unwrap().roles,
        expected,
        "a user's roles"
    );

    for name in names {
        store.put_role(&role(name, &names)).await.unwrap();
    }
    let stored = store.roles().await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        expected,
        "role names"
    );
    assert!(stored.iter().all(|r| r.permissions.len() == names.len()));

    // Keys created in the same second are listed by kid.
    let created = at(10);
    let key = |kid: &str| SigningKey {
        kid: kid.to_owned(),
        ..signing_key(1, created)
    };
    assert!(store.insert_first_signing_key(&key("b")).await.unwrap());
    store.rotate_signing_key(&key("B")).await.unwrap();
    store.rotate_signing_key(&key("_")).await.unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["B", "_", "b"]);
}

/// The first key is stored once; rotation retires every active key.
pub(crate) async fn signing_keys(store: &dyn Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    let first = signing_key(1, at(0));
    assert!(store.insert_first_signing_key(&first).await.unwrap());
    assert!(
        !store
            .insert_first_signing_key(&signing_key(2, at(1)))
            .await
            .unwrap(),
        "a key exists"
    );
    assert!(
        !store.insert_first_signing_key(&first).await.unwrap(),
        "same key again"
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_same_key(&keys[0], &first);

    let second = signing_key(3, at(100));
    store.rotate_signing_key(&second).await.unwrap();
    let third = signing_key(4, at(200));
    store.rotate_signing_key(&third).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    let expected = [
        SigningKey {
            retiring_since: Some(at(100)),
            ..first.clone()
        },
        SigningKey {
            retiring_since: Some(at(200)),
            ..second.clone()
        },
        third.clone(),
    ];
    assert_eq!(keys.len(), expected.len());
    for (got, want) in keys.iter().zip(&expected) {
        assert_same_key(got, want);
    }

    // A rotation that fails (the kid exists) changes nothing.
    assert_conflict(store.rotate_signing_key(&third).await);
    let after = store.signing_keys().await.unwrap();
    assert_eq!(
        after.iter().map(|k| k.retiring_since).collect::<Vec<_>>(),
        expected
            .iter()
            .map(|k| k.retiring_since)
            .collect::<Vec<_>>()
    );

    // A key published ahead: the one signing ends when it starts.
    let ahead = SigningKey {
        active_from: at(900),
        ..signing_key(5, at(300))
    };
    store.rotate_signing_key(&ahead).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    let stored = keys.iter().find(|k| k.kid == ahead.kid).expect("stored");
    assert_same_key(stored, &ahead);
    let third_now = keys.iter().find(|k| k.kid == third.kid).expect("kept");
    assert_eq!(
        third_now.retiring_since,
        Some(at(900)),
        "signs until the next starts"
    );

    // Sealing replaces the private half only; revoking removes the key.
    let sealed = PrivateKey::Sealed(b"PCKEK1 sealed bytes".to_vec());
    store
        .replace_private_key(&ahead.kid, &sealed)
        .await
        .unwrap();
    let keys = store.signing_keys().await.unwrap();
    let stored = keys.iter().find(|k| k.kid == ahead.kid).expect("stored");
    assert_eq!(stored.private_key, sealed);
    assert!(matches!(
        store.replace_private_key("nobody", &sealed).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.delete_signing_key(&ahead.kid).await.unwrap());
    assert!(!store.delete_signing_key(&ahead.kid).await.unwrap());
    assert!(
        store
            .signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kid != ahead.kid)
    );
}

/// Each algorithm is a line of keys of its own: a first key per
/// algorithm, a rotation that ends only its algorithm's keys, and public
/// keys of each algorithm's length that come back whole.
pub(crate) async fn signing_keys_of_several_algorithms(store: &dyn Store) {
    let of = |algorithm, seed, created_at, public_length| SigningKey {
        algorithm,
        public_key: vec![seed; public_length],
        ..signing_key(seed, created_at)
    };
    let ed25519 = of(SigningAlgorithm::EdDSA, 1, at(0), 32);
    let p256 = of(SigningAlgorithm::ES256, 2, at(0), 65);
    let rsa = of(SigningAlgorithm::RS256, 3, at(0), 270);
    for key in [&ed25519, &p256, &rsa] {
        assert!(
            store.insert_first_signing_key(key).await.unwrap(),
            "the first {} key",
            key.algorithm
        );
    }
    assert!(
        !store
            .insert_first_signing_key(&of(SigningAlgorithm::RS256, 4, at(1), 270))
            .await
            .unwrap(),
        "an RS256 key without an end exists"
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    for (got, want) in keys.iter().zip([&ed25519, &p256, &rsa]) {
        assert_same_key(got, want);
    }

    let next_rsa = of(SigningAlgorithm::RS256, 5, at(100), 294);
    store.rotate_signing_key(&next_rsa).await.unwrap();
    let ends: Vec<(String, Option<OffsetDateTime>)> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| (key.kid, key.retiring_since))
        .collect();
    assert_eq!(
        ends,
        [
            (ed25519.kid.clone(), None),
            (p256.kid.clone(), None),
            (rsa.kid.clone(), Some(at(100))),
            (next_rsa.kid.clone(), None),
        ],
        "a rotation of RS256 ends only the RS256 key"
    );

    // Once every key of an algorithm has an end, a first key is stored again.
    assert!(store.delete_signing_key(&next_rsa.kid).await.unwrap());
    let again = of(SigningAlgorithm::RS256, 6, at(200), 270);
    assert!(store.insert_first_signing_key(&again).await.unwrap());
    let keys = store.signing_keys().await.unwrap();
    let stored = keys
        .iter()
        .find(|key| key.kid == again.kid)
        .expect("stored");
    assert_same_key(stored, &again);
}

/// Failure counting per key, forgetting old failures, clearing.
pub(crate) async fn login_failures(store: &dyn Store) {
    enum Step {
        Fail { now: i64, forget_before: i64 },
        Clear,
    }
    /// A failure at `now`, forgetting those before `forget_before`.
    fn fail(now: i64, forget_before: i64) -> Step {
        Step::Fail { now, forget_before }
    }
    // (key, step, expected (count, last failure) afterwards)
    let steps = [
        ("a", fail(100, 0), Some((1, 100))),
        ("a", fail(110, 0), Some((2, 110))),
        ("a", fail(120, 110), Some((3, 120))), // at the edge: kept
        ("b", fail(125, 0), Some((1, 125))),
        ("a", fail(500, 121), Some((1, 500))), // last one too old: restart
        ("a", fail(510, 121), Some((2, 510))),
        ("a", Step::Clear, None),
        ("a", fail(520, 0), Some((1, 520))),
        ("nobody", Step::Clear, None),
    ];
    for (index, (key, step, expected)) in steps.into_iter().enumerate() {
        match step {
            Step::Fail { now, forget_before } => {
                store
                    .record_login_failure(key, at(now), at(forget_before))
                    .await
            }
            Step::Clear => store.clear_login_failures(key).await,
        }
        .unwrap_or_else(|error| panic!("step {index}: {error}"));
        let expected = expected.map(|(count, last)| LoginFailures {
            count,
            last_at: at(last),
        });
        assert_eq!(
            store.login_failures(key).await.unwrap(),
            expected,
            "step {index} on {key:?}"
        );
    }
    assert_eq!(
        store.login_failures("b").await.unwrap(),
        Some(LoginFailures {
            count: 1,
            last_at: at(125)
        })
    );
    // Two keys read together answer as two reads would, in the order asked.
    for keys in [
        ["a", "b"],
        ["b", "a"],
        ["a", "nobody"],
        ["nobody", "b"],
        ["a", "a"],
    ] {
        let one_by_one = [
            store.login_failures(keys[0]).await.unwrap(),
            store.login_failures(keys[1]).await.unwrap(),
        ];
        assert_eq!(
            store.login_failures_of_both(keys).await.unwrap(),
            one_by_one,
            "{keys:?}"
        );
    }
}

/// An attempt is counted only over the count it read.
pub(crate) async fn login_attempts_compare_and_count(store: &dyn Store) {
    let failures = |count, last| {
        Some(LoginFailures {
            count,
            last_at: at(last),
        })
    };
    // (count seen, now, forget before, counted?, count afterwards)
    let steps = [
        (None, 100, 0, true, failures(1, 100)),
        (None, 101, 0, false, failures(1, 100)),
        (failures(1, 99), 102, 0, false, failures(1, 100)),
        (failures(2, 100), 103, 0, false, failures(1, 100)),
        (failures(1, 100), 110, 0, true, failures(2, 110)),
        (failures(2, 110), 500, 111, true, failures(1, 500)),
    ];
    for (index, (seen, now, forget_before, counted, expected)) in steps.into_iter().enumerate() {
        assert_eq!(
            store
                .count_login_attempt("c", seen, at(now), at(forget_before))
                .await
                .unwrap(),
            counted,
            "step {index}"
        );
        assert_eq!(
            store.login_failures("c").await.unwrap(),
            expected,
            "step {index}"
        );
    }
}

/// Events are counted per key in fixed windows that start with their first
/// event; an event after the window starts the next one.
pub(crate) async fn window_counts(store: &dyn Store) {
    let hour = Duration::hours(1);
    for (seconds, expected_count, expected_start) in [
        (0, 1, 0),
        (10, 2, 0),
        (3599, 3, 0),
        (3600, 1, 3600),
        (3601, 2, 3600),
    ] {
        let counted = store
            .count_event("signup:ip:192.0.2.1", at(seconds), hour)
            .await
            .unwrap();
        assert_eq!(counted.count, expected_count, "at {seconds}");
        assert_eq!(counted.window_start, at(expected_start), "at {seconds}");
    }
    let other = store
        .count_event("signup:ip:192.0.2.2", at(3601), hour)
        .await
        .unwrap();
    assert_eq!(other.count, 1, "keys are counted apart");
    assert_eq!(store.prune_window_counts(at(3600), 10).await.unwrap(), 0);
    assert_eq!(store.prune_window_counts(at(3602), 10).await.unwrap(), 2);
}
