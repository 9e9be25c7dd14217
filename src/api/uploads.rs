//! `/api/v1/uploads`: a CSV file or an Excel workbook becomes a table of the `uploads`
//! connection; list and delete those tables. Who may upload and what the
//! tables are visible to is decided in `engine::uploads`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::api::extract::{ApiQuery, Principal};
use crate::app::AppState;
use crate::engine::uploads::{UploadError, UploadFile, UploadedTable, UploadsTable};
use crate::error::ApiError;

/// `?table=&replace=` for an upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The table's name (a file name will do: it is sanitised to
    /// lower-case letters, digits and `_`).
    pub table: String,
    /// Replace an existing table of that name (default false: `409`).
    #[serde(default)]
    pub replace: bool,
    /// For a workbook, the sheet to read (default: the first).
    pub sheet: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/uploads", operation_id = "upload_csv", tag = "uploads", params(UploadParams),
    request_body(content((String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
        description = "The CSV file: a header line, then rows (`,`, `;` or tab separated, UTF-8); or an Excel workbook (`.xlsx`, told apart by its first bytes whatever the content type), whose sheet's first non-empty row is the header"),
    responses(
        (status = 201, description = "The table was created (all rows, in one transaction), introspected and its DDL trained", body = UploadedTable),
        (status = 400, description = "A bad file (`details.reason`: `empty`, `encoding`, `ragged_rows`, `bad_header`, `malformed`, `bad_name`; for a workbook also `not_a_workbook`, `no_sheet`, `bad_cell` (an error value, or a value without a column name), `too_large` (its contents expand past 16 times `uploads.max_bytes`)); nothing was imported", body = crate::error::ErrorBody),
        (status = 403, description = "Uploading needs a grant on `uploads` without a table allowlist", body = crate::error::ErrorBody),
        (status = 409, description = "The table exists and `replace` was not set", body = crate::error::ErrorBody),
        (status = 413, description = "The file is larger than `uploads.max_bytes`", body = crate::error::ErrorBody),
    ))]
pub async fn upload(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiQuery(params): ApiQuery<UploadParams>,
    body: Body,
) -> Result<(StatusCode, axum::Json<UploadedTable>), ApiError> {
    // The body is read here, up to `uploads.max_bytes`, instead of through
    // `Bytes` (capped at `server.body_limit_bytes` for every other route).
    let max = app.config.uploads.max_bytes;
    let data = axum::body::to_bytes(body, usize::try_from(max).unwrap_or(usize::MAX))
        .await
        .map_err(|_| UploadError::TooLarge { max })?;
    let table = app
        .engine
        .upload_file(
            &rc,
            app.uploads.as_ref(),
            &params.table,
            UploadFile {
                data: &data,
                sheet: params.sheet.as_deref(),
            },
            params.replace,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(table)))
}

#[utoipa::path(get, path = "/api/v1/uploads", operation_id = "list_uploads", tag = "uploads",
    responses((status = 200, description = "Tables of the `uploads` connection the caller's grant shows", body = Vec<UploadsTable>)))]
pub async fn list(
    State(app): State<AppState>,
    Principal(rc): Principal,
) -> Result<axum::Json<Vec<UploadsTable>>, ApiError> {
    Ok(axum::Json(
        app.engine.list_uploads(&rc, app.uploads.as_ref())?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/uploads/{id}", operation_id = "delete_upload", tag = "uploads", params(("id" = String, Path, description = "Table name")),
    responses((status = 204, description = "The table was dropped and the connection introspected again")))]
pub async fn delete(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let uploads = app.uploads.as_ref();
    app.engine.delete_upload(&rc, uploads, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
