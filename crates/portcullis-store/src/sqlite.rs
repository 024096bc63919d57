//! SQLite's side of the store: one file, WAL journal, a small pool.
//!
//! SQLite admits one writer at a time: `BEGIN IMMEDIATE` takes the write
//! lock up front, which is all the locking the store's transactions need.
//! What differs from PostgreSQL is here: ids bind as hyphenated UUID text,
//! lists as JSON read back with `json_each`, feed positions come from
//! AUTOINCREMENT's own record (`sqlite_sequence`), and result codes are
//! classified into [`StoreError`]. Conventions of the schema
//! (`migrations/sqlite/`): ids are UUID text, times INTEGER unix seconds.
//! This module must never hold a statement that both databases could run
//! as written: that belongs to the shared store.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use uuid::Uuid;

use portcullis_core::store::StoreError;

use crate::dialect::Dialect;
use crate::migration::{Migration, schema};
use crate::options::SqliteStoreOptions;
use crate::rows::{BackendRow, Columns as _, query_users};
use crate::statement::{Statement, Value};
use crate::store_impl::import::{ImportStatements, import_statements};

/// How long a statement waits for another connection's write lock before
/// giving up with [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times opening the database is tried while it is busy.
const CONNECT_ATTEMPTS: u32 = 10;

/// The [`Dialect`] of SQLite.
#[derive(Debug)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Database = Sqlite;
    type Row = SqliteRow;
    type Options = SqliteStoreOptions;

    const NAME: &'static str = "SQLite";

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_USER: &'static str = "SELECT 1 FROM users WHERE id = $1";
    const LOCK_SIGNING_KEYS: Option<&'static str> = None;
    const LOCK_ADMINISTRATORS: Option<&'static str> = None;

    const QUERY_USERS: &'static str = query_users!("instr");
    const INSERT_USER_ROLES: &'static str =
        "INSERT INTO user_roles (user_id, role) SELECT $1, value FROM json_each($2)";
    const INSERT_ROLE_PERMISSIONS: &'static str =
        "INSERT INTO role_permissions (role, permission) SELECT $1, value FROM json_each($2)";
    const RECORD_TOKEN_USES: &'static str = "UPDATE personal_tokens
         SET last_used_at = MAX(COALESCE(last_used_at, 0), uses.at)
         FROM (SELECT id.value AS id, at.value AS at
               FROM json_each($1) AS id JOIN json_each($2) AS at ON at.key = id.key) AS uses
         WHERE personal_tokens.id = uses.id";
    const PRUNE_ACCOUNT_CHANGES: &'static str = "DELETE FROM account_changes WHERE id IN
         (SELECT id FROM account_changes WHERE id <= $1 LIMIT $2)";
    const PRUNE_REVOCATIONS: &'static str = "DELETE FROM revoked_sessions WHERE seq IN
         (SELECT seq FROM revoked_sessions WHERE seq <= $1 LIMIT $2)";

    // One writer at a time: a position is never held back.
    const OLDEST_WRITING_TRANSACTION: Option<&'static str> = None;

    // The number of the newest entry a feed table ever had: AUTOINCREMENT's
    // own record, which pruning never lowers. One writer at a time, so every
    // entry up to it is committed, and later ones are numbered above it.
    const REVOCATIONS_POSITION: &'static str = "SELECT coalesce(
         (SELECT seq FROM sqlite_sequence WHERE name = 'revoked_sessions'), 0) AS position";
    const REVOCATIONS_AFTER: &'static str =
        "SELECT session_id AS id, revoked_at FROM revoked_sessions WHERE seq > $1 ORDER BY seq";
    const ACCOUNT_CHANGES_POSITION: &'static str = "SELECT coalesce(
         (SELECT seq FROM sqlite_sequence WHERE name = 'account_changes'), 0) AS position";
    const ACCOUNT_CHANGES_AFTER: &'static str =
        "SELECT kind, user_id FROM account_changes WHERE id > $1 ORDER BY id LIMIT $2";

    const IMPORT: ImportStatements = import_statements!(
        accounts: "(SELECT value ->> 'id' AS id, value ->> 'email' AS email, value ->> 'name' AS name,
                           value ->> 'password_hash' AS password_hash,
                           value ->> 'password_hash_class' AS password_hash_class,
                           value ->> 'email_verified' AS email_verified,
                           value ->> 'disabled' AS disabled, value ->> 'created_at' AS created_at
                    FROM json_each($1))",
        grants: "(SELECT value ->> 'user_id' AS user_id, value ->> 'role' AS role FROM json_each($1))",
        ids: "(SELECT value AS id FROM json_each($1))",
        names: "(SELECT value AS name FROM json_each($1))",
    );

    const MIGRATIONS: &'static [Migration] = schema!("sqlite");
    const CREATE_MIGRATIONS_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            file_name  TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT";

    /// `BEGIN IMMEDIATE` already holds the write lock: other migrators wait.
    fn migration_lock() -> Vec<Statement<'static>> {
        Vec::new()
    }

    async fn connect(url: &str, options: SqliteStoreOptions) -> Result<SqlitePool, StoreError> {
        let connect_options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)
                .map_err(|error| StoreError::Other(format!("invalid SQLite URL: {error}")))?
        } else {
            SqliteConnectOptions::new().filename(url)
        }
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
        readable_by_owner_only(connect_options.get_filename());
        // Switching a new file to WAL needs it to itself for a moment, and
        // SQLite answers "busy" without waiting when several processes open
        // a new file at once; each waits a little and tries again.
        let mut attempt = 1;
        loop {
            let connected = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                // A connection to a file cannot hang up, and sqlx pings each
                // one as it goes back to the pool anyway: a ping as it is
                // taken out too would be one more hop to the connection's
                // thread and back per statement (issue 14).
                .test_before_acquire(false)
                .connect_with(connect_options.clone())
                .await
                .map_err(Self::map_err);
            match connected {
                Err(StoreError::Unavailable(_)) if attempt < CONNECT_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                    attempt += 1;
                }
                connected => return connected,
            }
        }
    }

    /// BUSY, LOCKED, READONLY (a file or volume made read-only), IOERR,
    /// FULL, CANTOPEN: the primary result code is an extended code's low byte.
    fn is_transient(code: &str) -> bool {
        const TRANSIENT: [i32; 6] = [5, 6, 8, 10, 13, 14];
        code.parse::<i32>()
            .is_ok_and(|code| TRANSIENT.contains(&(code & 0xff)))
    }

    crate::dialect::executing_methods!(SqliteConnection, SqliteRow);

    /// Takes the write lock (`BEGIN IMMEDIATE`), waiting at most `bound`
    /// for another writer, and runs an `UPDATE` that matches no row (on a
    /// read-only file `BEGIN IMMEDIATE` quietly reads; the `UPDATE` fails),
    /// then lets go.
    fn writable_check(bound: Duration) -> Vec<String> {
        let busy_timeout = |wait: Duration| format!("PRAGMA busy_timeout = {}", wait.as_millis());
        vec![
            busy_timeout(bound),
            "BEGIN IMMEDIATE".to_owned(),
            "UPDATE sessions SET revoked_at = revoked_at WHERE false".to_owned(),
            "ROLLBACK".to_owned(),
            busy_timeout(BUSY_TIMEOUT),
        ]
    }
}

/// `statement` with its values bound as SQLite stores them: ids as
/// hyphenated text, lists as JSON arrays, which `json_each` reads back.
fn query<'q>(statement: &'q Statement<'_>) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    statement.to_query(|query, value| match value {
        Value::Id(id) => query.bind(id.map(|id| id.hyphenated().to_string())),
        Value::Texts(texts) => query.bind(json_array(texts.iter().map(AsRef::<str>::as_ref))),
        Value::Ids(ids) => query.bind(json_array(ids.iter().map(|id| id.hyphenated().to_string()))),
        Value::Integers(integers) => query.bind(json_array(integers.iter().copied())),
        // Bound by `to_query` itself.
        Value::Integer(_) | Value::Text(_) | Value::Bytes(_) | Value::Flag(_) => query,
    })
}

fn json_array<T: Into<serde_json::Value>>(items: impl Iterator<Item = T>) -> String {
    serde_json::Value::Array(items.map(Into::into).collect()).to_string()
}

/// Ids are stored as hyphenated UUID text.
impl BackendRow for SqliteRow {
    fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        parse_uuid(&self.text(name)?, name)
    }

    fn optional_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError> {
        self.optional_text(name)?
            .map(|text| parse_uuid(&text, name))
            .transpose()
    }
}

fn parse_uuid(text: &str, name: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Other(format!("column {name}: {error}")))
}

/// Creates a missing database file readable and writable by its owner only
/// (SQLite gives its `-wal` and `-shm` files the same permissions), and
/// warns about an existing one that others can read: it holds password
/// hashes and, unless a key-encryption key seals them, the private signing
/// keys, with which anyone can mint tokens.
fn readable_by_owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if created.is_err()
            && let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                "the database file can be read by other users: it holds password hashes and signing keys; `chmod 600` it (and its -wal and -shm files)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_that_are_worth_retrying() {
        let cases = [
            ("5", true),     // SQLITE_BUSY
            ("517", true),   // SQLITE_BUSY_SNAPSHOT
            ("6", true),     // SQLITE_LOCKED
            ("8", true),     // SQLITE_READONLY
            ("1032", true),  // SQLITE_READONLY_DBMOVED
            ("10", true),    // SQLITE_IOERR
            ("13", true),    // SQLITE_FULL
            ("14", true),    // SQLITE_CANTOPEN
            ("2067", false), // SQLITE_CONSTRAINT_UNIQUE (Conflict, checked first)
            ("787", false),  // SQLITE_CONSTRAINT_FOREIGNKEY
            ("1", false),    // SQLITE_ERROR
            ("not a code", false),
        ];
        for (code, transient) in cases {
            assert_eq!(SqliteDialect::is_transient(code), transient, "{code}");
        }
    }
}
