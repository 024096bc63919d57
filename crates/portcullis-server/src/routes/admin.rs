//! Administration of users and roles; every call needs `admin:users`,
//! which the domain checks.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portcullis_core::service::admin::UserChange;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::state::AppState;
use crate::wire::{AdminUserChangeRequest, PutRoleRequest, RoleBody, UserBody, UserListBody, UserListQuery};

pub(crate) async fn list_users(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    query: Result<Query<UserListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserListBody>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_query(&e.body_text()))?;
    let cursor = query
        .cursor
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| ApiError::invalid_query("cursor is not one this server gave"))?;
    let page = state.auth.admin_list_users(&principal, query.limit, cursor, query.email.as_deref()).await?;
    Ok(Json(UserListBody {
        items: page.items.into_iter().map(|user| UserBody::new(user, None)).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub(crate) async fn get_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<UserBody>, ApiError> {
    let user = state.auth.admin_user(&principal, parse_id(&id)?).await?;
    Ok(Json(UserBody::new(user, None)))
}

pub(crate) async fn update_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AdminUserChangeRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let change = UserChange {
        roles: request.roles,
        disabled: request.disabled,
        name: request.name.as_ref().map(Option::as_deref),
    };
    let user = state.auth.admin_update_user(&principal, parse_id(&id)?, change).await?;
    Ok(Json(UserBody::new(user, None)))
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.admin_delete_user(&principal, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_roles(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<RoleBody>>, ApiError> {
    let roles = state.auth.admin_roles(&principal).await?;
    Ok(Json(roles.into_iter().map(RoleBody::from).collect()))
}

pub(crate) async fn put_role(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<PutRoleRequest>,
) -> Result<Json<RoleBody>, ApiError> {
    let role = state.auth.admin_put_role(&principal, &name, &request.permissions).await?;
    Ok(Json(role.into()))
}

pub(crate) async fn delete_role(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.admin_delete_role(&principal, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An id that is not a UUID is as unknown as any other.
pub(crate) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}
