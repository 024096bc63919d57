//! Turning result rows into domain records, written once for both backends.
//!
//! The two schemas (`migrations/sqlite/`, `migrations/postgres/`) give every
//! column the same meaning and a type both drivers decode alike: times are
//! 64-bit unix seconds (login failures: milliseconds), hashes and keys are
//! bytes, scopes and a client's lists of redirect URIs are their entries
//! joined by single spaces, flags (`disabled`, `first_party`) decode as a
//! `bool` (INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL). Ids are the
//! one difference: hyphenated UUID text in SQLite, a native UUID in
//! PostgreSQL, which each backend decodes in its [`BackendRow`] impl.
//!
//! The column lists of the `SELECT`s these decoders read are kept here too,
//! as macros, so the two never disagree. Otherwise this module only reads
//! rows that a backend fetched: it must never run a query nor return a
//! driver error.

use std::collections::BTreeSet;

use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::clients::{Client, ClientKind, ClientSecretHash};
use portcullis_core::email::Email;
use portcullis_core::email_tokens::{CodeHash, EmailTokenPurpose, LinkTokenHash};
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::key_encryption::stored_private_key;
use portcullis_core::keys::SigningKey;
use portcullis_core::personal_tokens::PersonalTokenSecretHash;
use portcullis_core::refresh::{RefreshSecretHash, SessionRefreshKey};
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountChanged, AccountChanges, ClientRecord, EmailTokenRecord, FeedPosition, LoginFailures,
    MAX_ACCOUNT_CHANGES_PER_READ, PersonalTokenRecord, SessionRecord, StoreError, UserRecord,
};

// The column lists the decoders below read, kept beside them so the two
// never disagree. The caller appends its `WHERE`/`ORDER BY` tail, with
// `$N` placeholders.

/// `SELECT` of users with one row per role (or one row with a NULL role),
/// for [`users_from_rows`].
macro_rules! select_users {
    ($tail:expr) => {
        concat!(
            "SELECT u.id, u.email, u.name, u.password_hash, u.disabled, u.email_verified, u.created_at, r.role
             FROM users AS u LEFT JOIN user_roles AS r ON r.user_id = u.id ",
            $tail
        )
    };
}

/// `SELECT` of sessions, for [`session_from_row`].
macro_rules! select_sessions {
    ($tail:expr) => {
        concat!(
            "SELECT id, user_id, created_at, last_used_at, expires_at, revoked_at, refresh_key,
                    refresh_generation, refresh_hash, scope, user_agent, ip
             FROM sessions ",
            $tail
        )
    };
}

/// `SELECT` of one session with its user and one row per role held (or one
/// row with a NULL role, or NULL user columns when the user is gone), for
/// [`session_with_user_from_rows`]. `$1` is the session's id.
macro_rules! select_session_with_user {
    () => {
        "SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
                s.refresh_key, s.refresh_generation, s.refresh_hash, s.scope, s.user_agent, s.ip,
                u.id AS account_id, u.email, u.name, u.password_hash, u.disabled,
                u.email_verified, u.created_at AS account_created_at, r.role
         FROM sessions AS s
         LEFT JOIN users AS u ON u.id = s.user_id
         LEFT JOIN user_roles AS r ON r.user_id = u.id
         WHERE s.id = $1
         ORDER BY r.role"
    };
}

/// `SELECT` of personal access tokens, for [`personal_token_from_row`].
macro_rules! select_personal_tokens {
    ($tail:expr) => {
        concat!(
            "SELECT id, user_id, name, scopes, secret_hash, created_at, expires_at, last_used_at
             FROM personal_tokens ",
            $tail
        )
    };
}

/// `SELECT` of OAuth clients, for [`client_from_row`].
macro_rules! select_clients {
    ($tail:expr) => {
        concat!(
            "SELECT id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris,
                    first_party, allowed_scopes, id_token_signed_response_alg, created_at
             FROM oauth_clients ",
            $tail
        )
    };
}

/// `SELECT` of one-time email tokens, for [`email_token_from_row`].
macro_rules! select_email_tokens {
    ($tail:expr) => {
        concat!(
            "SELECT id, user_id, purpose, link_hash, code_hash, email, created_at, expires_at,
                    failed_tries, used_at
             FROM email_tokens ",
            $tail
        )
    };
}

/// One page of users (`$1` the id to start after or NULL, `$2` text the
/// email must contain or NULL, `$3` the page size), for [`users_from_rows`].
/// `$position` is the database's function giving where a text occurs in
/// another (1 and up) or 0, arguments in that order: `instr` or `strpos`.
macro_rules! query_users {
    ($position:literal) => {
        $crate::rows::select_users!(concat!(
            "WHERE u.id IN (SELECT id FROM users WHERE ($1 IS NULL OR id > $1)
                              AND ($2 IS NULL OR ",
            $position,
            "(email, $2) > 0) ORDER BY id LIMIT $3)
             ORDER BY u.id, r.role"
        ))
    };
}

pub(crate) use {
    query_users, select_clients, select_email_tokens, select_personal_tokens,
    select_session_with_user, select_sessions, select_users,
};

/// Typed access to the columns whose type both schemas share, for any row of
/// a driver that decodes them (implemented once, for every such row).
pub trait Columns {
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn integer(&self, name: &str) -> Result<i64, StoreError>;
    fn optional_integer(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError>;
    fn optional_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn flag(&self, name: &str) -> Result<bool, StoreError>;

    /// A time stored as unix seconds.
    fn timestamp(&self, name: &str) -> Result<OffsetDateTime, StoreError> {
        from_unix(self.integer(name)?, name)
    }

    /// A time stored as unix seconds, or NULL.
    fn optional_timestamp(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        self.optional_integer(name)?
            .map(|seconds| from_unix(seconds, name))
            .transpose()
    }

    /// Bytes that must be exactly 32 long (hashes, keys).
    fn bytes32(&self, name: &str) -> Result<[u8; 32], StoreError> {
        exactly_32(name, &self.bytes(name)?)
    }

    /// Bytes that must be exactly 32 long, or NULL.
    fn optional_bytes32(&self, name: &str) -> Result<Option<[u8; 32]>, StoreError> {
        self.optional_bytes(name)?
            .map(|bytes| exactly_32(name, &bytes))
            .transpose()
    }
}

/// A row of one backend: the shared columns, plus ids, whose type differs.
pub trait BackendRow: Columns {
    fn uuid(&self, name: &str) -> Result<Uuid, StoreError>;
    fn optional_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError>;
}

impl<R> Columns for R
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, name: &str) -> Result<String, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn integer(&self, name: &str) -> Result<i64, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn optional_integer(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn optional_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn flag(&self, name: &str) -> Result<bool, StoreError> {
        self.try_get(name).map_err(decode_error)
    }
}

fn exactly_32(name: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| {
        StoreError::Other(format!(
            "column {name}: expected 32 bytes, found {}",
            bytes.len()
        ))
    })
}

/// What a failed `try_get` (a missing column, a value of the wrong type)
/// becomes: never a transient error, so never worth retrying.
pub(crate) fn decode_error(error: sqlx::Error) -> StoreError {
    StoreError::Other(error.to_string())
}

/// `Ok` when a statement touched a row, [`StoreError::NotFound`] when none matched.
pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Milliseconds since the epoch (the precision of login failures).
pub(crate) fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Folds rows of `id, email, name, password_hash, disabled, email_verified, created_at, role`
/// (one per role, or one with a NULL role), ordered by user then role, into users.
pub(crate) fn users_from_rows<R: BackendRow>(rows: &[R]) -> Result<Vec<UserRecord>, StoreError> {
    let mut users: Vec<UserRecord> = Vec::new();
    for row in rows {
        let id = row.uuid("id")?;
        if users.last().is_none_or(|user| user.id != id) {
            users.push(UserRecord {
                id,
                email: Email::from_trusted(row.text("email")?),
                name: row.optional_text("name")?,
                roles: Vec::new(),
                password_hash: PasswordHashString(row.text("password_hash")?),
                disabled: row.flag("disabled")?,
                email_verified: row.flag("email_verified")?,
                created_at: row.timestamp("created_at")?,
            });
        }
        if let (Some(role), Some(user)) = (row.optional_text("role")?, users.last_mut()) {
            user.roles.push(role);
        }
    }
    Ok(users)
}

/// Folds rows of `name, permission` (one per permission, or one with a NULL
/// permission), ordered by name, into roles.
pub(crate) fn roles_from_rows<R: Columns>(rows: &[R]) -> Result<Vec<Role>, StoreError> {
    let mut roles: Vec<Role> = Vec::new();
    for row in rows {
        let name = row.text("name")?;
        if roles.last().is_none_or(|role| role.name != name) {
            roles.push(Role {
                name,
                permissions: BTreeSet::new(),
            });
        }
        if let (Some(permission), Some(role)) = (row.optional_text("permission")?, roles.last_mut())
        {
            role.permissions.insert(permission);
        }
    }
    Ok(roles)
}

/// A row with every column of `sessions`.
pub(crate) fn session_from_row<R: BackendRow>(row: &R) -> Result<SessionRecord, StoreError> {
    let generation = row.integer("refresh_generation")?;
    Ok(SessionRecord {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        created_at: row.timestamp("created_at")?,
        last_used_at: row.timestamp("last_used_at")?,
        expires_at: row.timestamp("expires_at")?,
        revoked_at: row.optional_timestamp("revoked_at")?,
        refresh_key: SessionRefreshKey(row.bytes32("refresh_key")?),
        refresh_generation: u64::try_from(generation)
            .map_err(|_| StoreError::Other(format!("negative refresh generation {generation}")))?,
        refresh_hash: RefreshSecretHash(row.bytes32("refresh_hash")?),
        scope: row
            .optional_text("scope")?
            .map(|joined| joined.split_whitespace().map(str::to_owned).collect()),
        user_agent: row.optional_text("user_agent")?,
        ip: row.optional_text("ip")?,
    })
}

/// The rows of [`select_session_with_user`]: the session, and its user
/// with every role held, if the user exists.
pub(crate) fn session_with_user_from_rows<R: BackendRow>(
    rows: &[R],
) -> Result<Option<(SessionRecord, Option<UserRecord>)>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = session_from_row(first)?;
    let Some(account_id) = first.optional_uuid("account_id")? else {
        return Ok(Some((session, None)));
    };
    let mut user = UserRecord {
        id: account_id,
        email: Email::from_trusted(first.text("email")?),
        name: first.optional_text("name")?,
        roles: Vec::new(),
        password_hash: PasswordHashString(first.text("password_hash")?),
        disabled: first.flag("disabled")?,
        email_verified: first.flag("email_verified")?,
        created_at: first.timestamp("account_created_at")?,
    };
    for row in rows {
        if let Some(role) = row.optional_text("role")? {
            user.roles.push(role);
        }
    }
    Ok(Some((session, Some(user))))
}

/// A row with every column of `personal_tokens`.
pub(crate) fn personal_token_from_row<R: BackendRow>(
    row: &R,
) -> Result<PersonalTokenRecord, StoreError> {
    Ok(PersonalTokenRecord {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        name: row.text("name")?,
        scopes: row
            .text("scopes")?
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect(),
        secret_hash: PersonalTokenSecretHash(row.bytes32("secret_hash")?),
        created_at: row.timestamp("created_at")?,
        expires_at: row.optional_timestamp("expires_at")?,
        last_used_at: row.optional_timestamp("last_used_at")?,
    })
}

/// A row with every column of `oauth_clients`.
pub(crate) fn client_from_row<R: BackendRow>(row: &R) -> Result<ClientRecord, StoreError> {
    let kind = row.text("client_type")?;
    let words = |name: &str| -> Result<Vec<String>, StoreError> {
        Ok(row
            .text(name)?
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect())
    };
    Ok(ClientRecord {
        client: Client {
            client_id: row.uuid("id")?,
            name: row.text("name")?,
            redirect_uris: words("redirect_uris")?,
            post_logout_redirect_uris: words("post_logout_redirect_uris")?,
            kind: ClientKind::from_stored(&kind)
                .ok_or_else(|| StoreError::Other(format!("unknown client type {kind:?}")))?,
            first_party: row.flag("first_party")?,
            allowed_scopes: words("allowed_scopes")?,
            id_token_signed_response_alg: row.text("id_token_signed_response_alg")?,
            created_at: row.timestamp("created_at")?,
        },
        secret_hash: row.optional_bytes32("secret_hash")?.map(ClientSecretHash),
    })
}

pub(crate) fn email_token_from_row<R: BackendRow>(row: &R) -> Result<EmailTokenRecord, StoreError> {
    let purpose = row.text("purpose")?;
    let failed_tries = row.integer("failed_tries")?;
    Ok(EmailTokenRecord {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        purpose: EmailTokenPurpose::from_stored(&purpose)
            .ok_or_else(|| StoreError::Other(format!("unknown email token purpose {purpose:?}")))?,
        email: Email::from_trusted(row.text("email")?),
        link_hash: LinkTokenHash(row.bytes32("link_hash")?),
        code_hash: CodeHash(row.bytes32("code_hash")?),
        created_at: row.timestamp("created_at")?,
        expires_at: row.timestamp("expires_at")?,
        failed_tries: u32::try_from(failed_tries)
            .map_err(|_| StoreError::Other(format!("failed_tries out of range: {failed_tries}")))?,
        used_at: row.optional_timestamp("used_at")?,
    })
}

/// A row with every column of `signing_keys`.
pub(crate) fn signing_key_from_row<R: Columns>(row: &R) -> Result<SigningKey, StoreError> {
    let created_at = row.timestamp("created_at")?;
    Ok(SigningKey {
        kid: row.text("kid")?,
        created_at,
        // Keys made before keys were published ahead signed from their making.
        active_from: row.optional_timestamp("active_from")?.unwrap_or(created_at),
        retiring_since: row.optional_timestamp("retiring_since")?,
        private_key: stored_private_key(row.bytes("private_pkcs8")?),
        public_key: row.bytes32("public_key")?,
    })
}

/// A row of `count, last_at_ms` from `login_failures`.
pub(crate) fn login_failures_from_row<R: Columns>(row: &R) -> Result<LoginFailures, StoreError> {
    let last_at_ms = row.integer("last_at_ms")?;
    Ok(LoginFailures {
        count: u32::try_from(row.integer("count")?).unwrap_or(u32::MAX),
        last_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(last_at_ms) * 1_000_000)
            .map_err(|error| StoreError::Other(format!("column last_at_ms: {error}")))?,
    })
}

/// A revoked session and when it was revoked, from a row with `id` and
/// `revoked_at`.
pub(crate) fn revocation_from_row<R: BackendRow>(
    row: &R,
) -> Result<(Uuid, OffsetDateTime), StoreError> {
    Ok((row.uuid("id")?, row.timestamp("revoked_at")?))
}

/// How many entries one read of the account-change feed fetches at most:
/// one more than it may name, to tell when there were too many.
pub(crate) fn feed_read_limit() -> i64 {
    i64::try_from(MAX_ACCOUNT_CHANGES_PER_READ).map_or(i64::MAX, |max| max + 1)
}

/// A read of the account-change feed that says everything changed.
pub(crate) fn everything_changed(position: FeedPosition) -> AccountChanges {
    AccountChanges {
        changes: vec![AccountChanged::Everything],
        position,
    }
}

/// The account-change feed's entries as read, `(kind, user_id)`, each
/// change once; more than [`MAX_ACCOUNT_CHANGES_PER_READ`] entries read as
/// [`AccountChanged::Everything`].
pub(crate) fn account_changes(
    entries: Vec<(String, Option<Uuid>)>,
    position: FeedPosition,
) -> Result<AccountChanges, StoreError> {
    if entries.len() > MAX_ACCOUNT_CHANGES_PER_READ {
        return Ok(everything_changed(position));
    }
    let mut changes = Vec::new();
    for (kind, user_id) in entries {
        let change = match (kind.as_str(), user_id) {
            ("user", Some(id)) => AccountChanged::User(id),
            ("roles", None) => AccountChanged::Roles,
            ("everything", None) => AccountChanged::Everything,
            _ => {
                return Err(StoreError::Other(format!(
                    "account_changes: an entry of kind {kind:?} with user {user_id:?}"
                )));
            }
        };
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    Ok(AccountChanges { changes, position })
}

fn from_unix(seconds: i64, name: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|error| StoreError::Other(format!("column {name}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_entries_become_each_change_once() {
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let entries = [
            ("user", Some(ada)),
            ("roles", None),
            ("user", Some(bob)),
            ("user", Some(ada)),
            ("roles", None),
        ]
        .map(|(kind, user)| (kind.to_owned(), user));
        let read = account_changes(entries.to_vec(), FeedPosition(7)).unwrap();
        assert_eq!(
            read.changes,
            [
                AccountChanged::User(ada),
                AccountChanged::Roles,
                AccountChanged::User(bob)
            ]
        );
        assert_eq!(read.position, FeedPosition(7));
    }

    #[test]
    fn more_feed_entries_than_a_read_names_are_everything() {
        let entries =
            vec![("user".to_owned(), Some(Uuid::now_v7())); MAX_ACCOUNT_CHANGES_PER_READ + 1];
        let read = account_changes(entries, FeedPosition(7)).unwrap();
        assert_eq!(read.changes, [AccountChanged::Everything]);
        assert_eq!(
            usize::try_from(feed_read_limit()).unwrap(),
            MAX_ACCOUNT_CHANGES_PER_READ + 1,
            "a read fetches one more entry than it may name"
        );
    }

    #[test]
    fn a_feed_entry_of_an_unknown_shape_is_an_error() {
        for entry in [
            ("user", None),
            ("roles", Some(Uuid::now_v7())),
            ("users", None),
        ] {
            let entries = vec![(entry.0.to_owned(), entry.1)];
            assert!(
                matches!(
                    account_changes(entries, FeedPosition(7)),
                    Err(StoreError::Other(_))
                ),
                "{entry:?}"
            );
        }
    }
}
