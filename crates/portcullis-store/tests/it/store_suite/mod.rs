//! What any `Store` must do, as tests over `dyn Store`.
//!
//! Backend-agnostic on purpose: no SQL, no file, no driver here, so the
//! SQLite and PostgreSQL stores run exactly these functions. Each test
//! expects an empty, migrated store of its own. Times are whole seconds,
//! since stores keep one-second precision. [`TESTS`] lists every test once;
//! the harness registers each on every backend, so a function missing from
//! it is dead code, which the lints refuse. The `exactly_one_*` functions
//! take several stores (pools on one database, standing for several
//! instances) and are called by the backends' own tests; so are the record
//! builders and the `assert_*` checks.

mod accounts;
mod browser_sign_in;
mod clients;
mod concurrency;
mod credentials;
mod feeds;
mod imports;
mod mail;
mod pages_and_tokens;
mod refusals;
mod sessions;

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::keys::{PrivateKey, SigningAlgorithm, SigningKey};
use portcullis_core::refresh::{RefreshSecretHash, SessionRefreshKey};
use portcullis_core::roles::Role;
use portcullis_core::store::{
    ProfileChange, SessionOrigin, SessionRecord, Store, StoreError, UserRecord, UserUpdate,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::harness::{Flavor, TestFuture};

pub(crate) use accounts::users;
pub(crate) use concurrency::{
    dropped_writes_apply_whole_or_not_at_all, exactly_one_first_signing_key,
    exactly_one_rotation_wins, wait_until_idle,
};
pub(crate) use credentials::text_order_is_bytewise;
pub(crate) use feeds::{changes_after, feed_position, positions_past_every_entry};
pub(crate) use refusals::not_writable_until;

/// One test of the suite, as the harness registers it on each backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SuiteTest {
    pub(crate) name: &'static str,
    pub(crate) flavor: Flavor,
    pub(crate) run: Run,
}

/// What a suite test runs on a fresh database.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Run {
    /// On its store.
    OnOne(fn(Arc<dyn Store>) -> TestFuture),
    /// On its store and another pool on the same database.
    OnTwoPools(fn(Arc<dyn Store>, Arc<dyn Store>) -> TestFuture),
}

/// A test taking `&dyn Store`, on one thread.
macro_rules! on_one_thread {
    ($module:ident :: $test:ident) => {
        SuiteTest {
            name: stringify!($test),
            flavor: Flavor::CurrentThread,
            run: Run::OnOne(|store| Box::pin(async move { $module::$test(&*store).await })),
        }
    };
}

/// A test taking `Arc<dyn Store>` (it races tasks), on four threads.
macro_rules! racing {
    ($module:ident :: $test:ident) => {
        SuiteTest {
            name: stringify!($test),
            flavor: Flavor::MultiThread,
            run: Run::OnOne(|store| Box::pin($module::$test(store))),
        }
    };
}

/// Every test of the suite.
pub(crate) const TESTS: &[SuiteTest] = &[
    on_one_thread!(accounts::users),
    on_one_thread!(accounts::user_flags),
    on_one_thread!(accounts::profile_changes),
    on_one_thread!(accounts::user_roles),
    on_one_thread!(accounts::roles),
    on_one_thread!(accounts::delete_user_cascades),
    on_one_thread!(accounts::the_last_administrator_stays),
    on_one_thread!(browser_sign_in::sessions_of_every_origin),
    on_one_thread!(browser_sign_in::authorization_codes_are_redeemed_once),
    on_one_thread!(browser_sign_in::consents_are_remembered_per_user_and_client),
    on_one_thread!(browser_sign_in::a_clients_sessions_end_together),
    on_one_thread!(clients::clients),
    on_one_thread!(clients::client_records_the_store_refuses),
    on_one_thread!(sessions::sessions),
    on_one_thread!(sessions::refresh_rotation),
    on_one_thread!(sessions::session_with_its_user),
    on_one_thread!(sessions::pruning),
    on_one_thread!(credentials::text_order_is_bytewise),
    on_one_thread!(credentials::signing_keys),
    on_one_thread!(credentials::signing_keys_of_several_algorithms),
    on_one_thread!(credentials::login_failures),
    on_one_thread!(credentials::login_attempts_compare_and_count),
    on_one_thread!(credentials::window_counts),
    on_one_thread!(feeds::account_change_feed),
    on_one_thread!(feeds::revocations_by_position),
    on_one_thread!(feeds::positions_the_database_went_back_behind),
    on_one_thread!(feeds::personal_token_changes_name_the_owner),
    on_one_thread!(imports::import_batches),
    on_one_thread!(imports::import_updates),
    on_one_thread!(imports::users_for_export),
    on_one_thread!(mail::mail_outbox),
    on_one_thread!(mail::email_tokens),
    on_one_thread!(pages_and_tokens::user_pages),
    on_one_thread!(pages_and_tokens::personal_tokens),
    on_one_thread!(refusals::text_with_nul_is_refused_everywhere),
    on_one_thread!(refusals::scopes_that_would_not_split_back_are_refused),
    on_one_thread!(refusals::a_writable_store_says_so),
    racing!(concurrency::concurrent_refresh_rotation),
    racing!(concurrency::concurrent_replacements),
    SuiteTest {
        name: "dropped_writes_apply_whole_or_not_at_all",
        flavor: Flavor::MultiThread,
        run: Run::OnTwoPools(|writer, observer| {
            Box::pin(concurrency::dropped_writes_apply_whole_or_not_at_all(
                writer, observer,
            ))
        }),
    },
    SuiteTest {
        name: "attempts_racing_for_places_in_a_count",
        flavor: Flavor::MultiThread,
        run: Run::OnTwoPools(|first, second| {
            Box::pin(concurrency::attempts_racing_for_places_in_a_count(
                first, second,
            ))
        }),
    },
    SuiteTest {
        name: "claims_racing_from_two_pools",
        flavor: Flavor::MultiThread,
        run: Run::OnTwoPools(|first, second| {
            Box::pin(mail::claims_racing_from_two_pools(first, second))
        }),
    },
    SuiteTest {
        name: "the_last_two_administrators_demoted_at_once",
        flavor: Flavor::MultiThread,
        run: Run::OnTwoPools(|first, second| {
            Box::pin(concurrency::the_last_two_administrators_demoted_at_once(
                first, second,
            ))
        }),
    },
];

/// A fixed, whole-second instant, so stored and expected times compare equal.
pub(crate) fn at(seconds_after_base: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000 + seconds_after_base).expect("valid time")
}

pub(crate) fn email(text: &str) -> Email {
    Email::parse(text).expect("valid email")
}

pub(crate) fn user(address: &str, created_at: OffsetDateTime) -> UserRecord {
    UserRecord {
        id: Uuid::now_v7(),
        email: email(address),
        name: Some(format!("Name of {address}")),
        roles: Vec::new(),
        password_hash: PasswordHashString(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${address}")),
        disabled: false,
        email_verified: false,
        created_at,
    }
}

pub(crate) fn session(user_id: Uuid, created_at: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: Uuid::now_v7(),
        user_id,
        created_at,
        last_used_at: created_at,
        expires_at: created_at + Duration::days(30),
        revoked_at: None,
        refresh_key: SessionRefreshKey::generate(),
        refresh_generation: 0,
        refresh_hash: RefreshSecretHash([7; 32]),
        scope: None,
        user_agent: Some("curl/8.5".into()),
        ip: Some("203.0.113.9".into()),
        origin: SessionOrigin::Api,
    }
}

/// An Ed25519 key made at `created_at` and signing from then.
pub(crate) fn signing_key(seed: u8, created_at: OffsetDateTime) -> SigningKey {
    SigningKey {
        kid: format!("kid-{seed}"),
        algorithm: SigningAlgorithm::EdDSA,
        created_at,
        active_from: created_at,
        retiring_since: None,
        private_key: PrivateKey::Plain(vec![seed; 48]),
        public_key: vec![seed; 32],
    }
}

pub(crate) fn role(name: &str, permissions: &[&str]) -> Role {
    Role {
        name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// Asserts that `got` and `want` agree on each named field.
macro_rules! assert_fields_eq {
    ($got:expr, $want:expr, $($field:ident),+ $(,)?) => {
        $(assert_eq!($got.$field, $want.$field, stringify!($field));)+
    };
}

pub(crate) use assert_fields_eq;

#[track_caller]
pub(crate) fn assert_same_user(got: &UserRecord, want: &UserRecord) {
    assert_fields_eq!(got, want, id, email, name);
    let want_roles: Vec<String> = want
        .roles
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got.roles, want_roles, "roles come back sorted and unique");
    assert_fields_eq!(
        got,
        want,
        password_hash,
        email_verified,
        disabled,
        created_at
    );
}

#[track_caller]
pub(crate) fn assert_same_session(got: &SessionRecord, want: &SessionRecord) {
    assert_fields_eq!(
        got,
        want,
        id,
        user_id,
        created_at,
        last_used_at,
        expires_at,
        revoked_at,
        refresh_key,
        refresh_generation,
        refresh_hash,
        scope,
        user_agent,
        ip,
        origin,
    );
}

#[track_caller]
pub(crate) fn assert_same_key(got: &SigningKey, want: &SigningKey) {
    assert_fields_eq!(
        got,
        want,
        kid,
        algorithm,
        created_at,
        active_from,
        retiring_since,
        private_key,
        public_key
    );
}

#[track_caller]
pub(crate) fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "expected Conflict, got {result:?}"
    );
}

#[track_caller]
pub(crate) fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

#[track_caller]
pub(crate) fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

/// Asserts that a migration refused a schema newer than it knows, version 9999.
#[track_caller]
pub(crate) fn assert_refused_as_newer(result: Result<(), StoreError>) {
    assert!(
        matches!(&result, Err(StoreError::Other(message)) if message.contains("9999")),
        "{result:?}"
    );
}

pub(crate) fn ids(sessions: &[SessionRecord]) -> Vec<Uuid> {
    sessions.iter().map(|session| session.id).collect()
}

pub(crate) fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}
