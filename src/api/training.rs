//! `/api/v1/training`: list, add, delete and approve training items.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, ApiQuery, Connected, Principal, Scoped};
use crate::api::queries::Paginated;
use crate::app::AppState;
use crate::auth::Identity;
use crate::domain::{ConnectionId, TrainingKind};
use crate::engine::pipeline::PipelineError;
use crate::engine::training::TrainingInput;
use crate::error::ApiError;
use crate::store::training::TrainingFilter;
use crate::store::{StoreError, TrainingItem, TrainingSource, TrainingStatus};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub connection: Option<ConnectionId>,
    pub kind: Option<TrainingKind>,
    pub status: Option<String>,
    /// Case-insensitive search in content and SQL.
    pub q: Option<String>,
    /// Items per page, 1-100 (default 20).
    pub limit: Option<u32>,
    /// Items to skip, 0-1000000 (default 0).
    pub offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/training", operation_id = "list_training", tag = "training", params(ListParams),
    responses(
        (status = 200, description = "Training items, newest first", body = Paginated<TrainingItem>),
        (status = 400, description = "Bad parameters", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    identity: Identity,
    ApiQuery(mut p): ApiQuery<ListParams>,
) -> Result<axum::Json<Paginated<TrainingItem>>, ApiError> {
    let page = crate::api::queries::PageParams {
        limit: p.limit,
        offset: p.offset,
    }
    .page()?;
    // Analysts see the training of the connections granted to them.
    if let Some(grants) = &identity.grants {
        match (&p.connection, grants.as_slice()) {
            (Some(c), _) if identity.reach(c.as_str()).is_none() => {
                return Err(ApiError::NotFound(format!("connection `{c}`")));
            }
            (Some(_), _) => {}
            (None, []) => {
                return Ok(axum::Json(Paginated::new(Vec::new(), 0, page)));
            }
            (None, [only]) => p.connection = Some(ConnectionId::parse(&only.connection)?),
            (None, _) => {
                return Err(ApiError::bad_request(
                    "name a `connection`: you were granted several",
                ));
            }
        }
    }
    let status = match p.status.as_deref() {
        None => None,
        Some("active") => Some(TrainingStatus::Active),
        Some("pending") => Some(TrainingStatus::Pending),
        Some(_) => return Err(ApiError::bad_request("`status` is `active` or `pending`")),
    };
    let filter = TrainingFilter {
        connection: p.connection.map(|c| c.to_string()),
        kind: p.kind,
        status,
        search: p.q,
    };
    // A grant with a table allowlist shows only the items about those tables.
    let allowed = filter
        .connection
        .as_deref()
        .and_then(|c| identity.reach(c))
        .flatten();
    let (items, total) = app
        .engine
        .list_training_as(&filter, page, allowed.as_deref())
        .await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    pub kind: TrainingKind,
    /// DDL text, documentation text, or the question of a `question_sql` pair.
    pub content: String,
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

impl Connected for AddRequest {
    fn connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddResponse {
    #[serde(flatten)]
    pub item: TrainingItem,
    /// `false` when an identical item existed and was returned instead.
    pub created: bool,
}

#[utoipa::path(post, path = "/api/v1/training", operation_id = "add_training", tag = "training", request_body = AddRequest,
    responses(
        (status = 201, description = "Item added", body = AddResponse),
        (status = 200, description = "An identical item existed and is returned", body = AddResponse),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 422, description = "The SQL of a question_sql item was rejected", body = crate::error::ErrorBody),
    ))]
pub async fn add(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<AddRequest>,
) -> Result<(StatusCode, axum::Json<AddResponse>), ApiError> {
    let input = TrainingInput {
        kind: req.kind,
        content: req.content,
        sql: req.sql,
    };
    let (item, created) = app
        .engine
        .add_training(
            Some(&scope.conn().id),
            input,
            TrainingSource::User,
            TrainingStatus::Active,
            scope.rc(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(AddResponse { item, created })))
}

#[utoipa::path(delete, path = "/api/v1/training/{id}", operation_id = "delete_training", tag = "training", params(("id" = String, Path, description = "Training item id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such item", body = crate::error::ErrorBody),
    ))]
pub async fn delete(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    reachable_item(&app, &identity, &id).await?;
    app.engine
        .delete_training(&id, &rc)
        .await
        .map_err(|e| not_found(e, &id))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// New text (DDL, documentation, or the question of a `question_sql` pair).
    #[serde(default)]
    pub content: Option<String>,
    /// New SQL of a `question_sql` item.
    #[serde(default)]
    pub sql: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/training/{id}", operation_id = "edit_training", tag = "training", params(("id" = String, Path, description = "Training item id")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The edited item, under a new id (`replaces` names the old one); checked like a new item, authored by the editor, never approved by the edit", body = crate::engine::training_edit::EditedTraining),
        (status = 400, description = "Malformed request or empty content", body = crate::error::ErrorBody),
        (status = 404, description = "No such item", body = crate::error::ErrorBody),
        (status = 422, description = "The new SQL was rejected", body = crate::error::ErrorBody),
    ))]
pub async fn edit(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EditRequest>,
) -> Result<axum::Json<crate::engine::training_edit::EditedTraining>, ApiError> {
    reachable_item(&app, &identity, &id).await?;
    let edit = crate::engine::training_edit::TrainingEdit {
        content: req.content,
        sql: req.sql,
    };
    Ok(axum::Json(
        app.engine
            .edit_training(&id, edit, &rc)
            .await
            .map_err(|e| not_found(e, &id))?,
    ))
}

#[utoipa::path(post, path = "/api/v1/training/{id}/approve", operation_id = "approve_training", tag = "training", params(("id" = String, Path, description = "Training item id")),
    responses(
        (status = 200, description = "The item is active", body = TrainingItem),
        (status = 404, description = "No such item", body = crate::error::ErrorBody),
    ))]
pub async fn approve(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TrainingItem>, ApiError> {
    reachable_item(&app, &identity, &id).await?;
    Ok(axum::Json(
        app.engine
            .approve_training(&id, &rc)
            .await
            .map_err(|e| not_found(e, &id))?,
    ))
}

/// A training item on a connection the caller does not reach, or about
/// tables outside their allowlist, answers `404`.
async fn reachable_item(app: &AppState, identity: &Identity, id: &str) -> Result<(), ApiError> {
    app.engine
        .training_item_for(identity, id)
        .await
        .map_err(|e| not_found(e, id))?;
    Ok(())
}

fn not_found(e: PipelineError, id: &str) -> ApiError {
    match e {
        PipelineError::Store(StoreError::NotFound) => {
            ApiError::NotFound(format!("training item `{id}`"))
        }
        other => other.into(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorTraining {
    /// The author (a user id).
    pub author: String,
    /// Items they added or taught through feedback, active or pending.
    pub items: Vec<TrainingItem>,
}

#[utoipa::path(get, path = "/api/v1/admin/users/{id}/training", operation_id = "list_training_by_author", tag = "training",
    params(("id" = String, Path, description = "User id of the author")),
    responses(
        (status = 200, description = "Everything this user taught, newest first", body = AuthorTraining),
    ))]
pub async fn by_author(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<AuthorTraining>, ApiError> {
    let items = app.engine.training_by_author(&id).await?;
    Ok(axum::Json(AuthorTraining { author: id, items }))
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/training", operation_id = "revert_training_by_author", tag = "training",
    params(("id" = String, Path, description = "User id of the author")),
    responses(
        (status = 200, description = "Everything this user taught was removed (store and index); the removed items", body = AuthorTraining),
    ))]
pub async fn revert_author(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<AuthorTraining>, ApiError> {
    let items = app.engine.revert_author(&id, &rc).await?;
    Ok(axum::Json(AuthorTraining { author: id, items }))
}
