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
        Err(error) => {
            let reason = crate::import::entries::json_error(&error);
            return Entry::Unreadable(at, format!("not a Keycloak user: {reason}"));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(file: &str) -> (Vec<Entry>, Result<(), String>) {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let mut sender = Sender::new(sender);
        let outcome = read(file.as_bytes(), &mut sender).map_err(|error| error.to_string());
        sender.flush().unwrap();
        drop(sender);
        let mut all = Vec::new();
        while let Ok(chunk) = receiver.try_recv() {
            all.extend(chunk);
        }
        (all, outcome)
    }

    const ADA: &str = r#"{"username": "ada", "email": "ada@x.io", "enabled": false,
        "firstName": "Ada", "createdTimestamp": 1700000000999,
        "realmRoles": ["default-roles-acme", "offline_access", "editor"], "credentials": []}"#;

    #[test]
    fn users_come_one_by_one_with_where_they_are() {
        let file = format!(
            r#"{{"realm": "acme", "clients": [{{"clientId": "x"}}], "users": [{ADA},
                {{"username": "svc", "serviceAccountClientId": "x"}},
                {{"username": "nomail"}},
                {{"username": "odd", "email": "odd@x.io", "enabled": "yes"}}], "groups": []}}"#
        );
        let (read, outcome) = entries(&file);
        assert_eq!(outcome, Ok(()));
        let Entry::User(Location::KeycloakUser { index: 0, username }, ada) = &read[0] else {
            panic!("{:?}", read[0]);
        };
        assert_eq!(username.as_deref(), Some("ada"));
        assert_eq!(ada.name.as_deref(), Some("Ada"));
        assert_eq!(ada.disabled, Some(true));
        assert_eq!(ada.roles.as_deref(), Some(&["editor".to_owned()][..]));
        assert_eq!(ada.created_at.unwrap().unix_timestamp(), 1_700_000_000);
        assert!(matches!(read[1], Entry::LeftOut));
        assert!(
            matches!(&read[2], Entry::Unreadable(Location::KeycloakUser { index: 2, .. }, reason) if reason.contains("no email"))
        );
        assert!(
            matches!(&read[3], Entry::Unreadable(Location::KeycloakUser { index: 3, .. }, reason) if reason.contains("not a Keycloak user"))
        );
    }

    #[test]
    fn a_file_cut_short_stops_after_the_users_before_the_cut() {
        let (read, outcome) = entries(&format!(
            r#"{{"realm": "acme", "users": [{ADA}, {{"username": "b"#
        ));
        assert_eq!(read.len(), 1, "{read:?}");
        assert!(outcome.unwrap_err().contains("cut short"));
        let (read, outcome) = entries(r#"{"realm": "acme", "clients": []}"#);
        assert!(read.is_empty());
        assert!(outcome.unwrap_err().contains("no users"));
    }
}
