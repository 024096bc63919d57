//! Writes that race each other, and writes whose callers stop waiting.
//! Like the whole suite, it must never name a backend, SQL or a driver.

use super::*;

/// Many refreshes of the same token at once: exactly one wins.
pub(crate) async fn concurrent_refresh_rotation(store: Arc<dyn Store>) {
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    let record = session(alice.id, at(10));
    store.insert_session(&record).await.unwrap();
    exactly_one_rotation_wins(&[store], record.id, 16, at(20)).await;
}

/// `contenders` rotations of generation 0 of `session_id` at the same moment,
/// taking `stores` in turn (several pools stand for several instances):
/// exactly one wins, and the last store reads the winner's hash.
pub(crate) async fn exactly_one_rotation_wins(
    stores: &[Arc<dyn Store>],
    session_id: Uuid,
    contenders: u8,
    now: OffsetDateTime,
) {
    let barrier = Arc::new(tokio::sync::Barrier::new(usize::from(contenders)));
    let tasks: Vec<_> = (0..contenders)
        .map(|contender| {
            let store = Arc::clone(&stores[usize::from(contender) % stores.len()]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let hash = RefreshSecretHash([contender; 32]);
                let won = store
                    .rotate_refresh_token(session_id, 0, &hash, now)
                    .await
                    .expect("rotate");
                (contender, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (contender, won) = task.await.expect("task");
        if won {
            winners.push(contender);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let reader = stores.last().expect("a store");
    let stored = reader.session(session_id).await.unwrap().unwrap();
    assert_eq!(stored.refresh_generation, 1);
    assert_eq!(
        stored.refresh_hash,
        RefreshSecretHash([winners[0]; 32]),
        "the winner's hash is stored"
    );
}

/// Nine first keys, three of each algorithm, inserted at the same moment,
/// taking `stores` in turn: exactly one of each algorithm is stored.
pub(crate) async fn exactly_one_first_signing_key(stores: &[Arc<dyn Store>]) {
    const CONTENDERS: u8 = 9;
    let barrier = Arc::new(tokio::sync::Barrier::new(usize::from(CONTENDERS)));
    let tasks: Vec<_> = (0..CONTENDERS)
        .map(|seed| {
            let store = Arc::clone(&stores[usize::from(seed) % stores.len()]);
            let barrier = Arc::clone(&barrier);
            let key = SigningKey {
                algorithm: SigningAlgorithm::ALL[usize::from(seed) % SigningAlgorithm::ALL.len()],
                ..signing_key(seed, at(0))
            };
            tokio::spawn(async move {
                barrier.wait().await;
                store.insert_first_signing_key(&key).await.expect("insert")
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.expect("task"));
    }
    assert_eq!(inserted, 3);
    let mut algorithms: Vec<SigningAlgorithm> = stores[0]
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.algorithm)
        .collect();
    algorithms.sort();
    assert_eq!(algorithms, SigningAlgorithm::ALL);
}

/// Replacing a user's roles, a role's permissions, or the signing key, many
/// times at once: each change applies whole, as if one after the other.
pub(crate) async fn concurrent_replacements(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    // Overlapping sets, so interleaved deletes and inserts would collide or mix.
    let set = |writer: usize| -> Vec<String> {
        vec![
            "shared".to_owned(),
            format!("own-{writer}"),
            format!("next-{}", (writer + 1) % WRITERS),
        ]
    };
    let alice = user("alice@example.com", at(0));
    store.insert_user(&alice).await.unwrap();
    assert!(
        store
            .insert_first_signing_key(&signing_key(200, at(0)))
            .await
            .unwrap()
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let roles = set(writer);
            // Every writer starts each kind of change at the same moment.
            tokio::spawn(async move {
                barrier.wait().await;
                store.set_roles(alice.id, &roles).await.expect("set_roles");
                let permissions: Vec<&str> = roles.iter().map(String::as_str).collect();
                barrier.wait().await;
                store
                    .put_role(&role("contested", &permissions))
                    .await
                    .expect("put_role");
                let seed = u8::try_from(writer).expect("few writers");
                barrier.wait().await;
                store
                    .rotate_signing_key(&signing_key(seed, at(1)))
                    .await
                    .expect("rotate_signing_key");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }

    let sets: Vec<BTreeSet<String>> = (0..WRITERS)
        .map(|writer| set(writer).into_iter().collect())
        .collect();
    let final_roles: BTreeSet<String> = store
        .user_by_id(alice.id)
        .await
        .unwrap()
        .unwrap()
        .roles
        .into_iter()
        .collect();
    assert!(sets.contains(&final_roles), "roles {final_roles:?}");
    let contested = store.roles().await.unwrap();
    assert_eq!(contested.len(), 1);
    assert!(
        sets.contains(&contested[0].permissions),
        "permissions {:?}",
        contested[0].permissions
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), WRITERS + 1);
    let active = keys
        .iter()
        .filter(|key| key.retiring_since.is_none())
        .count();
    assert_eq!(active, 1, "exactly one active key: {keys:?}");
}

/// Writes whose futures are dropped at any point (a client that hangs up
/// mid-request) apply whole or not at all, every write that answered `Ok`
/// is committed (seen from `observer`, another pool on the same database),
/// and `writer` keeps serving writes promptly afterwards.
pub(crate) async fn dropped_writes_apply_whole_or_not_at_all(
    writer: Arc<dyn Store>,
    observer: Arc<dyn Store>,
) {
    const ROUNDS: u32 = 6;
    const WRITES_PER_ROUND: u32 = 48;
    let roles = ["alpha".to_owned(), "beta".to_owned(), "gamma".to_owned()];
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..WRITES_PER_ROUND)
            .map(|index| {
                let store = Arc::clone(&writer);
                let mut record = user(&format!("user-{round}-{index}@example.com"), at(0));
                record.roles = roles.to_vec();
                tokio::spawn(async move {
                    let write = store.insert_user(&record);
                    // Half are dropped after 1 to 16 polls, which reaches
                    // every await of a write in turn (waiting for a
                    // connection, BEGIN, each statement, COMMIT); half after
                    // 0 to 5 ms, wherever that falls.
                    let outcome = if index % 2 == 0 {
                        abandon_after_polls(write, (round + index / 2) % 16 + 1).await
                    } else {
                        let patience = u64::from((round * 7_919 + index * 104_729) % 5_000);
                        tokio::time::timeout(std::time::Duration::from_micros(patience), write)
                            .await
                            .ok()
                    };
                    (record.id, outcome)
                })
            })
            .collect();
        let mut everyone = Vec::new();
        let mut answered_ok = Vec::new();
        for task in tasks {
            let (id, outcome) = task.await.expect("task");
            everyone.push(id);
            match outcome {
                Some(Ok(())) => answered_ok.push(id),
                // Dropped before it answered: applied or not, whole either way.
                None => {}
                Some(Err(error)) => {
                    panic!("round {round}: a write that was not dropped failed: {error}")
                }
            }
        }
        wait_until_idle(&*writer).await;

        // Single statements on every connection of the pool, none dropped:
        // each answers promptly, and what answers Ok is committed.
        let disables: Vec<_> = answered_ok
            .iter()
            .map(|id| {
                let (store, id) = (Arc::clone(&writer), *id);
                tokio::spawn(async move {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(3),
                        store.set_disabled(id, true),
                    )
                    .await
                })
            })
            .collect();
        for disable in disables {
            disable
                .await
                .expect("task")
                .unwrap_or_else(|_| {
                    panic!("round {round}: a write after dropped ones took over 3 s")
                })
                .unwrap_or_else(|error| {
                    panic!("round {round}: a write after dropped ones failed: {error}")
                });
        }
        for id in everyone {
            let stored = observer.user_by_id(id).await.unwrap();
            if let Some(stored) = &stored {
                assert_eq!(
                    stored.roles, roles,
                    "round {round}: a user stored without all its roles"
                );
            }
            if answered_ok.contains(&id) {
                assert!(
                    stored.is_some_and(|stored| stored.disabled),
                    "round {round}: a write that answered Ok is not committed"
                );
            }
        }
    }
}

/// Waits until no connection of `store`'s pool is in use: writes whose
/// callers stopped waiting have run to their end.
pub(crate) async fn wait_until_idle(store: &dyn Store) {
    let started = std::time::Instant::now();
    loop {
        let status = store.pool_status();
        if status.idle == status.open {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "connections still busy after 10 s: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Polls `future` at most `polls` times: its output, or `None` when it was
/// still pending then and has been dropped at that await.
pub(crate) async fn abandon_after_polls<F: std::future::Future>(
    future: F,
    polls: u32,
) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut left = polls;
    std::future::poll_fn(move |context| match future.as_mut().poll(context) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending if left <= 1 => std::task::Poll::Ready(None),
        std::task::Poll::Pending => {
            left -= 1;
            std::task::Poll::Pending
        }
    })
    .await
}

/// Issue 10, finding 5: the only two administrators demoted at once, from
/// two pools (two instances): exactly one demotion wins, never both.
pub(crate) async fn the_last_two_administrators_demoted_at_once(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    let mut last: Option<Uuid> = None;
    for round in 0..5 {
        let admins: Vec<UserRecord> = (0..2)
            .map(|n| UserRecord {
                roles: vec!["admin".to_owned()],
                ..user(&format!("admin{n}.{round}@example.com"), at(round))
            })
            .collect();
        for admin in &admins {
            first.insert_user(admin).await.unwrap();
        }
        if let Some(previous) = last {
            first
                .set_roles(previous, &[])
                .await
                .expect("two others remain");
        }
        let (a, b) = tokio::join!(
            first.set_roles(admins[0].id, &[]),
            second.set_roles(admins[1].id, &[]),
        );
        let refused: Vec<bool> = [&a, &b]
            .iter()
            .map(|result| matches!(result, Err(StoreError::LastAdministrator)))
            .collect();
        assert!(
            (a.is_ok() && refused[1]) || (b.is_ok() && refused[0]),
            "round {round}: {a:?} {b:?}"
        );
        last = Some(if a.is_ok() {
            admins[1].id
        } else {
            admins[0].id
        });
    }
}

/// Twelve attempts at one account at once, over two pools standing for two
/// instances, each taking its place in the count only while fewer than
/// three are counted: exactly three are counted.
pub(crate) async fn attempts_racing_for_places_in_a_count(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    const LIMIT: u32 = 3;
    let contenders: Vec<_> = (0..12)
        .map(|n| {
            let store = Arc::clone(if n % 2 == 0 { &first } else { &second });
            tokio::spawn(async move {
                loop {
                    let seen = store.login_failures("account:raced").await.unwrap();
                    if seen.is_some_and(|failures| failures.count >= LIMIT) {
                        return false;
                    }
                    if store
                        .count_login_attempt("account:raced", seen, at(100 + n), at(0))
                        .await
                        .unwrap()
                    {
                        return true;
                    }
                }
            })
        })
        .collect();
    let mut counted = 0;
    for contender in contenders {
        counted += u32::from(contender.await.unwrap());
    }
    assert_eq!(counted, LIMIT);
    assert_eq!(
        first
            .login_failures("account:raced")
            .await
            .unwrap()
            .map(|failures| failures.count),
        Some(LIMIT)
    );
}
