//! What the APIs behind Portcullis read: introspection answers, the
//! forward-auth query, the key set, discovery, and the probes' bodies.

use portcullis_core::keys::{JwkParameters, PublicJwk};
use portcullis_core::services::verification::{ActiveToken, TokenKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Ref, Schema, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

/// The RFC 7662 introspection answer: `{"active": false}` alone for a token
/// that is unknown, expired or revoked.
#[derive(Debug, Serialize)]
pub(crate) struct IntrospectionBody {
    pub(crate) active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) details: Option<ActiveTokenBody>,
}

/// Written by hand: for the flattened optional `details` the derive makes a
/// schema that `{"active": false}` does not match.
impl PartialSchema for IntrospectionBody {
    fn schema() -> RefOr<Schema> {
        let active = |value: bool| {
            ObjectBuilder::new()
                .property(
                    "active",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([value])),
                )
                .required("active")
        };
        OneOfBuilder::new()
            .description(Some(
                "RFC 7662 §2.2: `{\"active\": false}` alone for a token that is unknown, \
                 expired or revoked; for an active one, what it grants.",
            ))
            .item(active(false).additional_properties(Some(AdditionalProperties::FreeForm(false))))
            .item(
                AllOfBuilder::new()
                    .item(Ref::from_schema_name(ActiveTokenBody::name()))
                    .item(active(true)),
            )
            .into()
    }
}

impl ToSchema for IntrospectionBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            ActiveTokenBody::name().into_owned(),
            ActiveTokenBody::schema(),
        ));
        ActiveTokenBody::schemas(schemas);
    }
}

/// What introspection tells about an active token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActiveTokenBody {
    /// The user id.
    pub(crate) sub: Uuid,
    /// Space-separated permissions the token grants now.
    pub(crate) scope: String,
    /// Unix time; `null` for a personal access token that never expires.
    #[schema(required)]
    pub(crate) exp: Option<i64>,
    /// Unix time.
    pub(crate) iat: i64,
    /// The session; `null` for a personal access token.
    #[schema(required)]
    pub(crate) sid: Option<Uuid>,
    pub(crate) roles: Vec<String>,
    /// `access_token` or `personal_access_token`.
    #[schema(examples("access_token", "personal_access_token"))]
    pub(crate) token_type: &'static str,
}

impl From<ActiveToken> for ActiveTokenBody {
    fn from(token: ActiveToken) -> Self {
        Self {
            sub: token.user_id,
            scope: token.scope.join(" "),
            exp: token.expires_at.map(OffsetDateTime::unix_timestamp),
            iat: token.issued_at.unix_timestamp(),
            sid: token.session_id,
            roles: token.roles,
            token_type: match token.kind {
                TokenKind::AccessToken => "access_token",
                TokenKind::PersonalAccessToken => "personal_access_token",
            },
        }
    }
}

/// `GET /auth/verify` query.
/// Unknown parameters are refused: a misspelt `permision=` must never pass
/// as "no permission asked".
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyQuery {
    /// A permission the credential must hold, else `403`.
    #[param(nullable = false, example = "books:download")]
    pub(crate) permission: Option<String>,
}

/// `GET /.well-known/jwks.json` (RFC 7517).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JwkSetBody {
    /// Every key whose tokens may still be live; the active one signs.
    pub(crate) keys: Vec<JwkBody>,
}

/// One public key: Ed25519 (`OKP`, RFC 8037), P-256 (`EC`) or RSA (RFC 7518 §6).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JwkBody {
    #[schema(examples("OKP", "EC", "RSA"))]
    pub(crate) kty: &'static str,
    /// The curve of an `OKP` or `EC` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, examples("Ed25519", "P-256"))]
    pub(crate) crv: Option<&'static str>,
    /// The public key (`OKP`) or its x coordinate (`EC`), base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) x: Option<String>,
    /// The y coordinate of an `EC` key, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) y: Option<String>,
    /// The modulus of an `RSA` key, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) n: Option<String>,
    /// The public exponent of an `RSA` key, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, examples("AQAB"))]
    pub(crate) e: Option<String>,
    /// Named in the `kid` header of the tokens it signed: the key's RFC 7638 thumbprint.
    pub(crate) kid: String,
    #[schema(examples("EdDSA", "ES256", "RS256"))]
    pub(crate) alg: &'static str,
    #[serde(rename = "use")]
    #[schema(examples("sig"))]
    pub(crate) key_use: &'static str,
}

impl From<PublicJwk> for JwkBody {
    fn from(key: PublicJwk) -> Self {
        let kty = key.parameters.kty();
        let (mut crv, mut x, mut y, mut n, mut e) = (None, None, None, None, None);
        match key.parameters {
            JwkParameters::Okp {
                crv: curve,
                x: public,
            } => {
                (crv, x) = (Some(curve), Some(public));
            }
            JwkParameters::Ec {
                crv: curve,
                x: x_coordinate,
                y: y_coordinate,
            } => {
                (crv, x, y) = (Some(curve), Some(x_coordinate), Some(y_coordinate));
            }
            JwkParameters::Rsa {
                n: modulus,
                e: exponent,
            } => {
                (n, e) = (Some(modulus), Some(exponent));
            }
        }
        Self {
            kty,
            crv,
            x,
            y,
            n,
            e,
            kid: key.kid,
            alg: key.alg,
            key_use: key.key_use,
        }
    }
}

/// `GET /.well-known/openid-configuration`: the OpenID Connect discovery
/// subset a resource server needs (RFC 8414 field names).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DiscoveryBody {
    #[schema(format = "uri")]
    pub(crate) issuer: String,
    #[schema(format = "uri")]
    pub(crate) authorization_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) token_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) userinfo_endpoint: String,
    /// RP-initiated logout.
    #[schema(format = "uri")]
    pub(crate) end_session_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) jwks_uri: String,
    #[schema(format = "uri")]
    pub(crate) revocation_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) introspection_endpoint: String,
    pub(crate) scopes_supported: &'static [&'static str],
    pub(crate) response_types_supported: &'static [&'static str],
    pub(crate) response_modes_supported: &'static [&'static str],
    pub(crate) grant_types_supported: &'static [&'static str],
    pub(crate) code_challenge_methods_supported: &'static [&'static str],
    pub(crate) token_endpoint_auth_methods_supported: &'static [&'static str],
    pub(crate) subject_types_supported: &'static [&'static str],
    pub(crate) id_token_signing_alg_values_supported: Vec<String>,
    /// What access tokens are signed with (`--access-token-alg`).
    pub(crate) access_token_signing_alg_values_supported: Vec<String>,
    pub(crate) claims_supported: &'static [&'static str],
    pub(crate) prompt_values_supported: &'static [&'static str],
    /// RFC 9207: every authorization response carries `iss`.
    pub(crate) authorization_response_iss_parameter_supported: bool,
    /// No request objects, by value or by reference: said for both,
    /// although only `request_uri_parameter_supported` means "supported"
    /// when absent (OpenID Connect Discovery §3).
    pub(crate) request_parameter_supported: bool,
    pub(crate) request_uri_parameter_supported: bool,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthBody {
    /// `ok` (`/healthz`), `ready` or `unavailable` (`/readyz`).
    #[schema(examples("ok", "ready", "unavailable"))]
    pub(crate) status: &'static str,
    /// Why the server is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) detail: Option<String>,
}
