//! Browser sign-in on the wire: the authorization request (OAuth 2.1,
//! OpenID Connect), the forms of the hosted pages, RP-initiated logout and
//! `/userinfo`. The forms carry passwords and do not implement `Debug`.

use portcullis_core::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The parameters of an authorization request (`GET /authorize`), carried
/// unchanged through sign-in and the consent page.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthorizeQuery {
    /// `code`, the only response type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) response_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) client_id: Option<String>,
    /// Exactly one of the client's registered redirect URIs (a loopback one may vary its port).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) redirect_uri: Option<String>,
    /// `openid profile email offline_access` and the application's permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) state: Option<String>,
    /// The base64url SHA-256 of the PKCE verifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) code_challenge: Option<String>,
    /// `S256`; `plain` is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) code_challenge_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) nonce: Option<String>,
    /// `none`, `login`, `consent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) prompt: Option<String>,
    /// Seconds since the user last signed in, at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) max_age: Option<String>,
    /// The email to fill the sign-in form with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) login_hint: Option<String>,
    /// A request object (OpenID Connect Core §6.1): not supported, refused
    /// with `request_not_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) request: Option<String>,
    /// A request object by reference (§6.2): not supported, refused with
    /// `request_uri_not_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(nullable = false)]
    pub(crate) request_uri: Option<String>,
}

/// Where a sign-in page goes back to.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReturnToQuery {
    /// A path on this server; anything else is replaced by `/account`.
    #[param(nullable = false)]
    pub(crate) return_to: Option<String>,
    /// The email to fill the form with.
    #[param(nullable = false)]
    pub(crate) login_hint: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize, ToSchema)]
pub(crate) struct SignInForm {
    #[schema(max_length = 254)]
    pub(crate) email: String,
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub(crate) password: SecretString,
    /// The page's CSRF token.
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) return_to: Option<String>,
}

/// The sign-up form.
#[derive(Deserialize, ToSchema)]
pub(crate) struct SignUpForm {
    #[schema(max_length = 254)]
    pub(crate) email: String,
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub(crate) password: SecretString,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) return_to: Option<String>,
}

/// The consent form: the authorization request again and the answer, with
/// the page's `csrf` token (checked before the form is read).
#[derive(Deserialize, ToSchema)]
pub(crate) struct ConsentForm {
    #[serde(flatten)]
    pub(crate) request: AuthorizeQuery,
    /// `allow` or `deny`.
    pub(crate) decision: String,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutQuery {
    /// An id token this server issued to the client (may have expired).
    #[param(nullable = false)]
    pub(crate) id_token_hint: Option<String>,
    /// One of the client's registered post-logout redirect URIs.
    #[param(nullable = false)]
    pub(crate) post_logout_redirect_uri: Option<String>,
    #[param(nullable = false)]
    pub(crate) state: Option<String>,
    #[param(nullable = false)]
    pub(crate) client_id: Option<String>,
}

/// The sign-out confirmation form, with where to go after, as
/// `GET /logout` received it, and the page's `csrf` token (checked before
/// the form is read).
#[derive(Deserialize, ToSchema)]
pub(crate) struct SignOutForm {
    #[serde(default)]
    pub(crate) post_logout_redirect_uri: Option<String>,
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) client_id: Option<String>,
}

/// `/userinfo` (OpenID Connect Core §5.3): the claims the token's scopes allow.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserInfoBody {
    pub(crate) sub: Uuid,
    /// With the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) email_verified: Option<bool>,
    /// With the `profile` scope; `null` when the user gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<Option<String>>,
}

/// A form of the account page.
#[derive(Deserialize, ToSchema)]
pub(crate) struct AccountForm {
    #[serde(default)]
    pub(crate) csrf: String,
    /// `profile`, `password`, `revoke_session`, `delete_token` or `revoke_consent`.
    pub(crate) action: String,
    /// The session, token or client the action is about.
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) current_password: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) new_password: Option<SecretString>,
}

/// The form of the page that asks for a password reset.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ForgotPasswordForm {
    /// As at sign-up: trimmed, put in NFC and lower-cased, then at most 254 bytes.
    #[schema(max_length = 254)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) csrf: String,
}
