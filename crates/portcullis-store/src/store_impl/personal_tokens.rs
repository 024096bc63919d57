//! Personal access tokens and their batched use times.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use std::collections::BTreeMap;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::store::{PersonalTokenRecord, PersonalTokenStore, StoreError};

use crate::dialect::Dialect;
use crate::input;
use crate::rows::{personal_token_from_row, select_personal_tokens};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> PersonalTokenStore for SqlStore<D> {
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
}
