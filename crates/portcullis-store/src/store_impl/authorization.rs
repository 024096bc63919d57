//! Authorization codes (issued, read, redeemed once, pruned), remembered
//! consents, and ending the sessions of a removed client.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::store::{
    AuthorizationCodeRecord, AuthorizationStore, ConsentRecord, SessionRecord, StoreError,
};

use crate::dialect::Dialect;
use crate::input;
use crate::rows::BackendRow;
use crate::sql_store::SqlStore;
use crate::statement::Statement;
use crate::store_impl::sessions::{insert_session, revoking};

#[async_trait]
impl<D: Dialect> AuthorizationStore for SqlStore<D> {
    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
    ) -> Result<(), StoreError> {
        let statement = Statement::new(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri,
                 code_challenge, scope, openid_scope, nonce, browser_session_id, authenticated_at,
                 created_at, expires_at, redeemed_at, session_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(code.code_hash.as_slice())
        .bind(code.client_id)
        .bind(code.user_id)
        .bind(code.redirect_uri.as_str())
        .bind(code.code_challenge.as_str())
        .bind(input::joined_permissions(&code.scope)?)
        .bind(code.openid_scope.as_str())
        .bind(code.nonce.as_deref())
        .bind(code.browser_session_id)
        .bind(code.authenticated_at.unix_timestamp())
        .bind(code.created_at.unix_timestamp())
        .bind(code.expires_at.unix_timestamp())
        .bind(code.redeemed_at.map(OffsetDateTime::unix_timestamp))
        .bind(code.session_id);
        self.write_one(statement).await.map(drop)
    }

    async fn authorization_code(
        &self,
        code_hash: &[u8; 32],
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        let statement = Statement::new(
            "SELECT code_hash, client_id, user_id, redirect_uri, code_challenge, scope, openid_scope,
                    nonce, browser_session_id, authenticated_at, created_at, expires_at,
                    redeemed_at, session_id
             FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash.as_slice());
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(authorization_code_from_row).transpose()
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &[u8; 32],
        session: &SessionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let redeem = Statement::new(
            "UPDATE authorization_codes SET redeemed_at = $2, session_id = $3
             WHERE code_hash = $1 AND redeemed_at IS NULL",
        )
        .bind(code_hash.as_slice())
        .bind(now.unix_timestamp())
        .bind(session.id)
        .into_owned();
        let insert = insert_session(session)?;
        self.write(|store| async move {
            let mut transaction = store.begin().await?;
            let redeemed = match transaction.execute(redeem).await {
                Ok(1) => transaction.execute(insert).await.map(|_| true),
                Ok(_) => Ok(false),
                Err(error) => Err(error),
            };
            match redeemed {
                Ok(true) => transaction.finish(Ok(true)).await,
                // Nothing was written: roll back and say so.
                Ok(false) => transaction
                    .finish(Err(StoreError::NotFound))
                    .await
                    .or(Ok(false)),
                Err(error) => transaction.finish(Err(error)).await,
            }
        })
        .await
    }

    async fn prune_authorization_codes(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.write_one(
            Statement::new(
                "DELETE FROM authorization_codes WHERE code_hash IN
                     (SELECT code_hash FROM authorization_codes WHERE created_at < $1 LIMIT $2)",
            )
            .bind(before.unix_timestamp())
            .bind(i64::from(limit)),
        )
        .await
    }

    async fn consent(
        &self,
        user_id: Uuid,
        client_id: Uuid,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let statement = Statement::new(
            "SELECT user_id, client_id, scope, granted_at FROM consents
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    async fn grant_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        let statement = Statement::new(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(consent.user_id)
        .bind(consent.client_id)
        .bind(input::joined_permissions(&consent.scope)?)
        .bind(consent.granted_at.unix_timestamp());
        self.write_one(statement).await.map(drop)
    }

    async fn consents_of_user(&self, user_id: Uuid) -> Result<Vec<ConsentRecord>, StoreError> {
        let statement = Statement::new(
            "SELECT user_id, client_id, scope, granted_at FROM consents
             WHERE user_id = $1 ORDER BY granted_at, client_id",
        )
        .bind(user_id);
        self.fetch_all(statement)
            .await?
            .iter()
            .map(consent_from_row)
            .collect()
    }

    async fn revoke_consent(&self, user_id: Uuid, client_id: Uuid) -> Result<bool, StoreError> {
        let statement =
            Statement::new("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id);
        Ok(self.write_one(statement).await? == 1)
    }

    async fn revoke_sessions_of_client(
        &self,
        client_id: Uuid,
        user_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError> {
        let statement = Statement::new(
            "UPDATE sessions SET revoked_at = $1
             WHERE client_id = $2 AND revoked_at IS NULL AND user_id = COALESCE($3, user_id)
             RETURNING id",
        )
        .bind(now.unix_timestamp())
        .bind(client_id)
        .bind(user_id)
        .into_owned();
        revoking(self, statement).await
    }
}

/// A row with every column of `authorization_codes`.
fn authorization_code_from_row<R: BackendRow>(
    row: &R,
) -> Result<AuthorizationCodeRecord, StoreError> {
    Ok(AuthorizationCodeRecord {
        code_hash: row.bytes32("code_hash")?,
        client_id: row.uuid("client_id")?,
        user_id: row.uuid("user_id")?,
        redirect_uri: row.text("redirect_uri")?,
        code_challenge: row.text("code_challenge")?,
        scope: split(&row.text("scope")?),
        openid_scope: row.text("openid_scope")?,
        nonce: row.optional_text("nonce")?,
        browser_session_id: row.uuid("browser_session_id")?,
        authenticated_at: row.timestamp("authenticated_at")?,
        created_at: row.timestamp("created_at")?,
        expires_at: row.timestamp("expires_at")?,
        redeemed_at: row.optional_timestamp("redeemed_at")?,
        session_id: row.optional_uuid("session_id")?,
    })
}

/// A row with every column of `consents`.
fn consent_from_row<R: BackendRow>(row: &R) -> Result<ConsentRecord, StoreError> {
    Ok(ConsentRecord {
        user_id: row.uuid("user_id")?,
        client_id: row.uuid("client_id")?,
        scope: split(&row.text("scope")?),
        granted_at: row.timestamp("granted_at")?,
    })
}

/// A space-separated list.
fn split(joined: &str) -> Vec<String> {
    joined.split_whitespace().map(str::to_owned).collect()
}
