//! `/api/v1/queries`: the history, one record per ask, and feedback on it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, ApiQuery, Principal};
use crate::app::AppState;
use crate::engine::pipeline::PipelineError;
use crate::engine::training::{FeedbackInput, FeedbackOutcome, Rating};
use crate::error::ApiError;
use crate::store::{FeedbackRecord, Page, QueryRecord, StoreError};

/// `?limit=&offset=` for list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1-100 (default 20).
    pub limit: Option<u32>,
    /// Items to skip, 0-1000000 (default 0).
    pub offset: Option<u64>,
}

/// The deepest page a list serves. Stores bind the offset as a signed
/// 64-bit integer: an unchecked `u64::MAX` wrapped to -1, the first page.
pub const MAX_OFFSET: u64 = 1_000_000;

impl PageParams {
    /// Check both bounds (every list route pages through here): `400`
    /// outside them.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::bad_request("`limit` must be between 1 and 100"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::bad_request(format!(
                "`offset` must be between 0 and {MAX_OFFSET}"
            )));
        }
        Ok(Page { limit, offset })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<T> Paginated<T> {
    /// One page of `total` items, as asked for by `page`.
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Self {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/queries", operation_id = "list_queries", tag = "queries", params(PageParams),
    responses(
        (status = 200, description = "History, newest first", body = Paginated<QueryRecord>),
        (status = 400, description = "Bad paging parameters", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<axum::Json<Paginated<QueryRecord>>, ApiError> {
    let page = params.page()?;
    // Viewers see their own history; analysts everyone's that passes the
    // gate under their grant; admins everything.
    let (items, total) = app.engine.list_history(&rc, page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueryDetail {
    #[serde(flatten)]
    pub query: QueryRecord,
    pub feedback: Vec<FeedbackRecord>,
}

#[utoipa::path(get, path = "/api/v1/queries/{id}", operation_id = "get_query", tag = "queries", params(("id" = String, Path, description = "Query id")),
    responses(
        (status = 200, description = "One history record with its feedback", body = QueryDetail),
        (status = 404, description = "No such query", body = crate::error::ErrorBody),
    ))]
pub async fn get(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<QueryDetail>, ApiError> {
    let (query, feedback) = app
        .engine
        .history_item(&rc, &id)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    Ok(axum::Json(QueryDetail { query, feedback }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub rating: Rating,
    #[serde(default)]
    pub corrected_sql: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/queries/{id}/feedback", operation_id = "give_feedback", tag = "queries", params(("id" = String, Path, description = "Query id")),
    request_body = FeedbackRequest,
    responses(
        (status = 201, description = "Feedback recorded; a 👍 or a working correction became a training item", body = FeedbackOutcome),
        (status = 400, description = "Malformed request, or nothing to approve", body = crate::error::ErrorBody),
        (status = 404, description = "No such query", body = crate::error::ErrorBody),
        (status = 422, description = "The corrected SQL was rejected or failed", body = crate::error::ErrorBody),
    ))]
pub async fn feedback(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<FeedbackRequest>,
) -> Result<(StatusCode, axum::Json<FeedbackOutcome>), ApiError> {
    let input = FeedbackInput {
        rating: req.rating,
        corrected_sql: req.corrected_sql,
        comment: req.comment,
    };
    let outcome = app
        .engine
        .feedback(&id, input, &rc)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    Ok((StatusCode::CREATED, axum::Json(outcome)))
}

/// A history record the caller may not see answers `404`, as if it did not
/// exist, so ids of other users' objects reveal nothing.
fn not_found_as(e: PipelineError, id: &str) -> ApiError {
    match e {
        PipelineError::Store(StoreError::NotFound) => ApiError::NotFound(format!("query `{id}`")),
        other => other.into(),
    }
}
