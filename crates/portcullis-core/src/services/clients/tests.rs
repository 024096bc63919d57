use secrecy::ExposeSecret as _;
use time::OffsetDateTime;

use super::*;

fn record(kind: ClientKind) -> (ClientRecord, Option<SecretString>) {
    let (secret, secret_hash) = match kind {
        ClientKind::Public => (None, None),
        ClientKind::Confidential => {
            let (secret, hash) = new_client_secret();
            (Some(secret), Some(hash))
        }
    };
    let client = Client {
        client_id: Uuid::now_v7(),
        name: "Bookstore".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        kind,
        first_party: false,
        allowed_scopes: Vec::new(),
        id_token_signed_response_alg: DEFAULT_ID_TOKEN_ALGORITHM.into(),
        created_at: OffsetDateTime::UNIX_EPOCH,
    };
    (
        ClientRecord {
            client,
            secret_hash,
        },
        secret,
    )
}

#[track_caller]
fn check(record: Option<&ClientRecord>, secret: Option<&SecretString>, accepted: bool) {
    let outcome = authenticated(record.cloned(), secret);
    match (accepted, outcome) {
        (true, Ok(client)) => assert_eq!(Some(&client), record.map(|record| &record.client)),
        (false, Err(AuthError::InvalidClient)) => {}
        (_, outcome) => panic!("expected accepted = {accepted}, got {outcome:?}"),
    }
}

#[test]
fn a_public_client_authenticates_without_a_secret_only() {
    let (public, _) = record(ClientKind::Public);
    check(Some(&public), None, true);
    check(Some(&public), Some(&SecretString::from("")), false);
    check(Some(&public), Some(&SecretString::from("anything")), false);
    let (_, someone_elses) = record(ClientKind::Confidential);
    check(Some(&public), someone_elses.as_ref(), false);
}

#[test]
fn a_confidential_client_authenticates_with_its_own_secret_only() {
    let (confidential, secret) = record(ClientKind::Confidential);
    let secret = secret.expect("a confidential client has a secret");
    check(Some(&confidential), Some(&secret), true);
    check(Some(&confidential), None, false);
    let (_, other) = record(ClientKind::Confidential);
    check(Some(&confidential), other.as_ref(), false);
    let almost = SecretString::from(format!("{}x", secret.expose_secret()));
    check(Some(&confidential), Some(&almost), false);
    let truncated = SecretString::from(secret.expose_secret()[..46].to_owned());
    check(Some(&confidential), Some(&truncated), false);
}

#[test]
fn an_unknown_client_never_authenticates() {
    let (_, secret) = record(ClientKind::Confidential);
    check(None, None, false);
    check(None, secret.as_ref(), false);
    check(None, Some(&SecretString::from("")), false);
}

#[test]
fn redirect_uris_are_kept_in_order_each_once_and_every_refusal_is_named() {
    let uris = |list: &[&str]| list.iter().map(|uri| (*uri).to_owned()).collect::<Vec<_>>();
    let mut invalid = InvalidFields::default();
    let kept = check_redirect_uris(
        &mut invalid,
        &uris(&[
            "https://b.example/cb",
            "https://a.example/cb",
            "https://b.example/cb",
        ]),
    );
    assert_eq!(
        kept,
        Some(uris(&["https://b.example/cb", "https://a.example/cb"]))
    );
    assert!(invalid.finish().is_ok());

    let mut invalid = InvalidFields::default();
    let refused = check_redirect_uris(
        &mut invalid,
        &uris(&[
            "http://a.example/cb",
            "https://a.example/cb",
            "https://b.example/#x",
        ]),
    );
    assert_eq!(refused, None);
    let Err(AuthError::Invalid(fields)) = invalid.finish() else {
        panic!("expected invalid fields");
    };
    let messages: Vec<&str> = fields.iter().map(|f| f.message.as_str()).collect();
    assert!(
        fields.iter().all(|f| f.field == "redirect_uris"),
        "{fields:?}"
    );
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("entry 0 ") && messages[0].contains("loopback"));
    assert!(messages[1].starts_with("entry 2 ") && messages[1].contains("fragment"));

    type Check = fn(&mut InvalidFields, &[String]) -> Option<Vec<String>>;
    let bounds: [(&str, Check, Vec<String>, bool); 5] = [
        ("redirect_uris", check_redirect_uris, vec![], false),
        (
            "post_logout_redirect_uris",
            check_post_logout_redirect_uris,
            vec![],
            true,
        ),
        (
            "redirect_uris",
            check_redirect_uris,
            vec!["https://a.example/cb".to_owned(); MAX_REDIRECT_URIS],
            true,
        ),
        (
            "redirect_uris",
            check_redirect_uris,
            (0..=MAX_REDIRECT_URIS)
                .map(|n| format!("https://a.example/{n}"))
                .collect(),
            false,
        ),
        (
            "post_logout_redirect_uris",
            check_post_logout_redirect_uris,
            (0..=MAX_REDIRECT_URIS)
                .map(|n| format!("https://a.example/{n}"))
                .collect(),
            false,
        ),
    ];
    for (field, check, list, accepted) in bounds {
        let mut invalid = InvalidFields::default();
        let kept = check(&mut invalid, &list);
        assert_eq!(kept.is_some(), accepted, "{field}: {list:?}");
        match invalid.finish() {
            Ok(()) => assert!(accepted, "{field}: {list:?}"),
            Err(AuthError::Invalid(fields)) => {
                assert!(!accepted, "{field}: {list:?}");
                assert_eq!(fields[0].field, field);
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[test]
fn allowed_scopes_are_permissions_sorted_once_and_algorithms_are_named() {
    let mut invalid = InvalidFields::default();
    let scopes = ["b:write", "a:read", "b:write"].map(String::from);
    assert_eq!(
        check_scopes(&mut invalid, &scopes),
        Some(vec!["a:read".to_owned(), "b:write".to_owned()])
    );
    assert_eq!(
        check_algorithm(&mut invalid, "EdDSA"),
        Some("EdDSA".to_owned())
    );
    assert_eq!(
        check_algorithm(&mut invalid, "RS256"),
        Some("RS256".to_owned())
    );
    assert!(invalid.finish().is_ok());

    let mut invalid = InvalidFields::default();
    assert_eq!(check_scopes(&mut invalid, &["with space".to_owned()]), None);
    assert_eq!(check_algorithm(&mut invalid, "HS256"), None);
    assert_eq!(check_algorithm(&mut invalid, "rs256"), None);
    let Err(AuthError::Invalid(fields)) = invalid.finish() else {
        panic!("expected invalid fields");
    };
    let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        named,
        [
            "allowed_scopes",
            "id_token_signed_response_alg",
            "id_token_signed_response_alg"
        ]
    );
}
