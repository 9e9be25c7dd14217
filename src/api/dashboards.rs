//! `/api/v1/dashboards`: the caller's dashboards of saved questions,
//! refreshed under the caller's grant, and their share links. The rules
//! live in `engine::saved::dashboards`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, ApiQuery, Principal};
use crate::api::queries::{PageParams, Paginated};
use crate::api::saved::{ShareLink, named};
use crate::app::AppState;
use crate::engine::saved::TileResult;
use crate::error::ApiError;
use crate::store::dashboards::Dashboard;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDashboardRequest {
    pub title: String,
}

/// Rename and/or replace the pinned saved questions (ids, in order).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDashboardRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub tiles: Option<Vec<String>>,
}

/// A dashboard with every tile run now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardView {
    pub dashboard: Dashboard,
    pub tiles: Vec<TileResult>,
}

const WHAT: &str = "dashboard";

#[utoipa::path(post, path = "/api/v1/dashboards", operation_id = "create_dashboard", tag = "saved", request_body = CreateDashboardRequest,
    responses((status = 201, description = "A new, empty dashboard of the caller's", body = Dashboard)))]
pub async fn create(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<CreateDashboardRequest>,
) -> Result<(StatusCode, axum::Json<Dashboard>), ApiError> {
    let d = app.engine.create_dashboard(&rc, &req.title).await?;
    Ok((StatusCode::CREATED, axum::Json(d)))
}

#[utoipa::path(get, path = "/api/v1/dashboards", operation_id = "list_dashboards", tag = "saved", params(PageParams),
    responses((status = 200, description = "The caller's dashboards (without tiles)", body = Paginated<Dashboard>)))]
pub async fn list(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<axum::Json<Paginated<Dashboard>>, ApiError> {
    let page = params.page()?;
    let (items, total) = app.engine.list_dashboards(&rc, page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[utoipa::path(get, path = "/api/v1/dashboards/{id}", operation_id = "get_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    responses((status = 200, description = "One of the caller's dashboards with its tile ids", body = Dashboard)))]
pub async fn get(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Dashboard>, ApiError> {
    let d = app.engine.own_dashboard(&rc, &id).await;
    Ok(axum::Json(d.map_err(|e| named(e, WHAT, &id))?))
}

#[utoipa::path(patch, path = "/api/v1/dashboards/{id}", operation_id = "update_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    request_body = UpdateDashboardRequest,
    responses((status = 200, description = "Renamed and/or tiles replaced", body = Dashboard)))]
pub async fn update(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateDashboardRequest>,
) -> Result<axum::Json<Dashboard>, ApiError> {
    let d = app
        .engine
        .update_dashboard(&rc, &id, req.title.as_deref(), req.tiles.as_deref())
        .await;
    Ok(axum::Json(d.map_err(|e| named(e, WHAT, &id))?))
}

#[utoipa::path(delete, path = "/api/v1/dashboards/{id}", operation_id = "delete_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    responses((status = 204, description = "Deleted (its saved questions stay)")))]
pub async fn delete(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let done = app.engine.delete_dashboard(&rc, &id).await;
    done.map_err(|e| named(e, WHAT, &id))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/dashboards/{id}/refresh", operation_id = "refresh_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    responses((status = 200, description = "Every tile run now under the caller's grant; a tile the grant does not cover is `refused`, without rows", body = DashboardView)))]
pub async fn refresh(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<DashboardView>, ApiError> {
    let done = app.engine.refresh_dashboard(&rc, &id).await;
    let (dashboard, tiles) = done.map_err(|e| named(e, WHAT, &id))?;
    Ok(axum::Json(DashboardView { dashboard, tiles }))
}

#[utoipa::path(post, path = "/api/v1/dashboards/{id}/share", operation_id = "share_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    responses((status = 200, description = "Shared: signed-in users who open the link see each tile under their own grant", body = ShareLink)))]
pub async fn share(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<ShareLink>, ApiError> {
    let token = app.engine.share_dashboard(&rc, &id, true).await;
    let token = token.map_err(|e| named(e, WHAT, &id))?;
    Ok(axum::Json(ShareLink::new(token.unwrap_or_default())))
}

#[utoipa::path(delete, path = "/api/v1/dashboards/{id}/share", operation_id = "unshare_dashboard", tag = "saved", params(("id" = String, Path, description = "Dashboard id")),
    responses((status = 204, description = "No longer shared: the old link answers 404")))]
pub async fn unshare(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let done = app.engine.share_dashboard(&rc, &id, false).await;
    done.map_err(|e| named(e, WHAT, &id))?;
    Ok(StatusCode::NO_CONTENT)
}
