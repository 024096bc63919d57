//! Sessions: inserting, reading, the refresh compare-and-set, revoking and pruning.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::refresh::RefreshSecretHash;
use portcullis_core::store::{
    SessionCutoff, SessionOrigin, SessionRecord, SessionStore, StoreError, UserRecord,
};

use crate::dialect::Dialect;
use crate::input;
use crate::rows::{
    BackendRow as _, select_session_with_user, select_sessions, session_from_row,
    session_with_user_from_rows,
};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> SessionStore for SqlStore<D> {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.write_one(insert_session(session)?).await.map(drop)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let statement = Statement::new(select_sessions!("WHERE id = $1")).bind(id);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn session_with_user(
        &self,
        id: Uuid,
    ) -> Result<Option<(SessionRecord, Option<UserRecord>)>, StoreError> {
        let statement = Statement::new(select_session_with_user!()).bind(id);
        session_with_user_from_rows(&self.fetch_all(statement).await?)
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

    async fn touch_session(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let statement = Statement::new(
            "UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now.unix_timestamp())
        .bind(id);
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
        revoking(self, statement).await
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
        self.write_one(sessions).await
    }
}

/// The statement that inserts `session`.
pub(crate) fn insert_session(session: &SessionRecord) -> Result<Statement<'static>, StoreError> {
    let scope = session
        .scope
        .as_deref()
        .map(input::joined_permissions)
        .transpose()?;
    let generation = input::refresh_generation(session.refresh_generation)?;
    let (kind, client_id, authenticated_at, openid_scope) = match &session.origin {
        SessionOrigin::Api => ("api", None, None, None),
        SessionOrigin::Browser => ("browser", None, None, None),
        SessionOrigin::Client {
            client_id,
            authenticated_at,
            openid_scope,
        } => (
            "client",
            Some(*client_id),
            Some(authenticated_at.unix_timestamp()),
            Some(openid_scope.clone()),
        ),
    };
    Ok(Statement::new(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at,
                               refresh_key, refresh_generation, refresh_hash, scope, user_agent, ip,
                               kind, client_id, authenticated_at, openid_scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
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
    .bind(session.ip.as_deref())
    .bind(kind)
    .bind(client_id)
    .bind(authenticated_at)
    .bind(openid_scope)
    .into_owned())
}

/// Runs `statement`, an `UPDATE sessions … RETURNING id` that revokes, as a
/// write; the ids it revoked, sorted.
pub(crate) async fn revoking<D: Dialect>(
    store: &SqlStore<D>,
    statement: Statement<'static>,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = store
        .write(|store| async move { store.fetch_all(statement).await })
        .await?;
    let mut revoked = rows
        .iter()
        .map(|row| row.uuid("id"))
        .collect::<Result<Vec<_>, _>>()?;
    revoked.sort_unstable();
    Ok(revoked)
}
