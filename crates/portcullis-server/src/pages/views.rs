//! What each page's template is given: one variant of [`View`] per
//! template, its fields the template's variables (listed in
//! `templates/README.md`). Plain text and lists only: the templates make
//! the markup and escape every value.

use portcullis_core::FieldError;
use serde::Serialize;

/// The variables of one page's template; [`View::template`] names it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum View {
    /// `sign_in.html`: the email and password form.
    SignIn {
        csrf: String,
        return_to: String,
        /// `return_to=…`, for the link to the sign-up page.
        return_to_query: String,
        email: String,
        form_error: Option<String>,
    },
    /// `sign_up.html`: the new account's form.
    SignUp {
        csrf: String,
        return_to: String,
        return_to_query: String,
        email: String,
        name: String,
        password_min_length: usize,
        form_error: Option<String>,
        errors: SignUpErrors,
    },
    /// `consent.html`: which application asks for what.
    Consent {
        csrf: String,
        client: String,
        /// What each scope allows, in words.
        scopes: Vec<String>,
        /// The authorization request, carried to the form's answer.
        request: Vec<Hidden>,
    },
    /// `account.html`.
    Account(AccountView),
    /// `sign_out.html`: asks to confirm.
    SignOut {
        csrf: String,
        /// Where to go after (when the client registered it), carried along.
        request: Vec<Hidden>,
    },
    /// `signed_out.html`.
    SignedOut {},
    /// `error.html`: what went wrong and what to do.
    Error { message: String },
    /// `email_verify.html`: the button of a link, or the address and code form.
    EmailVerify {
        token: Option<String>,
        form_error: Option<String>,
    },
    /// `email_verified.html`.
    EmailVerified { email: String },
    /// `password_reset.html`: the new password, with the link's token or
    /// the address and the code.
    PasswordReset {
        token: Option<String>,
        form_error: Option<String>,
        new_password_error: Option<String>,
    },
    /// `password_changed.html`.
    PasswordChanged {},
    /// `forgot_password.html`: the address to send a reset message to.
    ForgotPassword {
        csrf: String,
        form_error: Option<String>,
        email_error: Option<String>,
    },
    /// `check_your_mail.html`: the reset message is on its way.
    CheckYourMail {},
    /// `confirm_your_address.html`: signed up, but the address must be
    /// proved (`--email-verification required`) before signing in.
    ConfirmYourAddress {},
}

impl View {
    /// The template that shows this view.
    pub(crate) fn template(&self) -> &'static str {
        match self {
            Self::SignIn { .. } => "sign_in.html",
            Self::SignUp { .. } => "sign_up.html",
            Self::Consent { .. } => "consent.html",
            Self::Account(_) => "account.html",
            Self::SignOut { .. } => "sign_out.html",
            Self::SignedOut {} => "signed_out.html",
            Self::Error { .. } => "error.html",
            Self::EmailVerify { .. } => "email_verify.html",
            Self::EmailVerified { .. } => "email_verified.html",
            Self::PasswordReset { .. } => "password_reset.html",
            Self::PasswordChanged {} => "password_changed.html",
            Self::ForgotPassword { .. } => "forgot_password.html",
            Self::CheckYourMail {} => "check_your_mail.html",
            Self::ConfirmYourAddress {} => "confirm_your_address.html",
        }
    }
}

/// A value a form carries along unseen.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hidden {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// The sign-up form's errors, each shown next to its field.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SignUpErrors {
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) name: Option<String>,
}

/// The account page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountView {
    pub(crate) csrf: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) form_error: Option<String>,
    pub(crate) errors: AccountErrors,
    pub(crate) sessions: Vec<SessionRow>,
    pub(crate) tokens: Vec<TokenRow>,
    pub(crate) applications: Vec<ApplicationRow>,
}

/// The account page's errors, each shown next to its field.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AccountErrors {
    pub(crate) name: Option<String>,
    pub(crate) current_password: Option<String>,
    pub(crate) new_password: Option<String>,
}

/// A session of the account.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    /// Its user agent, or "unknown device".
    pub(crate) device: String,
    /// The browser looking at the page (it is not offered to sign out).
    pub(crate) current: bool,
    pub(crate) since: String,
}

/// A personal access token of the account.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: String,
    pub(crate) last_used: Option<String>,
}

/// An application the user allowed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApplicationRow {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Its scopes, space-separated.
    pub(crate) scope: String,
}

/// Field errors sorted to the fields a form shows: the messages of each
/// field in `fields` joined, and those of any other field as one
/// form-wide message (`field: message`).
pub(crate) fn sort_field_errors<const N: usize>(
    errors: &[FieldError],
    fields: [&str; N],
) -> ([Option<String>; N], Option<String>) {
    let of = |field: &str| {
        let messages: Vec<&str> = errors
            .iter()
            .filter(|error| error.field == field)
            .map(|error| error.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    };
    let others: Vec<String> = errors
        .iter()
        .filter(|error| !fields.contains(&error.field.as_str()))
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect();
    (
        fields.map(of),
        (!others.is_empty()).then(|| others.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_go_next_to_their_fields_and_the_rest_above_the_form() {
        let errors = [
            FieldError::new("password", "is too short"),
            FieldError::new("password", "is too common"),
            FieldError::new("action", "is not one this page sends"),
        ];
        let ([email, password], rest) = sort_field_errors(&errors, ["email", "password"]);
        assert_eq!(email, None);
        assert_eq!(password.as_deref(), Some("is too short; is too common"));
        assert_eq!(rest.as_deref(), Some("action: is not one this page sends"));
        let (_, none) = sort_field_errors(&errors[..2], ["password"]);
        assert_eq!(none, None);
    }
}
