//! Request and response bodies as they travel over the network, kept apart
//! from the domain types and converted by hand, so that renaming a field in
//! the domain can never silently change the contract. Bodies that carry a
//! password or a token deliberately do not implement `Debug`.
//!
//! Every body derives [`utoipa::ToSchema`], so the OpenAPI document
//! ([`crate::openapi`]) describes exactly these types; a body is never built
//! with `serde_json::json!`, whose shape no schema could follow. An input's
//! schema states the limits the domain enforces (`portcullis_core`'s
//! `email.rs`, `password.rs`, `roles.rs` and the services), so that a
//! generated client refuses what the server would refuse; where a limit
//! cannot be said exactly in JSON Schema (lengths counted after
//! normalisation), the schema says the bound and the description the rule.

use portcullis_core::keys::PublicJwk;
use portcullis_core::roles::Role;
use portcullis_core::services::personal_tokens::PersonalTokenView;
use portcullis_core::services::sessions::SessionView;
use portcullis_core::services::verification::{ActiveToken, TokenKind};
use portcullis_core::{ExposeSecret as _, SecretString, User};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Ref, Schema, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

/// `POST /users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignUpRequest {
    /// Trimmed, put in NFC and lower-cased, then at most 254 bytes.
    /// Addresses in any script are accepted (RFC 6531).
    #[schema(format = "idn-email", max_length = 254, examples("ada@example.com"))]
    pub(crate) email: String,
    /// Counted after NFKC: at least the server's minimum (12 by default,
    /// configurable, never below 8), at most 1024 characters; never
    /// truncated, not a common password, not the email.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub(crate) password: SecretString,
    /// At most 200 characters once trimmed, no control characters; blank
    /// is no name.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub(crate) name: Option<String>,
}

/// `PATCH /me`. Anything else (such as `roles`) is refused, never ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMeRequest {
    /// As at sign-up: trimmed, put in NFC and lower-cased, then at most 254
    /// bytes.
    #[serde(default)]
    #[schema(format = "idn-email", max_length = 254)]
    pub(crate) email: Option<String>,
    /// Absent: unchanged; `null`: cleared. At most 200 characters once
    /// trimmed, no control characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 200)]
    pub(crate) name: Option<Option<String>>,
    /// Required when `email` changes.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) current_password: Option<SecretString>,
}

/// `PUT /me/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub(crate) current_password: SecretString,
    /// The same policy as at sign-up: counted after NFKC, at least the
    /// server's minimum (12 by default, never below 8), at most 1024.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub(crate) new_password: SecretString,
    /// Also delete every personal access token of the account (sessions
    /// other than the caller's always end).
    #[serde(default)]
    pub(crate) revoke_tokens: bool,
}

/// `DELETE /me`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteMeRequest {
    #[schema(value_type = String, format = Password)]
    pub(crate) current_password: SecretString,
}

/// The user object of the contract.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserBody {
    pub(crate) id: Uuid,
    /// Canonical: NFC and lower case.
    #[schema(format = "idn-email")]
    pub(crate) email: String,
    #[schema(required)]
    pub(crate) name: Option<String>,
    pub(crate) roles: Vec<String>,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
    /// Only in `GET /me`: the union of the permissions of the user's roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) permissions: Option<Vec<String>>,
    /// Only in the admin API: whether the account is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) disabled: Option<bool>,
}

impl UserBody {
    pub(crate) fn new(user: User, permissions: Option<Vec<String>>) -> Self {
        Self {
            id: user.id,
            email: user.email.to_string(),
            name: user.name,
            roles: user.roles,
            created_at: rfc3339(user.created_at),
            permissions,
            disabled: None,
        }
    }

    /// The user as the admin API shows it, with `disabled`.
    pub(crate) fn for_admin(user: User) -> Self {
        let disabled = user.disabled;
        Self {
            disabled: Some(disabled),
            ..Self::new(user, None)
        }
    }
}

/// One entry of `GET /me/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionBody {
    pub(crate) id: Uuid,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
    #[schema(format = DateTime)]
    pub(crate) last_used_at: String,
    /// The earlier of the idle and the absolute end.
    #[schema(format = DateTime)]
    pub(crate) expires_at: String,
    #[schema(required)]
    pub(crate) user_agent: Option<String>,
    #[schema(required)]
    pub(crate) ip: Option<String>,
    /// Whether this is the session of the access token that asked.
    pub(crate) current: bool,
}

impl From<SessionView> for SessionBody {
    fn from(session: SessionView) -> Self {
        Self {
            id: session.id,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            expires_at: rfc3339(session.expires_at),
            user_agent: session.user_agent,
            ip: session.ip,
            current: session.current,
        }
    }
}

/// The fields `POST /token` reads, from JSON or a form. Without
/// `grant_type`, a body with `password` (or `Authorization: Basic`) is the
/// password grant.
#[derive(Default, Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    #[schema(examples("password", "refresh_token"))]
    pub(crate) grant_type: Option<String>,
    /// The email, for the password grant.
    pub(crate) username: Option<String>,
    /// Another name for `username`.
    #[schema(format = "idn-email")]
    pub(crate) email: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) password: Option<SecretString>,
    /// For the refresh grant.
    #[schema(value_type = Option<String>)]
    pub(crate) refresh_token: Option<SecretString>,
    /// Space-separated subset of the user's permissions.
    pub(crate) scope: Option<String>,
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
    /// Opaque; every refresh returns a new one and retires this one.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub(crate) refresh_token: SecretString,
    /// Space-separated permissions the access token carries.
    pub(crate) scope: String,
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

/// Writes a secret into the body being sent: the one place a token leaves
/// its wrapper.
fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

fn expose_optional<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => expose(secret, serializer),
        None => serializer.serialize_none(),
    }
}

/// Role and permission names, as `portcullis_core::names` checks them: 1 to
/// 128 printable ASCII characters other than space, `"` and `\` (a
/// permission travels in the space-separated `scope` and in quoted
/// `WWW-Authenticate` parameters).
pub(crate) const NAME_PATTERN: &str = portcullis_core::names::ROLE_OR_PERMISSION_PATTERN;

/// The schema of a role's name; the field itself is a `String`.
pub(crate) struct RoleName;

impl PartialSchema for RoleName {
    fn schema() -> RefOr<Schema> {
        name_schema("A role's name.", "librarian")
    }
}

impl ToSchema for RoleName {}

/// The schema of a permission's name; the field itself is a `String`.
pub(crate) struct PermissionName;

impl PartialSchema for PermissionName {
    fn schema() -> RefOr<Schema> {
        name_schema("A permission, such as `books:download`.", "books:download")
    }
}

impl ToSchema for PermissionName {}

fn name_schema(description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "{description} 1 to 128 printable ASCII characters other than space, `\"` and `\\`."
        )))
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(NAME_PATTERN))
        .examples([example])
        .into()
}

/// RFC 3339 in UTC with whole seconds.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Distinguishes a field that is absent (outer `None`) from one set to `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `GET /users` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserListQuery {
    /// Page size; 50 when absent.
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(nullable = false, format = Uuid)]
    pub(crate) cursor: Option<String>,
    /// Only users whose email contains this text.
    #[param(nullable = false)]
    pub(crate) email: Option<String>,
}

/// `GET /users` answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserListBody {
    pub(crate) items: Vec<UserBody>,
    /// The `cursor` of the next page; `null` on the last page.
    #[schema(required)]
    pub(crate) next_cursor: Option<Uuid>,
}

/// `PATCH /users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminUserChangeRequest {
    /// Replaces the user's roles.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RoleName>>)]
    pub(crate) roles: Option<Vec<String>>,
    /// `true` also revokes every session and personal access token of the user.
    #[serde(default)]
    pub(crate) disabled: Option<bool>,
    /// Absent: unchanged; `null`: cleared. At most 200 characters once
    /// trimmed, no control characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 200)]
    pub(crate) name: Option<Option<String>>,
}

/// A role: `GET /roles` items and the answer of `PUT /roles/{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleBody {
    pub(crate) name: String,
    pub(crate) permissions: Vec<String>,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        Self {
            name: role.name,
            permissions: role.permissions.into_iter().collect(),
        }
    }
}

/// `PUT /roles/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRoleRequest {
    /// The role's whole set of permissions, such as `books:download`.
    #[schema(value_type = Vec<PermissionName>)]
    pub(crate) permissions: Vec<String>,
}

/// `POST /me/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPersonalTokenRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub(crate) name: String,
    /// A subset of the caller's permissions.
    #[serde(default)]
    #[schema(value_type = Vec<PermissionName>)]
    pub(crate) scopes: Vec<String>,
    /// Days until the token expires; never when absent.
    #[serde(default)]
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

/// One public key (RFC 8037 OKP key, Ed25519).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JwkBody {
    #[schema(examples("OKP"))]
    pub(crate) kty: &'static str,
    #[schema(examples("Ed25519"))]
    pub(crate) crv: &'static str,
    /// The public key, base64url without padding.
    pub(crate) x: String,
    /// Named in the `kid` header of the tokens it signed.
    pub(crate) kid: String,
    #[schema(examples("EdDSA"))]
    pub(crate) alg: &'static str,
    #[serde(rename = "use")]
    #[schema(examples("sig"))]
    pub(crate) key_use: &'static str,
}

impl From<PublicJwk> for JwkBody {
    fn from(key: PublicJwk) -> Self {
        Self {
            kty: key.kty,
            crv: key.crv,
            x: key.x,
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
    pub(crate) jwks_uri: String,
    #[schema(format = "uri")]
    pub(crate) token_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) revocation_endpoint: String,
    #[schema(format = "uri")]
    pub(crate) introspection_endpoint: String,
    pub(crate) grant_types_supported: &'static [&'static str],
    pub(crate) token_endpoint_auth_methods_supported: &'static [&'static str],
    pub(crate) id_token_signing_alg_values_supported: &'static [&'static str],
    pub(crate) response_types_supported: &'static [&'static str],
    pub(crate) subject_types_supported: &'static [&'static str],
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

#[cfg(test)]
mod tests {
    use portcullis_core::email::MAX_EMAIL_LENGTH;
    use portcullis_core::names::MAX_DISPLAY_NAME_LENGTH as MAX_NAME_LENGTH;
    use portcullis_core::names::Permission;
    use portcullis_core::password::{ABSOLUTE_MIN_LENGTH, MAX_LENGTH as MAX_PASSWORD_LENGTH};
    use portcullis_core::services::personal_tokens::{MAX_EXPIRES_IN_DAYS, MAX_TOKEN_NAME_LENGTH};
    use portcullis_core::services::users::MAX_PAGE_SIZE;
    use serde_json::{Value, json};
    use utoipa::IntoParams;

    use super::*;

    fn schema_of<T: ToSchema>() -> Value {
        serde_json::to_value(T::schema()).expect("a schema serialises")
    }

    #[track_caller]
    fn check(schema: &Value, property: &str, keyword: &str, expected: usize) {
        let value = &schema["properties"][property][keyword];
        assert_eq!(value, &json!(expected), "{property}.{keyword} in {schema}");
    }

    /// The numbers the schemas state are the domain's, so they cannot drift apart.
    #[test]
    fn input_limits_are_the_domains() {
        let sign_up = schema_of::<SignUpRequest>();
        check(&sign_up, "email", "maxLength", MAX_EMAIL_LENGTH);
        check(&sign_up, "password", "minLength", ABSOLUTE_MIN_LENGTH);
        check(&sign_up, "password", "maxLength", MAX_PASSWORD_LENGTH);
        check(&sign_up, "name", "maxLength", MAX_NAME_LENGTH);
        let update_me = schema_of::<UpdateMeRequest>();
        check(&update_me, "email", "maxLength", MAX_EMAIL_LENGTH);
        check(&update_me, "name", "maxLength", MAX_NAME_LENGTH);
        let change_password = schema_of::<ChangePasswordRequest>();
        check(
            &change_password,
            "new_password",
            "minLength",
            ABSOLUTE_MIN_LENGTH,
        );
        check(
            &change_password,
            "new_password",
            "maxLength",
            MAX_PASSWORD_LENGTH,
        );
        check(
            &schema_of::<AdminUserChangeRequest>(),
            "name",
            "maxLength",
            MAX_NAME_LENGTH,
        );
        let token = schema_of::<NewPersonalTokenRequest>();
        check(&token, "name", "minLength", 1);
        check(&token, "name", "maxLength", MAX_TOKEN_NAME_LENGTH);
        check(&token, "expires_in_days", "minimum", 1);
        check(
            &token,
            "expires_in_days",
            "maximum",
            MAX_EXPIRES_IN_DAYS as usize,
        );

        let limit = UserListQuery::into_params(|| None)
            .into_iter()
            .find(|parameter| parameter.name == "limit")
            .expect("a limit parameter");
        let limit = serde_json::to_value(limit).expect("a parameter serialises");
        assert_eq!(limit["schema"]["minimum"], json!(1));
        assert_eq!(limit["schema"]["maximum"], json!(MAX_PAGE_SIZE));
    }

    /// `NAME_PATTERN`'s character class admits exactly what `Permission::parse` does.
    #[test]
    fn the_name_pattern_is_validate_names() {
        let class = NAME_PATTERN
            .strip_prefix("^[")
            .and_then(|rest| rest.strip_suffix("]{1,128}$"))
            .expect("one character class, 1 to 128 times");
        // The class, unescaped: single characters and `a-b` ranges.
        let mut members = Vec::new();
        let mut characters = class.chars().peekable();
        let next_literal = |characters: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            characters.next().map(|c| {
                if c == '\\' {
                    characters.next().expect("an escaped character")
                } else {
                    c
                }
            })
        };
        while let Some(low) = next_literal(&mut characters) {
            if characters.peek() == Some(&'-') {
                characters.next();
                let high = next_literal(&mut characters).expect("a range's end");
                members.push(low..=high);
            } else {
                members.push(low..=low);
            }
        }
        for character in (0u8..=127).map(char::from).chain(['é', '\u{a0}']) {
            let admitted = members.iter().any(|range| range.contains(&character));
            assert_eq!(
                admitted,
                Permission::parse(&character.to_string()).is_ok(),
                "{character:?}"
            );
        }
        assert!(Permission::parse(&"a".repeat(128)).is_ok());
        assert!(Permission::parse(&"a".repeat(129)).is_err());
    }
}
