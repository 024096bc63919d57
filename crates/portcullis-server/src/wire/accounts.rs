//! Accounts on the wire: sign-up, the caller's own account and sessions.
//! Bodies that carry a password deliberately do not implement `Debug`.

use portcullis_core::services::sessions::SessionView;
use portcullis_core::{SecretString, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::wire::{DisplayName, present, rfc3339};

/// `POST /users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignUpRequest {
    /// Trimmed, put in NFC and lower-cased, then at most 254 bytes: one
    /// `@`, 1 to 64 bytes before it, a domain with a dot after it, no
    /// whitespace, control characters or `<>(),;\"`. Addresses in any
    /// script are accepted; the domain is not checked against DNS rules, so
    /// this is looser than `idn-email`.
    #[schema(max_length = 254, examples("ada@example.com"))]
    pub(crate) email: String,
    /// Counted after NFKC: at least the server's minimum (12 by default,
    /// configurable, never below 8), at most 1024 characters; never
    /// truncated, not a common password, not the email.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub(crate) password: SecretString,
    #[serde(default)]
    #[schema(value_type = DisplayName, inline)]
    pub(crate) name: Option<String>,
}

/// `PATCH /me`. Anything else (such as `roles`) is refused, never ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMeRequest {
    /// As at sign-up: trimmed, put in NFC and lower-cased, then at most 254
    /// bytes.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub(crate) email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = DisplayName, inline)]
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
    /// Canonical: NFC and lower case, as sign-up accepted it (not
    /// necessarily an `idn-email`).
    pub(crate) email: String,
    #[schema(required)]
    pub(crate) name: Option<String>,
    pub(crate) roles: Vec<String>,
    /// Whether the owner proved the address (a link or code sent there),
    /// or an operator or an import said so.
    pub(crate) email_verified: bool,
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
            email_verified: user.email_verified,
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
