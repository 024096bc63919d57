//! Request and response bodies as they travel over the network, kept apart
//! from the domain types and converted by hand, so that renaming a field in
//! the domain can never silently change the contract. Bodies that carry a
//! password or a token deliberately do not implement `Debug`.

use portcullis_core::roles::Role;
use portcullis_core::service::personal_tokens::PersonalTokenView;
use portcullis_core::service::protected_apis::{ActiveToken, TokenKind};
use portcullis_core::service::{SessionView, User};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// `POST /users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignUpRequest {
    pub(crate) email: String,
    pub(crate) password: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// `PATCH /me`. Anything else (such as `roles`) is refused, never ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMeRequest {
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// Absent: unchanged; `null`: cleared.
    #[serde(default, deserialize_with = "present")]
    pub(crate) name: Option<Option<String>>,
    #[serde(default)]
    pub(crate) current_password: Option<String>,
}

/// `PUT /me/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    pub(crate) current_password: String,
    pub(crate) new_password: String,
}

/// `DELETE /me`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteMeRequest {
    pub(crate) current_password: String,
}

/// The user object of the contract.
#[derive(Debug, Serialize)]
pub(crate) struct UserBody {
    pub(crate) id: Uuid,
    pub(crate) email: String,
    pub(crate) name: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) permissions: Option<Vec<String>>,
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
        }
    }
}

/// One entry of `GET /me/sessions`.
#[derive(Debug, Serialize)]
pub(crate) struct SessionBody {
    pub(crate) id: Uuid,
    pub(crate) created_at: String,
    pub(crate) last_used_at: String,
    pub(crate) expires_at: String,
    pub(crate) user_agent: Option<String>,
    pub(crate) ip: Option<String>,
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

/// The fields `POST /token` reads, from JSON or a form.
#[derive(Default, Deserialize)]
pub(crate) struct TokenRequest {
    pub(crate) grant_type: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: i64,
    pub(crate) refresh_token: String,
    pub(crate) scope: String,
}

/// The fields `POST /token/revoke` (RFC 7009 §2.1) and `POST /token/introspect`
/// (RFC 7662 §2.1) read. `token_type_hint`
/// is accepted and ignored: every kind of token is tried anyway.
#[derive(Default, Deserialize)]
pub(crate) struct SingleTokenRequest {
    pub(crate) token: Option<String>,
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
#[derive(Debug, Deserialize)]
pub(crate) struct UserListQuery {
    pub(crate) limit: Option<u32>,
    pub(crate) cursor: Option<String>,
    pub(crate) email: Option<String>,
}

/// `GET /users` answer.
#[derive(Debug, Serialize)]
pub(crate) struct UserListBody {
    pub(crate) items: Vec<UserBody>,
    pub(crate) next_cursor: Option<Uuid>,
}

/// `PATCH /users/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminUserChangeRequest {
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) name: Option<Option<String>>,
}

/// A role: `GET /roles` items and the answer of `PUT /roles/{name}`.
#[derive(Debug, Serialize)]
pub(crate) struct RoleBody {
    pub(crate) name: String,
    pub(crate) permissions: Vec<String>,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        Self { name: role.name, permissions: role.permissions.into_iter().collect() }
    }
}

/// `PUT /roles/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRoleRequest {
    pub(crate) permissions: Vec<String>,
}

/// `POST /me/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPersonalTokenRequest {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) expires_in_days: Option<u32>,
}

/// A personal access token; `token` only in the answer to its creation.
#[derive(Serialize)]
pub(crate) struct PersonalTokenBody {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) created_at: String,
    pub(crate) expires_at: Option<String>,
    pub(crate) last_used_at: Option<String>,
}

impl PersonalTokenBody {
    pub(crate) fn new(view: PersonalTokenView, token: Option<String>) -> Self {
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

/// The RFC 7662 introspection answer.
#[derive(Debug, Serialize)]
pub(crate) struct IntrospectionBody {
    pub(crate) active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) details: Option<ActiveTokenBody>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ActiveTokenBody {
    pub(crate) sub: Uuid,
    pub(crate) scope: String,
    pub(crate) exp: Option<i64>,
    pub(crate) iat: i64,
    pub(crate) sid: Option<Uuid>,
    pub(crate) roles: Vec<String>,
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
#[derive(Debug, Deserialize)]
pub(crate) struct VerifyQuery {
    pub(crate) permission: Option<String>,
}
