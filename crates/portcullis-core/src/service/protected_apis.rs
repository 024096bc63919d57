//! What the APIs behind Portcullis ask: token introspection (RFC 7662) and
//! forward-auth for reverse proxies.
//!
//! Both fail closed: anything that cannot be decided (the database is down)
//! is an error, never an answer that lets the request through.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthError, AuthService, Principal, User};
use crate::personal_tokens::PersonalToken;
use crate::roles::PERMISSION_INTROSPECT;

/// An active token as introspection describes it.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub user_id: Uuid,
    pub scope: Vec<String>,
    pub roles: Vec<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub session_id: Option<Uuid>,
    pub kind: TokenKind,
}

/// Which kind of credential was introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    AccessToken,
    PersonalAccessToken,
}

impl AuthService {
    /// RFC 7662: describes `token` to a caller holding `tokens:introspect`;
    /// `None` for anything that is not an active token.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::Unavailable`].
    pub async fn introspect(
        &self,
        caller: &Principal,
        token: &str,
    ) -> Result<Option<ActiveToken>, AuthError> {
        self.authorize(caller, PERMISSION_INTROSPECT)?;
        let token = token.trim();
        if PersonalToken::is_personal_token(token) {
            let checked = match self.authenticate_personal_token(token).await {
                Ok(checked) => checked,
                Err(AuthError::InvalidToken(_)) => return Ok(None),
                Err(other) => return Err(other),
            };
            let principal = checked.principal;
            return Ok(Some(ActiveToken {
                user_id: principal.user_id,
                scope: principal.scope,
                roles: principal.roles,
                issued_at: checked.token.created_at,
                expires_at: checked.token.expires_at,
                session_id: None,
                kind: TokenKind::PersonalAccessToken,
            }));
        }
        let Ok(claims) = self.verify_access_token(token).await else {
            return Ok(None);
        };
        let (Ok(issued_at), Ok(expires_at)) = (
            OffsetDateTime::from_unix_timestamp(claims.iat),
            OffsetDateTime::from_unix_timestamp(claims.exp),
        ) else {
            return Ok(None);
        };
        Ok(Some(ActiveToken {
            user_id: claims.sub,
            scope: claims
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
            roles: claims.roles,
            issued_at,
            expires_at: Some(expires_at),
            session_id: Some(claims.sid),
            kind: TokenKind::AccessToken,
        }))
    }

    /// Forward-auth: authenticates `token`, checks `permission` if given, and
    /// returns who the caller is now (through the account cache, which
    /// forgets an account as soon as it changes).
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`], [`AuthError::Forbidden`], [`AuthError::Unavailable`].
    pub async fn verify_for_proxy(
        &self,
        token: &str,
        permission: Option<&str>,
    ) -> Result<(Principal, User), AuthError> {
        // A personal access token was checked against its account already;
        // an access token was not, so look the account up once now.
        let (principal, user) = if PersonalToken::is_personal_token(token) {
            let checked = self.authenticate_personal_token(token).await?;
            (checked.principal, checked.user)
        } else {
            let principal = self.authenticate(token).await?;
            let user = self.active_account(principal.user_id).await?;
            (principal, user)
        };
        if let Some(permission) = permission {
            self.authorize(&principal, permission)?;
        }
        Ok((principal, User::clone(&user)))
    }
}
