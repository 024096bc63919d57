//! OAuth clients: stored whole, listed oldest first, changed field by
//! field, removed; and the records the store refuses.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

use portcullis_core::clients::{Client, ClientKind, ClientSecretHash};
use portcullis_core::store::{ClientRecord, ClientUpdate};

/// A client made at `at(seconds)`; a confidential one has a secret hash.
fn client(kind: ClientKind, seconds: i64) -> ClientRecord {
    ClientRecord {
        client: Client {
            client_id: Uuid::now_v7(),
            name: format!("Client {seconds}"),
            redirect_uris: vec![
                "https://app.example/cb?x=1&y=%20".into(),
                "http://127.0.0.1:8080/cb".into(),
                "com.example.app:/cb".into(),
            ],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            kind,
            first_party: kind == ClientKind::Public,
            allowed_scopes: vec!["books:download".into(), "comments:write".into()],
            id_token_signed_response_alg: "RS256".into(),
            created_at: at(seconds),
        },
        secret_hash: (kind == ClientKind::Confidential).then_some(ClientSecretHash([5; 32])),
    }
}

pub(crate) async fn clients(store: &dyn Store) {
    assert!(store.clients().await.unwrap().is_empty());
    let confidential = client(ClientKind::Confidential, 2);
    let mut public = client(ClientKind::Public, 1);
    public.client.post_logout_redirect_uris = Vec::new();
    public.client.allowed_scopes = Vec::new();
    store.insert_client(&confidential).await.unwrap();
    store.insert_client(&public).await.unwrap();
    for record in [&confidential, &public] {
        assert_eq!(
            store
                .client(record.client.client_id)
                .await
                .unwrap()
                .as_ref(),
            Some(record)
        );
    }
    assert_eq!(
        store.clients().await.unwrap(),
        [public.clone(), confidential.clone()],
        "oldest first"
    );
    assert!(matches!(
        store.insert_client(&confidential).await,
        Err(StoreError::Conflict)
    ));

    let id = confidential.client.client_id;
    let changes = [
        ClientUpdate {
            name: Some("Renamed".into()),
            ..ClientUpdate::default()
        },
        ClientUpdate {
            redirect_uris: Some(vec!["https://new.example/cb".into()]),
            post_logout_redirect_uris: Some(Vec::new()),
            ..ClientUpdate::default()
        },
        ClientUpdate {
            first_party: Some(true),
            allowed_scopes: Some(Vec::new()),
            id_token_signed_response_alg: Some("EdDSA".into()),
            ..ClientUpdate::default()
        },
        ClientUpdate::default(),
    ];
    let mut expected = confidential.clone();
    for change in changes {
        store.update_client(id, &change).await.unwrap();
        let client = &mut expected.client;
        client.name = change.name.unwrap_or(client.name.clone());
        client.redirect_uris = change.redirect_uris.unwrap_or(client.redirect_uris.clone());
        client.post_logout_redirect_uris = change
            .post_logout_redirect_uris
            .unwrap_or(client.post_logout_redirect_uris.clone());
        client.first_party = change.first_party.unwrap_or(client.first_party);
        client.allowed_scopes = change
            .allowed_scopes
            .unwrap_or(client.allowed_scopes.clone());
        client.id_token_signed_response_alg = change
            .id_token_signed_response_alg
            .unwrap_or(client.id_token_signed_response_alg.clone());
        assert_eq!(store.client(id).await.unwrap().as_ref(), Some(&expected));
    }
    assert_eq!(
        store
            .client(public.client.client_id)
            .await
            .unwrap()
            .as_ref(),
        Some(&public),
        "a change touches one client only"
    );

    let unknown = Uuid::now_v7();
    for change in [
        ClientUpdate::default(),
        ClientUpdate {
            first_party: Some(false),
            ..ClientUpdate::default()
        },
    ] {
        assert!(matches!(
            store.update_client(unknown, &change).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(store.client(unknown).await.unwrap(), None);
    assert!(!store.delete_client(unknown).await.unwrap());
    assert!(store.delete_client(id).await.unwrap());
    assert!(!store.delete_client(id).await.unwrap());
    assert_eq!(store.client(id).await.unwrap(), None);
    assert_eq!(store.clients().await.unwrap(), [public]);
}

/// A record no client could have (text with NUL or white space inside a
/// list entry, a secret that does not fit its kind) is refused, and nothing
/// of it is stored.
pub(crate) async fn client_records_the_store_refuses(store: &dyn Store) {
    let refusals = [
        |record: &mut ClientRecord| record.client.name = "Na\0me".into(),
        |record: &mut ClientRecord| record.client.redirect_uris[0] = "https://a.example/\0".into(),
        |record: &mut ClientRecord| record.client.redirect_uris[0] = "https://a.example/a b".into(),
        |record: &mut ClientRecord| record.client.post_logout_redirect_uris = vec![String::new()],
        |record: &mut ClientRecord| record.client.allowed_scopes = vec!["a b".into()],
        |record: &mut ClientRecord| record.client.id_token_signed_response_alg = "RS256\0".into(),
        |record: &mut ClientRecord| record.secret_hash = None,
        |record: &mut ClientRecord| record.client.kind = ClientKind::Public,
    ];
    for refuse in refusals {
        let mut record = client(ClientKind::Confidential, 0);
        refuse(&mut record);
        let outcome = store.insert_client(&record).await;
        assert!(
            matches!(outcome, Err(StoreError::Other(_))),
            "{record:?}: {outcome:?}"
        );
    }
    assert!(store.clients().await.unwrap().is_empty());

    let stored = client(ClientKind::Public, 0);
    store.insert_client(&stored).await.unwrap();
    let refused_changes = [
        ClientUpdate {
            name: Some("\0".into()),
            ..ClientUpdate::default()
        },
        ClientUpdate {
            name: Some("Fine".into()),
            redirect_uris: Some(vec!["https://a.example/a b".into()]),
            ..ClientUpdate::default()
        },
        ClientUpdate {
            first_party: Some(false),
            allowed_scopes: Some(vec!["a\0".into()]),
            ..ClientUpdate::default()
        },
    ];
    for change in refused_changes {
        let outcome = store.update_client(stored.client.client_id, &change).await;
        assert!(
            matches!(outcome, Err(StoreError::Other(_))),
            "{change:?}: {outcome:?}"
        );
    }
    assert_eq!(
        store.client(stored.client.client_id).await.unwrap(),
        Some(stored),
        "a refused change changes nothing"
    );
}
