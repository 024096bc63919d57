//! The OAuth 2.0 grants of the token endpoint: a password (or an emailed
//! code) opens a session, an authorization code opens a client's session
//! (browser sign-in), a refresh token continues one.
//!
//! The password grant checks the credentials as
//! [`crate::password_sign_in`] says. The refresh grant
//! rotates through the store's compare-and-set, hands a just-rotated token's
//! successor out again within the grace interval, and treats any older token
//! as reuse, which revokes the whole session (RFC 9700 §4.14.2). Everything
//! that can refuse a refresh is checked before the rotation, so a refused
//! refresh never uses the token up. A client address that keeps presenting
//! refresh tokens that were never ours is throttled like failed logins.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use crate::authorization::{
    AuthorizationCode, CodeChallenge, IdTokenClaims, OPENID_SCOPES, RequestedScope,
};
use crate::clients::Client;
use crate::core::Core;
use crate::email::Email;
use crate::email_tokens::{EmailTokenPurpose, MAX_CODE_TRIES};
use crate::error::AuthError;
use crate::mail_requests;
use crate::names::Scope;
use crate::password_sign_in;
use crate::refresh::{Lineage, RefreshToken};
use crate::store::{
    AuthorizationCodeRecord, SessionOrigin, SessionRecord, TokenEffect, UserRecord,
};
use crate::telemetry::{self, LoginOutcome};
use crate::throttle;
use crate::tokens::AccessGrant;

/// Where a login came from, kept with the session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the token endpoint returns on success. The tokens are secrets until
/// the wire type serialises them.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: SecretString,
    pub expires_in: i64,
    /// Absent for a client that asked for no `offline_access`.
    pub refresh_token: Option<SecretString>,
    pub scope: String,
    /// For a client that asked for `openid`.
    pub id_token: Option<SecretString>,
}

/// The password and refresh grants.
pub struct Grants {
    core: Arc<Core>,
}

impl Grants {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The password grant: checks the credentials and opens a session,
    /// narrowed to `requested_scope` when given.
    ///
    /// # Errors
    /// [`AuthError::Throttled`], [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`].
    pub async fn password(
        &self,
        identifier: &str,
        password: &SecretString,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let user = password_sign_in::check(&self.core, identifier, password, &client).await?;
        self.open_session(&user, requested_scope, client).await
    }

    /// The email-code grant (`--email-code-login on`): spends the sign-in
    /// code sent to `email` (which proves the address) and opens a session
    /// like the password grant. A wrong code counts against the account's
    /// live code, which dies at the fifth.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`] for a wrong, spent, expired or
    /// cancelled code, or an unknown or disabled account;
    /// [`AuthError::InvalidScope`].
    pub async fn email_code(
        &self,
        email: &str,
        code: &SecretString,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let Ok(email) = Email::parse(email) else {
            return Err(AuthError::InvalidGrant);
        };
        let token = mail_requests::token_for_code(core, &email, code, &[EmailTokenPurpose::SignIn])
            .await?
            .ok_or(AuthError::InvalidGrant)?;
        let user = core
            .store
            .user_by_id(token.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(AuthError::InvalidGrant)?;
        let spent = core
            .accounts
            .writing_account(
                user.id,
                core.store.spend_email_token(
                    &token,
                    core.clock.now(),
                    MAX_CODE_TRIES,
                    TokenEffect::VerifyEmail,
                    None,
                ),
            )
            .await?;
        if !spent {
            return Err(AuthError::InvalidGrant);
        }
        telemetry::login(LoginOutcome::Success);
        self.open_session(&user, requested_scope, client).await
    }

    /// Opens a session for `user`, who just proved who they are, narrowed
    /// to `requested_scope` when given.
    async fn open_session(
        &self,
        user: &UserRecord,
        requested_scope: Option<&str>,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let permissions = core.accounts.stored_permissions(&user.roles).await?;
        let narrowed = requested_scope
            .map(|requested| narrow_scope(requested, &permissions))
            .transpose()?;
        let (session, first) =
            core.new_session(user.id, SessionOrigin::Api, narrowed.clone(), client);
        core.store.insert_session(&session).await?;
        let scope = narrowed.unwrap_or_else(|| permissions.into_iter().collect());
        self.tokens(user, &session, scope, Some(&first), None).await
    }

    /// The authorization-code grant (OAuth 2.1 §4.1.3) for `client`, which
    /// authenticated: redeems `code` once, for the redirect URI it was
    /// issued with and the PKCE verifier of its challenge, and opens the
    /// client's session. A code presented again revokes the session its
    /// first redemption opened (RFC 9700 §4.2.4 bis).
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`] for an unknown, expired, spent or
    /// foreign code, another redirect URI or a wrong verifier.
    pub async fn authorization_code(
        &self,
        client: &Client,
        code: &SecretString,
        redirect_uri: &str,
        code_verifier: &str,
        client_info: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let code_hash = AuthorizationCode::hash(code.expose_secret());
        let Some(record) = core.store.authorization_code(&code_hash).await? else {
            return Err(AuthError::InvalidGrant);
        };
        if record.redeemed_at.is_some() {
            return self.code_replayed(&record).await;
        }
        let now = core.clock.now_seconds();
        let challenge = CodeChallenge::parse(&record.code_challenge)
            .map_err(|error| AuthError::Internal(error.to_owned()))?;
        if record.client_id != client.client_id
            || record.expires_at <= now
            || record.redirect_uri != redirect_uri
            || !challenge.is_met_by(code_verifier)
        {
            return Err(AuthError::InvalidGrant);
        }
        let user = core
            .store
            .user_by_id(record.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(AuthError::InvalidGrant)?;
        let permissions = core.accounts.current_permissions(&user.roles).await?;
        let scope: Vec<String> = record
            .scope
            .iter()
            .filter(|p| permissions.contains(*p))
            .cloned()
            .collect();
        let origin = SessionOrigin::Client {
            client_id: client.client_id,
            authenticated_at: record.authenticated_at,
            openid_scope: record.openid_scope.clone(),
        };
        // The session keeps what the client was granted, so that a
        // permission the user gains later shows in the next refresh.
        let (session, first) =
            core.new_session(user.id, origin, Some(record.scope.clone()), client_info);
        if !core
            .store
            .redeem_authorization_code(&code_hash, &session, now)
            .await?
        {
            // Another redemption won meanwhile: the code was presented twice.
            let record = core.store.authorization_code(&code_hash).await?;
            return match record {
                Some(record) => self.code_replayed(&record).await,
                None => Err(AuthError::InvalidGrant),
            };
        }
        let openid = RequestedScope::parse(&record.openid_scope)
            .map_err(|error| AuthError::Internal(error.to_string()))?;
        let refresh = (openid.has("offline_access") || client.first_party).then_some(&first);
        let id_token = openid.has("openid").then(|| IdTokenRequest {
            client,
            nonce: record.nonce.clone(),
            browser_session_id: Some(record.browser_session_id),
        });
        self.tokens(&user, &session, scope, refresh, id_token).await
    }

    /// A code presented after its redemption: revokes what the first
    /// redemption issued, and refuses.
    async fn code_replayed(
        &self,
        record: &AuthorizationCodeRecord,
    ) -> Result<TokenPair, AuthError> {
        tracing::warn!(client_id = %record.client_id, user_id = %record.user_id, "authorization code presented twice; its session revoked");
        if let Some(session_id) = record.session_id {
            self.core.revocations.revoke_session(session_id).await?;
        }
        Err(AuthError::InvalidGrant)
    }

    /// The refresh grant, with rotation, a grace interval for the token just
    /// rotated, and reuse detection. `client` is the client that
    /// authenticated, if one did: a refresh token works only for the
    /// client it was issued to, and one of the token endpoint's own grants
    /// only without a client.
    ///
    /// Two store round trips: one read of the session with its account and
    /// roles held, one compare-and-set. The roles' permissions come from the
    /// account cache, which this process forgets before answering a change
    /// it makes and other processes' changes reach within
    /// [`ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN`](crate::services::feeds::ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN)
    /// (when it cannot vouch for that, it reads the database): the same
    /// bound as for a revocation, and every use of the access token is
    /// checked against the permissions of that moment anyway.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`], [`AuthError::InvalidScope`], [`AuthError::Throttled`].
    pub async fn refresh(
        &self,
        presented: &SecretString,
        requested_scope: Option<&str>,
        client: Option<&Client>,
        client_info: &ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let address_key = client_info.ip.as_deref().map(throttle::address_key);
        if let Some(address_key) = &address_key {
            core.refresh_failures.ensure_allowed(address_key)?;
        }
        let not_ours = || {
            if let Some(address_key) = &address_key {
                core.refresh_failures.record(address_key);
            }
            Err(AuthError::InvalidGrant)
        };
        let Some(token) = RefreshToken::parse(presented.expose_secret().trim()) else {
            return not_ours();
        };
        // The second pass runs only when a concurrent refresh won the compare-and-set.
        for _ in 0..2 {
            let now = core.clock.now_seconds();
            // One read brings the session and its account; the permissions
            // come from the account cache (see `refresh`'s documentation).
            let Some((session, user)) = core.store.session_with_user(token.session_id).await?
            else {
                return not_ours();
            };
            let for_this_client = match (&session.origin, client) {
                // The token endpoint's own sessions need no client, and a
                // client named along (as many libraries do) changes nothing.
                (SessionOrigin::Api, _) => true,
                (SessionOrigin::Client { client_id, .. }, Some(client)) => {
                    *client_id == client.client_id
                }
                _ => false,
            };
            if !for_this_client {
                return Err(AuthError::InvalidGrant);
            }
            if session.revoked_at.is_some() || core.session_end(&session) <= now {
                return Err(AuthError::InvalidGrant);
            }
            let (rotate, next) = match token.lineage(
                &session.refresh_key,
                session.refresh_generation,
                &session.refresh_hash,
            ) {
                Lineage::Current => (true, token.successor(&session.refresh_key)),
                Lineage::JustRotated(current)
                    if now - session.last_used_at <= core.settings.refresh_reuse_grace =>
                {
                    (false, current)
                }
                Lineage::JustRotated(_) | Lineage::Older => {
                    tracing::warn!(session_id = %session.id, user_id = %session.user_id, "refresh token reuse detected; session revoked");
                    telemetry::refresh_token_reuse();
                    core.revocations.revoke_session(session.id).await?;
                    return Err(AuthError::InvalidGrant);
                }
                Lineage::Foreign => return not_ours(),
            };
            let user = match user {
                Some(user) if !user.disabled => user,
                _ => return Err(AuthError::InvalidGrant),
            };
            let permissions = core.accounts.current_permissions(&user.roles).await?;
            // A client keeps only what it may still ask for.
            let allowed: BTreeSet<String> = match &session.scope {
                Some(narrowed) => narrowed
                    .iter()
                    .filter(|p| permissions.contains(*p))
                    .filter(|p| client.is_none_or(|client| client.may_request(p)))
                    .cloned()
                    .collect(),
                None => permissions,
            };
            // The OpenID scopes are the session's whatever is asked; the
            // permissions asked for narrow the token.
            let scope = match requested_scope {
                Some(requested) => {
                    let permissions: Vec<&str> = requested
                        .split_ascii_whitespace()
                        .filter(|name| !OPENID_SCOPES.contains(name))
                        .collect();
                    narrow_scope(&permissions.join(" "), &allowed)?
                }
                None => allowed.into_iter().collect(),
            };
            if rotate
                && !core
                    .store
                    .rotate_refresh_token(
                        session.id,
                        session.refresh_generation,
                        &next.secret.hash(),
                        now,
                    )
                    .await?
            {
                continue;
            }
            // A refreshed id token repeats the original authentication's
            // claims but not its nonce (OpenID Connect Core §12.2).
            let id_token = match (&session.origin, client) {
                (SessionOrigin::Client { openid_scope, .. }, Some(client))
                    if openid_scope.split(' ').any(|s| s == "openid") =>
                {
                    Some(IdTokenRequest {
                        client,
                        nonce: None,
                        browser_session_id: None,
                    })
                }
                _ => None,
            };
            return self
                .tokens(&user, &session, scope, Some(&next), id_token)
                .await;
        }
        Err(AuthError::InvalidGrant)
    }

    /// Signs an access token for `session` (and an id token when asked)
    /// and pairs it with `refresh`.
    async fn tokens(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        scope: Vec<String>,
        refresh: Option<&RefreshToken>,
        id_token: Option<IdTokenRequest<'_>>,
    ) -> Result<TokenPair, AuthError> {
        let core = &self.core;
        let now = core.clock.now_seconds();
        let (client_id, openid_scope) = match &session.origin {
            SessionOrigin::Client {
                client_id,
                openid_scope,
                ..
            } => (Some(*client_id), openid_scope.as_str()),
            SessionOrigin::Api | SessionOrigin::Browser => (None, ""),
        };
        let openid: Vec<String> = openid_scope.split_whitespace().map(str::to_owned).collect();
        let grant = AccessGrant {
            user_id: user.id,
            session_id: session.id,
            roles: user.roles.clone(),
            scope: openid.iter().cloned().chain(scope).collect(),
            email_verified: user.email_verified,
            client_id,
        };
        let (access_token, claims) = core.tokens.issue(&grant, now);
        let id_token = match id_token {
            Some(request) => {
                let authenticated_at = match &session.origin {
                    SessionOrigin::Client {
                        authenticated_at, ..
                    } => *authenticated_at,
                    SessionOrigin::Api | SessionOrigin::Browser => session.created_at,
                };
                let has = |name: &str| openid.iter().any(|s| s == name);
                let claims = IdTokenClaims {
                    iss: core.settings.issuer.clone(),
                    sub: user.id,
                    aud: request.client.client_id.to_string(),
                    exp: claims.exp,
                    iat: claims.iat,
                    auth_time: authenticated_at.unix_timestamp(),
                    nonce: request.nonce,
                    sid: request.browser_session_id,
                    email: has("email").then(|| user.email.to_string()),
                    email_verified: has("email").then_some(user.email_verified),
                    name: has("profile").then(|| user.name.clone()),
                };
                let signed = core
                    .sign_id_token(&claims, request.client.id_token_algorithm())
                    .await?;
                Some(signed.into())
            }
            None => None,
        };
        Ok(TokenPair {
            access_token: access_token.into(),
            expires_in: core.tokens.lifetime().whole_seconds(),
            refresh_token: refresh.map(|refresh| refresh.encode().into()),
            scope: claims.scope,
            id_token,
        })
    }
}

/// What an id token is signed for: the client and, at the first
/// authentication only, the nonce and the browser session.
struct IdTokenRequest<'a> {
    client: &'a Client,
    nonce: Option<String>,
    browser_session_id: Option<Uuid>,
}

/// The permissions of the space-separated `requested`, when every one is in `allowed`.
fn narrow_scope(requested: &str, allowed: &BTreeSet<String>) -> Result<Vec<String>, AuthError> {
    let requested =
        Scope::parse(requested).map_err(|error| AuthError::InvalidScope(error.to_string()))?;
    let missing: Vec<&str> = requested.not_in(allowed).collect();
    if missing.is_empty() {
        Ok(requested.into_strings())
    } else {
        Err(AuthError::InvalidScope(format!(
            "not granted to this user: {}",
            missing.join(" ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_narrowing() {
        let allowed: BTreeSet<String> = ["a:read", "b:write"].map(String::from).into();
        assert_eq!(
            narrow_scope("b:write  a:read", &allowed).unwrap(),
            ["a:read", "b:write"]
        );
        assert_eq!(narrow_scope("", &allowed).unwrap(), Vec::<String>::new());
        assert!(
            matches!(narrow_scope("a:read c:x", &allowed), Err(AuthError::InvalidScope(m)) if m.contains("c:x"))
        );
    }
}
