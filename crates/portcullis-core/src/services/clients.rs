//! The OAuth client registry: registering, listing, changing and removing
//! clients, for whoever holds `admin:clients` ([`Authorized`]); and, for the
//! authorization flow, finding a client and authenticating one.
//!
//! A confidential client's secret is made here, returned once and kept
//! only as its hash. Authentication fails the same way, with
//! [`AuthError::InvalidClient`], whatever was wrong, and hashes and
//! compares a presented secret whether or not the client exists. Nothing is
//! cached: clients are read once per authorization, and a change is seen at
//! once everywhere.

use std::sync::Arc;

use secrecy::SecretString;
use uuid::Uuid;

use crate::clients::{
    Client, ClientKind, ClientSecretHash, DEFAULT_ID_TOKEN_ALGORITHM, ID_TOKEN_ALGORITHMS,
    MAX_REDIRECT_URIS, RedirectUri, new_client_secret, parse_client_id,
};
use crate::core::Core;
use crate::error::{AuthError, InvalidFields};
use crate::names::{ClientName, Permission, parse_all};
use crate::principal::{Authorized, ManageClients};
use crate::store::{ClientRecord, ClientUpdate};

/// What registering a client asks for.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    pub name: &'a str,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub kind: ClientKind,
    pub first_party: bool,
    pub allowed_scopes: Vec<String>,
    /// [`DEFAULT_ID_TOKEN_ALGORITHM`] when `None`.
    pub id_token_signed_response_alg: Option<&'a str>,
}

/// What an administrator may change on a client; `None` leaves a field as
/// it is. Its kind cannot change.
#[derive(Debug, Clone, Default)]
pub struct ClientChange<'a> {
    pub name: Option<&'a str>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub allowed_scopes: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<&'a str>,
}

/// A client just registered: the only time a confidential client's secret is known.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: Client,
    /// `Some` for a confidential client.
    pub secret: Option<SecretString>,
}

/// The hash a presented secret is compared with when there is no stored
/// one, so that an unknown client costs what a known one does.
const NO_SECRET: ClientSecretHash = ClientSecretHash([0; 32]);

/// OAuth clients.
pub struct Clients {
    core: Arc<Core>,
}

impl Clients {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Registers a client; a confidential one gets a secret, returned this once.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] naming every invalid field.
    pub async fn register(
        &self,
        authorized: &Authorized<ManageClients>,
        new: NewClient<'_>,
    ) -> Result<RegisteredClient, AuthError> {
        let mut invalid = InvalidFields::default();
        let name = invalid.check("name", ClientName::parse(new.name));
        let redirect_uris = check_redirect_uris(&mut invalid, &new.redirect_uris);
        let post_logout_redirect_uris =
            check_post_logout_redirect_uris(&mut invalid, &new.post_logout_redirect_uris);
        let allowed_scopes = check_scopes(&mut invalid, &new.allowed_scopes);
        let algorithm = check_algorithm(
            &mut invalid,
            new.id_token_signed_response_alg
                .unwrap_or(DEFAULT_ID_TOKEN_ALGORITHM),
        );
        let (
            Some(name),
            Some(redirect_uris),
            Some(post_logout_redirect_uris),
            Some(allowed_scopes),
            Some(algorithm),
        ) = (
            name,
            redirect_uris,
            post_logout_redirect_uris,
            allowed_scopes,
            algorithm,
        )
        else {
            return Err(invalid.into_error());
        };
        invalid.finish()?;
        may_shape(authorized, &allowed_scopes, new.first_party)?;
        let (secret, secret_hash) = match new.kind {
            ClientKind::Public => (None, None),
            ClientKind::Confidential => {
                let (secret, hash) = new_client_secret();
                (Some(secret), Some(hash))
            }
        };
        let client = Client {
            client_id: Uuid::now_v7(),
            name: name.into_string(),
            redirect_uris,
            post_logout_redirect_uris,
            kind: new.kind,
            first_party: new.first_party,
            allowed_scopes,
            id_token_signed_response_alg: algorithm,
            created_at: self.core.clock.now_seconds(),
        };
        let record = ClientRecord {
            client,
            secret_hash,
        };
        self.core.store.insert_client(&record).await?;
        // Published before the client's first id token, so that a relying
        // party that fetches the keys at start already holds it.
        self.core
            .ensure_signing_key(record.client.id_token_algorithm())
            .await?;
        Ok(RegisteredClient {
            client: record.client,
            secret,
        })
    }

    /// Every client, oldest first, without secrets.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn list(
        &self,
        _authorized: &Authorized<ManageClients>,
    ) -> Result<Vec<Client>, AuthError> {
        let records = self.core.store.clients().await?;
        Ok(records.into_iter().map(|record| record.client).collect())
    }

    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn get(
        &self,
        _authorized: &Authorized<ManageClients>,
        client_id: Uuid,
    ) -> Result<Client, AuthError> {
        self.stored(client_id).await
    }

    /// Changes the fields `change` gives, all or none.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] naming every invalid field, [`AuthError::NotFound`].
    pub async fn update(
        &self,
        authorized: &Authorized<ManageClients>,
        client_id: Uuid,
        change: ClientChange<'_>,
    ) -> Result<Client, AuthError> {
        let current = self.stored(client_id).await?;
        let mut invalid = InvalidFields::default();
        let update = ClientUpdate {
            name: change.name.and_then(|name| {
                invalid
                    .check("name", ClientName::parse(name))
                    .map(ClientName::into_string)
            }),
            redirect_uris: change
                .redirect_uris
                .and_then(|uris| check_redirect_uris(&mut invalid, &uris)),
            post_logout_redirect_uris: change
                .post_logout_redirect_uris
                .and_then(|uris| check_post_logout_redirect_uris(&mut invalid, &uris)),
            first_party: change.first_party,
            allowed_scopes: change
                .allowed_scopes
                .and_then(|scopes| check_scopes(&mut invalid, &scopes)),
            id_token_signed_response_alg: change
                .id_token_signed_response_alg
                .and_then(|algorithm| check_algorithm(&mut invalid, algorithm)),
        };
        invalid.finish()?;
        may_shape(
            authorized,
            update.allowed_scopes.as_deref().unwrap_or_default(),
            current.first_party || update.first_party == Some(true),
        )?;
        if update != ClientUpdate::default() {
            self.core.store.update_client(client_id, &update).await?;
        }
        self.stored(client_id).await
    }

    /// Removes a client; it can no longer sign anyone in, and every session
    /// it opened ends (its refresh tokens stop, its access tokens are
    /// refused here).
    ///
    /// # Errors
    /// [`AuthError::NotFound`].
    pub async fn remove(
        &self,
        _authorized: &Authorized<ManageClients>,
        client_id: Uuid,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let ended = core
            .store
            .revoke_sessions_of_client(client_id, None, core.clock.now())
            .await?;
        core.revocations.deny_here(&ended);
        if core.store.delete_client(client_id).await? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// The client whose `client_id` this is; `None` for an unknown one or
    /// text that is not a client id.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn find(&self, client_id: &str) -> Result<Option<Client>, AuthError> {
        Ok(self.record(client_id).await?.map(|record| record.client))
    }

    /// Authenticates a client at the token endpoint: a public client must
    /// present no secret, a confidential one its own.
    ///
    /// # Errors
    /// [`AuthError::InvalidClient`] for an unknown client, a wrong secret, a
    /// secret from a public client or none from a confidential one.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: Option<&SecretString>,
    ) -> Result<Client, AuthError> {
        let record = self.record(client_id).await?;
        authenticated(record, secret)
    }

    async fn record(&self, client_id: &str) -> Result<Option<ClientRecord>, AuthError> {
        match parse_client_id(client_id) {
            Some(id) => Ok(self.core.store.client(id).await?),
            None => Ok(None),
        }
    }

    async fn stored(&self, client_id: Uuid) -> Result<Client, AuthError> {
        self.core
            .store
            .client(client_id)
            .await?
            .map(|record| record.client)
            .ok_or(AuthError::NotFound)
    }
}

/// Succeeds when `authorized` may give a client `allowed_scopes` and, for a
/// `first_party` one (which signs users in without asking them), shape it
/// at all: a client's tokens carry its users' permissions, so nobody may
/// make one that reaches further than they do themselves, and only who
/// holds everything may make or change one that skips consent.
fn may_shape(
    authorized: &Authorized<ManageClients>,
    allowed_scopes: &[String],
    first_party: bool,
) -> Result<(), AuthError> {
    let administrator = authorized.administrator();
    administrator.require_all(allowed_scopes)?;
    if first_party && !administrator.holds_everything() {
        return Err(AuthError::Forbidden {
            needed: "every permission (the admin role), for a first-party client".to_owned(),
        });
    }
    Ok(())
}

/// The client of `record` if `secret` authenticates it: none for a public
/// client, its own for a confidential one. A presented secret is hashed and
/// compared even when there is no client, or no stored secret.
fn authenticated(
    record: Option<ClientRecord>,
    secret: Option<&SecretString>,
) -> Result<Client, AuthError> {
    let presented = secret.map(ClientSecretHash::of);
    let stored = record
        .as_ref()
        .and_then(|record| record.secret_hash)
        .unwrap_or(NO_SECRET);
    let secret_matches = presented.is_some_and(|presented| stored.matches(&presented));
    let Some(record) = record else {
        return Err(AuthError::InvalidClient);
    };
    let authenticated = match record.client.kind {
        ClientKind::Public => presented.is_none(),
        ClientKind::Confidential => secret_matches,
    };
    if authenticated {
        Ok(record.client)
    } else {
        Err(AuthError::InvalidClient)
    }
}

/// The redirect URIs, each once in the order given: at least one.
fn check_redirect_uris(invalid: &mut InvalidFields, uris: &[String]) -> Option<Vec<String>> {
    check_uri_list(invalid, "redirect_uris", uris, 1)
}

/// The post-logout redirect URIs, each once in the order given; maybe none.
fn check_post_logout_redirect_uris(
    invalid: &mut InvalidFields,
    uris: &[String],
) -> Option<Vec<String>> {
    check_uri_list(invalid, "post_logout_redirect_uris", uris, 0)
}

/// The URIs of `field`, each once in the order given: `fewest` to
/// [`MAX_REDIRECT_URIS`] of them, each a [`RedirectUri`].
fn check_uri_list(
    invalid: &mut InvalidFields,
    field: &str,
    uris: &[String],
    fewest: usize,
) -> Option<Vec<String>> {
    if !(fewest..=MAX_REDIRECT_URIS).contains(&uris.len()) {
        invalid.add(
            field,
            format!("must name {fewest} to {MAX_REDIRECT_URIS} URIs"),
        );
        return None;
    }
    let mut checked: Vec<String> = Vec::with_capacity(uris.len());
    let mut refused = false;
    for (index, uri) in uris.iter().enumerate() {
        match RedirectUri::parse(uri) {
            Ok(uri) if checked.iter().any(|seen| seen == uri.as_str()) => {}
            Ok(uri) => checked.push(uri.into_string()),
            Err(reason) => {
                refused = true;
                invalid.add(field, format!("entry {index} {reason}"));
            }
        }
    }
    (!refused).then_some(checked)
}

/// The allowed scopes as permission names, sorted, each once.
fn check_scopes(invalid: &mut InvalidFields, scopes: &[String]) -> Option<Vec<String>> {
    invalid
        .check("allowed_scopes", parse_all(scopes, Permission::parse))
        .map(|scopes| scopes.into_iter().map(Permission::into_string).collect())
}

fn check_algorithm(invalid: &mut InvalidFields, algorithm: &str) -> Option<String> {
    if ID_TOKEN_ALGORITHMS.contains(&algorithm) {
        Some(algorithm.to_owned())
    } else {
        invalid.add(
            "id_token_signed_response_alg",
            format!("must be one of {}", ID_TOKEN_ALGORITHMS.join(", ")),
        );
        None
    }
}

#[cfg(test)]
mod tests;
