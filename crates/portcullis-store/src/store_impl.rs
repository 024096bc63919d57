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

use std::collections::BTreeMap;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::keys::SigningKey;
use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountChanges, FeedPosition, LoginFailures, PersonalTokenRecord, PoolStatus, ProfileChange,
    RevocationsRead, SessionCutoff, SessionRecord, Store, StoreError, UserQuery, UserRecord,
};

use crate::dialect::Dialect;
use crate::input;
use crate::rows::{
    self, BackendRow as _, Columns as _, found, login_failures_from_row, personal_token_from_row,
    roles_from_rows, select_personal_tokens, select_sessions, select_users, session_from_row,
    signing_key_from_row, unix_millis, users_from_rows,
};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

const INSERT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
     VALUES ($1, $2, $3, $4, NULL)";

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    fn pool_status(&self) -> PoolStatus {
        let pool = self.pool();
        PoolStatus {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.execute(Statement::new("SELECT 1")).await.map(drop)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.check_writable_within_bound().await
    }

    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let insert = Statement::new(
            "INSERT INTO users (id, email, name, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(user.name.as_deref())
        .bind(user.password_hash.0.as_str())
        .bind(user.disabled)
        .bind(user.created_at.unix_timestamp());
        let mut statements = vec![insert];
        statements.extend(insert_user_roles::<D>(user.id, &user.roles));
        self.write_together(statements).await.map(drop)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("WHERE u.id = $1 ORDER BY r.role")).bind(id);
        Ok(users_from_rows(&self.fetch_all(statement).await?)?.pop())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("WHERE u.email = $1 ORDER BY r.role"))
            .bind(email.as_str());
        Ok(users_from_rows(&self.fetch_all(statement).await?)?.pop())
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("ORDER BY u.created_at, u.id, r.role"));
        users_from_rows(&self.fetch_all(statement).await?)
    }

    async fn query_users(&self, query: &UserQuery) -> Result<Vec<UserRecord>, StoreError> {
        let statement = Statement::new(D::QUERY_USERS)
            .bind(query.after)
            .bind(query.email_contains.as_deref().map(str::to_lowercase))
            .bind(i64::from(query.limit));
        users_from_rows(&self.fetch_all(statement).await?)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let statement = Statement::new("SELECT COUNT(*) AS count FROM users");
        let count = match self.fetch_optional(statement).await? {
            Some(row) => row.integer("count")?,
            None => 0,
        };
        u64::try_from(count).map_err(|_| StoreError::Other(format!("negative user count {count}")))
    }

    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> Result<(), StoreError> {
        let statement = Statement::new(
            "UPDATE users SET email = COALESCE($1, email), name = CASE WHEN $2 THEN $3 ELSE name END
             WHERE id = $4",
        )
        .bind(change.email.as_ref().map(Email::as_str))
        .bind(change.name.is_some())
        .bind(change.name.as_ref().and_then(Option::as_deref))
        .bind(id);
        found(self.write_one(statement).await?)
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &PasswordHashString,
    ) -> Result<(), StoreError> {
        let statement = Statement::new("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash.0.as_str())
            .bind(id);
        found(self.write_one(statement).await?)
    }

    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError> {
        let statement = Statement::new("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id);
        found(self.write_one(statement).await?)
    }

    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError> {
        let mut replace =
            vec![Statement::new("DELETE FROM user_roles WHERE user_id = $1").bind(id)];
        replace.extend(insert_user_roles::<D>(id, roles));
        let replace: Vec<Statement<'static>> =
            replace.into_iter().map(Statement::into_owned).collect();
        self.write(move |store| async move {
            let mut transaction = store.begin().await?;
            let outcome = async {
                // The user's row, locked where writers are not serialised, so
                // that a concurrent `set_roles` waits and then sees these rows.
                let lock = Statement::new(D::LOCK_USER).bind(id);
                if transaction.fetch_optional(lock).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                for statement in replace {
                    transaction.execute(statement).await?;
                }
                Ok(())
            }
            .await;
            transaction.finish(outcome).await
        })
        .await
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError> {
        // Sessions and role assignments go with it (ON DELETE CASCADE).
        found(
            self.write_one(Statement::new("DELETE FROM users WHERE id = $1").bind(id))
                .await?,
        )
    }

    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        let statement = Statement::new(
            "SELECT r.name, p.permission FROM roles AS r LEFT JOIN role_permissions AS p ON p.role = r.name
             ORDER BY r.name, p.permission",
        );
        roles_from_rows(&self.fetch_all(statement).await?)
    }

    async fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        let name = role.name.as_str();
        // DO UPDATE (a change to the same name) rather than DO NOTHING: it
        // locks an existing row, so two `put_role` of one name replace each
        // other's permissions whole where writers are not serialised.
        let mut statements = vec![
            Statement::new(
                "INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name",
            )
            .bind(name),
            Statement::new("DELETE FROM role_permissions WHERE role = $1").bind(name),
        ];
        if !role.permissions.is_empty() {
            let permissions: Vec<&str> = role.permissions.iter().map(String::as_str).collect();
            statements.push(
                Statement::new(D::INSERT_ROLE_PERMISSIONS)
                    .bind(name)
                    .bind(permissions),
            );
        }
        self.write_together(statements).await.map(drop)
    }

    async fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        // Users keep the name in `user_roles`; a name without a role grants nothing.
        found(
            self.write_one(Statement::new("DELETE FROM roles WHERE name = $1").bind(name))
                .await?,
        )
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let scope = session
            .scope
            .as_deref()
            .map(input::joined_permissions)
            .transpose()?;
        let generation = input::refresh_generation(session.refresh_generation)?;
        let statement = Statement::new(
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
        .bind(scope)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref());
        self.write_one(statement).await.map(drop)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let statement = Statement::new(select_sessions!("WHERE id = $1")).bind(id);
        let row = self.fetch_optional(statement).await?;
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
        // One statement, so the database serialises it: a concurrent rotation
        // of the same row waits, and its WHERE then matches nothing.
        let statement = Statement::new(
            "UPDATE sessions SET refresh_generation = refresh_generation + 1, refresh_hash = $1, last_used_at = $2
             WHERE id = $3 AND refresh_generation = $4 AND revoked_at IS NULL",
        )
        .bind(next_hash.0.as_slice())
        .bind(now.unix_timestamp())
        .bind(id)
        .bind(from_generation);
        Ok(self.write_one(statement).await? == 1)
    }

    async fn sessions_of_user(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let statement = Statement::new(select_sessions!(
            "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id);
        self.fetch_all(statement)
            .await?
            .iter()
            .map(session_from_row)
            .collect()
    }

    async fn revoke_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let statement = Statement::new(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now.unix_timestamp())
        .bind(id);
        Ok(self.write_one(statement).await? == 1)
    }

    async fn revoke_sessions_of_user(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError> {
        // `id IS DISTINCT FROM NULL` holds for every row: no exception when `except` is None.
        let statement = Statement::new(
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3
             RETURNING id",
        )
        .bind(now.unix_timestamp())
        .bind(user_id)
        .bind(except)
        .into_owned();
        let rows = self
            .write(|store| async move { store.fetch_all(statement).await })
            .await?;
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
        let position = self.feed_position(D::REVOCATIONS_POSITION).await?;
        let after = match after {
            None => {
                return Ok(RevocationsRead {
                    sessions: Vec::new(),
                    position,
                });
            }
            // Past where the database is: it went back (a failover to a
            // lagging replica, a restore), so every revocation kept is read again.
            Some(after) if after.0 > position.0 => FeedPosition::BEGINNING,
            Some(after) => after,
        };
        let statement = Statement::new(D::REVOCATIONS_AFTER).bind(after.0);
        let sessions = self
            .fetch_all(statement)
            .await?
            .iter()
            .map(rows::revocation_from_row)
            .collect::<Result<_, _>>()?;
        Ok(RevocationsRead { sessions, position })
    }

    async fn account_changes_after(
        &self,
        after: Option<FeedPosition>,
    ) -> Result<AccountChanges, StoreError> {
        let position = self.feed_position(D::ACCOUNT_CHANGES_POSITION).await?;
        let after = match after {
            None => return rows::account_changes(Vec::new(), position),
            // Past where the database is: it went back (see above).
            Some(after) if after.0 > position.0 => return Ok(rows::everything_changed(position)),
            Some(after) => after,
        };
        let statement = Statement::new(D::ACCOUNT_CHANGES_AFTER)
            .bind(after.0)
            .bind(rows::feed_read_limit());
        let entries = self
            .fetch_all(statement)
            .await?
            .iter()
            .map(|row| Ok((row.text("kind")?, row.optional_uuid("user_id")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        rows::account_changes(entries, position)
    }

    async fn prune_account_changes(
        &self,
        age: time::Duration,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let statement = Statement::new(D::PRUNE_ACCOUNT_CHANGES)
            .bind(age.whole_seconds())
            .bind(i64::from(limit));
        self.write_one(statement).await
    }

    async fn prune_sessions(&self, cutoff: &SessionCutoff, limit: u32) -> Result<u64, StoreError> {
        let sessions = Statement::new(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions
                 WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $2 OR last_used_at < $3
                 LIMIT $4)",
        )
        .bind(cutoff.revoked_before.unix_timestamp())
        .bind(cutoff.now.unix_timestamp())
        .bind(cutoff.idle_before.unix_timestamp())
        .bind(i64::from(limit));
        let revocations = Statement::new(
            "DELETE FROM revoked_sessions WHERE session_id IN (
                 SELECT session_id FROM revoked_sessions WHERE revoked_at < $1 LIMIT $2)",
        )
        .bind(cutoff.revoked_before.unix_timestamp())
        .bind(i64::from(limit));
        let pruned = self.write_together(vec![sessions, revocations]).await?;
        Ok(pruned.iter().sum())
    }

    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> Result<u64, StoreError> {
        let statement = Statement::new(
            "DELETE FROM signing_keys WHERE retiring_since IS NOT NULL AND retiring_since < $1",
        )
        .bind(retired_before.unix_timestamp());
        self.write_one(statement).await
    }

    async fn prune_login_failures(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let statement = Statement::new(
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE last_at_ms < $1 LIMIT $2)",
        )
        .bind(unix_millis(before))
        .bind(i64::from(limit));
        self.write_one(statement).await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let statement = Statement::new(
            "SELECT kid, private_pkcs8, public_key, created_at, retiring_since FROM signing_keys
             ORDER BY created_at, kid",
        );
        self.fetch_all(statement)
            .await?
            .iter()
            .map(signing_key_from_row)
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<bool, StoreError> {
        // Under the lock, this statement's snapshot includes any key committed
        // by whoever held it before.
        let insert = Statement::new(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retiring_since)
             SELECT $1, $2, $3, $4, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        );
        let changed = self
            .write_together(signing_keys_change::<D>(insert, key, None))
            .await?;
        Ok(changed.last() == Some(&1))
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Locked like the first insert: two rotations at once would otherwise
        // each retire only the keys they saw and leave two active.
        let retire = Statement::new(
            "UPDATE signing_keys SET retiring_since = $1 WHERE retiring_since IS NULL",
        )
        .bind(now.unix_timestamp());
        let insert = Statement::new(INSERT_SIGNING_KEY);
        self.write_together(signing_keys_change::<D>(insert, key, Some(retire)))
            .await
            .map(drop)
    }

    async fn insert_personal_token(&self, token: &PersonalTokenRecord) -> Result<(), StoreError> {
        let scopes = input::joined_permissions(&token.scopes)?;
        let statement = Statement::new(
            "INSERT INTO personal_tokens (id, user_id, name, scopes, secret_hash, created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.name.as_str())
        .bind(scopes)
        .bind(token.secret_hash.0.as_slice())
        .bind(token.created_at.unix_timestamp())
        .bind(token.expires_at.map(OffsetDateTime::unix_timestamp))
        .bind(token.last_used_at.map(OffsetDateTime::unix_timestamp));
        self.write_one(statement).await.map(drop)
    }

    async fn personal_token(&self, id: Uuid) -> Result<Option<PersonalTokenRecord>, StoreError> {
        let statement = Statement::new(select_personal_tokens!("WHERE id = $1")).bind(id);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(personal_token_from_row).transpose()
    }

    async fn personal_tokens_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<PersonalTokenRecord>, StoreError> {
        let statement = Statement::new(select_personal_tokens!(
            "WHERE user_id = $1 ORDER BY id DESC"
        ))
        .bind(user_id);
        self.fetch_all(statement)
            .await?
            .iter()
            .map(personal_token_from_row)
            .collect()
    }

    async fn delete_personal_token(&self, id: Uuid) -> Result<bool, StoreError> {
        let statement = Statement::new("DELETE FROM personal_tokens WHERE id = $1").bind(id);
        Ok(self.write_one(statement).await? == 1)
    }

    async fn delete_personal_tokens_of_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let statement =
            Statement::new("DELETE FROM personal_tokens WHERE user_id = $1").bind(user_id);
        self.write_one(statement).await
    }

    async fn record_personal_token_uses(
        &self,
        uses: &[(Uuid, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        // Each token once, at its latest use: a batch update applies one
        // row of its list per token, whichever the database picks.
        let mut latest: BTreeMap<Uuid, i64> = BTreeMap::new();
        for (id, at) in uses {
            let at = at.unix_timestamp();
            latest
                .entry(*id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<i64>) = latest.into_iter().unzip();
        let statement = Statement::new(D::RECORD_TOKEN_USES).bind(ids).bind(times);
        self.write_one(statement).await.map(drop)
    }

    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        let statement =
            Statement::new("SELECT count, last_at_ms FROM login_failures WHERE key = $1").bind(key);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(login_failures_from_row).transpose()
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One upsert: it either inserts or locks and updates the existing
        // row, never both nor neither. Qualified names are the stored row's.
        let statement = Statement::new(
            "INSERT INTO login_failures (key, count, last_at_ms) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE
             SET count = CASE WHEN login_failures.last_at_ms < $3 THEN 1 ELSE login_failures.count + 1 END,
                 last_at_ms = excluded.last_at_ms",
        )
        .bind(key)
        .bind(unix_millis(now))
        .bind(unix_millis(forget_before));
        self.write_one(statement).await.map(drop)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let statement = Statement::new("DELETE FROM login_failures WHERE key = $1").bind(key);
        self.write_one(statement).await.map(drop)
    }
}

/// The statement that stores a user's role names, each once; none when there are none.
fn insert_user_roles<D: Dialect>(user_id: Uuid, roles: &[String]) -> Option<Statement<'_>> {
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

/// A change of `signing_keys` under the dialect's lock: `before` (if any),
/// then `insert` with `key`'s columns bound.
fn signing_keys_change<'a, D: Dialect>(
    insert: Statement<'a>,
    key: &'a SigningKey,
    before: Option<Statement<'a>>,
) -> Vec<Statement<'a>> {
    let insert = insert
        .bind(key.kid.as_str())
        .bind(key.private_pkcs8.as_slice())
        .bind(key.public_key.as_slice())
        .bind(key.created_at.unix_timestamp());
    D::LOCK_SIGNING_KEYS
        .map(Statement::new)
        .into_iter()
        .chain(before)
        .chain([insert])
        .collect()
}
