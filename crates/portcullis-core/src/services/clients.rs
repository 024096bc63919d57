//! STUB
use std::sync::Arc;
use secrecy::SecretString;
use crate::clients::Client;
use crate::core::Core;
use crate::error::AuthError;
pub struct Clients { core: Arc<Core> }
impl Clients {
    pub(crate) fn new(core: Arc<Core>) -> Self { Self { core } }
    pub async fn find(&self, client_id: &str) -> Result<Option<Client>, AuthError> { let _ = (&self.core, client_id); Ok(None) }
    pub async fn authenticate(&self, client_id: &str, secret: Option<&SecretString>) -> Result<Client, AuthError> { let _ = (client_id, secret); Err(AuthError::InvalidClient) }
}
