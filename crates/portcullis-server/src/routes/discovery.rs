//! What protected APIs fetch: the JWKS and the discovery document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

use portcullis_core::authorization::OPENID_SCOPES;

use crate::state::AppState;
use crate::wire::{DiscoveryBody, JwkBody, JwkSetBody};

/// Public signing keys
///
/// Public keys of every key whose tokens may still be live (RFC 7517), so
/// that any JWT library can verify an access token.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "jwks",
    tag = "protected-apis",
    responses(
        (status = 200, description = "The key set.", body = JwkSetBody,
            headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
    )
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        )],
        Json(JwkSetBody {
            keys: state
                .services
                .signing_keys
                .jwks()
                .into_iter()
                .map(JwkBody::from)
                .collect(),
        }),
    )
}

/// Discovery document
///
/// OpenID Connect Discovery 1.0 (and RFC 8414): every endpoint, what the
/// authorization endpoint accepts, how clients authenticate, and the
/// algorithms tokens are signed with.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    operation_id = "openid_configuration",
    tag = "protected-apis",
    responses(
        (status = 200, description = "The discovery document.", body = DiscoveryBody),
    )
)]
pub(crate) async fn openid_configuration(State(state): State<AppState>) -> Json<DiscoveryBody> {
    let settings = state.services.settings();
    let keys = &state.services.signing_keys;
    let issuer = settings.issuer.trim_end_matches('/');
    Json(DiscoveryBody {
        issuer: settings.issuer.clone(),
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        end_session_endpoint: format!("{issuer}/logout"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        revocation_endpoint: format!("{issuer}/token/revoke"),
        introspection_endpoint: format!("{issuer}/token/introspect"),
        scopes_supported: &OPENID_SCOPES,
        response_types_supported: &["code"],
        response_modes_supported: &["query"],
        grant_types_supported: &["authorization_code", "refresh_token", "password"],
        code_challenge_methods_supported: &["S256"],
        token_endpoint_auth_methods_supported: &[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        subject_types_supported: &["public"],
        id_token_signing_alg_values_supported: keys
            .id_token_algorithms()
            .iter()
            .map(ToString::to_string)
            .collect(),
        access_token_signing_alg_values_supported: vec![keys.access_token_algorithm().to_string()],
        claims_supported: &[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "email",
            "email_verified",
            "name",
        ],
        prompt_values_supported: &["none", "login", "consent"],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    })
}
