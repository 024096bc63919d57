//! The [`Store`] on PostgreSQL: for several server instances sharing one database.
//!
//! It keeps SQLite's semantics exactly (`tests/it/store_suite.rs` runs on
//! both): same tables, times as BIGINT unix seconds, text ordered bytewise
//! (`COLLATE "C"`). PostgreSQL runs transactions concurrently at READ
//! COMMITTED where SQLite's `BEGIN IMMEDIATE` serialises every writer, so each
//! multi-statement method takes the lock that makes it behave as if
//! serialised: the user's row for `set_roles`, the role's row for `put_role`,
//! a table lock on `signing_keys` for `insert_first_signing_key` and
//! `rotate_signing_key`. The compare-and-set methods are single statements
//! whose `WHERE` PostgreSQL re-checks on the latest row version after waiting
//! for a concurrent writer (`rotate_refresh_token`), or a single upsert
//! (`record_login_failure`). Every statement is bounded by
//! [`PgStoreOptions::statement_timeout`], so a stuck lock surfaces as
//! [`StoreError::Unavailable`] instead of a hung request.
//!
//! Only runtime `sqlx::query` with `bind` and `try_get` is used (no `query!`
//! macros, see NOTES.md). Driver errors never leave this module: [`map_err`]
//! turns each into a [`StoreError`]. Rows become records in `crate::rows`,
//! shared with SQLite; this module decodes only ids, the one column whose
//! type differs.

mod migrations;

use std::collections::BTreeSet;
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::keys::SigningKey;
use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountChanged, AccountChanges, FeedPosition, LoginFailures, PersonalTokenRecord, PoolStatus,
    ProfileChange, RevocationsRead, SessionCutoff, SessionRecord, Store, StoreError, UserQuery,
    UserRecord,
};

use crate::migration;
use crate::rows::{
    self, BackendRow, Columns as _, decode_error, feed_read_limit, found, login_failures_from_row,
    personal_token_from_row, roles_from_rows, session_from_row, signing_key_from_row, unix_millis,
    users_from_rows,
};
use crate::rows::{select_personal_tokens, select_sessions, select_users};

/// Sizing of the connection pool and the bound on each statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreOptions {
    /// Connections open at most (default 16). Keep the sum over all instances
    /// below the server's `max_connections`.
    pub max_connections: u32,
    /// Longest wait for a free connection, or to open one, before
    /// [`StoreError::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
    /// The server cancels any statement running longer, which the store
    /// reports as [`StoreError::Unavailable`] (default 5 s; zero disables it).
    /// Migrations are exempt.
    pub statement_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Store`] backed by one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Where the feed tables (`revoked_sessions`, `account_changes`) are
    /// now: the oldest transaction still running, taken before reading. A
    /// transaction that commits after a read ran, or started, after this
    /// one, so the next read, from here, sees its entries.
    async fn oldest_running_transaction(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::BIGINT")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/database?…`,
    /// libpq's URL form) with the default [`PgStoreOptions`]. The database must
    /// exist. Does not migrate: call [`PgStore::migrate`].
    ///
    /// # Errors
    /// [`StoreError::Other`] for a malformed URL, a refused login or a missing
    /// database; [`StoreError::Unavailable`] when the server cannot be reached
    /// within the acquire timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgStoreOptions::default()).await
    }

    /// [`PgStore::connect`] with explicit options.
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<Self, StoreError> {
        // Sent in the startup packet, so it holds from a connection's first
        // statement and costs no round trip. Rounded up to whole milliseconds,
        // since 0 would mean "no limit".
        let statement_timeout_ms = if options.statement_timeout.is_zero() {
            0
        } else {
            options.statement_timeout.as_millis().max(1)
        };
        // The driver would read any scheme as PostgreSQL's, and try to reach
        // `sqlite://portcullis.db` as a host named `portcullis.db`.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Other(
                "invalid PostgreSQL URL: it starts with postgres:// or postgresql://".into(),
            ));
        }
        let connect_options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::Other(format!("invalid PostgreSQL URL: {error}")))?
            .options([("statement_timeout", format!("{statement_timeout_ms}ms"))]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    /// Applies the embedded migrations not yet applied; safe to call at every
    /// start, from several instances at once.
    ///
    /// # Errors
    /// A failed migration (rolled back), or a database newer than this build.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::run::<migrations::PgMigrations>(&self.pool).await
    }

    /// Closes every connection, waiting for those in use; later calls fail
    /// with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(map_err)
    }

    /// A transaction in which no one else changes `signing_keys` until it
    /// ends. SHARE ROW EXCLUSIVE conflicts with itself and with writes, not
    /// with reads: serving the JWKS never waits.
    async fn begin_signing_keys_change(
        &self,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        Ok(transaction)
    }
}

/// Turns a driver error into what the domain understands; the only place that does.
pub(crate) fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(database)
            if database.code().is_some_and(|code| is_transient(&code)) =>
        {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Other(error.to_string()),
    }
}

/// Whether a SQLSTATE means "the database cannot serve this now, try again
/// later" rather than "this request is wrong".
fn is_transient(sqlstate: &str) -> bool {
    // Class 08: connection exceptions. Class 53: insufficient resources
    // (53300 too many connections, 53100 disk full, 53200 out of memory).
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(
            sqlstate,
            // admin_shutdown, crash_shutdown, cannot_connect_now
            "57P01" | "57P02" | "57P03"
            // query_canceled: statement_timeout elapsed
            | "57014"
            // lock_not_available (lock_timeout), serialization_failure,
            // deadlock_detected: SQLite's BUSY and LOCKED
            | "55P03" | "40001" | "40P01"
        )
}

#[async_trait]
impl Store for PgStore {
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
        let mut transaction = self.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id)
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
        let rows = sqlx::query(select_users!("WHERE u.id = $1 ORDER BY r.role"))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(users_from_rows(&rows)?.pop())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        let rows = sqlx::query(select_users!("WHERE u.email = $1 ORDER BY r.role"))
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
            "WHERE u.id IN (SELECT id FROM users WHERE ($1::uuid IS NULL OR id > $1)
                              AND ($2::text IS NULL OR strpos(email, $2) > 0) ORDER BY id LIMIT $3)
             ORDER BY u.id, r.role"
        ))
        .bind(query.after)
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
            "UPDATE users SET email = COALESCE($1, email), name = CASE WHEN $2 THEN $3 ELSE name END
             WHERE id = $4",
        )
        .bind(change.email.as_ref().map(Email::as_str))
        .bind(change.name.is_some())
        .bind(change.name.as_ref().and_then(Option::as_deref))
        .bind(id)
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
        let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash.0.as_str())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        // The row lock queues concurrent `set_roles` (and `delete_user`) of the
        // same user, so the DELETE below sees what an earlier one inserted.
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(map_err)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        insert_user_roles(&mut transaction, id, roles).await?;
        transaction.commit().await.map_err(map_err)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError> {
        // Sessions and role assignments go with it (ON DELETE CASCADE).
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
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
        let mut transaction = self.begin().await?;
        // DO UPDATE (a no-op change) rather than DO NOTHING: it locks the
        // existing row, so two `put_role` of one name replace each other's
        // permissions whole instead of interleaving.
        sqlx::query(
            "INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name",
        )
        .bind(role.name.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        sqlx::query("DELETE FROM role_permissions WHERE role = $1")
            .bind(role.name.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        let permissions: Vec<&str> = role.permissions.iter().map(String::as_str).collect();
        sqlx::query(
            "INSERT INTO role_permissions (role, permission) SELECT $1, unnest($2::text[])",
        )
        .bind(role.name.as_str())
        .bind(permissions)
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        transaction.commit().await.map_err(map_err)
    }

    async fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        // Users keep the name in `user_roles`; a name without a role grants nothing.
        let result = sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        found(result.rows_affected())
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let generation = i64::try_from(session.refresh_generation).map_err(|_| {
            StoreError::Other(format!(
                "refresh generation {} out of range",
                session.refresh_generation
            ))
        })?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at,
                                   refresh_key, refresh_generation, refresh_hash, scope, user_agent, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(session.id)
        .bind(session.user_id)
        .bind(session.created_at.unix_timestamp())
        .bind(session.last_used_at.unix_timestamp())
        .bind(session.expires_at.unix_timestamp())
        .bind(session.revoked_at.map(OffsetDateTime::unix_timestamp))
        .bind(session.refresh_key.0.as_slice())
        .bind(generation)
        .bind(session.refresh_hash.0.as_slice())
        .bind(session.scope.as_ref().map(|scope| scope.join(" ")))
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE id = $1"))
            .bind(id)
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
        // A concurrent rotation of the same row makes this one wait, then
        // re-evaluate the WHERE on the row it left: the loser matches nothing.
        let result = sqlx::query(
            "UPDATE sessions SET refresh_generation = refresh_generation + 1, refresh_hash = $1, last_used_at = $2
             WHERE id = $3 AND refresh_generation = $4 AND revoked_at IS NULL",
        )
        .bind(next_hash.0.as_slice())
        .bind(now.unix_timestamp())
        .bind(id)
        .bind(from_generation)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn sessions_of_user(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(select_sessions!(
            "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.unix_timestamp())
                .bind(id)
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
        // `id IS DISTINCT FROM NULL` holds for every row, so no exception when `except` is None.
        let rows = sqlx::query(
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3
             RETURNING id",
        )
        .bind(now.unix_timestamp())
        .bind(user_id)
        .bind(except)
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
        let position = self.oldest_running_transaction().await?;
        let after = match after {
            None => {
                return Ok(RevocationsRead {
                    sessions: Vec::new(),
                    position: FeedPosition(position),
                });
            }
            // The oldest running transaction only moves forward on one
            // server: behind the position means the database went back (a
            // failover to a lagging replica, a restore), so every
            // revocation kept is read again.
            Some(FeedPosition(after)) if after > position => FeedPosition::BEGINNING.0,
            Some(FeedPosition(after)) => after,
        };
        let rows = sqlx::query(
            "SELECT session_id AS id, revoked_at FROM revoked_sessions WHERE xact >= $1",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
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
        let position = self.oldest_running_transaction().await?;
        let after = match after {
            None => {
                return Ok(AccountChanges {
                    changes: Vec::new(),
                    position: FeedPosition(position),
                });
            }
            // Behind the position: the database went back (see above).
            Some(FeedPosition(after)) if after > position => {
                return Ok(AccountChanges {
                    changes: vec![AccountChanged::Everything],
                    position: FeedPosition(position),
                });
            }
            Some(FeedPosition(after)) => after,
        };
        let rows =
            sqlx::query("SELECT kind, user_id FROM account_changes WHERE xact >= $1 LIMIT $2")
                .bind(after)
                .bind(feed_read_limit())
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
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
            "DELETE FROM account_changes WHERE ctid IN
                 (SELECT ctid FROM account_changes
                  WHERE changed_at < floor(extract(epoch FROM now()))::BIGINT - $1 LIMIT $2)",
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
                 WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $2 OR last_used_at < $3
                 LIMIT $4)",
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
                 SELECT session_id FROM revoked_sessions WHERE revoked_at < $1 LIMIT $2)",
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
            "DELETE FROM signing_keys WHERE retiring_since IS NOT NULL AND retiring_since < $1",
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
        let result = sqlx::query("DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE last_at_ms < $1 LIMIT $2)")
            .bind(unix_millis(before))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, private_pkcs8, public_key, created_at, retiring_since FROM signing_keys
             ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        let mut transaction = self.begin_signing_keys_change().await?;
        // Under the lock, this statement's snapshot includes any key committed
        // by whoever held it before.
        let result = sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             SELECT $1, $2, $3, $4, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(key.kid.as_str())
        .bind(key.private_pkcs8.as_slice())
        .bind(key.public_key.as_slice())
        .bind(key.created_at.unix_timestamp())
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        transaction.commit().await.map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Locked like the first insert: two rotations at once would otherwise
        // each retire only the keys they saw and leave two active.
        let mut transaction = self.begin_signing_keys_change().await?;
        sqlx::query("UPDATE signing_keys SET retiring_since = $1 WHERE retiring_since IS NULL")
            .bind(now.unix_timestamp())
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             VALUES ($1, $2, $3, $4, NULL)",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id)
        .bind(token.user_id)
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
        let row = sqlx::query(select_personal_tokens!("WHERE id = $1"))
            .bind(id)
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
            "WHERE user_id = $1 ORDER BY id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(personal_token_from_row).collect()
    }

    async fn delete_personal_token(&self, id: Uuid) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM personal_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_personal_tokens_of_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM personal_tokens WHERE user_id = $1")
            .bind(user_id)
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
        let ids: Vec<Uuid> = uses.iter().map(|(id, _)| *id).collect();
        let times: Vec<i64> = uses.iter().map(|(_, at)| at.unix_timestamp()).collect();
        sqlx::query(
            "UPDATE personal_tokens AS t SET last_used_at = GREATEST(COALESCE(t.last_used_at, 0), u.at)
             FROM unnest($1::uuid[], $2::bigint[]) AS u(id, at) WHERE t.id = u.id",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        let row = sqlx::query("SELECT count, last_at_ms FROM login_failures WHERE key = $1")
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
        // One statement: PostgreSQL's upsert either inserts or locks and
        // updates the existing row, never both nor neither.
        sqlx::query(
            "INSERT INTO login_failures (key, count, last_at_ms) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE
             SET count = CASE WHEN login_failures.last_at_ms < $3 THEN 1 ELSE login_failures.count + 1 END,
                 last_at_ms = excluded.last_at_ms",
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
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// Stores a user's role names, each once, in one statement.
async fn insert_user_roles(
    connection: &mut PgConnection,
    user_id: Uuid,
    roles: &[String],
) -> Result<(), StoreError> {
    let unique: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sqlx::query("INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[])")
        .bind(user_id)
        .bind(unique)
        .execute(connection)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Ids are stored as native UUIDs.
impl BackendRow for PgRow {
    fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn optional_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_that_are_worth_retrying() {
        let cases = [
            ("08006", true),  // connection_failure
            ("08001", true),  // sqlclient_unable_to_establish_sqlconnection
            ("53300", true),  // too_many_connections
            ("53100", true),  // disk_full
            ("57P01", true),  // admin_shutdown
            ("57P02", true),  // crash_shutdown
            ("57P03", true),  // cannot_connect_now
            ("57014", true),  // query_canceled (statement_timeout)
            ("55P03", true),  // lock_not_available
            ("40001", true),  // serialization_failure
            ("40P01", true),  // deadlock_detected
            ("23505", false), // unique_violation (Conflict, checked first)
            ("23503", false), // foreign_key_violation
            ("22P02", false), // invalid_text_representation
            ("42P01", false), // undefined_table
            ("3D000", false), // invalid_catalog_name: a configuration error
            ("28P01", false), // invalid_password: a configuration error
            ("57P04", false), // database_dropped
        ];
        for (sqlstate, transient) in cases {
            assert_eq!(is_transient(sqlstate), transient, "{sqlstate}");
        }
    }

    #[test]
    fn driver_errors_outside_the_database() {
        assert!(matches!(
            map_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Other(_)
        ));
    }
}
