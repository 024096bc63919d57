//! OAuth clients on the wire: registering one, changing one, and the client
//! as `/clients` shows it. A confidential client's secret leaves its
//! wrapper only through `crate::wire::expose_optional`, in the answer to its
//! registration; [`ClientBody`] deliberately does not implement `Debug`.

use portcullis_core::SecretString;
use portcullis_core::clients::{Client, ClientKind, ID_TOKEN_ALGORITHMS, MAX_REDIRECT_URI_LENGTH};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::wire::{ClientName, PermissionName, expose_optional, not_null, rfc3339};

/// The contract's `type` of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ClientType {
    /// A browser or native app: no secret, PKCE only.
    Public,
    /// A server-side app: a secret is made at registration and shown once.
    Confidential,
}

impl From<ClientType> for ClientKind {
    fn from(kind: ClientType) -> Self {
        match kind {
            ClientType::Public => Self::Public,
            ClientType::Confidential => Self::Confidential,
        }
    }
}

impl From<ClientKind> for ClientType {
    fn from(kind: ClientKind) -> Self {
        match kind {
            ClientKind::Public => Self::Public,
            ClientKind::Confidential => Self::Confidential,
        }
    }
}

/// `POST /clients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewClientRequest {
    #[schema(value_type = ClientName, inline)]
    pub(crate) name: String,
    /// Where authorization responses may go; at least one.
    #[schema(value_type = Vec<RedirectUri>, min_items = 1, max_items = 20)]
    pub(crate) redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser.
    #[serde(default)]
    #[schema(value_type = Vec<RedirectUri>, max_items = 20)]
    pub(crate) post_logout_redirect_uris: Vec<String>,
    #[serde(rename = "type")]
    pub(crate) client_type: ClientType,
    /// A first-party client's users are not asked for consent.
    #[serde(default)]
    pub(crate) first_party: bool,
    /// The application permissions it may ask for; `openid`, `profile`,
    /// `email` and `offline_access` are always allowed.
    #[serde(default)]
    #[schema(value_type = Vec<PermissionName>)]
    pub(crate) allowed_scopes: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<IdTokenAlgorithm>, nullable = false)]
    pub(crate) id_token_signed_response_alg: Option<String>,
}

/// `PATCH /clients/{id}`: the fields given replace the client's; its `type`
/// cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientChangeRequest {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = ClientName, inline)]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<Vec<RedirectUri>>, nullable = false, min_items = 1, max_items = 20)]
    pub(crate) redirect_uris: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<Vec<RedirectUri>>, nullable = false, max_items = 20)]
    pub(crate) post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub(crate) first_party: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<Vec<PermissionName>>, nullable = false)]
    pub(crate) allowed_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<IdTokenAlgorithm>, nullable = false)]
    pub(crate) id_token_signed_response_alg: Option<String>,
}

/// An OAuth client; `client_secret` only in the answer to its registration.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClientBody {
    pub(crate) client_id: Uuid,
    pub(crate) name: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) post_logout_redirect_uris: Vec<String>,
    #[serde(rename = "type")]
    pub(crate) client_type: ClientType,
    pub(crate) first_party: bool,
    pub(crate) allowed_scopes: Vec<String>,
    #[schema(value_type = IdTokenAlgorithm)]
    pub(crate) id_token_signed_response_alg: String,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
    /// `pcs_` + 43 random characters; only in the answer to `POST /clients`
    /// for a confidential client, shown once. Only its hash is kept.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_optional"
    )]
    #[schema(value_type = String, nullable = false)]
    pub(crate) client_secret: Option<SecretString>,
}

impl ClientBody {
    pub(crate) fn new(client: Client, client_secret: Option<SecretString>) -> Self {
        Self {
            client_id: client.client_id,
            name: client.name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            client_type: client.kind.into(),
            first_party: client.first_party,
            allowed_scopes: client.allowed_scopes,
            id_token_signed_response_alg: client.id_token_signed_response_alg,
            created_at: rfc3339(client.created_at),
            client_secret,
        }
    }
}

/// The schema of a redirect URI; the field itself is a `String`, checked
/// by `portcullis_core::clients::RedirectUri`.
pub(crate) struct RedirectUri;

impl PartialSchema for RedirectUri {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uri".to_owned())))
            .description(Some(format!(
                "An absolute URI without a fragment or user information, at most \
                 {MAX_REDIRECT_URI_LENGTH} characters: `https`, `http` on a loopback host \
                 (`127.0.0.1`, `[::1]`, `localhost`), or a private-use scheme with a dot such \
                 as `com.example.app:/callback` (RFC 8252). A presented URI must equal a \
                 registered one, except that an `http://127.0.0.1` or `http://[::1]` URI may \
                 name any port."
            )))
            .min_length(Some(1))
            .max_length(Some(MAX_REDIRECT_URI_LENGTH))
            .examples(["https://app.example/callback"])
            .into()
    }
}

impl ToSchema for RedirectUri {}

/// The schema of an id token's signing algorithm; the field itself is a
/// `String`, checked by the domain.
pub(crate) struct IdTokenAlgorithm;

impl PartialSchema for IdTokenAlgorithm {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ID_TOKEN_ALGORITHMS))
            .description(Some(
                "How the client's id tokens are signed; `RS256` when not given.",
            ))
            .into()
    }
}

impl ToSchema for IdTokenAlgorithm {}

#[cfg(test)]
mod tests {
    use portcullis_core::clients::MAX_REDIRECT_URIS;
    use portcullis_core::names::CLIENT_NAME_PATTERN;
    use serde_json::{Value, json};

    use super::*;

    /// The limits the schemas state are the domain's.
    #[test]
    fn the_documented_limits_are_the_domains() {
        for schema in [
            serde_json::to_value(NewClientRequest::schema()).expect("a schema"),
            serde_json::to_value(ClientChangeRequest::schema()).expect("a schema"),
        ] {
            let properties = &schema["properties"];
            assert_eq!(
                properties["name"]["pattern"],
                json!(CLIENT_NAME_PATTERN),
                "{schema}"
            );
            for list in ["redirect_uris", "post_logout_redirect_uris"] {
                assert_eq!(
                    properties[list]["maxItems"],
                    json!(MAX_REDIRECT_URIS),
                    "{list} in {schema}"
                );
            }
        }
        let uri = serde_json::to_value(RedirectUri::schema()).expect("a schema");
        assert_eq!(uri["maxLength"], json!(MAX_REDIRECT_URI_LENGTH));
        let algorithm = serde_json::to_value(IdTokenAlgorithm::schema()).expect("a schema");
        assert_eq!(algorithm["enum"], json!(ID_TOKEN_ALGORITHMS));
        let kinds: Value = serde_json::to_value(ClientType::schema()).expect("a schema");
        assert_eq!(kinds["enum"], json!(["public", "confidential"]));
        for kind in [ClientKind::Public, ClientKind::Confidential] {
            assert_eq!(
                serde_json::to_value(ClientType::from(kind)).expect("a kind"),
                json!(kind.as_str())
            );
            assert_eq!(ClientKind::from(ClientType::from(kind)), kind);
        }
    }
}
