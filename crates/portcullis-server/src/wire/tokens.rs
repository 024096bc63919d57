//! Tokens on the wire: the token endpoint (RFC 6749), revocation and
//! introspection requests (RFC 7009, RFC 7662), and personal access tokens.
//! A secret leaves its wrapper only through `crate::wire::expose`; these
//! bodies deliberately do not implement `Debug`.

use portcullis_core::services::personal_tokens::PersonalTokenView;
use portcullis_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::text_input::is_storable;
use crate::wire::{PermissionName, TokenName, expose, expose_optional, rfc3339, whole_number};

/// The fields `POST /token` reads, from JSON or a form. Without
/// `grant_type`, a body with `password` (or `Authorization: Basic`) is the
/// password grant.
#[derive(Default, Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    #[schema(examples("password", "refresh_token", "urn:portcullis:grant-type:email-code"))]
    pub(crate) grant_type: Option<String>,
    /// The email, for the password grant.
    pub(crate) username: Option<String>,
    /// Another name for `username`.
    pub(crate) email: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) password: Option<SecretString>,
    /// For the refresh grant.
    #[schema(value_type = Option<String>)]
    pub(crate) refresh_token: Option<SecretString>,
    /// Space-separated subset of the user's permissions.
    pub(crate) scope: Option<String>,
    /// For the email-code grant: the 8-digit code sent by `POST /login/email-code`;
    /// for the authorization-code grant: the code from the redirect.
    #[schema(value_type = Option<String>)]
    pub(crate) code: Option<SecretString>,
    /// For the authorization-code grant: the redirect URI the code was issued for.
    pub(crate) redirect_uri: Option<String>,
    /// For the authorization-code grant: the PKCE verifier (RFC 7636).
    pub(crate) code_verifier: Option<String>,
    /// The client (`client_secret_post`, or a public client, which has no secret).
    pub(crate) client_id: Option<String>,
    /// A confidential client's secret (`client_secret_post`).
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) client_secret: Option<SecretString>,
}

impl RecognisedText for TokenRequest {
    fn first_unstorable(&self) -> Option<&'static str> {
        let texts = [
            ("grant_type", self.grant_type.as_deref()),
            ("username", self.username.as_deref()),
            ("email", self.email.as_deref()),
            (
                "password",
                self.password.as_ref().map(ExposeSecret::expose_secret),
            ),
            (
                "refresh_token",
                self.refresh_token.as_ref().map(ExposeSecret::expose_secret),
            ),
            ("scope", self.scope.as_deref()),
            ("code", self.code.as_ref().map(ExposeSecret::expose_secret)),
            ("redirect_uri", self.redirect_uri.as_deref()),
            ("code_verifier", self.code_verifier.as_deref()),
            ("client_id", self.client_id.as_deref()),
            (
                "client_secret",
                self.client_secret.as_ref().map(ExposeSecret::expose_secret),
            ),
        ];
        texts
            .into_iter()
            .find(|(_, text)| text.is_some_and(|text| !is_storable(text)))
            .map(|(field, _)| field)
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    /// A JWT (RFC 9068), `typ` `at+jwt`, signed with EdDSA.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub(crate) access_token: SecretString,
    #[schema(examples("Bearer"))]
    pub(crate) token_type: &'static str,
    /// Seconds until the access token expires.
    pub(crate) expires_in: i64,
    /// Opaque; every refresh returns a new one and retires this one. Absent
    /// for a client that asked for no `offline_access`.
    #[serde(
        serialize_with = "expose_optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable = false)]
    pub(crate) refresh_token: Option<SecretString>,
    /// Space-separated scopes the access token carries: the OpenID scopes
    /// granted, then the permissions.
    pub(crate) scope: String,
    /// The OpenID Connect id token, for a client that asked for `openid`.
    #[serde(
        serialize_with = "expose_optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable = false)]
    pub(crate) id_token: Option<SecretString>,
}

/// The fields `POST /token/revoke` (RFC 7009 §2.1) and `POST /token/introspect`
/// (RFC 7662 §2.1) read. `token_type_hint`
/// is accepted and ignored: every kind of token is tried anyway.
#[derive(Default, Deserialize, ToSchema)]
pub(crate) struct SingleTokenRequest {
    /// The token to revoke or introspect.
    // An `Option` only so that its absence is an OAuth `invalid_request`.
    #[schema(value_type = String, required, nullable = false)]
    pub(crate) token: Option<SecretString>,
}

impl RecognisedText for SingleTokenRequest {
    fn first_unstorable(&self) -> Option<&'static str> {
        self.token
            .as_ref()
            .is_some_and(|token| !is_storable(token.expose_secret()))
            .then_some("token")
    }
}

/// The fields of an OAuth request that the server reads. RFC 6749 §3.2
/// has the server ignore parameters it does not recognise, so only these
/// are checked for text that cannot be stored (`crate::text_input`).
pub(crate) trait RecognisedText {
    /// The first recognised field holding text that cannot be stored.
    fn first_unstorable(&self) -> Option<&'static str>;
}

/// `POST /me/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPersonalTokenRequest {
    #[schema(value_type = TokenName, inline)]
    pub(crate) name: String,
    /// A subset of the caller's permissions.
    #[serde(default)]
    #[schema(value_type = Vec<PermissionName>)]
    pub(crate) scopes: Vec<String>,
    /// Days until the token expires; never when absent.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 3650)]
    pub(crate) expires_in_days: Option<u32>,
}

/// A personal access token; `token` only in the answer to its creation.
#[derive(Serialize, ToSchema)]
pub(crate) struct PersonalTokenBody {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    /// `pat_` + random + checksum; only in the answer to `POST /me/tokens`, shown once.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_optional"
    )]
    #[schema(value_type = String, nullable = false)]
    pub(crate) token: Option<SecretString>,
    pub(crate) scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
    /// `null`: never expires.
    #[schema(format = DateTime, required)]
    pub(crate) expires_at: Option<String>,
    #[schema(format = DateTime, required)]
    pub(crate) last_used_at: Option<String>,
}

impl PersonalTokenBody {
    pub(crate) fn new(view: PersonalTokenView, token: Option<SecretString>) -> Self {
        Self {
            id: view.id,
            name: view.name,
            token,
            scopes: view.scopes,
            created_at: rfc3339(view.created_at),
            expires_at: view.expires_at.map(rfc3339),
            last_used_at: view.last_used_at.map(rfc3339),
        }
    }
}
