//! `/api/v1/admin/jobs` and `/api/v1/admin/backups`: the background job
//! queue and app-store backups, for admins. Queueing a job and taking a
//! backup are audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::api::admin::audit;
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::queries::{PageParams, Paginated};
use crate::app::AppState;
use crate::auth::Identity;
use crate::backup::BackupInfo;
use crate::error::ApiError;
use crate::jobs::JobSpec;
use crate::store::jobs::{Job, JobStatus};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    /// Only jobs in this state.
    pub status: Option<JobStatus>,
    /// Items per page, 1-100 (default 20).
    pub limit: Option<u32>,
    /// Items to skip, 0-1000000 (default 0).
    pub offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/admin/jobs", operation_id = "admin_list_jobs", tag = "admin", params(JobListParams),
    responses((status = 200, description = "Background jobs, newest first", body = Paginated<Job>)))]
pub async fn list_jobs(
    State(app): State<AppState>,
    ApiQuery(p): ApiQuery<JobListParams>,
) -> Result<axum::Json<Paginated<Job>>, ApiError> {
    let page = PageParams {
        limit: p.limit,
        offset: p.offset,
    }
    .page()?;
    let (items, total) = app.engine.list_jobs(p.status, page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[utoipa::path(get, path = "/api/v1/admin/jobs/{id}", operation_id = "admin_get_job", tag = "admin",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job, with its result or last error", body = Job)))]
pub async fn get_job(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Job>, ApiError> {
    Ok(axum::Json(app.engine.job(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/jobs", operation_id = "admin_enqueue_job", tag = "admin",
    request_body = JobSpec,
    responses((status = 202, description = "Queued; a worker runs it (see `jobs.worker`)", body = Job)))]
pub async fn enqueue_job(
    State(app): State<AppState>,
    actor: Identity,
    ApiJson(spec): ApiJson<JobSpec>,
) -> Result<(StatusCode, axum::Json<Job>), ApiError> {
    if let JobSpec::Introspect { connection } = &spec {
        let known = crate::domain::ConnectionId::parse(connection)
            .ok()
            .is_some_and(|id| app.engine.connection(Some(&id)).is_ok());
        if !known {
            return Err(ApiError::NotFound(format!("connection `{connection}`")));
        }
    }
    let (job, _) = crate::jobs::enqueue(&app, &spec, None, None).await?;
    audit(
        &app,
        &actor,
        "job.enqueue",
        &job.id,
        serde_json::json!({ "kind": job.kind }),
    )
    .await;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BackupList {
    /// Finished backups in the backup dir, newest first.
    pub items: Vec<BackupInfo>,
    /// The backup dir of this instance.
    pub dir: String,
}

#[utoipa::path(get, path = "/api/v1/admin/backups", operation_id = "admin_list_backups", tag = "admin",
    responses((status = 200, description = "Backups in this instance's backup dir", body = BackupList)))]
pub async fn list_backups(State(app): State<AppState>) -> Result<axum::Json<BackupList>, ApiError> {
    let dir = app.config.backup_dir();
    let items = crate::backup::list(&dir).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(axum::Json(BackupList {
        items,
        dir: dir.display().to_string(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackupParams {
    /// `true`: queue a backup job for a worker (which has the backup volume)
    /// instead of writing it from this instance now.
    pub queue: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/admin/backups", operation_id = "admin_create_backup", tag = "admin",
    params(BackupParams),
    responses(
        (status = 201, description = "Backup taken now by this instance (older ones pruned to `backup.keep`)", body = BackupInfo),
        (status = 202, description = "With `queue=true`: a backup job, run by a worker", body = Job),
        (status = 503, description = "The backup could not be written", body = crate::error::ErrorBody)))]
pub async fn create_backup(
    State(app): State<AppState>,
    actor: Identity,
    ApiQuery(p): ApiQuery<BackupParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    if p.queue == Some(true) {
        let (job, _) = crate::jobs::enqueue(&app, &JobSpec::Backup, None, None).await?;
        audit(
            &app,
            &actor,
            "job.enqueue",
            &job.id,
            serde_json::json!({ "kind": job.kind }),
        )
        .await;
        return Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response());
    }
    let info = app.take_backup(&actor).await.map_err(|e| {
        ApiError::UpstreamUnavailable(format!("The backup could not be written: {e}"))
    })?;
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}
