//! `GET /api/v1/connections`: the target databases with a schema summary;
//! `GET /api/v1/connections/{id}/schema` and `…/samples/{table}`: the
//! schema browser (see [`crate::engine::schema_browser`]).

use axum::extract::{Path, State};
use serde::Serialize;

use crate::api::extract::Principal;
use crate::app::AppState;
use crate::domain::{ConnectionId, Dialect};
use crate::engine::schema_browser::{SchemaView, TableSamples};
use crate::error::ApiError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableSummary {
    pub name: String,
    pub columns: Vec<String>,
    pub row_count: Option<u64>,
    pub is_view: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionSummary {
    pub id: String,
    pub dialect: Dialect,
    pub description: Option<String>,
    pub default: bool,
    pub max_rows: u64,
    pub tables: Vec<TableSummary>,
}

#[utoipa::path(get, path = "/api/v1/connections", operation_id = "list_connections", tag = "connections",
    responses((status = 200, description = "Target databases with a schema summary", body = Vec<ConnectionSummary>)))]
pub async fn list(
    State(app): State<AppState>,
    identity: crate::auth::Identity,
) -> axum::Json<Vec<ConnectionSummary>> {
    let default = app.engine.settings().default_connection;
    let out = app
        .engine
        .connections
        .all()
        .into_iter()
        // Only the connections the caller was granted (admins: all), and of
        // those only the tables the grant's allowlist names.
        .filter_map(|c| identity.reach(c.id.as_str()).map(|allow| (c, allow)))
        .map(|(c, allow)| ConnectionSummary {
            id: c.id.to_string(),
            dialect: c.dialect,
            description: c.description.clone(),
            default: c.id.as_str() == default,
            max_rows: c.limits.max_rows,
            tables: c
                .schema()
                .tables
                .iter()
                .filter(|t| {
                    allow
                        .as_ref()
                        .is_none_or(|a| a.iter().any(|n| n.eq_ignore_ascii_case(&t.name)))
                })
                .map(|t| TableSummary {
                    name: t.name.clone(),
                    columns: t.columns.iter().map(|col| col.name.clone()).collect(),
                    row_count: t.row_count,
                    is_view: t.is_view,
                })
                .collect(),
        })
        .collect();
    axum::Json(out)
}

/// A connection id from the path; one that cannot be an id is unknown.
fn connection_id(id: &str) -> Result<ConnectionId, ApiError> {
    ConnectionId::parse(id).map_err(|_| ApiError::NotFound(format!("connection `{id}`")))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}/schema", operation_id = "browse_schema", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "The schema as the caller may see it (tables, columns, types, keys, comments, documentation) and starter questions", body = SchemaView),
        (status = 404, description = "Unknown connection, or none the caller was granted", body = crate::error::ErrorBody),
    ))]
pub async fn schema(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<SchemaView>, ApiError> {
    let id = connection_id(&id)?;
    let scope = app.engine.scope(rc, Some(&id))?;
    Ok(axum::Json(app.engine.browse_schema(&scope).await?))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}/samples/{table}", operation_id = "sample_table", tag = "connections",
    params(("id" = String, Path, description = "Connection id"), ("table" = String, Path, description = "Table name")),
    responses(
        (status = 200, description = "A few rows of the table, read under the caller's grant and budgets, as distinct values per column", body = TableSamples),
        (status = 404, description = "Unknown connection or table, or one outside the caller's grant", body = crate::error::ErrorBody),
        (status = 422, description = "The query was refused or failed", body = crate::error::ErrorBody),
        (status = 429, description = "Too many queries running for this caller", body = crate::error::ErrorBody),
        (status = 504, description = "The query timed out", body = crate::error::ErrorBody),
    ))]
pub async fn samples(
    State(app): State<AppState>,
    Principal(rc): Principal,
    Path((id, table)): Path<(String, String)>,
) -> Result<axum::Json<TableSamples>, ApiError> {
    let id = connection_id(&id)?;
    let scope = app.engine.scope(rc, Some(&id))?;
    Ok(axum::Json(app.engine.sample_table(&scope, &table).await?))
}
