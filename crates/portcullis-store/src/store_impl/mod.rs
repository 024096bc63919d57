//! [`Store`] for [`SqlStore`]: each method's SQL, written once for every
//! database.
//!
//! Statements use `$1, $2 …` placeholders (both drivers bind them by
//! number); where a statement's text truly differs, it is the dialect's
//! (`D::…`). Writes go through [`SqlStore::write_one`],
//! [`SqlStore::write_together`] or [`SqlStore::write`], which run them to
//! their end in a task of their own; reads run directly. Input rules that
//! SQL cannot state the same way on every database are checked first, in
//! `crate::input`. This module must never branch on the database it runs on.

mod accounts;
mod authorization;
mod clients;
mod feeds;
mod health;
pub(crate) mod import;
mod keys;
mod mail;
mod personal_tokens;
mod rate_limits;
pub(crate) mod sessions;
mod throttling;

use uuid::Uuid;

use portcullis_core::keys::{PrivateKey, SigningKey};

use crate::dialect::Dialect;
use crate::statement::Statement;

/// The statement that stores a user's role names, each once; none when there are none.
pub(crate) fn insert_user_roles<D: Dialect>(
    user_id: Uuid,
    roles: &[String],
) -> Option<Statement<'_>> {
    let unique: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    (!unique.is_empty()).then(|| {
        Statement::new(D::INSERT_USER_ROLES)
            .bind(user_id)
            .bind(unique)
    })
}

/// The bytes a private key is stored as: PKCS#8, or sealed (which says so
/// in its first bytes).
pub(crate) fn private_key_bytes(key: &PrivateKey) -> &[u8] {
    match key {
        PrivateKey::Plain(bytes) | PrivateKey::Sealed(bytes) => bytes,
    }
}

/// A change of `signing_keys` under the dialect's lock: `before` (if any),
/// then `insert` with `key`'s columns bound (`kid`, `private_pkcs8`,
/// `public_key`, `created_at`, `active_from`, `algorithm`: `$1` to `$6`).
pub(crate) fn signing_keys_change<'a, D: Dialect>(
    insert: Statement<'a>,
    key: &'a SigningKey,
    before: Option<Statement<'a>>,
) -> Vec<Statement<'a>> {
    let insert = insert
        .bind(key.kid.as_str())
        .bind(private_key_bytes(&key.private_key))
        .bind(key.public_key.as_slice())
        .bind(key.created_at.unix_timestamp())
        .bind(key.active_from.unix_timestamp())
        .bind(key.algorithm.name());
    D::LOCK_SIGNING_KEYS
        .map(Statement::new)
        .into_iter()
        .chain(before)
        .chain([insert])
        .collect()
}
