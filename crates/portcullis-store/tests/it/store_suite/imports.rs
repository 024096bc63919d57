//! Import batches: new accounts with roles and hash costs, updates that end
//! sessions, a taken email that writes nothing, the distinct costs, and
//! users page by page for an export.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

use portcullis_core::store::{
    AccountUpdate, ImportBatch, ImportedAccount, StoredPassword, UserQuery,
};

use super::pages_and_tokens::personal_token;

const BCRYPT_10: &str = "$2b$10$.....................................................";
const BCRYPT_12: &str = "$2b$12$.....................................................";

fn imported(address: &str, cost: Option<&str>, roles: &[&str]) -> ImportedAccount {
    ImportedAccount {
        id: Uuid::now_v7(),
        email: email(address),
        name: Some(format!("Name of {address}")),
        password: StoredPassword {
            hash: PasswordHashString(format!("hash of {address}")),
            cost_stand_in: cost.map(|cost| PasswordHashString(cost.to_owned())),
        },
        email_verified: true,
        disabled: false,
        created_at: at(5),
        roles: roles.iter().map(|role| (*role).to_owned()).collect(),
    }
}

fn batch(new_accounts: Vec<ImportedAccount>) -> ImportBatch {
    ImportBatch {
        roles_to_create: Vec::new(),
        new_accounts,
        updates: Vec::new(),
        end_sessions_of: Vec::new(),
        delete_personal_tokens_of: Vec::new(),
        now: at(100),
    }
}

/// New accounts land whole with their roles, flags and costs; the roles
/// asked for are created once; the costs read back each once.
pub(crate) async fn import_batches(store: &dyn Store) {
    store
        .put_role(&role("reader", &["books:read"]))
        .await
        .unwrap();
    assert!(store.imported_hash_costs().await.unwrap().is_empty());
    let ada = imported("ada@example.com", Some(BCRYPT_12), &["reader", "editor"]);
    let bob = imported("bob@example.com", Some(BCRYPT_10), &[]);
    let cat = imported("cat@example.com", Some(BCRYPT_12), &["editor"]);
    let mut dan = imported("dan@example.com", None, &[]);
    dan.name = None;
    dan.email_verified = false;
    dan.disabled = true;
    let mut first = batch(vec![ada.clone(), bob.clone(), cat.clone(), dan.clone()]);
    first.roles_to_create = vec!["editor".into(), "reader".into()];
    store.write_import_batch(&first).await.expect("a batch");

    for account in [&ada, &bob, &cat, &dan] {
        let stored = store
            .user_by_email(&account.email)
            .await
            .unwrap()
            .expect("imported");
        assert_eq!(stored.id, account.id);
        assert_eq!(stored.name, account.name);
        assert_eq!(stored.password_hash, account.password.hash);
        assert_eq!(stored.email_verified, account.email_verified);
        assert_eq!(stored.disabled, account.disabled);
        assert_eq!(stored.created_at, account.created_at);
        let mut roles = account.roles.clone();
        roles.sort();
        assert_eq!(stored.roles, roles);
    }
    let roles = store.roles().await.unwrap();
    assert_eq!(
        roles,
        [role("editor", &[]), role("reader", &["books:read"])]
    );
    assert_eq!(
        store.imported_hash_costs().await.unwrap(),
        [
            PasswordHashString(BCRYPT_10.into()),
            PasswordHashString(BCRYPT_12.into())
        ],
        "each cost once, whatever the count of users"
    );
    let mut found = store
        .existing_accounts(&[
            email("cat@example.com"),
            email("eve@example.com"),
            email("ada@example.com"),
        ])
        .await
        .unwrap();
    found.sort_by_key(|account| account.id);
    assert_eq!(
        found.iter().map(|a| (a.id, a.disabled)).collect::<Vec<_>>(),
        [(ada.id, false), (cat.id, false)]
    );
    assert_eq!(found[0].password_hash, ada.password.hash);

    // A taken email refuses the whole batch.
    let eve = imported("eve@example.com", Some(BCRYPT_10), &["reader"]);
    let taken = batch(vec![eve.clone(), imported("ada@example.com", None, &[])]);
    assert_conflict(store.write_import_batch(&taken).await);
    assert!(store.user_by_email(&eve.email).await.unwrap().is_none());

    // A hash set by the server's own means drops the account's cost.
    store
        .set_password_hash(bob.id, &PasswordHashString("$argon2id$ours".into()))
        .await
        .unwrap();
    assert_eq!(
        store.imported_hash_costs().await.unwrap(),
        [PasswordHashString(BCRYPT_12.into())]
    );
}

/// Updates change what they give and keep the rest; roles given replace
/// the account's; sessions and tokens end where asked, in the same write.
pub(crate) async fn import_updates(store: &dyn Store) {
    let ada = imported("ada@example.com", Some(BCRYPT_12), &["reader"]);
    let bob = imported("bob@example.com", Some(BCRYPT_12), &["reader"]);
    store
        .write_import_batch(&batch(vec![ada.clone(), bob.clone()]))
        .await
        .unwrap();
    let (ada_session, bob_session) = (session(ada.id, at(10)), session(bob.id, at(10)));
    store.insert_session(&ada_session).await.unwrap();
    store.insert_session(&bob_session).await.unwrap();
    let token = personal_token(ada.id, &[]);
    store.insert_personal_token(&token).await.unwrap();

    let mut change = batch(Vec::new());
    change.updates = vec![
        AccountUpdate {
            id: ada.id,
            name: None,
            password: Some(StoredPassword {
                hash: PasswordHashString("a new hash".into()),
                cost_stand_in: Some(PasswordHashString(BCRYPT_10.into())),
            }),
            email_verified: Some(false),
            disabled: Some(true),
            roles: Some(vec!["editor".into(), "writer".into()]),
        },
        AccountUpdate {
            id: bob.id,
            name: Some("Robert".into()),
            password: None,
            email_verified: None,
            disabled: None,
            roles: None,
        },
    ];
    change.end_sessions_of = vec![ada.id];
    change.delete_personal_tokens_of = vec![ada.id];
    store.write_import_batch(&change).await.unwrap();

    let stored = store.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.name, ada.name, "kept");
    assert_eq!(stored.password_hash.0, "a new hash");
    assert!(!stored.email_verified);
    assert!(stored.disabled);
    assert_eq!(stored.roles, ["editor", "writer"]);
    let stored = store.user_by_id(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("Robert"));
    assert_eq!(stored.password_hash, bob.password.hash, "kept");
    assert!(stored.email_verified, "kept");
    assert_eq!(stored.roles, ["reader"], "kept");
    assert_eq!(
        store
            .session(ada_session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at(100))
    );
    assert_eq!(
        store
            .session(bob_session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(store.personal_token(token.id).await.unwrap().is_none());
    assert_eq!(
        store.imported_hash_costs().await.unwrap(),
        [
            PasswordHashString(BCRYPT_10.into()),
            PasswordHashString(BCRYPT_12.into())
        ]
    );
}

/// Every user comes out once, in id order, a page at a time.
pub(crate) async fn users_for_export(store: &dyn Store) {
    let accounts: Vec<ImportedAccount> = (0..7)
        .map(|index| imported(&format!("user{index}@example.com"), None, &["reader"]))
        .collect();
    store
        .write_import_batch(&batch(accounts.clone()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.users_after(after, 3).await.unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(|user| (user.id, user.roles.clone())));
        match page.last() {
            Some(last) if page.len() == 3 => after = Some(last.id),
            _ => break,
        }
    }
    let want: Vec<(Uuid, Vec<String>)> = accounts
        .iter()
        .map(|account| (account.id, vec!["reader".to_owned()]))
        .collect();
    assert_eq!(seen, want);
    let all = store
        .query_users(&UserQuery {
            after: None,
            email_contains: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
}
