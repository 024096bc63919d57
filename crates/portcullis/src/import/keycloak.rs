//! A Keycloak realm export: the JSON object `kc.sh export` writes, whose
//! `users` array holds each user with `credentials` (the `password` one's
//! `secretData` and `credentialData` become a PHC hash in the domain),
//! `emailVerified`, `enabled`, `createdTimestamp` (milliseconds),
//! `firstName`/`lastName` and `realmRoles`.
//!
//! Streamed: a serde visitor walks the top-level object, skips every other
//! member unread, and hands each element of `users` on as soon as it is
//! parsed, so one user at a time is in memory whatever the realm's size.
//! A user that is not what Keycloak writes is reported with its index and
//! username, and reading goes on; a file cut short or not JSON stops the
//! import where it breaks (what came before was imported). Keycloak's own
//! default roles (`offline_access`, `uma_authorization`,
//! `default-roles-<realm>`) are left out, and so are service accounts,
//! which no person logs in as. This module must never keep more than one
//! user.

use std::fmt;
use std::io::Read;

use portcullis_core::services::import::{ImportedPassword, ImportedUser};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use time::OffsetDateTime;

use crate::import::entries::{Entry, Location, ReadError, Sender};

/// A user of the export, as far as Portcullis reads it; other members are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    email: Option<String>,
    email_verified: Option<bool>,
    enabled: Option<bool>,
    created_timestamp: Option<i64>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default)]
    credentials: Vec<Credential>,
    #[serde(default)]
    realm_roles: Vec<String>,
    service_account_client_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credential {
    #[serde(rename = "type")]
    kind: Option<String>,
    secret_data: Option<String>,
    credential_data: Option<String>,
}

/// Sends every user of the export in `input` as an entry.
pub(crate) fn read(input: impl Read, sender: &mut Sender) -> Result<(), ReadError> {
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let mut outcome = Ok(());
    let found = deserializer
        .deserialize_map(Realm {
            sender,
            outcome: &mut outcome,
        })
        .and_then(|found| deserializer.end().map(|()| found));
    outcome?;
    match found {
        Ok(true) => Ok(()),
        Ok(false) => Err(ReadError::Malformed(
            "this realm export has no users (export them with `kc.sh export --users realm_file`)"
                .to_owned(),
        )),
        Err(error) => Err(ReadError::Malformed(format!(
            "the realm export is not JSON or is cut short: {error}"
        ))),
    }
}

/// The top-level object: walks it for `users`; whether they were there.
struct Realm<'a> {
    sender: &'a mut Sender,
    /// Why sending stopped, if it did.
    outcome: &'a mut Result<(), ReadError>,
}

impl<'de> Visitor<'de> for Realm<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Keycloak realm export (a JSON object)")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "users" {
                found = true;
                map.next_value_seed(Users {
                    sender: &mut *self.sender,
                    outcome: &mut *self.outcome,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The `users` array, sent on element by element.
struct Users<'a> {
    sender: &'a mut Sender,
    outcome: &'a mut Result<(), ReadError>,
}

impl<'de> DeserializeSeed<'de> for Users<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Users<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of users")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut users: S) -> Result<(), S::Error> {
        let mut index = 0;
        while let Some(user) = users.next_element::<serde_json::Value>()? {
            if self.outcome.is_ok()
                && let Err(stopped) = self.sender.send(entry(index, user))
            {
                *self.outcome = Err(stopped);
            }
            index += 1;
        }
        Ok(())
    }
}

fn entry(index: u64, value: serde_json::Value) -> Entry {
    let username = value
        .get("username")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let at = Location::KeycloakUser { index, username };
    let user: User = match serde_json::from_value(value) {
        Ok(user) => user,
        Err(error) => return Entry::Unreadable(at, format!("not a Keycloak user: {error}")),
    };
    if user.service_account_client_id.is_some() {
        return Entry::LeftOut;
    }
    match imported(user) {
        Ok(user) => Entry::User(at, user),
        Err(reason) => Entry::Unreadable(at, reason),
    }
}

fn imported(user: User) -> Result<ImportedUser, String> {
    let email = user
        .email
        .ok_or("no email: Portcullis knows users by their email")?;
    let mut passwords = user
        .credentials
        .into_iter()
        .filter(|credential| credential.kind.as_deref() == Some("password"));
    let password = match (passwords.next(), passwords.next()) {
        (None, _) => ImportedPassword::None,
        (Some(_), Some(_)) => return Err("more than one password credential".to_owned()),
        (Some(credential), None) => match (credential.secret_data, credential.credential_data) {
            (Some(secret_data), Some(credential_data)) => ImportedPassword::Keycloak {
                secret_data,
                credential_data,
            },
            _ => {
                return Err("a password credential without secretData or credentialData".to_owned());
            }
        },
    };
    let name = [user.first_name, user.last_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let created_at = user
        .created_timestamp
        .map(|millis| {
            OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
                .map_err(|_| "createdTimestamp: not a time".to_owned())
        })
        .transpose()?;
    Ok(ImportedUser {
        email,
        name: Some(name),
        password,
        email_verified: user.email_verified,
        roles: Some(
            user.realm_roles
                .into_iter()
                .filter(|role| !is_keycloak_default(role))
                .collect(),
        ),
        disabled: user.enabled.map(|enabled| !enabled),
        created_at,
    })
}

/// The roles Keycloak gives every user of a realm.
fn is_keycloak_default(role: &str) -> bool {
    matches!(role, "offline_access" | "uma_authorization") || role.starts_with("default-roles-")
}
