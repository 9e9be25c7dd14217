//! `/api/v1/saved` and `/api/v1/shared/{id}`: saved questions (the caller's
//! own), running one again, share links. The rules (runs under the
//! reader's grant, owners only) live in `engine::saved`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, ApiQuery, Principal};
use crate::api::queries::{PageParams, Paginated};
use crate::app::AppState;
use crate::domain::ConnectionId;
use crate::engine::pipeline::PipelineError;
use crate::engine::saved::{ChartChoice, SaveInput, SharedView, TileResult};
use crate::error::ApiError;
use crate::store::StoreError;
use crate::store::saved::SavedQuestion;

/// Save an answer from the history (`query_id`), or a question with its SQL.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    #[serde(default)]
    pub query_id: Option<String>,
    /// Default: the question (or "Saved query").
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub question: Option<String>,
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
    #[serde(default)]
    pub chart: Option<ChartChoice>,
}

/// Rename and/or switch the chart type.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSavedRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub chart: Option<ChartChoice>,
}

/// The share token while shared; open it at `/ui/shared/<token>` or
/// `GET /api/v1/shared/<token>`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShareLink {
    pub token: String,
    /// The web UI's address for it (relative).
    pub url: String,
}

impl ShareLink {
    pub fn new(token: String) -> Self {
        let url = format!("/ui/shared/{token}");
        Self { token, url }
    }
}

/// A saved question or dashboard the caller cannot see answers `404`.
pub(crate) fn named(e: PipelineError, what: &str, id: &str) -> ApiError {
    match e {
        PipelineError::Store(StoreError::NotFound) => ApiError::NotFound(format!("{what} `{id}`")),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/api/v1/saved", operation_id = "save_question", tag = "saved", request_body = SaveRequest,
    responses(
        (status = 201, description = "Saved for the caller", body = SavedQuestion),
        (status = 404, description = "No such history record or connection", body = crate::error::ErrorBody),
        (status = 422, description = "`sql_rejected`: the SQL is not one the caller may run", body = crate::error::ErrorBody),
    ))]
pub async fn save(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<SaveRequest>,
) -> Result<(StatusCode, axum::Json<SavedQuestion>), ApiError> {
    let query_id = req.query_id.clone().unwrap_or_default();
    let input = SaveInput {
        query_id: req.query_id,
        title: req.title,
        question: req.question,
        sql: req.sql,
        connection: req.connection,
        chart: req.chart,
    };
    let saved = app
        .engine
        .save_question(&rc, input)
        .await
        .map_err(|e| named(e, "query", &query_id))?;
    Ok((StatusCode::CREATED, axum::Json(saved)))
}

#[utoipa::path(get, path = "/api/v1/saved", operation_id = "list_saved", tag = "saved", params(PageParams),
    responses((status = 200, description = "The caller's saved questions, most recently changed first", body = Paginated<SavedQuestion>)))]
pub async fn list(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<axum::Json<Paginated<SavedQuestion>>, ApiError> {
    let page = params.page()?;
    let (items, total) = app.engine.list_saved(&rc, page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[utoipa::path(get, path = "/api/v1/saved/{id}", operation_id = "get_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    responses((status = 200, description = "One of the caller's saved questions", body = SavedQuestion)))]
pub async fn get(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<SavedQuestion>, ApiError> {
    let saved = app.engine.own_saved(&rc, &id).await;
    Ok(axum::Json(
        saved.map_err(|e| named(e, "saved question", &id))?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/saved/{id}", operation_id = "update_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    request_body = UpdateSavedRequest,
    responses((status = 200, description = "Renamed and/or chart type switched", body = SavedQuestion)))]
pub async fn update(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateSavedRequest>,
) -> Result<axum::Json<SavedQuestion>, ApiError> {
    let saved = app
        .engine
        .update_saved(&rc, &id, req.title.as_deref(), req.chart)
        .await;
    Ok(axum::Json(
        saved.map_err(|e| named(e, "saved question", &id))?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/saved/{id}", operation_id = "delete_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    responses((status = 204, description = "Deleted (and unpinned from dashboards)")))]
pub async fn delete(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let done = app.engine.delete_saved(&rc, &id).await;
    done.map_err(|e| named(e, "saved question", &id))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/saved/{id}/run", operation_id = "run_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    responses((status = 200, description = "Fresh rows under the caller's grant, or `status: refused`/`failed` with a reason", body = TileResult)))]
pub async fn run(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TileResult>, ApiError> {
    let tile = app.engine.run_saved(&rc, &id).await;
    Ok(axum::Json(
        tile.map_err(|e| named(e, "saved question", &id))?,
    ))
}

#[utoipa::path(post, path = "/api/v1/saved/{id}/share", operation_id = "share_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    responses((status = 200, description = "Shared: signed-in users who open the link get fresh rows under their own grant", body = ShareLink)))]
pub async fn share(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<ShareLink>, ApiError> {
    let token = app.engine.share_saved(&rc, &id, true).await;
    let token = token.map_err(|e| named(e, "saved question", &id))?;
    Ok(axum::Json(ShareLink::new(token.unwrap_or_default())))
}

#[utoipa::path(delete, path = "/api/v1/saved/{id}/share", operation_id = "unshare_saved", tag = "saved", params(("id" = String, Path, description = "Saved question id")),
    responses((status = 204, description = "No longer shared: the old link answers 404")))]
pub async fn unshare(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let done = app.engine.share_saved(&rc, &id, false).await;
    done.map_err(|e| named(e, "saved question", &id))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/shared/{id}", operation_id = "open_shared", tag = "saved", params(("id" = String, Path, description = "Share token")),
    responses((status = 200, description = "The shared question or dashboard, each tile run under the caller's own grant (`refused` tiles carry no rows, SQL or question)", body = SharedView)))]
pub async fn open_shared(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<SharedView>, ApiError> {
    let view = app.engine.open_shared(&rc, &id).await;
    Ok(axum::Json(view.map_err(|e| named(e, "share link", "…"))?))
}
