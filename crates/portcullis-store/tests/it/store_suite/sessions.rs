//! Sessions, the refresh compare-and-set, and housekeeping.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;
use portcullis_core::store::{FeedPosition, SessionCutoff};

/// Insert and read back, list live ones newest first, revoke one, all, all but one.
pub(crate) async fn sessions(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    let bob = user("bob@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();

    let mut narrowed = session(alice.id, at(10));
    narrowed.scope = Some(vec!["records:read".into(), "books:download".into()]);
    let mut nothing_granted = session(alice.id, at(20));
    nothing_granted.scope = Some(Vec::new());
    let mut anonymous = session(alice.id, at(30));
    anonymous.user_agent = None;
    anonymous.ip = None;
    anonymous.refresh_generation = 41;
    let mut already_revoked = session(alice.id, at(40));
    already_revoked.revoked_at = Some(at(45));
    let bobs = session(bob.id, at(50));
    let records = [
        &narrowed,
        &nothing_granted,
        &anonymous,
        &already_revoked,
        &bobs,
    ];
    for record in records {
        store.insert_session(record).await.unwrap();
    }
    for record in records {
        assert_same_session(
            &store.session(record.id).await.unwrap().expect("stored"),
            record,
        );
    }
    assert!(store.session(Uuid::now_v7()).await.unwrap().is_none());
    assert_conflict(store.insert_session(&narrowed).await);

    assert_eq!(
        ids(&store.sessions_of_user(alice.id).await.unwrap()),
        [anonymous.id, nothing_granted.id, narrowed.id],
        "live sessions, newest first"
    );

    assert!(
        store
            .revoke_session(nothing_granted.id, at(60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session(nothing_granted.id, at(61))
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(
        !store.revoke_session(Uuid::now_v7(), at(61)).await.unwrap(),
        "missing"
    );
    assert_eq!(
        store
            .session(nothing_granted.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at(60))
    );
    assert_eq!(
        ids(&store.sessions_of_user(alice.id).await.unwrap()),
        [anonymous.id, narrowed.id]
    );

    let extra = session(alice.id, at(70));
    store.insert_session(&extra).await.unwrap();
    let revoked = store
        .revoke_sessions_of_user(alice.id, Some(anonymous.id), at(80))
        .await
        .unwrap();
    assert_eq!(sorted(revoked), sorted(vec![narrowed.id, extra.id]));
    assert_eq!(
        ids(&store.sessions_of_user(alice.id).await.unwrap()),
        [anonymous.id]
    );
    assert_eq!(
        ids(&store.sessions_of_user(bob.id).await.unwrap()),
        [bobs.id],
        "other users untouched"
    );

    let revoked = store
        .revoke_sessions_of_user(alice.id, None, at(90))
        .await
        .unwrap();
    assert_eq!(revoked, [anonymous.id]);
    assert!(store.sessions_of_user(alice.id).await.unwrap().is_empty());
    assert!(
        store
            .revoke_sessions_of_user(alice.id, None, at(95))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .session(already_revoked.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at(45)),
        "an earlier revocation keeps its time"
    );

    let mut expected = vec![
        (already_revoked.id, at(45)),
        (nothing_granted.id, at(60)),
        (narrowed.id, at(80)),
        (extra.id, at(80)),
        (anonymous.id, at(90)),
    ];
    expected.sort();
    assert_eq!(every_revocation(store).await, expected);
}

/// Every revocation the store keeps, sorted.
pub(crate) async fn every_revocation(store: &dyn Store) -> Vec<(Uuid, OffsetDateTime)> {
    let mut all = store
        .sessions_revoked_after(Some(FeedPosition::BEGINNING))
        .await
        .unwrap()
        .sessions;
    all.sort();
    all
}

/// One compare-and-set of a session's refresh chain; whether it applied.
pub(crate) async fn rotates(
    store: &dyn Store,
    session_id: Uuid,
    generation: u64,
    hash: &RefreshSecretHash,
    now: OffsetDateTime,
) -> bool {
    store
        .rotate_refresh_token(session_id, generation, hash, now)
        .await
        .unwrap()
}

/// A stored session's refresh generation, refresh hash and last use.
pub(crate) async fn chain_state(
    store: &dyn Store,
    session_id: Uuid,
) -> (u64, RefreshSecretHash, OffsetDateTime) {
    let stored = store.session(session_id).await.unwrap().unwrap();
    (
        stored.refresh_generation,
        stored.refresh_hash,
        stored.last_used_at,
    )
}

/// The refresh compare-and-set: success, stale generation, revoked session.
pub(crate) async fn refresh_rotation(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let record = session(alice.id, at(10));
    store.insert_session(&record).await.unwrap();

    let (first, second, third) = (
        RefreshSecretHash([1; 32]),
        RefreshSecretHash([2; 32]),
        RefreshSecretHash([3; 32]),
    );
    assert!(rotates(store, record.id, 0, &first, at(20)).await);
    assert_eq!(chain_state(store, record.id).await, (1, first, at(20)));

    for (session_id, generation, case) in [
        (record.id, 0, "stale generation"),
        (record.id, 2, "future generation"),
        (record.id, u64::MAX, "absurd generation"),
        (Uuid::now_v7(), 1, "unknown session"),
    ] {
        assert!(
            !rotates(store, session_id, generation, &second, at(30)).await,
            "{case}"
        );
    }
    assert_eq!(
        chain_state(store, record.id).await,
        (1, first, at(20)),
        "unchanged"
    );

    assert!(rotates(store, record.id, 1, &second, at(40)).await);
    assert!(store.revoke_session(record.id, at(50)).await.unwrap());
    assert!(
        !rotates(store, record.id, 2, &third, at(60)).await,
        "revoked"
    );
    assert_eq!(chain_state(store, record.id).await, (2, second, at(40)));
    // The key never changes along the chain.
    assert_eq!(
        store.session(record.id).await.unwrap().unwrap().refresh_key,
        record.refresh_key
    );
}

/// Housekeeping deletes exactly what can serve no request any more, in bounded batches.
pub(crate) async fn pruning(store: &dyn Store) {
    let owner = user("pruned@example.com", at(0));
    store.insert_user(&owner).await.unwrap();
    let now = at(100_000);
    let cutoff = SessionCutoff {
        now,
        revoked_before: at(90_000),
        idle_before: at(50_000),
    };
    let mut live = session(owner.id, at(60_000));
    live.expires_at = at(200_000);
    let mut revoked_long_ago = session(owner.id, at(60_000));
    revoked_long_ago.expires_at = at(200_000);
    let mut revoked_recently = revoked_long_ago.clone();
    revoked_recently.id = Uuid::now_v7();
    let mut past_absolute_end = session(owner.id, at(60_000));
    past_absolute_end.expires_at = at(99_999);
    let mut idle = session(owner.id, at(40_000));
    idle.expires_at = at(200_000);
    for record in [
        &live,
        &revoked_long_ago,
        &revoked_recently,
        &past_absolute_end,
        &idle,
    ] {
        store.insert_session(record).await.unwrap();
    }
    assert!(
        store
            .revoke_session(revoked_long_ago.id, at(80_000))
            .await
            .unwrap()
    );
    let (between_revocations, _) = positions_past_every_entry(store).await;
    assert!(
        store
            .revoke_session(revoked_recently.id, at(95_000))
            .await
            .unwrap()
    );

    assert_eq!(
        store.prune_sessions(&cutoff, 2).await.unwrap(),
        2,
        "a batch never exceeds its limit"
    );
    assert_eq!(store.prune_sessions(&cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.prune_sessions(&cutoff, 2).await.unwrap(), 0);
    assert_eq!(
        every_revocation(store).await.len(),
        2,
        "pruning sessions leaves the revocation feed alone"
    );
    // The feed is pruned by position: what a read returning it had made
    // readable goes, whatever the times recorded.
    assert_eq!(
        store
            .prune_revocations(between_revocations, 1_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        every_revocation(store).await,
        [(revoked_recently.id, at(95_000))],
        "the later revocation is still announced"
    );
    for (record, kept) in [
        (&live, true),
        (&revoked_recently, true),
        (&revoked_long_ago, false),
        (&past_absolute_end, false),
        (&idle, false),
    ] {
        assert_eq!(
            store.session(record.id).await.unwrap().is_some(),
            kept,
            "session {:?}",
            record.expires_at
        );
    }

    store
        .insert_first_signing_key(&signing_key(1, at(0)))
        .await
        .unwrap();
    store
        .rotate_signing_key(&signing_key(2, at(10)))
        .await
        .unwrap();
    store
        .rotate_signing_key(&signing_key(3, at(99_000)))
        .await
        .unwrap();
    assert_eq!(
        store.prune_signing_keys(at(90_000)).await.unwrap(),
        1,
        "only the key retired long ago"
    );
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.kid)
        .collect();
    assert_eq!(kids, ["kid-2", "kid-3"]);

    for (key, last_at) in [
        ("old-1", at(10)),
        ("old-2", at(20)),
        ("old-3", at(30)),
        ("recent", at(99_000)),
    ] {
        store
            .record_login_failure(key, last_at, at(0))
            .await
            .unwrap();
    }
    assert_eq!(store.prune_login_failures(at(50_000), 2).await.unwrap(), 2);
    assert_eq!(store.prune_login_failures(at(50_000), 2).await.unwrap(), 1);
    assert!(store.login_failures("recent").await.unwrap().is_some());
    assert!(store.login_failures("old-1").await.unwrap().is_none());
}

/// The refresh grant's one read: a session with its account and every role
/// the account holds; the session alone once the account is gone.
pub(crate) async fn session_with_its_user(store: &dyn Store) {
    for name in ["editor", "auditor"] {
        store
            .put_role(&Role {
                name: name.into(),
                permissions: ["records:read".to_owned()].into(),
            })
            .await
            .unwrap();
    }
    let alice = user("alice@example.com", at(0));
    let bob = user("bob@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    store
        .set_roles(alice.id, &["editor".into(), "auditor".into()])
        .await
        .unwrap();
    let alices = session(alice.id, at(10));
    let bobs = session(bob.id, at(10));
    store.insert_session(&alices).await.unwrap();
    store.insert_session(&bobs).await.unwrap();

    let (read, account) = store
        .session_with_user(alices.id)
        .await
        .unwrap()
        .expect("stored");
    assert_same_session(&read, &alices);
    let account = account.expect("the account exists");
    assert_eq!(account.roles, ["auditor", "editor"], "every role, in order");
    let expected = UserRecord {
        roles: account.roles.clone(),
        ..alice.clone()
    };
    assert_eq!(format!("{account:?}"), format!("{expected:?}"));

    let (read, account) = store
        .session_with_user(bobs.id)
        .await
        .unwrap()
        .expect("stored");
    assert_same_session(&read, &bobs);
    assert_eq!(
        account.expect("the account exists").roles,
        Vec::<String>::new()
    );

    assert!(
        store
            .session_with_user(Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}
