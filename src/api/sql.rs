//! `/api/v1/sql/*`: generate without running, validate, execute.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, Principal, scope};
use crate::app::AppState;
use crate::auth::{Identity, Role};
use crate::connectors::ResultColumn;
use crate::domain::{ConnectionId, Question};
use crate::engine::pipeline::RequestContext;
use crate::engine::pipeline::{GeneratedSql, ValidationReport};
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub question: Question,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

#[utoipa::path(post, path = "/api/v1/sql/generate", operation_id = "generate_sql", tag = "sql", request_body = GenerateRequest,
    responses(
        (status = 200, description = "Generated and validated SQL (not run)", body = GeneratedSql),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
        (status = 422, description = "The question could not be mapped", body = crate::error::ErrorBody),
        (status = 503, description = "The LLM provider is unavailable", body = crate::error::ErrorBody),
    ))]
pub async fn generate(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<GenerateRequest>,
) -> Result<axum::Json<GeneratedSql>, ApiError> {
    let rc = scope(
        &identity,
        rc,
        req.connection.as_ref(),
        &app.engine.settings().default_connection,
    )?;
    Ok(axum::Json(
        app.engine
            .generate(&req.question, req.connection.as_ref(), &rc)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub sql: String,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

#[utoipa::path(post, path = "/api/v1/sql/validate", operation_id = "validate_sql", tag = "sql", request_body = ValidateRequest,
    responses(
        (status = 200, description = "Validation report; `valid: false` lists the errors", body = ValidationReport),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
    ))]
pub async fn validate(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<ValidateRequest>,
) -> Result<axum::Json<ValidationReport>, ApiError> {
    let rc = scope(
        &identity,
        rc,
        req.connection.as_ref(),
        &app.engine.settings().default_connection,
    )?;
    let mut report = app.engine.validate(&req.sql, req.connection.as_ref())?;
    // The caller's table allowlist narrows the connection's policy.
    if report.valid {
        if let Err(e) = check_as(&app, &rc, &req.sql, req.connection.as_ref()) {
            report.valid = false;
            report.sql = req.sql.clone();
            report.tables = vec![];
            report.errors = vec![e];
        }
    }
    Ok(axum::Json(report))
}

/// Audit a rejected hand-written or generated query (the reason code, never
/// the SQL text, which may carry data).
pub(crate) async fn audit_rejection(
    app: &AppState,
    rc: &RequestContext,
    connection: Option<&ConnectionId>,
    reason: &str,
) {
    let conn = connection
        .map(|c| c.to_string())
        .unwrap_or_else(|| app.engine.settings().default_connection);
    app.engine
        .audit(
            rc,
            "sql.rejected",
            &conn,
            serde_json::json!({ "reason": reason }),
        )
        .await;
}

/// Validate `sql` under the caller's policy (their grant's allowlist).
fn check_as(
    app: &AppState,
    rc: &RequestContext,
    sql: &str,
    connection: Option<&ConnectionId>,
) -> Result<(), crate::engine::sql::ValidationError> {
    if rc.allowed_tables.is_none() {
        return Ok(()); // nothing narrower than the engine's own check
    }
    let Ok(conn) = app.engine.connection(connection) else {
        return Ok(()); // the engine reports unknown connections itself
    };
    crate::engine::sql::validate(sql, conn.dialect, &conn.schema(), &rc.policy(&conn))
        .map(|_| ())
        .inspect_err(|e| crate::observability::metrics::sql_rejected(e.code.as_str()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    #[serde(default)]
    pub sql: Option<String>,
    /// Re-run the SQL of a stored query (on its connection).
    #[serde(default)]
    pub query_id: Option<String>,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExecuteResponse {
    pub connection: String,
    pub sql: String,
    pub tables: Vec<String>,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    pub truncated: bool,
    pub duration_ms: u64,
}

#[utoipa::path(post, path = "/api/v1/sql/execute", operation_id = "execute_sql", tag = "sql", request_body = ExecuteRequest,
    responses(
        (status = 200, description = "Rows of the validated query", body = ExecuteResponse),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection or query", body = crate::error::ErrorBody),
        (status = 422, description = "`sql_rejected` or `query_failed`", body = crate::error::ErrorBody),
        (status = 504, description = "The query timed out", body = crate::error::ErrorBody),
    ))]
pub async fn execute(
    State(app): State<AppState>,
    identity: Identity,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<axum::Json<ExecuteResponse>, ApiError> {
    let (sql_text, connection) = match (req.sql, req.query_id) {
        (Some(sql), None) => (sql, req.connection),
        (None, Some(id)) => {
            let q = app
                .engine
                .store
                .get_query(&id)
                .await
                .map_err(|_| ApiError::NotFound(format!("query `{id}`")))?;
            // Someone else's query is invisible to a viewer.
            if identity.role == Role::Viewer && q.user_id.as_deref() != Some(&identity.user_id) {
                return Err(ApiError::NotFound(format!("query `{id}`")));
            }
            let sql = q
                .sql
                .ok_or_else(|| ApiError::bad_request("this query has no SQL to run"))?;
            (sql, Some(ConnectionId::parse(&q.connection)?))
        }
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of `sql` or `query_id`",
            ));
        }
    };
    let rc = scope(
        &identity,
        rc,
        connection.as_ref(),
        &app.engine.settings().default_connection,
    )?;
    let result = match check_as(&app, &rc, &sql_text, connection.as_ref()) {
        Ok(()) => app
            .engine
            .execute(&sql_text, connection.as_ref(), &rc)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    if let Err(ApiError::SqlRejected { reason, .. }) = &result {
        audit_rejection(&app, &rc, connection.as_ref(), reason).await;
    }
    let (validated, rs, duration_ms) = result?;
    Ok(axum::Json(ExecuteResponse {
        connection: connection
            .map(|c| c.to_string())
            .unwrap_or_else(|| app.engine.settings().default_connection),
        sql: validated.sql().to_string(),
        tables: validated.tables().to_vec(),
        row_count: rs.rows.len(),
        truncated: rs.truncated,
        columns: rs.columns,
        rows: rs.rows,
        duration_ms,
    }))
}
