//! OAuth clients, with the hash of a confidential client's secret.
//!
//! Part of the storage boundary described in [`crate::store`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::clients::{Client, ClientSecretHash};
use crate::store::StoreError;

/// A client as stored: a confidential client has the hash of its secret,
/// a public one none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client: Client,
    pub secret_hash: Option<ClientSecretHash>,
}

/// What to change on a client; `None` leaves a field as it is. Its kind,
/// secret and creation time never change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub allowed_scopes: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<String>,
}

#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn client(&self, client_id: Uuid) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, oldest first.
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Applies every field `update` gives, together.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such client.
    async fn update_client(&self, client_id: Uuid, update: &ClientUpdate)
    -> Result<(), StoreError>;
    /// Deletes one client; `false` when there was none.
    async fn delete_client(&self, client_id: Uuid) -> Result<bool, StoreError>;
}
