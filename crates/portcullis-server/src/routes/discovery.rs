//! What protected APIs fetch: the JWKS and the discovery document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::state::AppState;

/// Public keys of every key whose tokens may still be live (RFC 7517).
pub(crate) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        )],
        Json(json!({ "keys": state.auth.jwks() })),
    )
}

/// OpenID Connect discovery subset (RFC 8414 field names).
pub(crate) async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    let issuer = state
        .auth
        .settings()
        .issuer
        .trim_end_matches('/')
        .to_owned();
    Json(json!({
        "issuer": state.auth.settings().issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/token/revoke"),
        "introspection_endpoint": format!("{issuer}/token/introspect"),
        "grant_types_supported": ["password", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    }))
}
