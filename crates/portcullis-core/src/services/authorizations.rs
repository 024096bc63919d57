//! The authorization endpoint's decisions (OAuth 2.1 §4.1.1, OpenID
//! Connect Core §3.1.2), consent, and `/userinfo`.
//!
//! The caller (the server) has already found the client and matched the
//! redirect URI: until both are known good, nothing may redirect, so those
//! two checks happen before any use case here. Everything else the request
//! says is checked here, in the order the contract lists, and a failure
//! becomes an error for the client's redirect URI. A request the browser
//! session satisfies ends in a single-use code bound to the client, the
//! redirect URI and the PKCE challenge; otherwise the decision says to sign
//! in or to ask for consent (third-party clients only; remembered per user
//! and client).

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::SecretString;
use uuid::Uuid;

use crate::authorization::{
    AUTHORIZATION_CODE_LIFETIME, AuthorizationCode, CodeChallenge, Prompt, RequestedScope,
};
use crate::clients::Client;
use crate::core::Core;
use crate::error::AuthError;
use crate::services::browser_sessions::BrowserSession;
use crate::store::{AuthorizationCodeRecord, ConsentRecord};
use crate::tokens::TokenError;

/// Longest `nonce` kept, in bytes.
const MAX_NONCE_LENGTH: usize = 512;

/// The parameters of an authorization request, as received (the client
/// and redirect URI excepted).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizationParameters<'a> {
    pub response_type: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub max_age: Option<&'a str>,
    /// A request object, by value or by reference: neither is supported.
    pub request: Option<&'a str>,
    pub request_uri: Option<&'a str>,
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    Allow,
    Deny,
}

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Decision {
    /// Show the sign-in page, then come back.
    SignIn,
    /// Show the consent page for these scopes.
    AskConsent(RequestedScope),
    /// Redirect to the client with this code.
    Code(SecretString),
    /// Redirect to the client with this error.
    Refuse(RedirectError),
}

/// An error for the client's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub error: &'static str,
    pub description: String,
}

impl RedirectError {
    fn decision(error: &'static str, description: impl Into<String>) -> Decision {
        Decision::Refuse(Self {
            error,
            description: description.into(),
        })
    }
}

/// What `/userinfo` tells (OpenID Connect Core §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub sub: Uuid,
    /// With the `email` scope.
    pub email: Option<(String, bool)>,
    /// With the `profile` scope: the name, or none set.
    pub name: Option<Option<String>>,
}

/// See the module documentation.
pub struct Authorizations {
    core: Arc<Core>,
}

impl Authorizations {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Decides an authorization request of `client` for `redirect_uri`
    /// (both already checked), with the browser session if there is one
    /// and the user's answer when the consent page was submitted.
    ///
    /// # Errors
    /// [`AuthError::InvalidRequest`] when the redirect URI is not the
    /// client's (the caller should have refused it); store failures.
    pub async fn authorize(
        &self,
        client: &Client,
        redirect_uri: &str,
        parameters: &AuthorizationParameters<'_>,
        browser: Option<&BrowserSession>,
        answer: Option<ConsentAnswer>,
    ) -> Result<Decision, AuthError> {
        let core = &self.core;
        if !client.redirect_uri_matches(redirect_uri) {
            return Err(AuthError::InvalidRequest(
                "redirect_uri is not registered for this client".to_owned(),
            ));
        }
        let request = match AuthorizationRequest::check(client, parameters) {
            Ok(request) => request,
            Err(refusal) => return Ok(refusal),
        };
        let now = core.clock.now_seconds();
        let fresh = browser.filter(|session| {
            !request.prompt.login
                && request.max_age.is_none_or(|max_age| {
                    (now - session.authenticated_at).whole_seconds() <= max_age
                })
        });
        let Some(session) = fresh else {
            return Ok(if request.prompt.none {
                RedirectError::decision("login_required", "the user is not signed in")
            } else {
                Decision::SignIn
            });
        };
        match answer {
            // A refusal is one, whoever the client.
            Some(ConsentAnswer::Deny) => {
                return Ok(RedirectError::decision(
                    "access_denied",
                    "the user did not allow it",
                ));
            }
            _ if client.first_party => {}
            Some(ConsentAnswer::Allow) => {
                core.store
                    .grant_consent(&ConsentRecord {
                        user_id: session.user_id,
                        client_id: client.client_id,
                        scope: request.scope.all(),
                        granted_at: now,
                    })
                    .await?;
            }
            None => {
                let remembered = core
                    .store
                    .consent(session.user_id, client.client_id)
                    .await?
                    .is_some_and(|consent| request.scope.is_within(&consent.scope));
                if !remembered || request.prompt.consent {
                    return Ok(if request.prompt.none {
                        RedirectError::decision(
                            "consent_required",
                            "the user has not allowed this client",
                        )
                    } else {
                        Decision::AskConsent(request.scope)
                    });
                }
            }
        }
        let code = AuthorizationCode::generate();
        core.store
            .insert_authorization_code(&AuthorizationCodeRecord {
                code_hash: code.hash,
                client_id: client.client_id,
                user_id: session.user_id,
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: request.challenge.as_str().to_owned(),
                openid_scope: request.scope.openid_joined(),
                // What the client may have: each use narrows it to what the
                // user holds at that moment.
                scope: request.scope.permissions.into_iter().collect(),
                nonce: request.nonce,
                browser_session_id: session.id,
                authenticated_at: session.authenticated_at,
                created_at: now,
                expires_at: now + AUTHORIZATION_CODE_LIFETIME,
                redeemed_at: None,
                session_id: None,
            })
            .await?;
        Ok(Decision::Code(code.code))
    }

    /// The claims `/userinfo` answers for an access token that holds `openid`.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for a token that is invalid, revoked or
    /// lacks `openid` (RFC 6750 §3.1 `insufficient_scope` is
    /// [`AuthError::Forbidden`]); [`AuthError::NotFound`] when the account is gone.
    pub async fn userinfo(&self, access_token: &str) -> Result<UserInfo, AuthError> {
        let core = &self.core;
        let claims = core.verify_access_token(access_token).await?;
        let scopes: BTreeSet<&str> = claims.permissions().collect();
        if !scopes.contains("openid") {
            return Err(AuthError::Forbidden {
                needed: "openid".to_owned(),
            });
        }
        let user = core
            .accounts
            .active_account(claims.sub)
            .await
            .map_err(|error| match error {
                AuthError::NotFound => AuthError::InvalidToken(TokenError::Revoked),
                other => other,
            })?;
        Ok(UserInfo {
            sub: user.id,
            email: scopes
                .contains("email")
                .then(|| (user.email.to_string(), user.email_verified)),
            name: scopes.contains("profile").then(|| user.name.clone()),
        })
    }

    /// The clients the user has allowed, with what.
    ///
    /// # Errors
    /// Store failures.
    pub async fn consents(&self, user_id: Uuid) -> Result<Vec<ConsentRecord>, AuthError> {
        Ok(self.core.store.consents_of_user(user_id).await?)
    }

    /// Forgets what the user allowed `client_id` and ends the client's
    /// sessions of the user; the client asks again next time.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] when there was nothing to forget.
    pub async fn revoke_consent(&self, user_id: Uuid, client_id: Uuid) -> Result<(), AuthError> {
        let core = &self.core;
        if !core.store.revoke_consent(user_id, client_id).await? {
            return Err(AuthError::NotFound);
        }
        let ended = core
            .store
            .revoke_sessions_of_client(client_id, Some(user_id), core.clock.now())
            .await?;
        core.revocations.deny_here(&ended);
        Ok(())
    }
}

/// An authorization request whose parameters passed every check.
struct AuthorizationRequest {
    scope: RequestedScope,
    challenge: CodeChallenge,
    nonce: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
}

impl AuthorizationRequest {
    /// The checks of the contract, in its order; the first failure as the
    /// decision to redirect with it.
    fn check(client: &Client, parameters: &AuthorizationParameters<'_>) -> Result<Self, Decision> {
        // Refused rather than ignored: the client meant its signed request
        // object to override the plain parameters (OpenID Connect Core §6).
        if parameters.request.is_some() {
            return Err(RedirectError::decision(
                "request_not_supported",
                "request objects are not supported; send the parameters in the query",
            ));
        }
        if parameters.request_uri.is_some() {
            return Err(RedirectError::decision(
                "request_uri_not_supported",
                "request_uri is not supported; send the parameters in the query",
            ));
        }
        if parameters.response_type != Some("code") {
            return Err(RedirectError::decision(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        match parameters.code_challenge_method {
            Some("S256") => {}
            Some("plain") => {
                return Err(RedirectError::decision(
                    "invalid_request",
                    "code_challenge_method plain is not allowed; use S256",
                ));
            }
            _ => {
                return Err(RedirectError::decision(
                    "invalid_request",
                    "code_challenge_method=S256 is required (PKCE)",
                ));
            }
        }
        let challenge = CodeChallenge::parse(parameters.code_challenge.unwrap_or_default())
            .map_err(|message| RedirectError::decision("invalid_request", message))?;
        let scope = RequestedScope::parse(parameters.scope.unwrap_or_default())
            .map_err(|error| RedirectError::decision("invalid_scope", error.to_string()))?;
        let not_allowed: Vec<&str> = scope
            .permissions
            .iter()
            .filter(|p| !client.may_request(p))
            .map(String::as_str)
            .collect();
        if !not_allowed.is_empty() {
            return Err(RedirectError::decision(
                "invalid_scope",
                format!("not allowed for this client: {}", not_allowed.join(" ")),
            ));
        }
        let prompt = Prompt::parse(parameters.prompt.unwrap_or_default())
            .map_err(|message| RedirectError::decision("invalid_request", message))?;
        let max_age = parameters
            .max_age
            .map(|max_age| {
                max_age.parse::<u32>().map(i64::from).map_err(|_| {
                    RedirectError::decision(
                        "invalid_request",
                        "max_age must be a number of seconds",
                    )
                })
            })
            .transpose()?;
        if parameters
            .nonce
            .is_some_and(|nonce| nonce.len() > MAX_NONCE_LENGTH)
        {
            return Err(RedirectError::decision(
                "invalid_request",
                format!("nonce is longer than {MAX_NONCE_LENGTH} bytes"),
            ));
        }
        Ok(Self {
            scope,
            challenge,
            nonce: parameters.nonce.map(str::to_owned),
            prompt,
            max_age,
        })
    }
}
