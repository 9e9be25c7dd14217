//! Your own data: a CSV file or an Excel workbook (`.xlsx`, told apart by
//! its first bytes) becomes a table of the `uploads` connection (see
//! `connectors::uploads`), which is then introspected and its DDL trained
//! like any connection's.
//!
//! Who may do what follows the grant model as it is: `uploads` is a
//! connection like the others, so a non-admin reaches its tables only
//! through a grant on it (with or without a table allowlist), and asks,
//! runs and saves over them through the gate. Uploading or deleting a table
//! changes the connection itself, so besides the `UploadData` permission
//! (analysts and admins) it needs a grant on `uploads` *without* a table
//! allowlist (`403` otherwise; no grant at all: `404`, the connection does
//! not exist for them): a caller who cannot see every table could otherwise
//! replace one they cannot see, or shadow it.

pub mod csv;
pub mod xlsx;

use serde::Serialize;
use tracing::instrument;

use super::gate::Reach;
use super::pipeline::{Engine, PipelineError, RequestContext};
use crate::connectors::uploads::{CONNECTION, ColumnType, UploadsDb, sanitize_identifier};
use crate::domain::ConnectionId;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("uploads are turned off on this server (`uploads.enabled`)")]
    Disabled,
    /// No grant on `uploads`: for this caller it does not exist.
    #[error("connection `uploads` not found")]
    NoConnection,
    #[error("{0}")]
    Forbidden(String),
    #[error("the file is larger than the upload limit of {max} bytes")]
    TooLarge { max: u64 },
    #[error("{0}")]
    BadName(String),
    #[error(transparent)]
    Csv(#[from] csv::CsvError),
    #[error(transparent)]
    Xlsx(#[from] xlsx::XlsxError),
    #[error("table `{0}` exists: send `replace=true` to replace it")]
    Exists(String),
    #[error("no uploaded table `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl From<crate::connectors::ConnectorError> for UploadError {
    fn from(e: crate::connectors::ConnectorError) -> Self {
        UploadError::Pipeline(e.into())
    }
}

/// A column of an uploaded table.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadedColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// A file to upload: its bytes and, for a workbook, the sheet to read.
#[derive(Debug, Clone, Copy)]
pub struct UploadFile<'a> {
    pub data: &'a [u8],
    /// The sheet of a workbook (default: the first); refused for CSV.
    pub sheet: Option<&'a str>,
}

/// What an upload made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadedTable {
    /// Always `uploads`.
    pub connection: String,
    /// The table's name (sanitised from the one asked for).
    pub table: String,
    pub columns: Vec<UploadedColumn>,
    pub row_count: u64,
    /// Whether an existing table of that name was replaced.
    pub replaced: bool,
}

/// A table of the `uploads` connection as the caller sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadsTable {
    pub table: String,
    pub columns: Vec<String>,
}

impl Engine {
    /// Refuse unless the caller reaches every table of `uploads`; without
    /// any grant on it the connection does not exist for them (`404`, as
    /// everywhere).
    fn may_change_uploads(&self, rc: &RequestContext) -> Result<(), UploadError> {
        match rc.caller.as_ref().map(|c| c.reach(CONNECTION)) {
            None | Some(Reach::All) => Ok(()),
            Some(Reach::Nothing) => Err(UploadError::NoConnection),
            Some(Reach::Tables(_)) => Err(UploadError::Forbidden(format!(
                "changing the `{CONNECTION}` connection needs a grant on it without a table allowlist; ask an admin"
            ))),
        }
    }

    /// Make table `name` (sanitised) of `uploads` from a CSV file or a
    /// workbook, in one transaction, then introspect and train its DDL.
    #[instrument(skip_all, fields(connection.id = CONNECTION, upload.bytes = file.data.len()))]
    pub async fn upload_file(
        &self,
        rc: &RequestContext,
        db: Option<&UploadsDb>,
        name: &str,
        file: UploadFile<'_>,
        replace: bool,
    ) -> Result<UploadedTable, UploadError> {
        let data = file.data;
        let db = db.ok_or(UploadError::Disabled)?;
        self.may_change_uploads(rc)?;
        if data.len() as u64 > db.max_bytes {
            return Err(UploadError::TooLarge { max: db.max_bytes });
        }
        let table = sanitize_identifier(name).ok_or_else(|| {
            UploadError::BadName(format!(
                "`{name}` has no letters or digits to name a table by"
            ))
        })?;
        let workbook = xlsx::is_workbook(data);
        if file.sheet.is_some() && !workbook {
            return Err(UploadError::Xlsx(xlsx::XlsxError::NoSheet(
                "`sheet` names a sheet of an Excel workbook; this file is CSV, which has none"
                    .into(),
            )));
        }
        // Parsing is CPU work on up to `max_bytes`: off the async threads.
        let (owned, t, max) = (data.to_vec(), table.clone(), db.max_bytes);
        let sheet = file.sheet.map(str::to_string);
        let parsed = tokio::task::spawn_blocking(move || {
            if workbook {
                Ok(xlsx::parse(&t, &owned, sheet.as_deref(), max)?)
            } else {
                Ok::<_, UploadError>(csv::parse(&t, &owned)?)
            }
        })
        .await
        .map_err(|e| UploadError::Pipeline(PipelineError::BadInput(e.to_string())))??;
        let replaced = db
            .create(&parsed, replace)
            .await?
            .ok_or_else(|| UploadError::Exists(table.clone()))?;
        let row_count = parsed.rows.len() as u64;
        self.refresh_uploads().await?;
        self.audit(
            rc,
            "upload.created",
            &table,
            serde_json::json!({ "rows": row_count, "columns": parsed.columns.len(), "replaced": replaced,
                "format": if workbook { "xlsx" } else { "csv" } }),
        )
        .await;
        Ok(UploadedTable {
            connection: CONNECTION.into(),
            table,
            columns: parsed
                .columns
                .into_iter()
                .map(|(name, column_type)| UploadedColumn { name, column_type })
                .collect(),
            row_count,
            replaced,
        })
    }

    /// The tables of `uploads` the caller may see (their grant applied).
    pub fn list_uploads(
        &self,
        rc: &RequestContext,
        db: Option<&UploadsDb>,
    ) -> Result<Vec<UploadsTable>, UploadError> {
        db.ok_or(UploadError::Disabled)?;
        let conn = self.connection(Some(&uploads_id()))?;
        Ok(rc
            .schema(&conn)
            .tables
            .iter()
            .map(|t| UploadsTable {
                table: t.name.clone(),
                columns: t.columns.iter().map(|c| c.name.clone()).collect(),
            })
            .collect())
    }

    /// Drop uploaded table `name`, then introspect again.
    pub async fn delete_upload(
        &self,
        rc: &RequestContext,
        db: Option<&UploadsDb>,
        name: &str,
    ) -> Result<(), UploadError> {
        let db = db.ok_or(UploadError::Disabled)?;
        self.may_change_uploads(rc)?;
        let table = sanitize_identifier(name)
            .filter(|t| t == name)
            .ok_or_else(|| UploadError::NotFound(name.to_string()))?;
        if !db.drop_table(&table).await? {
            return Err(UploadError::NotFound(table));
        }
        self.refresh_uploads().await?;
        self.audit(rc, "upload.deleted", &table, serde_json::json!({}))
            .await;
        Ok(())
    }

    /// Introspect `uploads` again and re-train its DDL.
    async fn refresh_uploads(&self) -> Result<(), PipelineError> {
        let conn = self.connection(Some(&uploads_id()))?;
        self.sync_schema(&conn).await?;
        Ok(())
    }
}

fn uploads_id() -> ConnectionId {
    ConnectionId::parse(CONNECTION).expect("`uploads` is a valid connection id")
}
