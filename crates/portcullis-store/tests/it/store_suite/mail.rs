//! The mail outbox: queueing, claims with a lease, outcomes, and claims
//! racing from several pools. Like the whole suite, it must never name a
//! backend, SQL or a driver.

use portcullis_core::store::{MailAttempt, QueuedMail};

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
