//! STUB (replaced by the clients helper's module on merge).
use uuid::Uuid;
use time::OffsetDateTime;
use crate::keys::SigningAlgorithm;
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: Uuid,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub first_party: bool,
    pub allowed_scopes: Vec<String>,
    pub id_token_signed_response_alg: String,
    pub created_at: OffsetDateTime,
}
impl Client {
    pub fn redirect_uri_matches(&self, presented: &str) -> bool { self.redirect_uris.iter().any(|u| u == presented) }
    pub fn post_logout_redirect_uri_matches(&self, presented: &str) -> bool { self.post_logout_redirect_uris.iter().any(|u| u == presented) }
    pub fn id_token_algorithm(&self) -> SigningAlgorithm { SigningAlgorithm::EdDSA }
}
