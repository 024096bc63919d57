//! What any `Store` must do, as tests over `&dyn Store`.
//!
//! Backend-agnostic on purpose: no SQL, no file, no driver here, so the
//! SQLite and PostgreSQL stores run exactly these functions. Each function
//! expects an empty, migrated store of its own. Times are whole seconds, since
//! stores keep one-second precision. [`store_suite_tests!`] turns every
//! function into one test per backend; a function missing from its list is
//! dead code, which the lints refuse. The `exactly_one_*` functions take
//! several stores (pools on one database, standing for several instances)
//! and are called by the backends' own tests; so are the record builders and
//! the `assert_*` checks marked `pub(crate)`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::keys::{KeyState, SigningKey};
use portcullis_core::refresh::{RefreshSecretHash, SessionRefreshKey};
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountChanged, FeedPosition, LoginFailures, ProfileChange, SessionCutoff, SessionRecord,
    Store, StoreError, UserRecord,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A fixed, whole-second instant, so stored and expected times compare equal.
pub(crate) fn at(seconds_after_base: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000 + seconds_after_base).expect("valid time")
}

fn email(text: &str) -> Email {
    Email::parse(text).expect("valid email")
}

pub(crate) fn user(address: &str, created_at: OffsetDateTime) -> UserRecord {
    UserRecord {
        id: Uuid::now_v7(),
        email: email(address),
        name: Some(format!("Name of {address}")),
        roles: Vec::new(),
        password_hash: PasswordHashString(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${address}")),
        disabled: false,
        created_at,
    }
}

pub(crate) fn session(user_id: Uuid, created_at: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: Uuid::now_v7(),
        user_id,
        created_at,
        last_used_at: created_at,
        expires_at: created_at + Duration::days(30),
        revoked_at: None,
        refresh_key: SessionRefreshKey::generate(),
        refresh_generation: 0,
        refresh_hash: RefreshSecretHash([7; 32]),
        scope: None,
        user_agent: Some("curl/8.5".into()),
        ip: Some("203.0.113.9".into()),
    }
}

pub(crate) fn signing_key(seed: u8, created_at: OffsetDateTime) -> SigningKey {
    SigningKey {
        kid: format!("kid-{seed}"),
        created_at,
        state: KeyState::Active,
        private_pkcs8: vec![seed; 48],
        public_key: [seed; 32],
    }
}

fn role(name: &str, permissions: &[&str]) -> Role {
    Role {
        name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// Asserts that `got` and `want` agree on each named field.
macro_rules! assert_fields_eq {
    ($got:expr, $want:expr, $($field:ident),+ $(,)?) => {
        $(assert_eq!($got.$field, $want.$field, stringify!($field));)+
    };
}

#[track_caller]
fn assert_same_user(got: &UserRecord, want: &UserRecord) {
    assert_fields_eq!(got, want, id, email, name);
    let want_roles: Vec<String> = want
        .roles
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got.roles, want_roles, "roles come back sorted and unique");
    assert_fields_eq!(got, want, password_hash, disabled, created_at);
}

#[track_caller]
fn assert_same_session(got: &SessionRecord, want: &SessionRecord) {
    assert_fields_eq!(
        got,
        want,
        id,
        user_id,
        created_at,
        last_used_at,
        expires_at,
        revoked_at,
        refresh_key,
        refresh_generation,
        refresh_hash,
        scope,
        user_agent,
        ip,
    );
}

#[track_caller]
fn assert_same_key(got: &SigningKey, want: &SigningKey) {
    assert_fields_eq!(got, want, kid, created_at, state, private_pkcs8, public_key);
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "expected Conflict, got {result:?}"
    );
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

#[track_caller]
pub(crate) fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

/// Asserts that a migration refused a schema newer than it knows, version 9999.
#[track_caller]
pub(crate) fn assert_refused_as_newer(result: Result<(), StoreError>) {
    assert!(
        matches!(&result, Err(StoreError::Other(message)) if message.contains("9999")),
        "{result:?}"
    );
}

fn ids(sessions: &[SessionRecord]) -> Vec<Uuid> {
    sessions.iter().map(|session| session.id).collect()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

/// Insert, fetch by id and by email, count, list oldest first, duplicates refused.
pub(crate) async fn users(store: &dyn Store) {
    store.ping().await.expect("ping");
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());

    let mut alice = user("alice@example.com", at(20));
    alice.roles = vec!["zeta".into(), "admin".into(), "zeta".into()];
    let mut bob = user("bob@example.com", at(10));
    bob.name = None;
    bob.disabled = true;
    let carol = user("carol@example.com", at(30));
    for record in [&alice, &bob, &carol] {
        store.insert_user(record).await.expect("insert");
    }

    assert_same_user(
        &store
            .user_by_id(alice.id)
            .await
            .unwrap()
            .expect("alice by id"),
        &alice,
    );
    assert_same_user(
        &store
            .user_by_email(&alice.email)
            .await
            .unwrap()
            .expect("alice by email"),
        &alice,
    );
    assert_same_user(
        &store.user_by_id(bob.id).await.unwrap().expect("bob by id"),
        &bob,
    );
    assert!(store.user_by_id(Uuid::now_v7()).await.unwrap().is_none());
    assert!(
        store
            .user_by_email(&email("nobody@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.count_users().await.unwrap(), 3);

    let listed = store.list_users().await.unwrap();
    assert_eq!(
        listed.iter().map(|u| u.id).collect::<Vec<_>>(),
        [bob.id, alice.id, carol.id],
        "oldest first"
    );
    for (got, want) in listed.iter().zip([&bob, &alice, &carol]) {
        assert_same_user(got, want);
    }

    // The email is the identity: same address, other id.
    assert_conflict(store.insert_user(&user("alice@example.com", at(40))).await);
    // A refused insert leaves nothing behind, roles included.
    let mut duplicate_id = user("dora@example.com", at(40));
    duplicate_id.id = alice.id;
    duplicate_id.roles = vec!["ghost".into()];
    assert_conflict(store.insert_user(&duplicate_id).await);
    assert_eq!(store.count_users().await.unwrap(), 3);
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap().unwrap().roles,
        ["admin", "zeta"]
    );
    assert!(
        store
            .user_by_email(&email("dora@example.com"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Password hash and disabled flag; unknown users are NotFound.
pub(crate) async fn user_flags(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();

    let new_hash = PasswordHashString("$argon2id$v=19$m=47104,t=1,p=1$other$hash".into());
    store.set_password_hash(alice.id, &new_hash).await.unwrap();
    store.set_disabled(alice.id, true).await.unwrap();
    let stored = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, new_hash);
    assert!(stored.disabled);
    store.set_disabled(alice.id, false).await.unwrap();
    assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().disabled);

    let stranger = Uuid::now_v7();
    assert_not_found(store.set_password_hash(stranger, &new_hash).await);
    assert_not_found(store.set_disabled(stranger, true).await);
    assert_not_found(store.set_roles(stranger, &["admin".into()]).await);
    assert_not_found(
        store
            .update_profile(stranger, &ProfileChange::default())
            .await,
    );
    assert_not_found(store.delete_user(stranger).await);
}

/// Each profile change applied to a fresh copy of the same user.
pub(crate) async fn profile_changes(store: &dyn Store) {
    /// `expected` is the (email, name) afterwards, or `None` for Conflict (nothing changed).
    struct Case {
        change: ProfileChange,
        expected: Option<(&'static str, Option<&'static str>)>,
    }
    /// A change of the email and of the name (`Some(None)` clears it), or of neither.
    fn change(new_email: Option<&str>, new_name: Option<Option<&str>>) -> ProfileChange {
        ProfileChange {
            email: new_email.map(email),
            name: new_name.map(|name| name.map(str::to_owned)),
        }
    }
    let taken = user("taken@example.com", at(0));
    store.insert_user(&taken).await.unwrap();

    let before = Some(("before@example.com", Some("Before")));
    let cases = [
        Case {
            change: ProfileChange::default(),
            expected: before,
        },
        Case {
            change: change(Some("after@example.com"), None),
            expected: Some(("after@example.com", Some("Before"))),
        },
        Case {
            change: change(None, Some(Some("After"))),
            expected: Some(("before@example.com", Some("After"))),
        },
        Case {
            change: change(None, Some(None)),
            expected: Some(("before@example.com", None)),
        },
        Case {
            change: change(Some("both@example.com"), Some(Some("Both"))),
            expected: Some(("both@example.com", Some("Both"))),
        },
        // Keeping one's own address is not a conflict.
        Case {
            change: change(Some("before@example.com"), None),
            expected: before,
        },
        Case {
            change: change(Some("taken@example.com"), Some(Some("Lost"))),
            expected: None,
        },
    ];
    for (index, case) in cases.into_iter().enumerate() {
        let mut subject = user("before@example.com", at(1));
        subject.name = Some("Before".into());
        store.insert_user(&subject).await.unwrap();

        let result = store.update_profile(subject.id, &case.change).await;
        let stored = store.user_by_id(subject.id).await.unwrap().unwrap();
        if let Some((want_email, want_name)) = case.expected {
            assert!(result.is_ok(), "case {index}: {result:?}");
            assert_eq!(stored.email.as_str(), want_email, "case {index}");
            assert_eq!(stored.name.as_deref(), want_name, "case {index}");
        } else {
            assert!(
                matches!(result, Err(StoreError::Conflict)),
                "case {index}: {result:?}"
            );
            assert_eq!(
                stored.email.as_str(),
                "before@example.com",
                "case {index}: unchanged"
            );
            assert_eq!(
                stored.name.as_deref(),
                Some("Before"),
                "case {index}: unchanged"
            );
        }
        store.delete_user(subject.id).await.unwrap();
    }
    assert_eq!(
        store.user_by_id(taken.id).await.unwrap().unwrap().email,
        taken.email
    );
}

/// A user's role names are replaced as a set and come back sorted.
pub(crate) async fn user_roles(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    let bob = user("bob@example.com", at(1));
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    store.set_roles(bob.id, &["reader".into()]).await.unwrap();

    let steps: [(&[&str], &[&str]); 4] = [
        (
            &["writer", "admin", "reader"],
            &["admin", "reader", "writer"],
        ),
        (&["reader", "reader"], &["reader"]),
        (&[], &[]),
        (&["auditor"], &["auditor"]),
    ];
    for (set, expected) in steps {
        let roles: Vec<String> = set.iter().map(|r| (*r).to_owned()).collect();
        store.set_roles(alice.id, &roles).await.unwrap();
        assert_eq!(
            store.user_by_id(alice.id).await.unwrap().unwrap().roles,
            expected,
            "after {set:?}"
        );
    }

    let listed = store.list_users().await.unwrap();
    let roles_by_user: Vec<(Uuid, Vec<String>)> =
        listed.into_iter().map(|u| (u.id, u.roles)).collect();
    assert_eq!(
        roles_by_user,
        [
            (alice.id, vec!["auditor".to_owned()]),
            (bob.id, vec!["reader".to_owned()])
        ]
    );
}

/// Stored roles: create, replace, list by name, delete.
pub(crate) async fn roles(store: &dyn Store) {
    assert!(store.roles().await.unwrap().is_empty());
    let doctor = role("doctor", &["records:read", "records:write"]);
    let customer = role("customer", &["books:download"]);
    let empty = role("empty", &[]);
    for stored in [&doctor, &customer, &empty] {
        store.put_role(stored).await.unwrap();
    }
    assert_eq!(
        store.roles().await.unwrap(),
        [customer.clone(), doctor.clone(), empty.clone()]
    );

    let narrowed = role("doctor", &["records:read", "prescriptions:write"]);
    store.put_role(&narrowed).await.unwrap();
    assert_eq!(
        store.roles().await.unwrap(),
        [customer.clone(), narrowed.clone(), empty.clone()]
    );

    store.delete_role("empty").await.unwrap();
    assert_not_found(store.delete_role("empty").await);
    assert_not_found(store.delete_role("never").await);
    assert_eq!(store.roles().await.unwrap(), [customer.clone(), narrowed]);

    // A deleted role that is created again starts from its new permissions only.
    store.delete_role("doctor").await.unwrap();
    store.put_role(&role("doctor", &["triage"])).await.unwrap();
    assert_eq!(
        store.roles().await.unwrap(),
        [customer, role("doctor", &["triage"])]
    );
}

/// Deleting a user takes their sessions with them and no one else's.
pub(crate) async fn delete_user_cascades(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    let mut bob = user("bob@example.com", at(0));
    bob.roles = vec!["reader".into()];
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let alice_sessions = [session(alice.id, at(1)), session(alice.id, at(2))];
    let bob_session = session(bob.id, at(3));
    for record in alice_sessions.iter().chain([&bob_session]) {
        store.insert_session(record).await.unwrap();
    }

    // Revoked first, as the domain does; the revocation outlives the rows.
    assert_eq!(
        store
            .revoke_sessions_of_user(bob.id, None, at(5))
            .await
            .unwrap(),
        [bob_session.id]
    );
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(
        every_revocation(store).await,
        [(bob_session.id, at(5))],
        "other instances still learn of the revocation after the delete"
    );
    assert!(store.user_by_id(bob.id).await.unwrap().is_none());
    assert!(store.session(bob_session.id).await.unwrap().is_none());
    assert!(store.sessions_of_user(bob.id).await.unwrap().is_empty());
    assert_not_found(store.delete_user(bob.id).await);
    assert_eq!(store.sessions_of_user(alice.id).await.unwrap().len(), 2);

    // The address is free again, and the new account starts without the old roles.
    let returning = user("bob@example.com", at(10));
    store.insert_user(&returning).await.unwrap();
    assert!(
        store
            .user_by_id(returning.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );
}

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
async fn every_revocation(store: &dyn Store) -> Vec<(Uuid, OffsetDateTime)> {
    let mut all = store
        .sessions_revoked_after(Some(FeedPosition::BEGINNING))
        .await
        .unwrap()
        .sessions;
    all.sort();
    all
}

/// One compare-and-set of a session's refresh chain; whether it applied.
async fn rotates(
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
async fn chain_state(
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

/// Many refreshes of the same token at once: exactly one wins.
pub(crate) async fn concurrent_refresh_rotation(store: Arc<dyn Store>) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let record = session(alice.id, at(10));
    store.insert_session(&record).await.unwrap();
    exactly_one_rotation_wins(&[store], record.id, 16, at(20)).await;
}

/// `contenders` rotations of generation 0 of `session_id` at the same moment,
/// taking `stores` in turn (several pools stand for several instances):
/// exactly one wins, and the last store reads the winner's hash.
pub(crate) async fn exactly_one_rotation_wins(
    stores: &[Arc<dyn Store>],
    session_id: Uuid,
    contenders: u8,
    now: OffsetDateTime,
) {
    let barrier = Arc::new(tokio::sync::Barrier::new(usize::from(contenders)));
    let tasks: Vec<_> = (0..contenders)
        .map(|contender| {
            let store = Arc::clone(&stores[usize::from(contender) % stores.len()]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let hash = RefreshSecretHash([contender; 32]);
                let won = store
                    .rotate_refresh_token(session_id, 0, &hash, now)
                    .await
                    .expect("rotate");
                (contender, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (contender, won) = task.await.expect("task");
        if won {
            winners.push(contender);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let reader = stores.last().expect("a store");
    let stored = reader.session(session_id).await.unwrap().unwrap();
    assert_eq!(stored.refresh_generation, 1);
    assert_eq!(
        stored.refresh_hash,
        RefreshSecretHash([winners[0]; 32]),
        "the winner's hash is stored"
    );
}

/// Eight first keys inserted at the same moment, taking `stores` in turn:
/// exactly one is stored.
pub(crate) async fn exactly_one_first_signing_key(stores: &[Arc<dyn Store>]) {
    const CONTENDERS: u8 = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(usize::from(CONTENDERS)));
    let tasks: Vec<_> = (0..CONTENDERS)
        .map(|seed| {
            let store = Arc::clone(&stores[usize::from(seed) % stores.len()]);
            let barrier = Arc::clone(&barrier);
            let key = signing_key(seed, at(0));
            tokio::spawn(async move {
                barrier.wait().await;
                store.insert_first_signing_key(&key).await.expect("insert")
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.expect("task"));
    }
    assert_eq!(inserted, 1);
    assert_eq!(stores[0].signing_keys().await.unwrap().len(), 1);
}

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
    store.rotate_signing_key(&key("B"), created).await.unwrap();
    store.rotate_signing_key(&key("_"), created).await.unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["B", "_", "b"]);
}

/// Replacing a user's roles, a role's permissions, or the signing key, many
/// times at once: each change applies whole, as if one after the other.
pub(crate) async fn concurrent_replacements(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    // Overlapping sets, so interleaved deletes and inserts would collide or mix.
    let set = |writer: usize| -> Vec<String> {
        vec![
            "shared".to_owned(),
            format!("own-{writer}"),
            format!("next-{}", (writer + 1) % WRITERS),
        ]
    };
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    assert!(
        store
            .insert_first_signing_key(&signing_key(200, at(0)))
            .await
            .unwrap()
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let roles = set(writer);
            // Every writer starts each kind of change at the same moment.
            tokio::spawn(async move {
                barrier.wait().await;
                store.set_roles(alice.id, &roles).await.expect("set_roles");
                let permissions: Vec<&str> = roles.iter().map(String::as_str).collect();
                barrier.wait().await;
                store
                    .put_role(&role("contested", &permissions))
                    .await
                    .expect("put_role");
                let seed = u8::try_from(writer).expect("few writers");
                barrier.wait().await;
                store
                    .rotate_signing_key(&signing_key(seed, at(1)), at(1))
                    .await
                    .expect("rotate_signing_key");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }

    let sets: Vec<BTreeSet<String>> = (0..WRITERS)
        .map(|writer| set(writer).into_iter().collect())
        .collect();
    let final_roles: BTreeSet<String> = store
        .user_by_id(alice.id)
        .await
        .unwrap()
        .unwrap()
        .roles
        .into_iter()
        .collect();
    assert!(sets.contains(&final_roles), "roles {final_roles:?}");
    let contested = store.roles().await.unwrap();
    assert_eq!(contested.len(), 1);
    assert!(
        sets.contains(&contested[0].permissions),
        "permissions {:?}",
        contested[0].permissions
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), WRITERS + 1);
    let active = keys
        .iter()
        .filter(|key| key.state == KeyState::Active)
        .count();
    assert_eq!(active, 1, "exactly one active key: {keys:?}");
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
    store.rotate_signing_key(&second, at(100)).await.unwrap();
    let third = signing_key(4, at(200));
    store.rotate_signing_key(&third, at(200)).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    let expected = [
        SigningKey {
            state: KeyState::Retiring { since: at(100) },
            ..first.clone()
        },
        SigningKey {
            state: KeyState::Retiring { since: at(200) },
            ..second.clone()
        },
        third.clone(),
    ];
    assert_eq!(keys.len(), expected.len());
    for (got, want) in keys.iter().zip(&expected) {
        assert_same_key(got, want);
    }

    // A rotation that fails (the kid exists) changes nothing.
    assert_conflict(store.rotate_signing_key(&third, at(300)).await);
    let after = store.signing_keys().await.unwrap();
    assert_eq!(
        after.iter().map(|k| k.state).collect::<Vec<_>>(),
        expected.iter().map(|k| k.state).collect::<Vec<_>>()
    );
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
    assert!(
        store
            .revoke_session(revoked_recently.id, at(95_000))
            .await
            .unwrap()
    );

    // Each call: at most 2 sessions, and at most 2 records of old revocations
    // (here the one made at 80,000).
    assert_eq!(
        store.prune_sessions(&cutoff, 2).await.unwrap(),
        2 + 1,
        "a batch never exceeds its limit"
    );
    assert_eq!(store.prune_sessions(&cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.prune_sessions(&cutoff, 2).await.unwrap(), 0);
    assert_eq!(
        every_revocation(store).await,
        [(revoked_recently.id, at(95_000))],
        "the recent revocation is still announced"
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
        .rotate_signing_key(&signing_key(2, at(10)), at(10))
        .await
        .unwrap();
    store
        .rotate_signing_key(&signing_key(3, at(99_000)), at(99_000))
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

/// Revocations are read from where the previous read ended, not from a
/// time: one stamped long ago (by a process whose clock runs behind) is
/// still read, and nothing is read twice once it is behind the position.
pub(crate) async fn revocations_by_position(store: &dyn Store) {
    let owner = user("owner@example.com", at(0));
    store.insert_user(&owner).await.unwrap();
    let (first, second) = (session(owner.id, at(0)), session(owner.id, at(0)));
    store.insert_session(&first).await.unwrap();
    store.insert_session(&second).await.unwrap();
    let start = store.sessions_revoked_after(None).await.unwrap();
    assert!(start.sessions.is_empty(), "a first read names nothing");
    let unchanged = store
        .sessions_revoked_after(Some(start.position))
        .await
        .unwrap();
    assert!(unchanged.sessions.is_empty(), "{unchanged:?}");

    assert!(store.revoke_session(first.id, at(50)).await.unwrap());
    let read = store
        .sessions_revoked_after(Some(unchanged.position))
        .await
        .unwrap();
    assert!(read.sessions.contains(&(first.id, at(50))), "{read:?}");

    assert!(store.revoke_session(second.id, at(-100_000)).await.unwrap());
    store.delete_user(owner.id).await.unwrap();
    let late = store
        .sessions_revoked_after(Some(read.position))
        .await
        .unwrap();
    assert!(
        late.sessions.contains(&(second.id, at(-100_000))),
        "stamped long ago, yet read, and after its session is gone: {late:?}"
    );
}

/// A position past the database's own (it went back: a failover to a
/// lagging replica, a restore) reads as from the beginning: every
/// revocation kept, and every account to forget.
pub(crate) async fn positions_the_database_went_back_behind(store: &dyn Store) {
    let owner = user("owner@example.com", at(0));
    store.insert_user(&owner).await.unwrap();
    let revoked = session(owner.id, at(0));
    store.insert_session(&revoked).await.unwrap();
    assert!(store.revoke_session(revoked.id, at(5)).await.unwrap());
    let ahead = FeedPosition(i64::MAX / 2);

    let read = store.sessions_revoked_after(Some(ahead)).await.unwrap();
    assert_eq!(
        read.sessions,
        [(revoked.id, at(5))],
        "every revocation again"
    );
    assert_ne!(read.position, ahead, "and a position the database knows");

    let feed = store.account_changes_after(Some(ahead)).await.unwrap();
    assert_eq!(feed.changes, [AccountChanged::Everything]);
    assert_ne!(feed.position, ahead, "and a position the database knows");
}

/// The changes the account-change feed has recorded since `position`, and
/// where the next read continues. A read may repeat entries of
/// transactions that were running at the previous one (PostgreSQL, where
/// other tests' transactions count), so callers check for what must be
/// there, and for what must not.
pub(crate) async fn changes_after(
    store: &dyn Store,
    position: FeedPosition,
) -> (HashSet<AccountChanged>, FeedPosition) {
    let feed = store.account_changes_after(Some(position)).await.unwrap();
    let read = feed.changes.len();
    let changes: HashSet<AccountChanged> = feed.changes.into_iter().collect();
    assert_eq!(changes.len(), read, "each change once");
    (changes, feed.position)
}

/// Where the account-change feed is now.
pub(crate) async fn feed_position(store: &dyn Store) -> FeedPosition {
    let feed = store.account_changes_after(None).await.unwrap();
    assert!(feed.changes.is_empty(), "a first read names nothing");
    feed.position
}

/// Every change to what an account cache keeps (email, name, disabled flag,
/// roles held, the roles themselves, deletion) is in the feed, however it
/// is made; password changes and sessions are not. Entries are pruned by age.
pub(crate) async fn account_change_feed(store: &dyn Store) {
    let (alice, bob) = (
        user("alice@example.com", at(0)),
        user("bob@example.com", at(1)),
    );
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let start = feed_position(store).await;
    store
        .set_password_hash(alice.id, &PasswordHashString("$argon2id$new".into()))
        .await
        .unwrap();
    store
        .insert_session(&session(alice.id, at(10)))
        .await
        .unwrap();
    let (changes, _) = changes_after(store, start).await;
    assert!(
        changes.is_empty(),
        "no process keeps password hashes or sessions in its account cache: {changes:?}"
    );

    store.set_roles(alice.id, &["editor".into()]).await.unwrap();
    let name = ProfileChange {
        email: None,
        name: Some(None),
    };
    store.update_profile(bob.id, &name).await.unwrap();
    let (changes, position) = changes_after(store, start).await;
    assert_eq!(
        changes,
        HashSet::from([AccountChanged::User(alice.id), AccountChanged::User(bob.id)])
    );

    store
        .put_role(&role("editor", &["posts:edit"]))
        .await
        .unwrap();
    let (changes, position) = changes_after(store, position).await;
    assert!(changes.contains(&AccountChanged::Roles), "{changes:?}");

    store.set_disabled(bob.id, true).await.unwrap();
    store.delete_user(alice.id).await.unwrap();
    store.delete_role("editor").await.unwrap();
    let (changes, position) = changes_after(store, position).await;
    for expected in [
        AccountChanged::User(alice.id),
        AccountChanged::User(bob.id),
        AccountChanged::Roles,
    ] {
        assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
    }
    assert!(!changes.contains(&AccountChanged::Everything));

    assert_eq!(
        store
            .prune_account_changes(Duration::hours(1), 1_000)
            .await
            .unwrap(),
        0,
        "nothing that old"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let mut pruned = 0;
    while let batch @ 1.. = store
        .prune_account_changes(Duration::ZERO, 2)
        .await
        .unwrap()
    {
        assert!(batch <= 2, "at most the limit at once");
        pruned += batch;
    }
    assert!(pruned >= 5, "{pruned}");
    assert!(changes_after(store, start).await.0.is_empty());

    // After pruning emptied the feed, new entries still come after every
    // position handed out before.
    store.set_disabled(bob.id, false).await.unwrap();
    let (changes, _) = changes_after(store, position).await;
    assert!(
        changes.contains(&AccountChanged::User(bob.id)),
        "{changes:?}"
    );
}

/// Expands, inside a backend's test module, to `mod suite` with one
/// `#[tokio::test]` per function of this file. `$fresh` is evaluated at the
/// start of each test, in that backend module's scope, and yields
/// `Option<TestDatabase>` whose `store` field is that backend's store; `None`
/// skips the test (no server to test against).
macro_rules! store_suite_tests {
    ($fresh:expr) => {
        $crate::store_suite::suite_tests_for!(
            $fresh;
            borrowed: [
                users,
                user_flags,
                profile_changes,
                user_roles,
                roles,
                delete_user_cascades,
                sessions,
                refresh_rotation,
                text_order_is_bytewise,
                signing_keys,
                login_failures,
                pruning,
                account_change_feed,
                revocations_by_position,
                positions_the_database_went_back_behind,
            ];
            shared: [concurrent_refresh_rotation, concurrent_replacements];
        );
    };
}

/// The expansion of [`store_suite_tests!`]: functions taking `&dyn Store`
/// run on a current-thread runtime, those taking `Arc<dyn Store>` (they
/// race tasks) on four worker threads.
macro_rules! suite_tests_for {
    ($fresh:expr; borrowed: [$($borrowed:ident),* $(,)?]; shared: [$($shared:ident),* $(,)?];) => {
        /// The generic store suite (`store_suite.rs`) on this backend.
        mod suite {
            use super::*;

            $(
                #[tokio::test]
                async fn $borrowed() {
                    let Some(database) = $fresh else { return };
                    $crate::store_suite::$borrowed(&database.store).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $shared() {
                    let Some(database) = $fresh else { return };
                    $crate::store_suite::$shared(::std::sync::Arc::new(database.store.clone()))
                        .await;
                }
            )*
        }
    };
}

pub(crate) use {store_suite_tests, suite_tests_for};
