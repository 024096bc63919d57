//! Administration of users and roles; every call needs `admin:users`,
//! which the domain checks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::services::users::UserChange;
use portcullis_core::{ManageRoles, ManageUsers};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Administrator, JsonBody, PathParameter, QueryParameters};
use crate::responses::{
    BadRequest, InsufficientScope, InternalError, LastAdministrator, NotFound, PayloadTooLarge,
    Unauthorized, Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::state::AppState;
use crate::wire::{
    AdminUserChangeRequest, EditableRoleName, PutRoleRequest, RoleBody, UserBody, UserListBody,
    UserListQuery,
};

/// List users
///
/// One page of users, oldest first; `next_cursor` fetches the next.
#[utoipa::path(
    get,
    path = "/users",
    operation_id = "list_users",
    tag = "admin",
    security(("bearer" = [])),
    params(UserListQuery),
    responses(
        (status = 200, description = "One page of users.", body = UserListBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageUsers>,
    QueryParameters(query): QueryParameters<UserListQuery>,
) -> Result<Json<UserListBody>, ApiError> {
    let cursor = query
        .cursor
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| ApiError::invalid_query("cursor is not one this server gave"))?;
    let page = state
        .services
        .users
        .page(&admin, query.limit, cursor, query.email.as_deref())
        .await?;
    Ok(Json(UserListBody {
        items: page.items.into_iter().map(UserBody::for_admin).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get a user
///
/// One user.
#[utoipa::path(
    get,
    path = "/users/{id}",
    operation_id = "get_user",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageUsers>,
    PathParameter(id): PathParameter,
) -> Result<Json<UserBody>, ApiError> {
    let user = state.services.users.get(&admin, parse_id(&id)?).await?;
    Ok(Json(UserBody::for_admin(user)))
}

/// Change a user
///
/// Changes a user's roles, name or disabled state; disabling revokes every
/// session and personal access token of the user.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    operation_id = "update_user",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id.")),
    request_body = AdminUserChangeRequest,
    responses(
        (status = 200, description = "The changed user.", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 409, response = LastAdministrator),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageUsers>,
    PathParameter(id): PathParameter,
    JsonBody(request): JsonBody<AdminUserChangeRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let change = UserChange {
        roles: request.roles,
        disabled: request.disabled,
        name: request.name.as_ref().map(Option::as_deref),
        email_verified: request.email_verified,
    };
    let user = state
        .services
        .users
        .update(&admin, parse_id(&id)?, change)
        .await?;
    Ok(Json(UserBody::for_admin(user)))
}

/// Delete a user
///
/// Deletes a user with every session and token.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    operation_id = "delete_user",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 409, response = LastAdministrator),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageUsers>,
    PathParameter(id): PathParameter,
) -> Result<StatusCode, ApiError> {
    state.services.users.delete(&admin, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List roles
///
/// Every role, the built-in `admin` first.
#[utoipa::path(
    get,
    path = "/roles",
    operation_id = "list_roles",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every role.", body = Vec<RoleBody>),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageRoles>,
) -> Result<Json<Vec<RoleBody>>, ApiError> {
    let roles = state.services.roles.list(&admin).await?;
    Ok(Json(roles.into_iter().map(RoleBody::from).collect()))
}

/// Create or replace a role
///
/// Creates or replaces a role; users holding it see the change in their next
/// token, and `GET /me` at once.
#[utoipa::path(
    put,
    path = "/roles/{name}",
    operation_id = "put_role",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = EditableRoleName, Path, description = "The role's name; not `admin`, which is built in.")),
    request_body = PutRoleRequest,
    responses(
        (status = 200, description = "The role as stored.", body = RoleBody),
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
pub(crate) async fn put_role(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageRoles>,
    PathParameter(name): PathParameter,
    JsonBody(request): JsonBody<PutRoleRequest>,
) -> Result<Json<RoleBody>, ApiError> {
    let role = state
        .services
        .roles
        .put(&admin, &name, &request.permissions)
        .await?;
    Ok(Json(role.into()))
}

/// Delete a role
///
/// Deletes a role; the built-in `admin` cannot be deleted (`422`).
#[utoipa::path(
    delete,
    path = "/roles/{name}",
    operation_id = "delete_role",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = EditableRoleName, Path, description = "The role's name; not `admin`, which is built in.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = InsufficientScope),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete_role(
    State(state): State<AppState>,
    Administrator(admin): Administrator<ManageRoles>,
    PathParameter(name): PathParameter,
) -> Result<StatusCode, ApiError> {
    state.services.roles.delete(&admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An id that is not a UUID is as unknown as any other.
pub(crate) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}
