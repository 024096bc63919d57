//! What protected APIs fetch: the JWKS and the discovery document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

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
/// OpenID Connect discovery subset (RFC 8414 field names): where the keys and
/// the token, revocation and introspection endpoints are.
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
    let issuer = settings.issuer.trim_end_matches('/');
    Json(DiscoveryBody {
        issuer: settings.issuer.clone(),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        token_endpoint: format!("{issuer}/token"),
        revocation_endpoint: format!("{issuer}/token/revoke"),
        introspection_endpoint: format!("{issuer}/token/introspect"),
        grant_types_supported: &["password", "refresh_token"],
        token_endpoint_auth_methods_supported: &["none"],
        id_token_signing_alg_values_supported: &["EdDSA"],
        response_types_supported: &["token"],
        subject_types_supported: &["public"],
    })
}
