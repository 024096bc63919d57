//! The mail flows on the wire: asking for a message, and proving it was
//! read with its link's token or its code. Bodies that carry a token, a
//! code or a password deliberately do not implement `Debug`.

use portcullis_core::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /email/verify-request`, `POST /password/forgot`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailRequestBody {
    /// As at sign-up: trimmed, put in NFC and lower-cased, then at most 254 bytes.
    #[schema(max_length = 254, examples("ada@example.com"))]
    pub(crate) email: String,
}

/// The `202` of a mail request: the same whether or not an account has the
/// address.
#[derive(Serialize, ToSchema)]
pub(crate) struct MailRequestAccepted {
    /// Always `accepted`.
    #[schema(examples("accepted"))]
    pub(crate) status: &'static str,
    /// What happens next, the same words for every address.
    pub(crate) detail: &'static str,
}

/// `POST /email/verify`: the link's `token`, or `email` and `code`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyEmailRequest {
    /// The `token` parameter of the link in the message.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub(crate) token: Option<SecretString>,
    /// With `code`: the address the message went to.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub(crate) email: Option<String>,
    /// With `email`: the 8-digit code in the message.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub(crate) code: Option<SecretString>,
}

/// `POST /password/reset`: the link's `token`, or `email` and `code`, and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetPasswordRequest {
    /// The `token` parameter of the link in the message.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub(crate) token: Option<SecretString>,
    /// With `code`: the address the message went to.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub(crate) email: Option<String>,
    /// With `email`: the 8-digit code in the message.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub(crate) code: Option<SecretString>,
    /// The same policy as at sign-up: counted after NFKC, at least the
    /// server's minimum (12 by default, never below 8), at most 1024.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub(crate) new_password: SecretString,
}

impl MailRequestAccepted {
    pub(crate) const ANSWER: Self = Self {
        status: "accepted",
        detail: "If an account has this address, a message is on its way.",
    };
}

/// The query of a page a mailed link opens.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LinkQuery {
    /// The token of the link; without it the page asks for the address and the code.
    #[param(nullable = false, max_length = 64)]
    pub(crate) token: Option<String>,
}

/// The form of the verification page: the link's `token`, or `email` and `code`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyEmailForm {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub(crate) token: Option<SecretString>,
    #[serde(default)]
    #[schema(max_length = 254)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub(crate) code: Option<SecretString>,
}

/// The form of the reset page: the link's `token`, or `email` and `code`, and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetPasswordForm {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub(crate) token: Option<SecretString>,
    #[serde(default)]
    #[schema(max_length = 254)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub(crate) code: Option<SecretString>,
    #[schema(value_type = String, format = Password, max_length = 1024)]
    pub(crate) new_password: SecretString,
}
