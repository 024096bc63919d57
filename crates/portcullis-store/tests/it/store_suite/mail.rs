//! The mail outbox: queueing, claims with a lease, outcomes, and claims
//! racing from several pools. Like the whole suite, it must never name a
//! backend, SQL or a driver.

use portcullis_core::email_tokens::{EmailTokenPurpose, NewEmailToken};
use portcullis_core::store::{EmailTokenRecord, MailAttempt, QueuedMail, TokenEffect};

use super::*;

fn mail(queued_at: OffsetDateTime) -> QueuedMail {
    let id = Uuid::now_v7();
    QueuedMail {
        id,
        kind: "password_reset",
        payload: format!("{{\"message\":\"{id}\"}}"),
        queued_at,
    }
}

/// Claims, leases, and what each outcome leaves.
pub(crate) async fn mail_outbox(store: &dyn Store) {
    let first = mail(at(0));
    let second = mail(at(5));
    store.queue_mail(&first).await.unwrap();
    store.queue_mail(&second).await.unwrap();
    assert_eq!(store.count_waiting_mail().await.unwrap(), 2);

    // Not due before it was queued; then the oldest first, at most `limit`.
    let claim = Uuid::now_v7();
    assert!(
        store
            .claim_mail(claim, at(-1), at(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_mail(claim, at(10), at(70), 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first.id);
    assert_eq!(claimed[0].claim, claim);
    assert_eq!(claimed[0].payload, first.payload);
    assert_eq!(claimed[0].failed_attempts, 0);
    assert_eq!(claimed[0].first_attempt_at, None);

    // Held until the lease ends: another claim gets only the other message.
    let other = Uuid::now_v7();
    let claimed = store.claim_mail(other, at(20), at(80), 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [second.id]
    );
    let gave_up = MailAttempt::GaveUp {
        reason: "550 no such user".into(),
    };
    assert!(
        store
            .record_mail_attempt(second.id, other, at(21), &gave_up)
            .await
            .unwrap()
    );

    // A claimer that died: the message is claimed again once the lease is
    // over, and the old claim can no longer record anything.
    let again = Uuid::now_v7();
    let claimed = store.claim_mail(again, at(70), at(130), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [first.id]);
    let sent = MailAttempt::Sent {
        answer: "250 2.0.0 Ok".into(),
    };
    assert!(
        !store
            .record_mail_attempt(first.id, claim, at(71), &sent)
            .await
            .unwrap()
    );

    // A transient failure: not due again before its time, then claimable
    // with its history.
    let retry = MailAttempt::RetryAt {
        at: at(200),
        reason: "451 try later".into(),
    };
    assert!(
        store
            .record_mail_attempt(first.id, again, at(72), &retry)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_mail_attempt(first.id, again, at(72), &retry)
            .await
            .unwrap(),
        "the claim ended"
    );
    let later = Uuid::now_v7();
    assert!(
        store
            .claim_mail(later, at(199), at(300), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_mail(later, at(200), at(300), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].failed_attempts, 1);
    assert_eq!(claimed[0].first_attempt_at, Some(at(72)));

    // Sent and given up: no longer waiting, never claimed again.
    assert!(
        store
            .record_mail_attempt(first.id, later, at(201), &sent)
            .await
            .unwrap()
    );
    assert_eq!(store.count_waiting_mail().await.unwrap(), 0);
    assert!(
        store
            .claim_mail(Uuid::now_v7(), at(10_000), at(10_060), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Pruned once finished before the cut.
    let waiting = mail(at(300));
    store.queue_mail(&waiting).await.unwrap();
    assert_eq!(
        store.prune_finished_mail(at(100), 10).await.unwrap(),
        1,
        "the given-up one"
    );
    assert_eq!(
        store.prune_finished_mail(at(10_000), 10).await.unwrap(),
        1,
        "the sent one"
    );
    assert_eq!(
        store.count_waiting_mail().await.unwrap(),
        1,
        "a waiting message is kept"
    );
}

/// Forty messages, claimed three at a time by eight claimers taking the
/// two pools in turn until none is left: each message is claimed once.
pub(crate) async fn claims_racing_from_two_pools(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let mut queued = BTreeSet::new();
    for _ in 0..40 {
        let message = mail(at(0));
        first.queue_mail(&message).await.unwrap();
        queued.insert(message.id);
    }
    let stores = [first, second];
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let claimers: Vec<_> = (0..8)
        .map(|claimer| {
            let store = Arc::clone(&stores[claimer % 2]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                loop {
                    let claimed = store
                        .claim_mail(Uuid::now_v7(), at(10), at(70), 3)
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|message| message.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.expect("claimer"));
    }
    assert_eq!(claimed.len(), queued.len(), "no message claimed twice");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), queued);
}

fn token(
    user: &UserRecord,
    purpose: EmailTokenPurpose,
    created_at: OffsetDateTime,
) -> EmailTokenRecord {
    let made = NewEmailToken::generate();
    EmailTokenRecord {
        id: made.id,
        user_id: user.id,
        purpose,
        email: user.email.clone(),
        link_hash: made.link_hash,
        code_hash: made.code_hash,
        created_at,
        expires_at: created_at + Duration::hours(1),
        failed_tries: 0,
        used_at: None,
    }
}

/// Issued with its message, cancelled by a newer one, spent once with its
/// effect, dead after its wrong codes or its expiry, refused once the
/// address changed.
pub(crate) async fn email_tokens(store: &dyn Store) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let reset = EmailTokenPurpose::ResetPassword;
    let first = token(&alice, reset, at(10));
    store
        .issue_email_token(&first, &mail(at(10)))
        .await
        .unwrap();
    assert_eq!(
        store.count_waiting_mail().await.unwrap(),
        1,
        "queued with it"
    );
    let found = store
        .email_token_by_link(&first.link_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.purpose, found.email.as_str()),
        (first.id, reset, "alice@example.com")
    );

    // A newer request of the same purpose cancels it; another purpose's stays.
    let second = token(&alice, reset, at(20));
    store
        .issue_email_token(&second, &mail(at(20)))
        .await
        .unwrap();
    let verify = token(&alice, EmailTokenPurpose::VerifyEmail, at(20));
    store
        .issue_email_token(&verify, &mail(at(20)))
        .await
        .unwrap();
    assert!(
        store
            .email_token_by_link(&first.link_hash)
            .await
            .unwrap()
            .is_none()
    );
    let live = store
        .live_email_tokens(alice.id, reset, at(30), 5)
        .await
        .unwrap();
    assert_eq!(live.iter().map(|t| t.id).collect::<Vec<_>>(), [second.id]);

    // Wrong codes end it at the limit.
    for _ in 0..4 {
        store.count_wrong_code(second.id).await.unwrap();
    }
    assert_eq!(
        store
            .live_email_tokens(alice.id, reset, at(30), 5)
            .await
            .unwrap()
            .len(),
        1
    );
    store.count_wrong_code(second.id).await.unwrap();
    assert!(
        store
            .live_email_tokens(alice.id, reset, at(30), 5)
            .await
            .unwrap()
            .is_empty()
    );
    let hash = PasswordHashString("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$new".into());
    let effect = TokenEffect::ResetPassword { hash: &hash };
    assert!(
        !store
            .spend_email_token(&second, at(30), 5, effect, None)
            .await
            .unwrap()
    );

    // Expired: refused, nothing changes.
    let third = token(&alice, reset, at(40));
    store
        .issue_email_token(&third, &mail(at(40)))
        .await
        .unwrap();
    let notice = mail(at(50));
    let waiting = store.count_waiting_mail().await.unwrap();
    assert!(
        !store
            .spend_email_token(&third, third.expires_at, 5, effect, Some(&notice))
            .await
            .unwrap()
    );
    assert_eq!(
        store.count_waiting_mail().await.unwrap(),
        waiting,
        "no notice queued"
    );

    // Spent once, with its effect and its notice.
    assert!(
        store
            .spend_email_token(&third, at(50), 5, effect, Some(&notice))
            .await
            .unwrap()
    );
    let stored = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, hash);
    assert!(stored.email_verified);
    assert_eq!(store.count_waiting_mail().await.unwrap(), waiting + 1);
    assert!(
        !store
            .spend_email_token(&third, at(51), 5, effect, None)
            .await
            .unwrap(),
        "once"
    );
    let spent = store
        .email_token_by_link(&third.link_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(spent.used_at, Some(at(50)));

    // The address changed since it was sent: refused, and the token stays unused.
    store
        .update_profile(
            alice.id,
            &ProfileChange {
                email: Some(email("alice@example.org")),
                name: None,
            },
        )
        .await
        .unwrap();
    assert!(
        !store
            .spend_email_token(&verify, at(60), 5, TokenEffect::VerifyEmail, None)
            .await
            .unwrap()
    );
    let unused = store
        .email_token_by_link(&verify.link_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unused.used_at, None, "rolled back whole");

    // Pruned after expiry.
    assert_eq!(
        store
            .prune_email_tokens(at(20) + Duration::hours(1), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .prune_email_tokens(at(100) + Duration::days(2), 10)
            .await
            .unwrap(),
        2,
        "the spent one and the one the address change left unused"
    );
}
