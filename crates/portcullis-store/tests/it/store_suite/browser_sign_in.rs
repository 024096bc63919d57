//! Browser sign-in: sessions of every origin read back whole (and a
//! browser session's use recorded), an
//! authorization code redeemed once (its session inserted with it, or
//! nothing written), consents remembered and forgotten, a client's
//! sessions ended together, and old codes pruned.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;
use portcullis_core::authorization::AuthorizationCode;
use portcullis_core::store::{AuthorizationCodeRecord, ConsentRecord};

fn code(user_id: Uuid, client_id: Uuid, created_at: OffsetDateTime) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: AuthorizationCode::generate().hash,
        client_id,
        user_id,
        redirect_uri: "http://127.0.0.1:4000/callback?x=1".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: vec!["books:download".into()],
        openid_scope: "openid email".into(),
        nonce: Some("n0nce ☃".into()),
        browser_session_id: Uuid::now_v7(),
        authenticated_at: created_at,
        created_at,
        expires_at: created_at + Duration::seconds(60),
        redeemed_at: None,
        session_id: None,
    }
}

fn client_session(user_id: Uuid, client_id: Uuid, created_at: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        scope: Some(vec!["books:download".into()]),
        origin: SessionOrigin::Client {
            client_id,
            authenticated_at: created_at - Duration::seconds(5),
            openid_scope: "openid offline_access".into(),
        },
        ..session(user_id, created_at)
    }
}

pub(crate) async fn sessions_of_every_origin(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let browser = SessionRecord {
        origin: SessionOrigin::Browser,
        ..session(alice.id, at(10))
    };
    let client = client_session(alice.id, Uuid::now_v7(), at(20));
    for record in [&browser, &client] {
        store.insert_session(record).await.unwrap();
        assert_same_session(&store.session(record.id).await.unwrap().unwrap(), record);
        let (read, _) = store.session_with_user(record.id).await.unwrap().unwrap();
        assert_same_session(&read, record);
    }

    // A use moves a live session's last use; a revoked one stays as it is.
    assert!(store.touch_session(browser.id, at(30)).await.unwrap());
    let touched = store.session(browser.id).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, at(30));
    assert_eq!(touched.refresh_generation, browser.refresh_generation);
    assert!(store.revoke_session(browser.id, at(31)).await.unwrap());
    assert!(!store.touch_session(browser.id, at(40)).await.unwrap());
    assert!(!store.touch_session(Uuid::now_v7(), at(40)).await.unwrap());
}

pub(crate) async fn authorization_codes_are_redeemed_once(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let client_id = Uuid::now_v7();
    let issued = code(alice.id, client_id, at(10));
    store.insert_authorization_code(&issued).await.unwrap();
    assert_eq!(
        store.authorization_code(&issued.code_hash).await.unwrap(),
        Some(issued.clone())
    );
    assert_eq!(store.authorization_code(&[0; 32]).await.unwrap(), None);

    let first = client_session(alice.id, client_id, at(20));
    assert!(
        store
            .redeem_authorization_code(&issued.code_hash, &first, at(20))
            .await
            .unwrap()
    );
    let redeemed = store
        .authorization_code(&issued.code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(redeemed.redeemed_at, Some(at(20)));
    assert_eq!(redeemed.session_id, Some(first.id));
    assert_same_session(&store.session(first.id).await.unwrap().unwrap(), &first);

    let second = client_session(alice.id, client_id, at(21));
    assert!(
        !store
            .redeem_authorization_code(&issued.code_hash, &second, at(21))
            .await
            .unwrap(),
        "a code is redeemed once"
    );
    assert!(
        store.session(second.id).await.unwrap().is_none(),
        "a refused redemption writes nothing"
    );
    let again = store
        .authorization_code(&issued.code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.session_id,
        Some(first.id),
        "the first redemption's session stays named"
    );

    let late = code(alice.id, client_id, at(100));
    store.insert_authorization_code(&late).await.unwrap();
    assert_eq!(
        store.prune_authorization_codes(at(50), 10).await.unwrap(),
        1
    );
    assert!(
        store
            .authorization_code(&issued.code_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .authorization_code(&late.code_hash)
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn consents_are_remembered_per_user_and_client(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(store.consent(alice.id, first).await.unwrap(), None);
    let mut consent = ConsentRecord {
        user_id: alice.id,
        client_id: first,
        scope: vec!["openid".into(), "books:download".into()],
        granted_at: at(10),
    };
    store.grant_consent(&consent).await.unwrap();
    consent.scope.push("email".into());
    consent.granted_at = at(20);
    store.grant_consent(&consent).await.unwrap();
    assert_eq!(
        store.consent(alice.id, first).await.unwrap(),
        Some(consent.clone()),
        "replaced"
    );
    let other = ConsentRecord {
        client_id: second,
        granted_at: at(5),
        ..consent.clone()
    };
    store.grant_consent(&other).await.unwrap();
    assert_eq!(
        store.consents_of_user(alice.id).await.unwrap(),
        [other.clone(), consent.clone()],
        "oldest first"
    );
    assert!(store.revoke_consent(alice.id, first).await.unwrap());
    assert!(!store.revoke_consent(alice.id, first).await.unwrap());
    assert_eq!(store.consents_of_user(alice.id).await.unwrap(), [other]);
}

pub(crate) async fn a_clients_sessions_end_together(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    let bob = user("bob@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let (client_id, other_client) = (Uuid::now_v7(), Uuid::now_v7());
    let mut ours = [
        client_session(alice.id, client_id, at(10)),
        client_session(alice.id, client_id, at(11)),
    ];
    let bobs = client_session(bob.id, client_id, at(12));
    let theirs = client_session(alice.id, other_client, at(12));
    let api = session(alice.id, at(13));
    for record in ours.iter().chain([&bobs, &theirs, &api]) {
        store.insert_session(record).await.unwrap();
    }
    // One user's (a consent taken back), then every user's (a client removed).
    let bob_ended = store
        .revoke_sessions_of_client(client_id, Some(bob.id), at(20))
        .await
        .unwrap();
    assert_eq!(bob_ended, [bobs.id]);
    let mut ended = store
        .revoke_sessions_of_client(client_id, None, at(20))
        .await
        .unwrap();
    ended.sort_unstable();
    ours.sort_by_key(|s| s.id);
    assert_eq!(ended, ours.iter().map(|s| s.id).collect::<Vec<_>>());
    for record in [&theirs, &api] {
        assert!(
            store
                .session(record.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
    }
}
