//! `GET /api/v1/connections`: the target databases with a schema summary.

use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::domain::Dialect;

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
