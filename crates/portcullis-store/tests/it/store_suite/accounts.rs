//! Users, their flags, profiles and roles held; stored roles.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

use super::sessions::every_revocation;

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
    bob.email_verified = true;
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
    assert!(!stored.email_verified);
    let verified = UserRecord {
        email_verified: true,
        ..user("verified@example.com", at(1))
    };
    store.insert_user(&verified).await.unwrap();
    assert!(
        store
            .user_by_id(verified.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );

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
    // Bob stays an administrator, so Alice may stop being one.
    store
        .set_roles(bob.id, &["admin".into(), "reader".into()])
        .await
        .unwrap();

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
            (bob.id, vec!["admin".to_owned(), "reader".to_owned()])
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

/// Issue 10, finding 5: no change leaves no active administrator where
/// there was one: not a demotion, not disabling, not deleting. Anything
/// else about administrators is allowed.
pub(crate) async fn the_last_administrator_stays(store: &dyn Store) {
    let admin = UserRecord {
        roles: vec!["admin".to_owned()],
        ..user("root@example.com", at(0))
    };
    store.insert_user(&admin).await.unwrap();
    let refused = |result: Result<(), StoreError>, what: &str| {
        assert!(
            matches!(result, Err(StoreError::LastAdministrator)),
            "{what}: {result:?}"
        );
    };
    refused(store.set_roles(admin.id, &[]).await, "demoting");
    refused(store.set_disabled(admin.id, true).await, "disabling");
    refused(store.delete_user(admin.id).await, "deleting");
    refused(
        store
            .update_user(
                admin.id,
                &UserUpdate {
                    roles: Some(vec!["admin".to_owned(), "editor".to_owned()]),
                    name: Some(Some("Root".to_owned())),
                    disabled: Some(true),
                    email_verified: Some(true),
                },
            )
            .await,
        "disabling with other changes",
    );
    let kept = store.user_by_id(admin.id).await.unwrap().expect("kept");
    assert_eq!(kept.roles, ["admin"], "nothing changed");
    assert_eq!(kept.name, admin.name, "nothing changed");
    assert_eq!(kept.email_verified, admin.email_verified, "nothing changed");
    assert!(!kept.disabled);

    store
        .update_user(
            admin.id,
            &UserUpdate {
                roles: Some(vec!["admin".to_owned(), "editor".to_owned()]),
                name: Some(Some("Root".to_owned())),
                disabled: Some(false),
                email_verified: Some(true),
            },
        )
        .await
        .expect("an administrator may gain roles and a name");
    let changed = store.user_by_id(admin.id).await.unwrap().expect("kept");
    assert_eq!(changed.roles, ["admin", "editor"]);
    assert_eq!(changed.name.as_deref(), Some("Root"));
    assert!(changed.email_verified);
    let second = UserRecord {
        roles: vec!["admin".to_owned()],
        ..user("second@example.com", at(1))
    };
    store.insert_user(&second).await.unwrap();
    store
        .set_disabled(second.id, true)
        .await
        .expect("one of two may be disabled");
    refused(
        store.set_roles(admin.id, &[]).await,
        "demoting the last one not disabled",
    );
    store.set_disabled(second.id, false).await.unwrap();
    store
        .set_roles(admin.id, &[])
        .await
        .expect("one of two may be demoted");
    refused(
        store.delete_user(second.id).await,
        "deleting the new last one",
    );

    let nobody = user("plain@example.com", at(2));
    store.insert_user(&nobody).await.unwrap();
    store
        .delete_user(nobody.id)
        .await
        .expect("anyone else goes as before");
}
