//! Pages of users, and personal access tokens with the times of their use.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

use portcullis_core::personal_tokens::PersonalTokenSecretHash;
use portcullis_core::store::{PersonalTokenRecord, UserQuery};

/// A personal token of `user_id`, never used, with the given scopes.
pub(crate) fn personal_token(user_id: Uuid, scopes: &[&str]) -> PersonalTokenRecord {
    PersonalTokenRecord {
        id: Uuid::now_v7(),
        user_id,
        name: "deploy".into(),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        secret_hash: PersonalTokenSecretHash([9; 32]),
        created_at: at(0),
        expires_at: None,
        last_used_at: None,
    }
}

/// Users page by id (oldest first, ids being UUIDv7), filtered by a piece
/// of their canonical email, whatever its case, with their roles.
pub(crate) async fn user_pages(store: &dyn Store) {
    let mut users = Vec::new();
    for (index, address) in [
        "ann@a.example",
        "bob@b.example",
        "cat@a.example",
        "dan@b.example",
        "eve@a.example",
    ]
    .into_iter()
    .enumerate()
    {
        let mut record = user(address, at(i64::try_from(index).unwrap()));
        record.roles = vec!["reader".into(), format!("role-{index}")];
        store.insert_user(&record).await.unwrap();
        users.push(record);
    }
    #[track_caller]
    fn check(got: &[UserRecord], want: &[&UserRecord]) {
        assert_eq!(
            got.iter()
                .map(|user| user.email.as_str())
                .collect::<Vec<_>>(),
            want.iter()
                .map(|user| user.email.as_str())
                .collect::<Vec<_>>()
        );
        for (got, want) in got.iter().zip(want) {
            assert_same_user(got, want);
        }
    }
    let page = |after: Option<Uuid>, email_contains: Option<&str>, limit: u32| UserQuery {
        after,
        email_contains: email_contains.map(str::to_owned),
        limit,
    };
    let first = store.query_users(&page(None, None, 2)).await.unwrap();
    check(&first, &[&users[0], &users[1]]);
    let second = store
        .query_users(&page(Some(first[1].id), None, 2))
        .await
        .unwrap();
    check(&second, &[&users[2], &users[3]]);
    let last = store
        .query_users(&page(Some(second[1].id), None, 2))
        .await
        .unwrap();
    check(&last, &[&users[4]]);
    assert!(
        store
            .query_users(&page(Some(users[4].id), None, 2))
            .await
            .unwrap()
            .is_empty()
    );

    let a_domain = store
        .query_users(&page(None, Some("@A.EXAMPLE"), 10))
        .await
        .unwrap();
    check(&a_domain, &[&users[0], &users[2], &users[4]]);
    let after_ann = store
        .query_users(&page(Some(users[0].id), Some("a.ex"), 1))
        .await
        .unwrap();
    check(&after_ann, &[&users[2]]);
    assert!(
        store
            .query_users(&page(None, Some("zed"), 10))
            .await
            .unwrap()
            .is_empty()
    );
    let everyone = store.query_users(&page(None, Some(""), 10)).await.unwrap();
    assert_eq!(
        everyone.len(),
        users.len(),
        "an empty piece is in every email"
    );
}

/// Tokens are stored, read, listed newest first and deleted; their use
/// times are recorded in batches, each token at its latest use, never
/// moving back.
pub(crate) async fn personal_tokens(store: &dyn Store) {
    let (alice, bob) = (
        user("alice@example.com", at(0)),
        user("bob@example.com", at(0)),
    );
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let older = personal_token(alice.id, &["records:read", "books:download"]);
    let mut newer = personal_token(alice.id, &[]);
    newer.expires_at = Some(at(1_000));
    newer.last_used_at = Some(at(50));
    let bobs = personal_token(bob.id, &["records:read"]);
    for token in [&older, &newer, &bobs] {
        store.insert_personal_token(token).await.unwrap();
    }
    assert_conflict(store.insert_personal_token(&older).await);
    let stored = store
        .personal_token(newer.id)
        .await
        .unwrap()
        .expect("stored");
    assert_fields_eq!(
        stored,
        newer,
        id,
        user_id,
        name,
        scopes,
        secret_hash,
        created_at,
        expires_at,
        last_used_at
    );
    assert_eq!(
        store
            .personal_token(older.id)
            .await
            .unwrap()
            .unwrap()
            .scopes,
        older.scopes
    );
    assert!(
        store
            .personal_token(Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
    let listed: Vec<Uuid> = store
        .personal_tokens_of_user(alice.id)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [newer.id, older.id], "newest first");

    store.record_personal_token_uses(&[]).await.unwrap();
    store
        .record_personal_token_uses(&[
            (older.id, at(10)),
            (newer.id, at(20)),
            (older.id, at(30)),
            (older.id, at(25)),
            (Uuid::now_v7(), at(40)),
        ])
        .await
        .unwrap();
    let last_used = |id: Uuid| async move {
        store
            .personal_token(id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    assert_eq!(
        last_used(older.id).await,
        Some(at(30)),
        "the latest use of the batch"
    );
    assert_eq!(last_used(newer.id).await, Some(at(50)), "never moved back");
    assert_eq!(last_used(bobs.id).await, None, "unused");

    assert!(store.delete_personal_token(older.id).await.unwrap());
    assert!(!store.delete_personal_token(older.id).await.unwrap());
    assert_eq!(
        store
            .delete_personal_tokens_of_user(alice.id)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .personal_tokens_of_user(alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.personal_tokens_of_user(bob.id).await.unwrap().len(),
        1,
        "other users' kept"
    );
}
