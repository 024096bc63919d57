//! OAuth clients.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use uuid::Uuid;

use portcullis_core::store::{ClientRecord, ClientStore, ClientUpdate, StoreError};

use crate::dialect::Dialect;
use crate::input;
use crate::rows::{client_from_row, found, select_clients};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

#[async_trait]
impl<D: Dialect> ClientStore for SqlStore<D> {
    async fn insert_client(&self, record: &ClientRecord) -> Result<(), StoreError> {
        let client = &record.client;
        let statement = Statement::new(
            "INSERT INTO oauth_clients (id, name, client_type, secret_hash, redirect_uris,
                 post_logout_redirect_uris, first_party, allowed_scopes,
                 id_token_signed_response_alg, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(client.client_id)
        .bind(client.name.as_str())
        .bind(client.kind.as_str())
        .bind(record.secret_hash.as_ref().map(|hash| hash.0.as_slice()))
        .bind(input::joined_uris(&client.redirect_uris)?)
        .bind(input::joined_uris(&client.post_logout_redirect_uris)?)
        .bind(client.first_party)
        .bind(input::joined_permissions(&client.allowed_scopes)?)
        .bind(client.id_token_signed_response_alg.as_str())
        .bind(client.created_at.unix_timestamp());
        self.write_one(statement).await.map(drop)
    }

    async fn client(&self, client_id: Uuid) -> Result<Option<ClientRecord>, StoreError> {
        let statement = Statement::new(select_clients!("WHERE id = $1")).bind(client_id);
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let statement = Statement::new(select_clients!("ORDER BY created_at, id"));
        self.fetch_all(statement)
            .await?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn update_client(
        &self,
        client_id: Uuid,
        update: &ClientUpdate,
    ) -> Result<(), StoreError> {
        let set =
            |sql: &'static str, value: String| Statement::new(sql).bind(value).bind(client_id);
        let mut statements = Vec::new();
        if let Some(name) = &update.name {
            statements.push(set(
                "UPDATE oauth_clients SET name = $1 WHERE id = $2",
                name.clone(),
            ));
        }
        if let Some(uris) = &update.redirect_uris {
            statements.push(set(
                "UPDATE oauth_clients SET redirect_uris = $1 WHERE id = $2",
                input::joined_uris(uris)?,
            ));
        }
        if let Some(uris) = &update.post_logout_redirect_uris {
            statements.push(set(
                "UPDATE oauth_clients SET post_logout_redirect_uris = $1 WHERE id = $2",
                input::joined_uris(uris)?,
            ));
        }
        if let Some(scopes) = &update.allowed_scopes {
            statements.push(set(
                "UPDATE oauth_clients SET allowed_scopes = $1 WHERE id = $2",
                input::joined_permissions(scopes)?,
            ));
        }
        if let Some(algorithm) = &update.id_token_signed_response_alg {
            statements.push(set(
                "UPDATE oauth_clients SET id_token_signed_response_alg = $1 WHERE id = $2",
                algorithm.clone(),
            ));
        }
        if let Some(first_party) = update.first_party {
            statements.push(
                Statement::new("UPDATE oauth_clients SET first_party = $1 WHERE id = $2")
                    .bind(first_party)
                    .bind(client_id),
            );
        }
        if statements.is_empty() {
            return self
                .client(client_id)
                .await?
                .map(drop)
                .ok_or(StoreError::NotFound);
        }
        let changed = self.write_together(statements).await?;
        found(changed.iter().sum())
    }

    async fn delete_client(&self, client_id: Uuid) -> Result<bool, StoreError> {
        let statement = Statement::new("DELETE FROM oauth_clients WHERE id = $1").bind(client_id);
        Ok(self.write_one(statement).await? == 1)
    }
}
