//! The [`Store`] on SQLite: one file, WAL journal, a small connection pool.
//!
//! Every trait method is one SQL statement or one `BEGIN IMMEDIATE`
//! transaction, so it is atomic on its own even when several processes share
//! the file; the compare-and-set methods (`rotate_refresh_token`,
//! `insert_first_signing_key`, `record_login_failure`) are single statements
//! that SQLite serialises. Only runtime `sqlx::query` with `bind` and
//! `try_get` is used (no `query!` macros, see NOTES.md). Driver errors never
//! leave this module: [`map_err`] turns each into a [`StoreError`]. Rows
//! become records in `crate::rows`, shared with PostgreSQL; this module
//! decodes only ids, the one column whose type differs.
//!
//! Conventions of the schema (`migrations/sqlite/`): ids are hyphenated UUID
//! text, times are INTEGER unix seconds, a session's scope is its permissions
//! joined by single spaces.

mod migrations;

use std::collections::BTreeSet;
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::keys::SigningKey;
use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountChanged, AccountChanges, FeedPosition, LoginFailures, MAX_ACCOUNT_CHANGES_PER_READ,
    PersonalTokenRecord, PoolStatus, ProfileChange, RevocationsRead, SessionCutoff, SessionRecord,
    Store, StoreError, UserQuery, UserRecord,
};

use crate::migration;
use crate::rows::{
    self, BackendRow, Columns as _, feed_read_limit, found, login_failures_from_row,
    personal_token_from_row, roles_from_rows, session_from_row, signing_key_from_row, unix_millis,
    users_from_rows,
};
use crate::rows::{select_personal_tokens, select_sessions, select_users};

/// How long a statement waits for another connection's write lock before
/// giving up with [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The numbers of the newest entries the two feed tables ever had.
const NEWEST_ACCOUNT_CHANGE: &str =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'account_changes'), 0)";
const NEWEST_REVOCATION: &str =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revoked_sessions'), 0)";

/// How many times opening the database is tried while it is busy.
const CONNECT_ATTEMPTS: u32 = 10;

/// Sizing of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteStoreOptions {
    /// Connections open at most (default 8). SQLite admits one writer at a
    /// time whatever this is; more connections let reads run beside it.
    pub max_connections: u32,
    /// Longest wait for a free connection before [`StoreError::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Store`] backed by one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The number of the newest entry a feed table ever had, by `query`:
    /// AUTOINCREMENT's own record (`sqlite_sequence`), which pruning never
    /// lowers, so newer entries are always above it (0 before the first).
    async fn newest_entry(&self, query: &'static str) -> Result<i64, StoreError> {
        sqlx::query_scalar(query)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    /// Opens (creating it if missing) the database at `url` with the default
    /// [`SqliteStoreOptions`]. `url` is `sqlite://path`, `sqlite:path` or a
    /// plain file path. Does not migrate: call [`SqliteStore::migrate`].
    ///
    /// # Errors
    /// [`StoreError::Other`] for a malformed URL; whatever opening the file gives.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SqliteStoreOptions::default()).await
    }

    /// [`SqliteStore::connect`] with explicit pool options.
    ///
    /// # Errors
    /// As [`SqliteStore::connect`].
    pub async fn connect_with(url: &str, options: SqliteStoreOptions) -> Result<Self, StoreError> {
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
        // Switching a new file to WAL needs it to itself for a moment, and
        // SQLite answers "busy" without waiting when several processes open
        // a new file at once; each waits a little and tries again.
        let mut attempt = 1;
        loop {
            let connected = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect_options.clone())
                .await
                .map_err(map_err);
            match connected {
                Err(StoreError::Unavailable(_)) if attempt < CONNECT_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                    attempt += 1;
                }
                connected => return connected.map(|pool| Self { pool }),
            }
        }
    }

    /// Applies the embedded migrations not yet applied; safe to call at every
    /// start, from several instances at once.
    ///
    /// # Errors
    /// A failed migration (rolled back), or a database newer than this build.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::run::<migrations::SqliteMigrations>(&self.pool).await
    }

    /// Closes every connection, waiting for those in use; later calls fail
    /// with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        // IMMEDIATE takes the write lock up front (waiting up to BUSY_TIMEOUT),
        // so a transaction that reads before writing cannot fail half-way with
        // SQLITE_BUSY when another connection wrote in between.
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

/// Turns a driver error into what the domain understands; the only place that does.
pub(crate) fn map_err(error: sqlx::Error) -> StoreError {
    // SQLite primary result codes that mean "try again later": BUSY, LOCKED,
    // IOERR, FULL, CANTOPEN (the low byte of an extended code).
    const TRANSIENT_SQLITE_CODES: [i32; 5] = [5, 6, 10, 13, 14];
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(database)
            if database
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| TRANSIENT_SQLITE_CODES.contains(&(code & 0xff))) =>
        {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Other(error.to_string()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(user.name.as_deref())
        .bind(user.password_hash.0.as_str())
        .bind(user.disabled)
        .bind(user.created_at.unix_timestamp())
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        insert_user_roles(&mut transaction, user.id, &user.roles).await?;
        transaction.commit().await.map_err(map_err)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let rows = sqlx::query(select_users!("WHERE u.id = ? ORDER BY r.role"))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(users_from_rows(&rows)?.pop())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        let rows = sqlx::query(select_users!("WHERE u.email = ? ORDER BY r.role"))
            .bind(email.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(users_from_rows(&rows)?.pop())
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query(select_users!("ORDER BY u.created_at, u.id, r.role"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        users_from_rows(&rows)
    }

    async fn query_users(&self, query: &UserQuery) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query(select_users!(
            "WHERE u.id IN (SELECT id FROM users WHERE (?1 IS NULL OR id > ?1)
                              AND (?2 IS NULL OR instr(email, ?2) > 0) ORDER BY id LIMIT ?3)
             ORDER BY u.id, r.role"
        ))
        .bind(query.after.map(|id| id.to_string()))
        .bind(query.email_contains.as_deref().map(str::to_lowercase))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        users_from_rows(&rows)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS count FROM users")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("count"))
            .map_err(map_err)?;
        u64::try_from(count).map_err(|_| StoreError::Other(format!("negative user count {count}")))
    }

    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE users SET email = COALESCE(?, email), name = CASE WHEN ? THEN ? ELSE name END WHERE id = ?",
        )
        .bind(change.email.as_ref().map(Email::as_str))
        .bind(change.name.is_some())
        .bind(change.name.as_ref().and_then(Option::as_deref))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &PasswordHashString,
    ) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash.0.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE users SET disabled = ? WHERE id = ?")
            .bind(disabled)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(map_err)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM user_roles WHERE user_id = ?")
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        insert_user_roles(&mut transaction, id, roles).await?;
        transaction.commit().await.map_err(map_err)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError> {
        // Sessions and role assignments go with it (ON DELETE CASCADE).
        let result = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.name, p.permission FROM roles AS r LEFT JOIN role_permissions AS p ON p.role = r.name
             ORDER BY r.name, p.permission",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        roles_from_rows(&rows)
    }

    async fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("INSERT INTO roles (name) VALUES (?) ON CONFLICT (name) DO NOTHING")
            .bind(role.name.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM role_permissions WHERE role = ?")
            .bind(role.name.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        for permission in &role.permissions {
            sqlx::query("INSERT INTO role_permissions (role, permission) VALUES (?, ?)")
                .bind(role.name.as_str())
                .bind(permission.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(map_err)?;
        }
        transaction.commit().await.map_err(map_err)
    }

    async fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        // Users keep the name in `user_roles`; a name without a role grants nothing.
        let result = sqlx::query("DELETE FROM roles WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let scope = match &session.scope {
            None => None,
            Some(permissions) => {
                if permissions
                    .iter()
                    .any(|p| p.is_empty() || p.contains(char::is_whitespace))
                {
                    return Err(StoreError::Other(
                        "a session scope entry is empty or contains whitespace".into(),
                    ));
                }
                Some(permissions.join(" "))
            }
        };
        let generation = i64::try_from(session.refresh_generation)
            .map_err(|_| StoreError::Other("refresh generation out of range".into()))?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, refresh_key,
                                   refresh_generation, refresh_hash, scope, user_agent, ip)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(session.id.to_string())
        .bind(session.user_id.to_string())
        .bind(session.created_at.unix_timestamp())
        .bind(session.last_used_at.unix_timestamp())
        .bind(session.expires_at.unix_timestamp())
        .bind(session.revoked_at.map(OffsetDateTime::unix_timestamp))
        .bind(session.refresh_key.0.as_slice())
        .bind(generation)
        .bind(session.refresh_hash.0.as_slice())
        .bind(scope)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        id: Uuid,
        from_generation: u64,
        next_hash: &RefreshSecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // No stored generation exceeds i64::MAX, so such a token cannot be current.
        let Ok(from_generation) = i64::try_from(from_generation) else {
            return Ok(false);
        };
        let result = sqlx::query(
            "UPDATE sessions SET refresh_generation = refresh_generation + 1, refresh_hash = ?, last_used_at = ?
             WHERE id = ? AND refresh_generation = ? AND revoked_at IS NULL",
        )
        .bind(next_hash.0.as_slice())
        .bind(now.unix_timestamp())
        .bind(id.to_string())
        .bind(from_generation)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn sessions_of_user(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(select_sessions!(
            "WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now.unix_timestamp())
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn revoke_sessions_of_user(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError> {
        // `id IS NOT NULL` holds for every row, so no exception when `except` is None.
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ? RETURNING id",
        )
        .bind(now.unix_timestamp())
        .bind(user_id.to_string())
        .bind(except.map(|id| id.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut revoked = rows
            .iter()
            .map(|row| row.uuid("id"))
            .collect::<Result<Vec<_>, _>>()?;
        revoked.sort_unstable();
        Ok(revoked)
    }

    async fn sessions_revoked_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<RevocationsRead, StoreError> {
        let newest = self.newest_entry(NEWEST_REVOCATION).await?;
        let after = match after {
            None => {
                return Ok(RevocationsRead {
                    sessions: Vec::new(),
                    position: FeedPosition(newest),
                });
            }
            // Past the newest entry: the file went back (a restore), so
            // every revocation kept is read again.
            Some(FeedPosition(after)) if after > newest => FeedPosition::BEGINNING.0,
            Some(FeedPosition(after)) => after,
        };
        let rows = sqlx::query(
            "SELECT seq, session_id AS id, revoked_at FROM revoked_sessions WHERE seq > ? ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let position = rows.last().map_or(Ok(after), |row| row.integer("seq"))?;
        let sessions = rows
            .iter()
            .map(rows::revocation_from_row)
            .collect::<Result<_, _>>()?;
        Ok(RevocationsRead {
            sessions,
            position: FeedPosition(position),
        })
    }

    async fn account_changes_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<AccountChanges, StoreError> {
        let newest = self.newest_entry(NEWEST_ACCOUNT_CHANGE).await?;
        let everything = || AccountChanges {
            changes: vec![AccountChanged::Everything],
            position: FeedPosition(newest),
        };
        let after = match after {
            None => {
                return Ok(AccountChanges {
                    changes: Vec::new(),
                    position: FeedPosition(newest),
                });
            }
            // Past the newest entry: the file went back (a restore).
            Some(FeedPosition(after)) if after > newest => return Ok(everything()),
            Some(FeedPosition(after)) => after,
        };
        let rows = sqlx::query(
            "SELECT id, kind, user_id FROM account_changes WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(feed_read_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        if rows.len() > MAX_ACCOUNT_CHANGES_PER_READ {
            return Ok(everything());
        }
        let position = rows.last().map_or(Ok(after), |row| row.integer("id"))?;
        let entries = rows
            .iter()
            .map(|row| Ok((row.text("kind")?, row.optional_uuid("user_id")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        rows::account_changes(entries, FeedPosition(position))
    }

    async fn prune_account_changes(
        &self,
        age: time::Duration,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM account_changes WHERE id IN
                 (SELECT id FROM account_changes WHERE changed_at < unixepoch() - ? LIMIT ?)",
        )
        .bind(age.whole_seconds())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected())
    }

    async fn prune_sessions(&self, cutoff: &SessionCutoff, limit: u32) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions
                 WHERE (revoked_at IS NOT NULL AND revoked_at < ?1) OR expires_at < ?2 OR last_used_at < ?3
                 LIMIT ?4)",
        )
        .bind(cutoff.revoked_before.unix_timestamp())
        .bind(cutoff.now.unix_timestamp())
        .bind(cutoff.idle_before.unix_timestamp())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let revocations = sqlx::query(
            "DELETE FROM revoked_sessions WHERE session_id IN (
                 SELECT session_id FROM revoked_sessions WHERE revoked_at < ? LIMIT ?)",
        )
        .bind(cutoff.revoked_before.unix_timestamp())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected() + revocations.rows_affected())
    }

    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM signing_keys WHERE retiring_since IS NOT NULL AND retiring_since < ?",
        )
        .bind(retired_before.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected())
    }

    async fn prune_login_failures(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE last_at_ms < ? LIMIT ?)")
            .bind(unix_millis(before))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, private_pkcs8, public_key, created_at, retiring_since FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             SELECT ?, ?, ?, ?, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(key.kid.as_str())
        .bind(key.private_pkcs8.as_slice())
        .bind(key.public_key.as_slice())
        .bind(key.created_at.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("UPDATE signing_keys SET retiring_since = ? WHERE retiring_since IS NULL")
            .bind(now.unix_timestamp())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             VALUES (?, ?, ?, ?, NULL)",
        )
        .bind(key.kid.as_str())
        .bind(key.private_pkcs8.as_slice())
        .bind(key.public_key.as_slice())
        .bind(key.created_at.unix_timestamp())
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        transaction.commit().await.map_err(map_err)
    }

    async fn insert_personal_token(&self, token: &PersonalTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO personal_tokens (id, user_id, name, scopes, secret_hash, created_at, expires_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(&token.name)
        .bind(token.scopes.join(" "))
        .bind(token.secret_hash.0.as_slice())
        .bind(token.created_at.unix_timestamp())
        .bind(token.expires_at.map(OffsetDateTime::unix_timestamp))
        .bind(token.last_used_at.map(OffsetDateTime::unix_timestamp))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn personal_token(&self, id: Uuid) -> Result<Option<PersonalTokenRecord>, StoreError> {
        let row = sqlx::query(select_personal_tokens!("WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(personal_token_from_row).transpose()
    }

    async fn personal_tokens_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<PersonalTokenRecord>, StoreError> {
        let rows = sqlx::query(select_personal_tokens!(
            "WHERE user_id = ? ORDER BY id DESC"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(personal_token_from_row).collect()
    }

    async fn delete_personal_token(&self, id: Uuid) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM personal_tokens WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_personal_tokens_of_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM personal_tokens WHERE user_id = ?")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected())
    }

    async fn record_personal_token_uses(
        &self,
        uses: &[(Uuid, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin_write().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE personal_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
            )
            .bind(at.unix_timestamp())
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        }
        transaction.commit().await.map_err(map_err)
    }

    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        let row = sqlx::query("SELECT count, last_at_ms FROM login_failures WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(login_failures_from_row).transpose()
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // In DO UPDATE, bare column names are the stored row's values.
        sqlx::query(
            "INSERT INTO login_failures (key, count, last_at_ms) VALUES (?, 1, ?)
             ON CONFLICT (key) DO UPDATE
             SET count = CASE WHEN last_at_ms < ? THEN 1 ELSE count + 1 END, last_at_ms = excluded.last_at_ms",
        )
        .bind(key)
        .bind(unix_millis(now))
        .bind(unix_millis(forget_before))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// Stores a user's role names, each once.
async fn insert_user_roles(
    connection: &mut SqliteConnection,
    user_id: Uuid,
    roles: &[String],
) -> Result<(), StoreError> {
    let user_id = user_id.to_string();
    let unique: BTreeSet<&str> = roles.iter().map(String::as_str).collect();
    for role in unique {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES (?, ?)")
            .bind(user_id.as_str())
            .bind(role)
            .execute(&mut *connection)
            .await
            .map_err(map_err)?;
    }
    Ok(())
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
