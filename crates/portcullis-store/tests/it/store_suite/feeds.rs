//! The revocation and account-change feeds, read from exact positions.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;
use std::collections::HashSet;

use portcullis_core::store::{AccountChanged, FeedPosition, ProfileChange};

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

/// A position of each feed from which a read returns none of the entries
/// written so far. On a database whose positions are its oldest running
/// transaction, another test's transaction may hold them back a moment.
pub(crate) async fn positions_past_every_entry(store: &dyn Store) -> (FeedPosition, FeedPosition) {
    let started = std::time::Instant::now();
    loop {
        let revocations = store.sessions_revoked_after(None).await.unwrap().position;
        let account_changes = feed_position(store).await;
        if store
            .sessions_revoked_after(Some(revocations))
            .await
            .unwrap()
            .sessions
            .is_empty()
            && changes_after(store, account_changes).await.0.is_empty()
        {
            return (revocations, account_changes);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the feed positions never moved past the entries written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Where the account-change feed is now.
pub(crate) async fn feed_position(store: &dyn Store) -> FeedPosition {
    let feed = store.account_changes_after(None).await.unwrap();
    assert!(feed.changes.is_empty(), "a first read names nothing");
    feed.position
}

/// Every change to what an account cache keeps (email, name, disabled flag,
/// roles held, the roles themselves, deletion) is in the feed, however it
/// is made; password changes and sessions are not. Entries are pruned by
/// position.
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

    store.prune_account_changes(start, 1_000).await.unwrap();
    assert!(
        changes_after(store, start)
            .await
            .0
            .contains(&AccountChanged::User(alice.id)),
        "what a read from the start returns is kept"
    );
    let mut pruned = 0;
    let (_, past_every_change) = positions_past_every_entry(store).await;
    while let batch @ 1.. = store
        .prune_account_changes(past_every_change, 2)
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

/// Deleting a personal access token names its owner in the account-change
/// feed (every process then forgets the tokens it keeps of that account);
/// recording uses names nobody.
pub(crate) async fn personal_token_changes_name_the_owner(store: &dyn Store) {
    let owner = user("owner@example.com", at(0));
    store.insert_user(&owner).await.unwrap();
    let token = super::pages_and_tokens::personal_token(owner.id, &[]);
    store.insert_personal_token(&token).await.unwrap();
    let start = store.account_changes_after(None).await.unwrap();

    store
        .record_personal_token_uses(&[(token.id, at(100))])
        .await
        .unwrap();
    let used = store
        .account_changes_after(Some(start.position))
        .await
        .unwrap();
    assert!(used.changes.is_empty(), "{used:?}");

    assert!(store.delete_personal_token(token.id).await.unwrap());
    let deleted = store
        .account_changes_after(Some(used.position))
        .await
        .unwrap();
    assert!(
        deleted.changes.contains(&AccountChanged::User(owner.id)),
        "{deleted:?}"
    );
}
