//! The OAuth client registry (`/clients`); every call needs
//! `admin:clients`, which the extractor checks through the domain.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::ManageClients;
use portcullis_core::services::clients::{ClientChange, NewClient};

use crate::error::{ApiError, no_store_headers};
use crate::extract::{Administrator, JsonBody, PathParameter};
use crate::responses::{
    BadRequest, InsufficientScope, InternalError, NotFound, PayloadTooLarge, Unauthorized,
    Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::routes::admin::parse_id;
use crate::state::AppState;
use crate::wire::{ClientBody, ClientChangeRequest, NewClientRequest};

/// Register an OAuth client
///
/// `201` with the client; a confidential client's `client_secret` is shown
/// only here.
#[utoipa::path(
    post,
    path = "/clients",
    operation_id = "create_client",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewClientRequest,
    responses(
        (status = 201, description = "The new client; `client_secret` (confidential clients) is shown only here.", body = ClientBody,
            headers(
                ("Location" = String, description = "`/clients/{id}` of the new client."),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageClients>,
    JsonBody(request): JsonBody<NewClientRequest>,
) -> Result<Response, ApiError> {
    let new = NewClient {
        name: &request.name,
        redirect_uris: request.redirect_uris,
        post_logout_redirect_uris: request.post_logout_redirect_uris,
        kind: request.client_type.into(),
        first_party: request.first_party,
        allowed_scopes: request.allowed_scopes,
        id_token_signed_response_alg: request.id_token_signed_response_alg.as_deref(),
    };
    let registered = state.services.clients.register(&admin, new).await?;
    let location = format!("/clients/{}", registered.client.client_id);
    Ok((
        StatusCode::CREATED,
        no_store_headers(),
        [(header::LOCATION, location)],
        Json(ClientBody::new(registered.client, registered.secret)),
    )
        .into_response())
}

/// List OAuth clients
///
/// Every client, oldest first, without secrets.
#[utoipa::path(
    get,
    path = "/clients",
    operation_id = "list_clients",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every client, without `client_secret`.", body = Vec<ClientBody>),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageClients>,
) -> Result<Json<Vec<ClientBody>>, ApiError> {
    let clients = state.services.clients.list(&admin).await?;
    Ok(Json(
        clients
            .into_iter()
            .map(|client| ClientBody::new(client, None))
            .collect(),
    ))
}

/// Get an OAuth client
///
/// One client, without its secret.
#[utoipa::path(
    get,
    path = "/clients/{id}",
    operation_id = "get_client",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The client's `client_id`.")),
    responses(
        (status = 200, description = "The client, without `client_secret`.", body = ClientBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageClients>,
    PathParameter(id): PathParameter,
) -> Result<Json<ClientBody>, ApiError> {
    let client = state.services.clients.get(&admin, parse_id(&id)?).await?;
    Ok(Json(ClientBody::new(client, None)))
}

/// Change an OAuth client
///
/// Replaces the fields given; a client's `type` and secret cannot change.
#[utoipa::path(
    patch,
    path = "/clients/{id}",
    operation_id = "update_client",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The client's `client_id`.")),
    request_body = ClientChangeRequest,
    responses(
        (status = 200, description = "The changed client, without `client_secret`.", body = ClientBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageClients>,
    PathParameter(id): PathParameter,
    JsonBody(request): JsonBody<ClientChangeRequest>,
) -> Result<Json<ClientBody>, ApiError> {
    let change = ClientChange {
        name: request.name.as_deref(),
        redirect_uris: request.redirect_uris,
        post_logout_redirect_uris: request.post_logout_redirect_uris,
        first_party: request.first_party,
        allowed_scopes: request.allowed_scopes,
        id_token_signed_response_alg: request.id_token_signed_response_alg.as_deref(),
    };
    let client = state
        .services
        .clients
        .update(&admin, parse_id(&id)?, change)
        .await?;
    Ok(Json(ClientBody::new(client, None)))
}

/// Remove an OAuth client
///
/// The client can no longer sign anyone in.
#[utoipa::path(
    delete,
    path = "/clients/{id}",
    operation_id = "delete_client",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The client's `client_id`.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageClients>,
    PathParameter(id): PathParameter,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .clients
        .remove(&admin, parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
