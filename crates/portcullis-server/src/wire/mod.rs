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
//!
//! One module per area of the contract: [`accounts`] (sign-up, `/me`,
//! sessions), [`email`] (the mail flows), [`browser`] (browser sign-in), [`tokens`] (the token endpoints and personal access tokens),
//! [`admin`] (users and roles), [`clients`] (OAuth clients),
//! [`protected_apis`] (introspection, forward-auth, keys, discovery,
//! probes); [`names`] holds the schemas of role and permission names that
//! several of them share.

mod accounts;
mod admin;
mod browser;
mod clients;
mod email;
mod names;
mod protected_apis;
mod tokens;

use portcullis_core::{ExposeSecret as _, SecretString};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) use accounts::{
    ChangePasswordRequest, DeleteMeRequest, SessionBody, SignUpRequest, UpdateMeRequest, UserBody,
};
pub(crate) use admin::{
    AdminUserChangeRequest, PutRoleRequest, RoleBody, UserListBody, UserListQuery,
};
pub(crate) use browser::{
    AccountForm, AuthorizeQuery, ConsentForm, ForgotPasswordForm, LogoutQuery, ReturnToQuery,
    SignInForm, SignOutForm, SignUpForm, UserInfoBody,
};
pub(crate) use clients::{ClientBody, ClientChangeRequest, NewClientRequest};
pub(crate) use email::{
    LinkQuery, MailRequestAccepted, MailRequestBody, ResetPasswordForm, ResetPasswordRequest,
    VerifyEmailForm, VerifyEmailRequest,
};
pub(crate) use names::{
    ClientName, DisplayName, EditableRoleName, PermissionName, RoleName, TokenName,
};
pub(crate) use protected_apis::{
    ActiveTokenBody, DiscoveryBody, HealthBody, IntrospectionBody, JwkBody, JwkSetBody, VerifyQuery,
};
pub(crate) use tokens::{
    NewPersonalTokenRequest, PersonalTokenBody, RecognisedText, SingleTokenRequest, TokenRequest,
    TokenResponse,
};

/// RFC 3339 in UTC with whole seconds.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Distinguishes a field that is absent (outer `None`) from one set to `null`.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A field that may be absent but never `null` (absent stays `None` by
/// `#[serde(default)]`; `null` is refused as the wrong type).
pub(super) fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Writes a secret into the body being sent: the one place a token leaves
/// its wrapper.
pub(super) fn expose<S: Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

pub(super) fn expose_optional<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => expose(secret, serializer),
        None => serializer.serialize_none(),
    }
}

/// An optional `u32` written as any JSON number without a fraction: JSON
/// Schema's `integer` admits `30.0`, and so must the server.
pub(super) fn whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && *value >= 0.0 && *value <= f64::from(u32::MAX))
            .map(|value| value as u64)
    });
    whole
        .and_then(|value| u32::try_from(value).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "{number} is not a whole number from 0 to {}",
                u32::MAX
            ))
        })
}

#[cfg(test)]
mod tests {
    use portcullis_core::email::MAX_EMAIL_LENGTH;
    use portcullis_core::names::{DISPLAY_NAME_PATTERN, TOKEN_NAME_PATTERN};
    use portcullis_core::password::{ABSOLUTE_MIN_LENGTH, MAX_LENGTH as MAX_PASSWORD_LENGTH};
    use portcullis_core::services::personal_tokens::MAX_EXPIRES_IN_DAYS;
    use portcullis_core::services::users::MAX_PAGE_SIZE;
    use serde_json::{Value, json};
    use utoipa::{IntoParams, ToSchema};

    use super::*;

    fn schema_of<T: ToSchema>() -> Value {
        serde_json::to_value(T::schema()).expect("a schema serialises")
    }

    #[track_caller]
    fn check(schema: &Value, property: &str, keyword: &str, expected: usize) {
        let value = &schema["properties"][property][keyword];
        assert_eq!(value, &json!(expected), "{property}.{keyword} in {schema}");
    }

    /// A name field states the display name's rule, whose pattern bounds
    /// the length once trimmed (a `maxLength` would count the white space
    /// that the server trims).
    #[track_caller]
    fn is_display_name(schema: &Value, property: &str) {
        assert_eq!(schema["properties"][property].get("maxLength"), None);
        let pattern = &schema["properties"][property]["pattern"];
        assert_eq!(
            pattern,
            &json!(DISPLAY_NAME_PATTERN),
            "{property} in {schema}"
        );
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        #[derive(Debug, serde::Deserialize)]
        struct Days {
            #[serde(default, deserialize_with = "whole_number")]
            days: Option<u32>,
        }
        let read = |text: &str| serde_json::from_str::<Days>(text).map(|days| days.days);
        assert_eq!(read(r#"{"days": 30}"#).unwrap(), Some(30));
        assert_eq!(read(r#"{"days": 30.0}"#).unwrap(), Some(30));
        assert_eq!(read(r#"{"days": 3e1}"#).unwrap(), Some(30));
        assert_eq!(read(r#"{"days": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        for refused in [
            r#"{"days": 30.5}"#,
            r#"{"days": -1}"#,
            r#"{"days": 4294967296}"#,
            r#"{"days": "30"}"#,
        ] {
            assert!(read(refused).is_err(), "{refused}");
        }
    }

    /// The numbers the schemas state are the domain's, so they cannot drift apart.
    #[test]
    fn input_limits_are_the_domains() {
        let sign_up = schema_of::<SignUpRequest>();
        check(&sign_up, "email", "maxLength", MAX_EMAIL_LENGTH);
        check(&sign_up, "password", "minLength", ABSOLUTE_MIN_LENGTH);
        check(&sign_up, "password", "maxLength", MAX_PASSWORD_LENGTH);
        is_display_name(&sign_up, "name");
        let update_me = schema_of::<UpdateMeRequest>();
        check(&update_me, "email", "maxLength", MAX_EMAIL_LENGTH);
        is_display_name(&update_me, "name");
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
        is_display_name(&schema_of::<AdminUserChangeRequest>(), "name");
        let token = schema_of::<NewPersonalTokenRequest>();
        check(&token, "name", "minLength", 1);
        assert_eq!(token["properties"]["name"].get("maxLength"), None);
        let pattern = &token["properties"]["name"]["pattern"];
        assert_eq!(pattern, &json!(TOKEN_NAME_PATTERN), "{token}");
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
}
