//! What every store refuses alike, before its database could answer
//! differently, and the check that the database can take a write.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

use super::pages_and_tokens::personal_token;

/// A refusal of the store's input rules.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(&result, Err(StoreError::Other(message)) if message.starts_with("refused")),
        "expected a refusal, got {result:?}"
    );
}

/// Asserts that `user_id` has no live session and no personal token.
async fn assert_no_sessions_nor_tokens(store: &dyn Store, user_id: Uuid) {
    assert!(store.sessions_of_user(user_id).await.unwrap().is_empty());
    let tokens = store.personal_tokens_of_user(user_id).await.unwrap();
    assert!(tokens.is_empty(), "{tokens:?}");
}

/// PostgreSQL's `text` cannot hold NUL and SQLite's can: every store
/// refuses it in any text it would write or look up, and writes nothing.
pub(crate) async fn text_with_nul_is_refused_everywhere(store: &dyn Store) {
    let mut named = user("named@example.com", at(0));
    named.name = Some("Ali\0ce".into());
    assert_refused(store.insert_user(&named).await);
    let mut with_role = user("role@example.com", at(0));
    with_role.roles = vec!["admin".into(), "ad\0min".into()];
    assert_refused(store.insert_user(&with_role).await);
    let mut hashed = user("hash@example.com", at(0));
    hashed.password_hash = PasswordHashString("$argon2id$\0".into());
    assert_refused(store.insert_user(&hashed).await);
    assert_eq!(
        store.count_users().await.unwrap(),
        0,
        "no part of a refused user is stored"
    );

    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    store.set_roles(alice.id, &["reader".into()]).await.unwrap();
    assert_refused(
        store
            .set_roles(alice.id, &["writer".into(), "\0".into()])
            .await,
    );
    let nul_name = ProfileChange {
        email: None,
        name: Some(Some("\0".into())),
    };
    assert_refused(store.update_profile(alice.id, &nul_name).await);
    assert_refused(
        store
            .set_password_hash(alice.id, &PasswordHashString("\0".into()))
            .await,
    );
    assert_same_user(
        &store.user_by_id(alice.id).await.unwrap().unwrap(),
        &UserRecord {
            roles: vec!["reader".into()],
            ..alice.clone()
        },
    );
    let page = portcullis_core::store::UserQuery {
        after: None,
        email_contains: Some("ali\0".into()),
        limit: 10,
    };
    assert_refused(store.query_users(&page).await);

    assert_refused(store.put_role(&role("ed\0itor", &["posts:edit"])).await);
    assert_refused(store.put_role(&role("editor", &["posts:\0edit"])).await);
    assert_refused(store.delete_role("ed\0itor").await);
    assert!(store.roles().await.unwrap().is_empty());

    let mut agent = session(alice.id, at(1));
    agent.user_agent = Some("curl\0".into());
    assert_refused(store.insert_session(&agent).await);
    let mut address = session(alice.id, at(1));
    address.ip = Some("203.0.113.9\0".into());
    assert_refused(store.insert_session(&address).await);
    let mut scoped = session(alice.id, at(1));
    scoped.scope = Some(vec!["records:\0read".into()]);
    assert_refused(store.insert_session(&scoped).await);
    let mut token = personal_token(alice.id, &["records:read"]);
    token.name = "de\0ploy".into();
    assert_refused(store.insert_personal_token(&token).await);
    assert_no_sessions_nor_tokens(store, alice.id).await;

    assert_refused(store.record_login_failure("ip:\0", at(2), at(0)).await);
    assert_refused(store.login_failures("ip:\0").await);
    assert_refused(store.login_failures_of_both(["account:a", "ip:\0"]).await);
    assert_refused(store.clear_login_failures("ip:\0").await);
    assert_refused(store.count_login_attempt("ip:\0", None, at(2), at(0)).await);

    let mut key = signing_key(1, at(0));
    key.kid = "kid\0".into();
    assert_refused(store.insert_first_signing_key(&key).await);
    assert!(store.signing_keys().await.unwrap().is_empty());

    // Bytes are not text: hashes and keys may hold any byte.
    let mut zero_hash = session(alice.id, at(3));
    zero_hash.refresh_hash = RefreshSecretHash([0; 32]);
    store.insert_session(&zero_hash).await.unwrap();
}

/// A session's scope and a personal token's scopes are stored joined by
/// spaces: an entry that is empty or holds whitespace would not come back
/// as it went in, so every store refuses it.
pub(crate) async fn scopes_that_would_not_split_back_are_refused(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    for scope in [vec!["records:read", "a b"], vec![""], vec!["tab\t"]] {
        let scope: Vec<String> = scope.into_iter().map(str::to_owned).collect();
        let mut narrowed = session(alice.id, at(1));
        narrowed.scope = Some(scope.clone());
        assert_refused(store.insert_session(&narrowed).await);
        let mut token = personal_token(alice.id, &["records:read"]);
        token.scopes = scope;
        assert_refused(store.insert_personal_token(&token).await);
    }
    assert_no_sessions_nor_tokens(store, alice.id).await;

    let token = personal_token(alice.id, &["records:read"]);
    store.insert_personal_token(&token).await.unwrap();
    assert_eq!(
        store
            .personal_token(token.id)
            .await
            .unwrap()
            .unwrap()
            .scopes,
        token.scopes
    );
}

/// A store that can write says so, again and again, and the check leaves
/// the store as it was: writes go on.
pub(crate) async fn a_writable_store_says_so(store: &dyn Store) {
    for _ in 0..3 {
        store.check_writable().await.expect("writable");
    }
    store
        .insert_user(&user("alice@example.com", at(0)))
        .await
        .expect("the write lock was let go");
    store.check_writable().await.expect("still writable");
    assert_eq!(store.count_users().await.unwrap(), 1);
}

/// The store, while another client holds what keeps writers out, says it
/// cannot write, within the check's bound, and reads go on; once `release`
/// lets go, it can write again.
pub(crate) async fn not_writable_until(store: &dyn Store, release: impl Future<Output = ()>) {
    let started = std::time::Instant::now();
    assert_unavailable(store.check_writable().await);
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_millis(1_500),
        "{waited:?}"
    );
    store.ping().await.expect("reads go on");
    release.await;
    store.check_writable().await.expect("writable again");
    super::users(store).await;
}
